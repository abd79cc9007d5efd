"""The web front ends, served by assessment: the grid worker's app (issue 12) at ``/app/``
and the workbenches (issue 14) at ``/desk/`` — the files vite built into
``web/<site>/dist`` (``make app``; the Docker image's node stage), with their content
types, a strict CSP, cache headers and the SPA fallback.

Why assessment, behind the reverse proxy: the app must share ONE origin with every API it
calls (the sign-in cookies are per origin, ``/api/<service>/`` in deploy/proxy/nginx.conf),
and the proxy already sends everything outside ``/api/`` to assessment, which serves the
operations dashboard the same way; a sixth process for static files would add a
deployment for a few hundred kilobytes. docs/APP.md.

The files are public (they hold no data): every call the app makes is authenticated by
the service it reaches.
"""

from __future__ import annotations

import mimetypes
import os
from pathlib import Path

from werkzeug.wrappers import Response

from gridgov_common.platform.web import http

ROOT = Path(__file__).resolve().parents[2]
DIST_ENV = "GRIDGOV_APP_DIST"  # where the built app is (default web/app/dist)
DESK_DIST_ENV = "GRIDGOV_DESK_DIST"  # where the built workbenches are (web/desk/dist)
SITES = {"app": DIST_ENV, "desk": DESK_DIST_ENV}

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; "
       "img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; worker-src 'self'; "
       "manifest-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
# frame-ancestors 'none': the government messaging app opens it as a page, never in a
# frame. Vue and Vant set styles through the CSSOM, which style-src does not restrict.
TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
         ".html": "text/html; charset=utf-8", ".svg": "image/svg+xml",
         ".webmanifest": "application/manifest+json", ".json": "application/json",
         ".png": "image/png", ".woff2": "font/woff2", ".woff": "font/woff"}
HTML = "text/html; charset=utf-8"


def dist_dir(site: str = "app") -> Path:
    return Path(os.environ.get(SITES[site]) or ROOT / "web" / site / "dist")


def _headers(cache: str) -> dict[str, str]:
    return {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer", "Cache-Control": cache}


def app_file(name: str, site: str = "app") -> Response:
    """One built file; a path without a file of its own gets index.html (the app's
    routes are in the fragment, but a reload of /app/anything still opens the app)."""
    dist = dist_dir(site).resolve()
    index = dist / "index.html"
    if not index.is_file():
        return Response(f"the {site} is not built: run `make app` (scripts/build_app.sh)\n",
                        status=503, content_type="text/plain; charset=utf-8",
                        headers=_headers("no-store"))
    target = (dist / name).resolve() if name else index
    if not target.is_relative_to(dist) or not target.is_file():
        if Path(name).suffix:  # a missing asset is a 404, not the page
            return Response("not found\n", status=404, content_type="text/plain; charset=utf-8",
                            headers=_headers("no-store"))
        target = index
    suffix = target.suffix
    content_type = TYPES.get(suffix) or mimetypes.guess_type(target.name)[0] or \
        "application/octet-stream"
    # hashed names under assets/ never change; the page, sw.js and the manifest are
    # revalidated every time so that a new build reaches the phones
    immutable = target.parent.name == "assets" and target.parent.parent == dist
    # the page itself is never stored (the house rule for HTML: tests/html_headers.py)
    cache = ("public, max-age=31536000, immutable" if immutable
             else "no-store" if suffix == ".html" else "no-cache")
    return Response(target.read_bytes(), content_type=content_type, headers=_headers(cache))


class AppRoutes:
    """``GET /app``, ``/app/`` and ``/app/<path>``."""

    @http("GET", "/app", public=True, produces=HTML, tags=("app",),
          summary="The grid worker's app: redirects to /app/")
    def app_redirect(self, request):
        return Response("", status=308, content_type="text/plain; charset=utf-8",
                        headers={**_headers("no-store"), "Location": "/app/"})

    @http("GET", "/app/", public=True, produces=HTML, tags=("app",),
          summary="The grid worker's app (mobile web, installable; issue 12)")
    def app_index(self, request):
        return app_file("")

    @http("GET", "/app/<path:name>", public=True, produces=HTML, tags=("app",),
          summary="The app's built files (no CDN); other paths get the app's page")
    def app_static(self, request, name):
        return app_file(name)


class DeskRoutes:
    """``GET /desk``, ``/desk/`` and ``/desk/<path>``: the workbenches (issue 14), on the
    same origin as the APIs for the same reason as the app (docs/DESK.md)."""

    @http("GET", "/desk", public=True, produces=HTML, tags=("desk",),
          summary="The workbenches: redirects to /desk/")
    def desk_redirect(self, request):
        return Response("", status=308, content_type="text/plain; charset=utf-8",
                        headers={**_headers("no-store"), "Location": "/desk/"})

    @http("GET", "/desk/", public=True, produces=HTML, tags=("desk",),
          summary="The workbenches of departments, communities, towns and the district "
                  "(desktop web; issue 14)")
    def desk_index(self, request):
        return app_file("", "desk")

    @http("GET", "/desk/<path:name>", public=True, produces=HTML, tags=("desk",),
          summary="The workbenches' built files (no CDN); other paths get the page")
    def desk_static(self, request, name):
        return app_file(name, "desk")

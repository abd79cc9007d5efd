"""assessment serves the built app at /app/ (issue 12): content types, the HTML house
headers (tests/html_headers.py), immutable hashed assets, the service worker revalidated,
the SPA fallback, 404 for a missing asset, no way out of dist/, and 503 before a build."""

from __future__ import annotations

import pytest

from gridgov_common.platform import service as platform
from services.assessment.app_routes import DIST_ENV, AppRoutes, DeskRoutes
from tests.html_headers import assert_html_security_headers


class AppTestService(platform.PlatformService, AppRoutes, DeskRoutes):
    name = "assessment"


@pytest.fixture
def app_service(container_factory, service_config, app_dist):
    container = container_factory(AppTestService, service_config("assessment"))
    container.start()
    return container


def test_the_app_is_served_with_its_headers(app_service, web_session, app_dist):
    redirect = web_session.get("/app", allow_redirects=False)
    assert redirect.status_code == 308 and redirect.headers["Location"] == "/app/"
    assert redirect.headers["X-Content-Type-Options"] == "nosniff"

    page = web_session.get("/app/")
    assert_html_security_headers(page)
    assert "/app/assets/" in page.text and "/app/manifest.webmanifest" in page.text
    assert "http" not in page.text.replace("http-equiv", "")  # nothing from another host

    fallback = web_session.get("/app/cases/GS20261206-000001")
    assert_html_security_headers(fallback)
    assert fallback.text == page.text

    asset = next(p for p in (app_dist / "assets").iterdir() if p.suffix == ".js")
    script = web_session.get(f"/app/assets/{asset.name}")
    assert script.headers["Content-Type"].startswith("text/javascript")
    assert "immutable" in script.headers["Cache-Control"]
    worker = web_session.get("/app/sw.js")
    assert worker.headers["Content-Type"].startswith("text/javascript")
    assert worker.headers["Cache-Control"] == "no-cache"
    manifest = web_session.get("/app/manifest.webmanifest")
    assert manifest.headers["Content-Type"] == "application/manifest+json"
    assert manifest.json()["start_url"] == "/app/"

    assert web_session.get("/app/assets/missing-0000.js").status_code == 404
    assert web_session.get("/app/..%2f..%2fpyproject.toml").status_code == 404


def test_before_a_build_the_app_says_how_to_build_it(app_service, web_session, tmp_path,
                                                      monkeypatch):
    monkeypatch.setenv(DIST_ENV, str(tmp_path))
    answer = web_session.get("/app/")
    assert answer.status_code == 503 and "make app" in answer.text


def test_the_desk_is_served_with_its_headers(app_service, web_session, app_dist):
    """The workbenches (issue 14) are served like the app, from web/desk/dist."""
    redirect = web_session.get("/desk", allow_redirects=False)
    assert redirect.status_code == 308 and redirect.headers["Location"] == "/desk/"
    page = web_session.get("/desk/")
    assert_html_security_headers(page)
    assert "/desk/assets/" in page.text and "网格化服务管理工作台" in page.text
    assert "http" not in page.text.replace("http-equiv", "")  # nothing from another host
    assert web_session.get("/desk/assignments").text == page.text  # the page's fallback
    desk = app_dist.parent.parent / "desk" / "dist"
    style = next(p for p in (desk / "assets").iterdir() if p.suffix == ".css")
    css = web_session.get(f"/desk/assets/{style.name}")
    assert css.headers["Content-Type"].startswith("text/css")
    assert "immutable" in css.headers["Cache-Control"]
    assert web_session.get("/desk/assets/missing-0000.js").status_code == 404
    # the tab's icon is the desk's own file, so no browser asks a missing /favicon.ico
    assert 'rel="icon" href="/desk/icon.svg"' in page.text
    icon = web_session.get("/desk/icon.svg")
    assert icon.status_code == 200 and icon.headers["Content-Type"].startswith("image/svg")


def test_the_proxy_compresses_the_front_ends_files_and_never_an_api_answer(
        proxy, token, app_dist):
    """A phone downloads the app's script gzipped through the production proxy
    configuration; an API's JSON (personal data) goes uncompressed (no BREACH oracle)."""
    import gzip

    import requests

    asset = max((p for p in (app_dist / "assets").iterdir() if p.suffix == ".js"),
                key=lambda p: p.stat().st_size)
    raw = requests.get(f"{proxy['base']}/app/assets/{asset.name}", stream=True, timeout=10,
                       headers={"Accept-Encoding": "gzip"})
    assert raw.status_code == 200 and raw.headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in raw.headers["Vary"]
    body = raw.raw.read()
    assert gzip.decompress(body) == asset.read_bytes() and len(body) < asset.stat().st_size / 2
    admin = token("district_admin", "district:320505", sub="admin-1")
    api = requests.get(f"{proxy['base']}/api/registry/grids", timeout=10,
                       headers={**admin, "Accept-Encoding": "gzip"})
    assert api.status_code == 200 and "Content-Encoding" not in api.headers

"""The residents' report page and status page (issue 12; docs/RESIDENT-REPORTS.md): plain
HTML shells filled by a small vanilla script, both served by events itself (``static/``),
zh-CN first with an English switch, mobile-first. No CDN and, by default, no base map from
elsewhere: the map is SVG drawn from the registry's grid outlines (WGS84). A raster base map
is an option (RESIDENT_TILE_URL, a tile-URL template); the policy then lets images come
from that origin only."""

from __future__ import annotations

import html
import re
from pathlib import Path
from urllib.parse import urlsplit

from gridgov_common.kernel.errors import NotFound
from services.events.dependencies import Settings

HTML = "text/html; charset=utf-8"
STATIC_DIR = Path(__file__).parent / "static"
STATIC_NAME = r"^[a-z][a-z0-9_-]{0,40}\.(js|css)$"
CONTENT_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}
BASE_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self'; "
               "img-src 'self' data: blob:{tiles}; connect-src 'self'; form-action 'self'; "
               "frame-ancestors 'none'; base-uri 'none'")
SECURITY_HEADERS = {
    "Content-Security-Policy": BASE_POLICY.format(tiles=""),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
TITLES = {"report": {"zh-CN": "我要反映问题", "en": "Report a problem"},
          "status": {"zh-CN": "查询办理进度", "en": "Follow your report"}}
OTHER = {"zh-CN": ("en", "English"), "en": ("zh-CN", "中文")}


def headers(settings: Settings) -> dict[str, str]:
    """The page's security headers; with a base map, images from its origin too."""
    if not settings.tile_url:
        return SECURITY_HEADERS
    parts = urlsplit(settings.tile_url)
    origin = f"{parts.scheme}://{parts.netloc.replace('{s}', '*')}"  # a{s}b: subdomains
    return {**SECURITY_HEADERS,
            "Content-Security-Policy": BASE_POLICY.format(tiles=" " + origin)}


def render(lang: str, kind: str, settings: Settings) -> str:
    """The shell of the report page (``kind`` report) or the status page (status);
    resident.js fills the texts of the other language and the data."""
    title = html.escape(TITLES[kind][lang])
    other, other_name = OTHER[lang]
    path = "/report" if kind == "report" else "/report/status"
    body = _REPORT if kind == "report" else _STATUS
    return f"""<!doctype html>
<html lang="{html.escape(lang)}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/report/static/resident.css">
</head>
<body data-page="{kind}" data-lang="{html.escape(lang)}"
      data-tile-url="{html.escape(settings.tile_url)}"
      data-tile-attribution="{html.escape(settings.tile_attribution)}">
<header>
  <h1 id="title">{title}</h1>
  <nav aria-label="language"><a id="lang-switch" href="{path}?lang={other}"
     lang="{other}" hreflang="{other}">{other_name}</a></nav>
</header>
<main>
{body}
</main>
<script src="/report/static/resident.js"></script>
</body>
</html>
"""


_REPORT = """<form id="report-form" novalidate>
  <p id="intro" data-i18n="intro"></p>
  <div class="field">
    <label for="category" data-i18n="category"></label>
    <select id="category" name="category" required></select>
  </div>
  <div id="attributes"></div>
  <fieldset class="field" id="place">
    <legend data-i18n="place"></legend>
    <p id="map-help" class="help" data-i18n="map_help"></p>
    <div id="map-frame">
      <svg id="map" role="img" aria-labelledby="map-label" aria-describedby="map-help"
           viewBox="0 0 600 400" preserveAspectRatio="xMidYMid meet">
        <title id="map-label" data-i18n="map"></title>
      </svg>
    </div>
    <p id="attribution" class="help" hidden></p>
    <div class="coords">
      <label for="lon" data-i18n="lon"></label>
      <input id="lon" name="lon" inputmode="decimal" autocomplete="off">
      <label for="lat" data-i18n="lat"></label>
      <input id="lat" name="lat" inputmode="decimal" autocomplete="off">
    </div>
    <button id="locate" type="button" data-i18n="locate"></button>
  </fieldset>
  <div class="field">
    <label for="description" data-i18n="description"></label>
    <textarea id="description" name="description" rows="4" maxlength="4000"
              required></textarea>
  </div>
  <div class="field">
    <label for="photo" data-i18n="photo"></label>
    <input id="photo" name="photo" type="file" accept="image/jpeg,image/png,image/webp">
  </div>
  <div class="field">
    <label for="phone" data-i18n="phone"></label>
    <input id="phone" name="phone" type="tel" autocomplete="tel" maxlength="30"
           aria-describedby="phone-help">
    <p id="phone-help" class="help" data-i18n="phone_help"></p>
  </div>
  <button id="submit" type="submit" data-i18n="submit"></button>
</form>
<p id="progress" role="status" aria-live="polite"></p>
<div id="errors" role="alert"></div>
<section id="receipt" hidden aria-labelledby="receipt-heading">
  <h2 id="receipt-heading" tabindex="-1" data-i18n="receipt"></h2>
  <p><span data-i18n="case_number"></span> <strong id="case-number"></strong></p>
  <p id="receipt-phone" hidden></p>
  <p id="receipt-notice"></p>
  <p><a id="status-link" href="/report/status" data-i18n="follow"></a></p>
</section>
<p><a id="to-status" href="/report/status" data-i18n="to_status"></a></p>"""

_STATUS = """<form id="status-form" novalidate>
  <div class="field">
    <label for="case" data-i18n="case_number"></label>
    <input id="case" name="case" autocomplete="off" required
           pattern="[A-Z0-9][A-Z0-9-]{5,31}">
  </div>
  <button id="lookup" type="submit" data-i18n="lookup"></button>
</form>
<div id="errors" role="alert"></div>
<section id="result" hidden aria-labelledby="result-heading">
  <h2 id="result-heading"></h2>
  <dl id="result-list"></dl>
</section>
<p><a id="to-report" href="/report" data-i18n="to_report"></a></p>"""


def static_file(name: str) -> tuple[bytes, str]:
    """A file of ``static/`` by plain name only (no paths, so nothing outside it)."""
    if not re.match(STATIC_NAME, name):
        raise NotFound(f"no static file {name}")
    path = STATIC_DIR / name
    if not path.is_file():
        raise NotFound(f"no static file {name}")
    return path.read_bytes(), CONTENT_TYPES[path.suffix]

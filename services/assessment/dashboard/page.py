"""The dashboard's HTML shell and static files.  The page has no external resource (it must
work offline in the operations centre): its script and style come from ``static/``, and
the map is SVG drawn from the registry's GeoJSON, no tile server."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

from gridgov_common.contract import labels
from gridgov_common.kernel.errors import NotFound
from services.assessment.dashboard.schemas import STATIC_NAME

STATIC_DIR = Path(__file__).parent / "static"
CONTENT_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}
# Only our own origin: no CDN can sneak in, and an injected inline script would not run.
SECURITY_HEADERS = {
    "Content-Security-Policy": ("default-src 'self'; script-src 'self'; style-src 'self'; "
                                "img-src 'self' data:; connect-src 'self'; "
                                "frame-ancestors 'none'; base-uri 'none'"),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
TITLES = {"zh-CN": "区级运行中心", "en": "District operations centre"}


def render(lang: str, refresh_seconds: int) -> str:
    """The shell; dashboard.js fills every section (its strings come from its dictionary)."""
    title = html.escape(TITLES[lang])
    return f"""<!doctype html>
<html lang="{html.escape(lang)}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="stylesheet" href="/dashboard/static/dashboard.css">
</head>
<body id="dashboard" data-lang="{html.escape(lang)}" data-refresh="{refresh_seconds}"
      data-state="loading">
<header>
  <h1 id="title" data-i18n="title">{title}</h1>
  <span id="updated" data-i18n-prefix="updated"></span>
  <span id="status" data-state="loading"></span>
  <button id="lang-toggle" type="button" data-lang-target=""></button>
</header>
<div id="errors" role="alert"></div>
<main>
  <form id="login" hidden aria-labelledby="token-label">
    <label id="token-label" for="token-input" data-i18n="token_prompt"></label>
    <input id="token-input" type="password" autocomplete="off">
    <button id="token-save" type="submit" data-i18n="sign_in"></button>
  </form>
  <section id="map-section"><h2 id="map-heading" data-i18n="map"></h2>
    <div id="map-legend"></div>
    <svg id="map" role="img" aria-labelledby="map-heading" viewBox="0 0 800 520"></svg>
    <div id="map-tooltip" hidden></div></section>
  <section id="feed-section"><h2 id="feed-heading" data-i18n="feed"></h2>
    <ol id="feed" tabindex="0" aria-labelledby="feed-heading"></ol></section>
  <section id="departments-section"><h2 data-i18n="departments"></h2>
    <table id="departments"><thead></thead><tbody></tbody></table></section>
  <section id="towns-section"><h2 data-i18n="towns"></h2>
    <table id="towns"><thead></thead><tbody></tbody></table></section>
  <section id="queues-section"><h2 data-i18n="queues"></h2>
    <table id="queues"><thead></thead><tbody></tbody></table></section>
  <section id="health-section"><h2 data-i18n="health"></h2><ul id="health"></ul></section>
</main>
<script src="/dashboard/static/labels.js"></script>
<script src="/dashboard/static/i18n.js"></script>
<script src="/dashboard/static/map.js"></script>
<script src="/dashboard/static/dashboard.js"></script>
</body>
</html>
"""


def labels_script() -> bytes:
    """``labels.js``: the names of the platform's fixed codes (work categories, states,
    cards, roles…) from gridgov_common/contract/labels.py, the one table every output uses."""
    tables = {lang: labels.as_json(lang) for lang in labels.LANGUAGES}
    return ("/* generated from gridgov_common/contract/labels.py */\n\"use strict\";\n"
            f"window.GRIDGOV_LABELS = {json.dumps(tables, ensure_ascii=False)};\n"
            ).encode()


def static_file(name: str) -> tuple[bytes, str]:
    """A file of ``static/`` by plain name only (no paths, so nothing outside it)."""
    if not re.match(STATIC_NAME, name):
        raise NotFound(f"no static file {name}")
    if name == "labels.js":
        return labels_script(), CONTENT_TYPES[".js"]
    path = STATIC_DIR / name
    if not path.is_file():
        raise NotFound(f"no static file {name}")
    return path.read_bytes(), CONTENT_TYPES[path.suffix]

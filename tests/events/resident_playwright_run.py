"""Drive the residents' report page in headless Chromium with Playwright, as a resident
would, and print what was seen as JSON (``python -m tests.events.resident_playwright_run
BASE_URL GRID_CODE PHOTO_PATH``), run as its own process by test_resident_browser.py (the
services under test keep serving from the test process; Playwright's loop must not share
eventlet's). Debian's ``chromium``; axe-core on every state of the page."""

from __future__ import annotations

import json
import sys

from playwright.sync_api import sync_playwright

from tests.assessment_dashboard.browser import chromium_path
from tests.assessment_dashboard.playwright_run import axe_violations

WAIT_MS = 60_000  # a safety net for a slow machine, not a timing assertion


def snapshot(page, label: str) -> dict:
    return {"label": label, "url": page.url, "lang": page.get_attribute("html", "lang"),
            "title": page.title(), "h1": page.text_content("h1"),
            "errors": page.text_content("#errors"), "axe": axe_violations(page)}


def report(page, base: str, grid_code: str, photo: str, steps: list) -> None:
    page.set_viewport_size({"width": 390, "height": 844})  # a phone first
    page.goto(f"{base}/report")
    page.wait_for_function("() => document.querySelectorAll('#category option').length > 1",
                           timeout=WAIT_MS)
    page.wait_for_selector(f"#map path[data-grid-code='{grid_code}']", timeout=WAIT_MS)
    steps.append({**snapshot(page, "empty"),
                  "labels": page.eval_on_selector_all(
                      "label", "nodes => nodes.map(n => n.textContent)"),
                  "options": page.eval_on_selector_all(
                      "#category option", "nodes => nodes.map(n => n.textContent)")})
    page.select_option("#category", "environmental_sanitation")
    box = page.locator(f"#map path[data-grid-code='{grid_code}']").bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.wait_for_function("() => document.getElementById('lon').value !== ''", timeout=WAIT_MS)
    page.fill("#description", "小区门口垃圾三天没人清运，气味很大")
    page.set_input_files("#photo", photo)
    page.fill("#phone", "139-1234-5678")
    steps.append({**snapshot(page, "filled"), "lon": page.input_value("#lon"),
                  "lat": page.input_value("#lat"), "pin": page.is_visible("#pin")})
    page.click("#submit")
    page.wait_for_selector("#receipt:not([hidden])", timeout=WAIT_MS)
    steps.append({**snapshot(page, "receipt"),
                  "case_number": page.text_content("#case-number"),
                  "receipt": page.text_content("#receipt"),
                  "form_hidden": page.is_hidden("#report-form")})
    page.click("#status-link")
    page.wait_for_selector("#result:not([hidden]), #errors p", timeout=WAIT_MS)
    steps.append({**snapshot(page, "status"), "result": page.text_content("#result"),
                  "fields": page.eval_on_selector_all(
                      "#result dd", "nodes => nodes.map(n => n.dataset.field)")})
    page.click("#lang-switch")
    page.wait_for_selector("html[lang=en]", timeout=WAIT_MS)
    page.wait_for_selector("#result:not([hidden]), #errors p", timeout=WAIT_MS)
    steps.append({**snapshot(page, "status_en"), "result": page.text_content("#result")})


def main(argv: list[str]) -> int:
    base, grid_code, photo = argv
    steps: list[dict] = []
    requests_seen: list[str] = []
    console: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium_path(),
            args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
        try:
            page = browser.new_context(locale="zh-CN").new_page()
            page.on("request", lambda r: requests_seen.append(r.url))
            page.on("console", lambda m: console.append(f"{m.type}: {m.text}"))
            page.on("pageerror", lambda e: console.append(f"pageerror: {e}"))
            try:
                report(page, base, grid_code, photo, steps)
            except Exception:
                print(json.dumps({"url": page.url, "console": console,
                                  "requests": requests_seen}), file=sys.stderr)
                raise
        finally:
            browser.close()
    print(json.dumps({"steps": steps, "requests": requests_seen, "console": console},
                     ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Open one printable page in headless Chromium (Debian's, as tests/assessment_dashboard
does) with a bearer token in the request header, run axe-core on it, and print JSON: the
violations, the document's language and title, and the requests the page made (a
self-contained page makes none beyond itself).

Run as its own process (``python -m tests.assessment.axe_page URL``, the token in
``GRIDGOV_AXE_TOKEN``: never in a URL or on the command line) by
test_appraisal_readable.py: Playwright's sync API must not share a process with eventlet.
"""

from __future__ import annotations

import json
import os
import sys

from playwright.sync_api import sync_playwright

from tests.assessment_dashboard.browser import chromium_path
from tests.assessment_dashboard.playwright_run import axe_violations

WAIT_MS = 60_000  # a safety net for a slow machine, not a timing assertion


def main(argv: list[str]) -> int:
    (url,) = argv
    requests_seen: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium_path(),
            args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
        try:
            context = browser.new_context(extra_http_headers={
                "Authorization": f"Bearer {os.environ['GRIDGOV_AXE_TOKEN']}"})
            page = context.new_page()
            page.on("request", lambda r: requests_seen.append(r.url))
            response = page.goto(url, timeout=WAIT_MS)
            # axe-core is injected by the test harness (CDP), not by the page: the page's
            # own policy still forbids every script of its own
            seen = {"status": response.status if response else None,
                    "lang": page.get_attribute("html", "lang"), "title": page.title(),
                    "axe": axe_violations(page), "requests": requests_seen}
        finally:
            browser.close()
    print(json.dumps(seen, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

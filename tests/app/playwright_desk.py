"""Drive the department workbench (issue 14) in headless Chromium (Debian's) through the
reverse proxy, as a department officer without IT of its own would, and print what was
seen as JSON. Run as its own process by test_desk_browser.py (Playwright's sync API must
not share a process with eventlet); the run's settings in ``GRIDGOV_DESK_RUN`` as JSON
(base URL, login, password, the case number, a photo's path). axe-core on every screen.

The scenario: sign in (zh-CN), find the case by its number with its names and countdown,
sign for it (签收), report the result with a photo, then read the page in English.
"""

from __future__ import annotations

import json
import os
import sys

from playwright.sync_api import sync_playwright

from tests.assessment_dashboard.browser import chromium_path
from tests.assessment_dashboard.playwright_run import axe_violations

WAIT_MS = 60_000  # a safety net for a slow machine, not a timing assertion


def snapshot(page, label: str) -> dict:
    return {"label": label, "url": page.url, "lang": page.get_attribute("html", "lang"),
            "text": page.inner_text("body")[:4000], "axe": axe_violations(page)}


def row(page, case_number: str):
    return page.locator("[data-test=assignments] tr", has_text=case_number).first


def act(page, case_number: str, button: str, done_text: str, fill=None) -> None:
    """Open the action ``button`` on the case's row, fill the dialog, submit, and wait
    until the row says ``done_text``."""
    row(page, case_number).get_by_role("button", name=button).click()
    dialog = page.locator(".el-dialog").filter(has_text=button).last
    dialog.wait_for(state="visible", timeout=WAIT_MS)
    if fill:
        fill(dialog)
    dialog.locator("[data-test=submit]").click()
    row(page, case_number).filter(has_text=done_text).wait_for(timeout=WAIT_MS)
    dialog.wait_for(state="hidden", timeout=WAIT_MS)  # closed, not fading (axe reads it)


def department(page, run: dict, steps: list) -> None:
    page.goto(f"{run['base']}/desk/")
    page.wait_for_selector("#login", timeout=WAIT_MS)
    steps.append(snapshot(page, "signin"))
    page.fill("#login", run["login"])
    page.fill("#password", run["password"])
    page.get_by_role("button", name="登录").click()
    row(page, run["case_number"]).wait_for(timeout=WAIT_MS)
    steps.append(snapshot(page, "list"))

    act(page, run["case_number"], "签收", "已签收")
    steps.append(snapshot(page, "signed_for"))

    def with_photo(dialog) -> None:
        dialog.locator("#action-photos").set_input_files(run["photo"])
        dialog.locator("[data-test=photos] li").first.wait_for(timeout=WAIT_MS)
        dialog.locator("#action-note").fill(run["note"])

    act(page, run["case_number"], "反馈结果", "已反馈结果", with_photo)
    steps.append(snapshot(page, "result_reported"))

    page.get_by_role("button", name="English").click()
    page.get_by_text("Department workbench").wait_for(timeout=WAIT_MS)
    steps.append(snapshot(page, "english"))


def main() -> int:
    run = json.loads(os.environ["GRIDGOV_DESK_RUN"])
    steps: list[dict] = []
    console: list[str] = []
    failed: list[str] = []
    error = None
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium_path(),
            args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
        try:
            page = browser.new_context(locale="zh-CN",
                                       viewport={"width": 1440, "height": 900}).new_page()
            page.on("console", lambda m: console.append(f"{m.type}: {m.text}"))
            page.on("pageerror", lambda e: console.append(f"pageerror: {e}"))
            page.on("response", lambda r: failed.append(f"{r.status} {r.request.method} {r.url}")
                    if r.status >= 400 else None)
            try:
                department(page, run, steps)
            except Exception as exc:  # reported to the test with what the page said
                error = f"{type(exc).__name__}: {exc}"
                try:
                    steps.append(snapshot(page, "at_error"))
                except Exception:  # noqa: BLE001
                    pass
        finally:
            browser.close()
    print(json.dumps({"steps": steps, "console": console, "failed": failed, "error": error},
                     ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())

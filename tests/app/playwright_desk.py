"""Drive the department workbench (issue 14) in headless Chromium (Debian's) through the
reverse proxy, as a department officer without IT of its own would, and print what was
seen as JSON. Run as its own process by test_desk_browser.py (Playwright's sync API must
not share a process with eventlet); the run's settings as JSON in ``GRIDGOV_APP_RUN`` (base
URL, login, password, the case number, a photo's path). axe-core on every screen.

The scenario: sign in (zh-CN), find the case by its number with its names and countdown,
sign for it (签收), report the result with a photo, open the case page (its timeline
says so in words), then read the page in English.
"""

from __future__ import annotations

import json
import os
import sys

from tests.app.playwright_app import keep_screenshot, run_in_browser
from tests.assessment_dashboard.playwright_run import axe_violations

WAIT_MS = 60_000  # a safety net for a slow machine, not a timing assertion


def snapshot(page, label: str) -> dict:
    keep_screenshot(page, f"desk-{label}")
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


def department(page, context, run: dict, steps: list) -> None:
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

    # the case number opens the one case page: the timeline in words, then back
    row(page, run["case_number"]).get_by_role("link", name=run["case_number"]).click()
    done = page.locator(".case-page .el-timeline-item", has_text="部门办结")
    done.first.wait_for(timeout=WAIT_MS)
    steps.append(snapshot(page, "case_page"))
    page.get_by_role("button", name="返回").click()
    row(page, run["case_number"]).wait_for(timeout=WAIT_MS)

    page.get_by_role("button", name="English").click()
    page.get_by_text("Department workbench").first.wait_for(timeout=WAIT_MS)  # tab, heading
    steps.append(snapshot(page, "english"))


def main() -> int:
    run = json.loads(os.environ["GRIDGOV_APP_RUN"])
    seen = run_in_browser(department, run, locale="zh-CN",
                          viewport={"width": 1440, "height": 900})
    print(json.dumps(seen, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())

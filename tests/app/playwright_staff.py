"""Drive the staff page of the desk (issue 14; P5.1.5, P5.4.1) in headless Chromium through
the reverse proxy and print what was seen as JSON (run by test_staff_browser.py in its own
process; settings as JSON in ``GRIDGOV_APP_RUN``). axe-core on every screen.

The scenario: the community grid chief recruits a neighbourhood grid worker for a grid
chosen by its name; the town grid chief reviews and hires them and gives them a temporary
password (shown once); then the page is read in English.
"""

from __future__ import annotations

import json
import os
import sys

from tests.app.playwright_app import run_in_browser
from tests.app.playwright_desk import WAIT_MS, snapshot


def sign_in(page, run: dict, who: dict) -> None:
    page.goto(f"{run['base']}/desk/#/staff")
    page.wait_for_selector("#login", timeout=WAIT_MS)
    page.fill("#login", who["login"])
    page.fill("#password", who["password"])
    page.get_by_role("button", name="登录").click()
    page.locator("[data-test=staff-table]").wait_for(timeout=WAIT_MS)


def person(page, name: str):
    return page.locator("[data-test=staff-table] tr", has_text=name).first


def staff(page, context, run: dict, steps: list) -> None:
    sign_in(page, run, run["chief"])
    # the table is drawn before its rows arrive: wait for the community's people
    person(page, run["grid_name"]).wait_for(timeout=WAIT_MS)
    steps.append(snapshot(page, "community_list"))
    page.click("[data-test=appoint]")
    page.fill("#staff-name", run["name"])
    page.select_option("#staff-place", label=run["grid_name"])
    page.fill("#staff-login", run["login"])
    steps.append(snapshot(page, "appoint_dialog"))
    page.click("[data-test=submit]")
    person(page, run["name"]).filter(has_text="已招录，待审核").wait_for(timeout=WAIT_MS)
    steps.append({**snapshot(page, "recruited"), "row": person(page, run["name"]).inner_text()})
    page.get_by_role("button", name="退出登录").click()

    sign_in(page, run, run["town"])
    row = person(page, run["name"])
    row.get_by_role("button", name="审核通过").click()
    row.filter(has_text="已审核，待聘用").wait_for(timeout=WAIT_MS)
    row.get_by_role("button", name="聘用").click()
    row.filter(has_text="已聘用，待备案").wait_for(timeout=WAIT_MS)
    steps.append(snapshot(page, "hired"))
    row.get_by_role("button", name="重置密码").click()
    shown = page.locator("[data-test=temporary]")
    shown.wait_for(timeout=WAIT_MS)
    steps.append({**snapshot(page, "temporary"), "password": shown.inner_text().strip()})
    page.get_by_role("button", name="OK").click()

    page.get_by_role("button", name="English").click()
    page.get_by_text("Hired, awaiting filing").first.wait_for(timeout=WAIT_MS)
    steps.append(snapshot(page, "english"))


def main() -> int:
    run = json.loads(os.environ["GRIDGOV_APP_RUN"])
    seen = run_in_browser(staff, run, locale="zh-CN", viewport={"width": 1440, "height": 900})
    print(json.dumps(seen, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Drive the district workbench (issue 14) in headless Chromium (Debian's) through the
reverse proxy, as the district's admin would, and print what was seen as JSON. Run as its
own process by test_district_browser.py (Playwright's sync API must not share a process
with eventlet); the run's settings as JSON in ``GRIDGOV_APP_RUN`` (base URL, login,
password, the month to circulate). axe-core on every screen.

The scenario: sign in (zh-CN), the circulars page; check the month's circular (its
figures and text by name), publish it, see it listed with its document number; open the
printable page; the audit log filtered to the admin's own sign-ins; then the circular's
check again in English.
"""

from __future__ import annotations

import json
import os
import sys

from tests.app.playwright_app import keep_screenshot, run_in_browser
from tests.assessment_dashboard.playwright_run import axe_violations

WAIT_MS = 60_000  # a safety net for a slow machine, not a timing assertion


def snapshot(page, label: str, **more) -> dict:
    keep_screenshot(page, f"district-{label}")
    return {"label": label, "url": page.url, "lang": page.get_attribute("html", "lang"),
            "text": page.inner_text("body")[:6000], "axe": axe_violations(page), **more}


def table_rows(page, test_id: str) -> list[list[str]]:
    """The cells of a table's body rows, as the person reads them."""
    return page.eval_on_selector_all(
        f"[data-test={test_id}] .el-table__body tr",
        "rows => rows.map(r => [...r.querySelectorAll('td')].map(td => td.innerText.trim()))")


def check(page, run: dict, steps: list, label: str) -> None:
    page.fill("#circular-period", run["period"])
    page.locator("[data-test=circular-check]").click()
    page.locator("[data-test=circular-draft] [data-test=circular-text]").first.wait_for(
        timeout=WAIT_MS)
    page.locator("[data-test=draft-departments] .el-table__body tr").first.wait_for(
        timeout=WAIT_MS)
    steps.append(snapshot(page, label,
                          departments=table_rows(page, "draft-departments"),
                          towns=table_rows(page, "draft-towns"),
                          paragraph=page.inner_text("[data-test=circular-draft] p")))


def district(page, context, run: dict, steps: list) -> None:
    page.goto(f"{run['base']}/desk/")
    page.wait_for_selector("#login", timeout=WAIT_MS)
    steps.append(snapshot(page, "signin"))
    page.fill("#login", run["login"])
    page.fill("#password", run["password"])
    page.get_by_role("button", name="登录").click()
    page.locator("[data-test=circular-check]").wait_for(timeout=WAIT_MS)
    steps.append(snapshot(page, "circulars"))

    # check what the month's circular would say, then publish it
    check(page, run, steps, "draft")
    page.locator("[data-test=circular-publish]").click()
    made = page.locator("[data-test=circular-made]")
    made.wait_for(timeout=WAIT_MS)
    number = made.inner_text().split("：", 1)[1].split(" ·")[0].strip()
    page.locator("[data-test=circulars] .el-table__body tr", has_text=number).wait_for(
        timeout=WAIT_MS)
    steps.append(snapshot(page, "published", number=number,
                          listed=table_rows(page, "circulars"),
                          draft_gone=page.locator("[data-test=circular-draft]").count() == 0))

    # the printable page the list links to (same cookies, through the proxy)
    link = page.locator("[data-test=circulars] .el-table__body tr", has_text=number) \
        .locator("[data-test=circular-html]")
    href = link.get_attribute("href")
    printable = context.new_page()
    printable.goto(f"{run['base']}{href}")
    printable.wait_for_selector("table", timeout=WAIT_MS)
    steps.append({**snapshot(printable, "printable"), "href": href})
    printable.close()

    # the audit log: this admin's own sign-ins today
    page.locator("[data-test=tab-audit]").click()
    page.wait_for_selector("#audit-actor", timeout=WAIT_MS)
    page.locator("[data-test=audit] .el-table__body tr").first.wait_for(timeout=WAIT_MS)
    page.fill("#audit-actor", run["login"])
    page.locator("[data-test=audit-action]").click()
    page.get_by_role("option", name="登录", exact=True).click()
    page.fill("#audit-day", run["today"])
    page.locator("[data-test=audit-search]").click()
    page.wait_for_function(
        "() => { const rows = document.querySelectorAll('[data-test=audit] .el-table__body tr');"
        " return rows.length > 0 && [...rows].every(r => r.innerText.includes('登录')); }",
        timeout=WAIT_MS)
    page.locator(".el-select-dropdown").first.wait_for(state="hidden", timeout=WAIT_MS)
    steps.append(snapshot(page, "audit", rows=table_rows(page, "audit")))

    # the half-year assessment: run (a draft listing the towns), type a town's democratic
    # appraisal and quantified points, run again, publish
    page.locator("[data-test=tab-assessment]").click()
    page.locator("[data-test=assessment-run]").wait_for(timeout=WAIT_MS)
    page.fill("#assessment-half-year", run["half_year"])
    page.locator("[data-test=assessment-run]").click()
    town = run["appraised_town"]
    page.locator(f"[data-test=democratic-{town}] input").wait_for(timeout=WAIT_MS)
    page.locator("[data-test=assessment-report]", has_text="版本 1").wait_for(timeout=WAIT_MS)
    page.wait_for_function("() => !document.querySelector('.el-message')", timeout=WAIT_MS)
    steps.append(snapshot(page, "assessment_first", inputs=table_rows(page, "assessment-inputs")))
    page.locator(f"[data-test=democratic-{town}] input").fill(str(run["democratic"]))
    page.locator(f"[data-test=points-{town}] input").fill(str(run["points"]))
    page.locator(f"[data-test=points-{town}] input").press("Tab")
    page.locator("[data-test=assessment-save]").click()
    page.locator(".el-message--success", has_text="已保存").wait_for(timeout=WAIT_MS)
    page.locator("[data-test=assessment-run]").click()
    page.locator("[data-test=assessment-report]", has_text="版本 2").wait_for(timeout=WAIT_MS)
    page.locator("[data-test=assessment-town] .el-table__body tr").first.wait_for(timeout=WAIT_MS)
    page.wait_for_function("() => !document.querySelector('.el-message')", timeout=WAIT_MS)
    steps.append(snapshot(page, "assessment_draft", towns=table_rows(page, "assessment-town")))
    page.locator("[data-test=assessment-publish]").click()
    page.locator("[data-test=assessment-report]", has_text="已发布").wait_for(timeout=WAIT_MS)
    page.wait_for_function("() => !document.querySelector('.el-message')", timeout=WAIT_MS)
    steps.append(snapshot(page, "assessment_published",
                          towns=table_rows(page, "assessment-town"),
                          reports=table_rows(page, "assessment-reports")))

    # master data: the catalogue by work category, the current rule set by names, the
    # departments with their routing keys
    page.locator("[data-test=tab-master-data]").click()
    page.locator("[data-test=catalogue] .el-table__body tr").first.wait_for(timeout=WAIT_MS)
    steps.append(snapshot(page, "catalogue"))
    page.locator("[data-test=master-part]").get_by_text("分拨规则").click()
    page.locator("[data-test=rules] .el-table__body tr").first.wait_for(timeout=WAIT_MS)
    steps.append(snapshot(page, "rules", version=page.inner_text("[data-test=rule-set-version]"),
                          rows=table_rows(page, "rules")))
    page.locator("[data-test=master-part]").get_by_text("部门").click()
    page.locator("[data-test=departments] .el-table__body tr").first.wait_for(timeout=WAIT_MS)
    steps.append(snapshot(page, "departments", rows=table_rows(page, "departments")))

    # the working calendar: a Saturday made a working day (调休), then removed again
    page.on("dialog", lambda dialog: dialog.accept())  # "remove this day's setting?"
    page.locator("[data-test=tab-calendar]").click()
    page.wait_for_selector("#calendar-day", timeout=WAIT_MS)
    page.locator("[data-test=calendar-month] li").first.wait_for(timeout=WAIT_MS)
    steps.append(snapshot(page, "calendar"))
    page.fill("#calendar-day", run["swap_day"])
    page.locator("[data-test=calendar-kind]").get_by_text("工作日（调休上班）").click()
    page.fill("#calendar-note", run["swap_reason"])
    page.locator("[data-test=calendar-add]").click()
    added = page.locator("[data-test=calendar-overrides] .el-table__body tr",
                         has_text=run["swap_day"])
    added.wait_for(timeout=WAIT_MS)
    page.locator(".el-message").first.wait_for(state="detached", timeout=WAIT_MS)
    steps.append(snapshot(page, "calendar_added",
                          rows=table_rows(page, "calendar-overrides")))
    added.get_by_role("button", name="删除").click()
    added.wait_for(state="detached", timeout=WAIT_MS)
    page.locator(".el-message").first.wait_for(state="detached", timeout=WAIT_MS)
    steps.append(snapshot(page, "calendar_removed",
                          rows=table_rows(page, "calendar-overrides")))

    # English: the circulars page again, checked again
    page.get_by_role("button", name="English").click()
    page.locator("[data-test=tab-circulars]").click()
    page.get_by_text("Make a circular").wait_for(timeout=WAIT_MS)
    check(page, run, steps, "english")
    # and every other page in English
    for key, heading, ready in (
            ("assessment", "Half-year assessment",  # the shown report, not only the list
             "[data-test=assessment-report]"),
            ("master-data", "Master data", "[data-test=catalogue] .el-table__body tr"),
            ("calendar", "Working calendar", "[data-test=calendar-month] li"),
            ("audit", "Audit log", "[data-test=audit] .el-table__body tr")):
        page.locator(f"[data-test=tab-{key}]").click()
        page.get_by_role("heading", name=heading).wait_for(timeout=WAIT_MS)
        page.locator(ready).first.wait_for(timeout=WAIT_MS)
        steps.append(snapshot(page, f"english_{key}"))


def main() -> int:
    run = json.loads(os.environ["GRIDGOV_APP_RUN"])
    seen = run_in_browser(district, run, locale="zh-CN",
                          viewport={"width": 1440, "height": 900})
    print(json.dumps(seen, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())

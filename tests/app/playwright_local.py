"""Drive the community's and the town's workbench and the one case page (issue 14) in
headless Chromium through the reverse proxy, and print what was seen as JSON. Run as its
own process by test_local_browser.py (Playwright's sync API must not share a process with
eventlet); the run's settings as JSON in ``GRIDGOV_APP_RUN``. axe-core on every screen.

``town``: a town grid chief signs in, finds the case its department returned waiting for
the town's triage, opens its case page (names, photo, assignments), is refused a report
up without a reason (in words), then dispatches it to a department picked by its name.
``community``: a community grid chief reports the result of a case handled at the
community's level, then records the return visit that closes it; then in English.
"""

from __future__ import annotations

import json
import os
import sys

from tests.app.playwright_app import run_in_browser, until
from tests.app.playwright_desk import WAIT_MS
from tests.app.playwright_desk import snapshot as seen


def snapshot(page, label: str) -> dict:
    """What the screen shows once the toasts have gone: axe reads a toast fading out as
    low contrast (the words on the case page say what happened)."""
    until(page, "document.querySelectorAll('.el-message').length === 0")
    return seen(page, label)


def sign_in(page, run: dict, section: str) -> None:
    page.goto(f"{run['base']}/desk/")
    page.wait_for_selector("#login", timeout=WAIT_MS)
    page.fill("#login", run["login"])
    page.fill("#password", run["password"])
    page.get_by_role("button", name="登录").click()
    row(page, section, run["case_number"]).wait_for(timeout=WAIT_MS)


def row(page, section: str, case_number: str):
    return page.locator(f"[data-test=local-{section}] tr", has_text=case_number).first


def open_case(page, section: str, case_number: str) -> None:
    row(page, section, case_number).get_by_role("link", name=case_number).click()
    page.locator("[data-test=case-actions] button").first.wait_for(timeout=WAIT_MS)


def action(page, name: str, title: str, fill=None, then: str | None = None):
    """Open the action ``name``'s dialog, fill it, submit; wait until the case page,
    reloaded, says ``then`` (or, with ``then`` None, return the dialog as it is)."""
    page.locator(f"[data-test=action-{name}]").click()
    dialog = page.locator(".el-dialog").filter(has_text=title).last
    dialog.wait_for(state="visible", timeout=WAIT_MS)
    if fill:
        fill(dialog)
    dialog.locator("[data-test=case-action-submit]").click()
    if then is None:
        return dialog
    dialog.wait_for(state="hidden", timeout=WAIT_MS)
    page.locator("[data-test=case-facts]", has_text=then).wait_for(timeout=WAIT_MS)
    page.locator("[data-test=case-actions] h3").wait_for(timeout=WAIT_MS)
    return dialog


def town(page, context, run: dict, steps: list) -> None:
    sign_in(page, run, "triage")
    steps.append(snapshot(page, "town_bench"))
    open_case(page, "triage", run["case_number"])
    until(page, "document.querySelector('[data-test=case-photos] img')?.naturalWidth > 0")
    steps.append(snapshot(page, "town_case"))

    # P5.3.2: asking the district to coordinate needs a reason; dispatch says so in words
    dialog = action(page, "report_up", "上报上级")
    dialog.locator("[data-test=refusal]").wait_for(timeout=WAIT_MS)
    steps.append(snapshot(page, "town_refused"))
    dialog.get_by_role("button", name="取消").click()
    dialog.wait_for(state="hidden", timeout=WAIT_MS)

    def to_department(dialog) -> None:
        dialog.locator("#case-action-lead").click()
        page.get_by_role("option", name=run["department_name"], exact=True).click()
        dialog.locator("#case-action-reason").fill(run["reason"])

    action(page, "dispatch", "交办部门", to_department, then="已派遣")
    page.locator("[data-test=case-assignments] tr", has_text=run["department_name"]) \
        .filter(has_text="待签收").wait_for(timeout=WAIT_MS)
    steps.append(snapshot(page, "town_dispatched"))
    page.get_by_role("button", name="English").click()
    page.locator("[data-test=case-facts]", has_text="Dispatched").wait_for(timeout=WAIT_MS)
    steps.append(snapshot(page, "town_english"))


def community(page, context, run: dict, steps: list) -> None:
    sign_in(page, run, "local")
    steps.append(snapshot(page, "community_bench"))
    open_case(page, "local", run["case_number"])
    steps.append(snapshot(page, "community_case"))

    def result(dialog) -> None:
        dialog.locator("#case-action-note").fill(run["note"])

    action(page, "local_result", "反馈办理结果", result, then="已办结待回访")
    steps.append(snapshot(page, "community_resolved"))

    def visit(dialog) -> None:
        dialog.get_by_text("4", exact=True).click()
        dialog.get_by_text("上门回访").click()
        dialog.locator("#case-action-note").fill(run["visit_note"])

    action(page, "return_visit", "回访", visit, then="已结案")
    page.get_by_text("您当前没有可办理的操作").wait_for(timeout=WAIT_MS)
    page.locator("[data-test=case-timeline]", has_text="回访").wait_for(timeout=WAIT_MS)
    steps.append(snapshot(page, "community_closed"))
    page.get_by_role("button", name="返回").click()
    page.locator("[data-test=local-visit]").wait_for(timeout=WAIT_MS)
    steps.append(snapshot(page, "community_bench_after"))
    page.get_by_role("button", name="English").click()
    page.get_by_text("Waiting for a return visit").wait_for(timeout=WAIT_MS)
    steps.append(snapshot(page, "community_english"))


def main() -> int:
    run = json.loads(os.environ["GRIDGOV_APP_RUN"])
    scenario = {"town": town, "community": community}[sys.argv[1]]
    seen = run_in_browser(scenario, run, locale="zh-CN", viewport={"width": 1440, "height": 900})
    print(json.dumps(seen, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())

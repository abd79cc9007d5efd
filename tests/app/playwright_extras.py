"""Drive the town's and the department's extra desk pages (issue 14) in headless Chromium
(Debian's) through the reverse proxy and print what was seen as JSON. Run as its own
process by test_extras_browser.py (Playwright's sync API must not share a process with
eventlet); the run's settings as JSON in ``GRIDGOV_APP_RUN``; the scenario as argv[1].
axe-core on every screen.

``chief``: a town grid chief signs in (zh-CN), finds the department's delay request with
its names, grants it with a note, sees who decided, opens the case page (同意延时; its map:
the case's point in its grid), issues a red supervision card by hand there (督办, with an
instruction: the timeline names the chief), reads the town's work logs, meetings and the
month's meeting compliance by names and the supervision cards (the timer's and the hand-
issued one), then the delay page and the cards in English. ``community``: a community
grid chief approves a grid worker's work log with a comment. ``officer``: a department
officer signs in, opens its second tab (notices and standing), reads its figures in
words, then in English."""

from __future__ import annotations

import json
import os
import sys

from tests.app.playwright_app import run_in_browser
from tests.app.playwright_desk import WAIT_MS
from tests.app.playwright_desk import snapshot as desk_snapshot

# no colour transition still running (a tab's button fading to its pressed colour is below
# AA contrast for 0.1 s: axe would read it half-way); endless spinners do not count
SETTLED = """() => document.getAnimations().every(
    (a) => a.playState !== 'running' || a.effect.getTiming().iterations === Infinity)"""


def snapshot(page, label: str) -> dict:
    page.wait_for_function(SETTLED, timeout=WAIT_MS)
    return desk_snapshot(page, label)


def with_rows(step: dict, page, table: str) -> dict:
    """The step with the cells of the ``table``'s body rows (data-test), each cell's text."""
    rows = page.locator(f"[data-test={table}] .el-table__body tr")
    step["rows"] = [[cell.strip() for cell in rows.nth(i).locator("td").all_inner_texts()]
                    for i in range(rows.count())]
    return step


def sign_in(page, run: dict, login: str) -> None:
    page.goto(f"{run['base']}/desk/")
    page.wait_for_selector("#login", timeout=WAIT_MS)
    page.fill("#login", login)
    page.fill("#password", run["password"])
    page.get_by_role("button", name="登录").click()
    page.locator("[data-test=who]").wait_for(timeout=WAIT_MS)


def request_row(page, case_number: str):
    return page.locator("[data-test=delay-requests] tr", has_text=case_number).first


def chief(page, context, run: dict, steps: list) -> None:
    page.goto(f"{run['base']}/desk/")
    page.wait_for_selector("#login", timeout=WAIT_MS)
    steps.append(snapshot(page, "signin"))
    sign_in(page, run, run["chief"])
    page.locator("[data-test=tab-delays]").click()  # the town's first page is its triage queue
    request_row(page, run["case_number"]).wait_for(timeout=WAIT_MS)
    steps.append(with_rows(snapshot(page, "delays"), page, "delay-requests"))

    request_row(page, run["case_number"]).get_by_role("button", name="同意延时", exact=True).click()
    dialog = page.locator(".el-dialog").filter(has_text="同意延时").last
    dialog.wait_for(state="visible", timeout=WAIT_MS)
    dialog.locator("#delay-note").fill(run["note"])
    steps.append(snapshot(page, "grant_dialog"))
    dialog.locator("[data-test=decide]").click()
    dialog.wait_for(state="hidden", timeout=WAIT_MS)
    # granted: gone from the pending list; all requests show who decided
    page.locator("[data-test=delay-requests]").get_by_text(run["case_number"]).wait_for(
        state="detached", timeout=WAIT_MS)
    page.locator("[data-test=delay-filter]").get_by_text("全部").click()
    request_row(page, run["case_number"]).locator("[data-test=decision]").wait_for(timeout=WAIT_MS)
    page.locator(".el-message").wait_for(state="detached", timeout=WAIT_MS)  # the toast went
    steps.append(with_rows(snapshot(page, "decided"), page, "delay-requests"))

    request_row(page, run["case_number"]).get_by_role("link", name=run["case_number"]).click()
    granted = page.locator(".case-page .el-timeline-item", has_text="同意延时")
    granted.first.wait_for(timeout=WAIT_MS)
    drawn = case_map(page)  # first: axe then reads the page with its map
    steps.append({**snapshot(page, "case_page"), **drawn})
    if run.get("instruction"):
        supervise(page, run, steps)
    page.get_by_role("button", name="返回").click()
    page.locator("[data-test=delay-requests]").wait_for(timeout=WAIT_MS)

    if run.get("work_review"):
        page.locator("[data-test=tab-work-review]").click()
        page.locator("[data-test=work-logs] tr", has_text=run["work_log"]).first.wait_for(
            timeout=WAIT_MS)
        page.locator("[data-test=meetings] tr", has_text=run["minutes"]).first.wait_for(
            timeout=WAIT_MS)
        page.locator("[data-test=meeting-compliance] tr",  # the month's meeting compliance
                     has_text=run["community_chief_name"]).first.wait_for(timeout=WAIT_MS)
        step = with_rows(snapshot(page, "work_review"), page, "work-logs")
        step["meetings"] = with_rows({}, page, "meetings")["rows"]
        step["compliance"] = with_rows({}, page, "meeting-compliance")["rows"]
        steps.append(step)

    if run.get("supervision"):
        page.locator("[data-test=tab-supervision]").click()
        page.locator("[data-test=supervision] tr", has_text=run["case_number"]).first.wait_for(
            timeout=WAIT_MS)
        steps.append(with_rows(snapshot(page, "supervision"), page, "supervision"))
        page.locator("[data-test=tab-delays]").click()
        page.locator("[data-test=delay-requests]").wait_for(timeout=WAIT_MS)

    page.get_by_role("button", name="English").click()
    page.get_by_text("Delay decisions").first.wait_for(timeout=WAIT_MS)
    page.locator("[data-test=delay-filter]").get_by_text("All").click()
    request_row(page, run["case_number"]).locator("[data-test=decision]").wait_for(timeout=WAIT_MS)
    steps.append(with_rows(snapshot(page, "english"), page, "delay-requests"))
    if run.get("instruction"):
        page.locator("[data-test=tab-supervision]").click()
        page.locator("[data-test=supervision] tr", has_text="Issued by hand").first.wait_for(
            timeout=WAIT_MS)
        steps.append(with_rows(snapshot(page, "supervision_english"), page, "supervision"))
        page.locator("[data-test=supervision] tr", has_text="Issued by hand").first.get_by_role(
            "link", name=run["case_number"]).click()
        drawn = case_map(page)
        steps.append({**snapshot(page, "case_page_english"), **drawn})


def case_map(page) -> dict:
    """The case page's map: its grid's name, its title, and whether the case's point lies
    inside the grid's outline as drawn (the browser's own SVG hit test)."""
    page.locator("[data-test=case-map-point]").wait_for(timeout=WAIT_MS)
    inside = page.evaluate("""() => {
        const dot = document.querySelector('[data-test=case-map-point]')
        const at = new DOMPoint(Number(dot.getAttribute('cx')), Number(dot.getAttribute('cy')))
        return [...document.querySelectorAll('.case-map path')].some((p) => p.isPointInFill(at))
    }""")
    return {"map_inside": inside, "map_grid": page.text_content("[data-test=case-map-grid]"),
            "map_title": page.get_attribute(".case-map svg", "aria-label")}


def supervise(page, run: dict, steps: list) -> None:
    """On the case page: 督办 by hand, a red card with an instruction (P6.2)."""
    page.locator("[data-test=action-supervise]").click()
    dialog = page.locator(".el-dialog").filter(has_text="督办要求").last
    dialog.wait_for(state="visible", timeout=WAIT_MS)
    dialog.locator("[data-test=supervise-card]").get_by_text("红牌督办").click()
    dialog.locator("#case-action-reason").fill(run["instruction"])
    steps.append(snapshot(page, "supervise_dialog"))
    dialog.locator("[data-test=case-action-submit]").click()
    dialog.wait_for(state="hidden", timeout=WAIT_MS)
    page.locator(".case-page .el-timeline-item", has_text=run["instruction"]).first.wait_for(
        timeout=WAIT_MS)
    page.locator(".case-page .el-timeline-item", has_text="督办人").first.wait_for(
        timeout=WAIT_MS)  # the issuer's name, once the register answered
    page.locator(".el-message").wait_for(state="detached", timeout=WAIT_MS)
    steps.append(snapshot(page, "supervised"))


def officer(page, context, run: dict, steps: list) -> None:
    sign_in(page, run, run["officer"])
    page.locator("[data-test=tab-standing]").click()
    page.locator("[data-test=kpis]").wait_for(timeout=WAIT_MS)
    page.locator("[data-test=circulars] tr", has_text=run["circular_period"]).first.wait_for(
        timeout=WAIT_MS)
    steps.append(with_rows(snapshot(page, "standing"), page, "circulars"))
    page.get_by_role("button", name="English").click()
    page.get_by_text("Handling figures").wait_for(timeout=WAIT_MS)
    steps.append(snapshot(page, "standing_english"))


def community(page, context, run: dict, steps: list) -> None:
    """The community grid chief approves a grid worker's log with a comment (P5.1.3)."""
    sign_in(page, run, run["community_chief"])
    page.locator("[data-test=tab-work-review]").click()
    log = page.locator("[data-test=work-logs] tr", has_text=run["work_log"]).first
    log.wait_for(timeout=WAIT_MS)
    steps.append(with_rows(snapshot(page, "to_review"), page, "work-logs"))
    log.get_by_role("button", name="通过").click()
    dialog = page.locator(".el-dialog").filter(has_text="审核意见").last
    dialog.wait_for(state="visible", timeout=WAIT_MS)
    dialog.locator("#review-comment").fill(run["comment"])
    dialog.locator("[data-test=review]").click()
    dialog.wait_for(state="hidden", timeout=WAIT_MS)
    log.locator("[data-test=log-state]").wait_for(timeout=WAIT_MS)
    page.locator(".el-message").wait_for(state="detached", timeout=WAIT_MS)
    steps.append(with_rows(snapshot(page, "reviewed"), page, "work-logs"))
    page.get_by_role("button", name="English").click()
    page.get_by_text("Work review").first.wait_for(timeout=WAIT_MS)
    steps.append(with_rows(snapshot(page, "reviewed_english"), page, "work-logs"))


SCENARIOS = {"chief": chief, "officer": officer, "community": community}


def main(argv: list[str]) -> int:
    (scenario,) = argv
    run = json.loads(os.environ["GRIDGOV_APP_RUN"])
    seen = run_in_browser(SCENARIOS[scenario], run, locale="zh-CN",
                          viewport={"width": 1440, "height": 900})
    print(json.dumps(seen, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

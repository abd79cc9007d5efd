"""Drive the operations wall (issue 14) in headless Chromium through the reverse proxy and
print what was seen as JSON. Run as its own process by test_wall_browser.py
(Playwright's sync API must not share a process with eventlet); the run's settings as
JSON in ``GRIDGOV_APP_RUN``. axe-core on every screen.

The scenario: the ops viewer signs in (zh-CN) and the wall goes live; a grid worker then
reports a major event through the events API (this process, with the worker's token);
the wall pins and highlights it — so does a second screen, a browser of its own signed
in as the same operator; the operator acknowledges it on the first screen and the second
one unpins it and says who acknowledged it and when (the server's fact, through the
stream); the operator opens the case page from the wall; back on the wall, in English;
the network drops (the wall says since when) and comes back (live again). Then the town
grid chief's wall: the town only.
"""

from __future__ import annotations

import json
import os
import sys
import time

import requests

from tests.app.playwright_app import keep_screenshot, run_in_browser
from tests.assessment_dashboard.playwright_run import axe_violations

WAIT_MS = 60_000  # a safety net for a slow machine, not a timing assertion


def snapshot(page, label: str, **extra) -> dict:
    keep_screenshot(page, f"wall-{label}")
    return {"label": label, "url": page.url, "lang": page.get_attribute("html", "lang"),
            "text": page.inner_text("body")[:6000], "axe": axe_violations(page),
            "grids": page.locator("[data-test=wall-map] path[data-grid-code]").evaluate_all(
                "nodes => nodes.map(n => n.dataset.gridCode)"), **extra}


def sign_in(page, run: dict, who: dict, button: str) -> None:
    page.wait_for_selector("#login", timeout=WAIT_MS)
    page.fill("#login", who["login"])
    page.fill("#password", who["password"])
    page.get_by_role("button", name=button).click()
    live(page)


def live(page) -> None:
    page.locator("[data-test=wall-status][data-state=live]").wait_for(timeout=WAIT_MS)


def report_major(run: dict) -> dict:
    """The grid worker reports a major event through the API (as the app does)."""
    filed = requests.post(f"{run['base']}/api/events/cases", headers=run["worker_headers"],
                          json=run["major_body"], timeout=30)
    assert filed.status_code == 201, filed.text
    return filed.json()


def wall(page, context, run: dict, steps: list) -> None:
    page.goto(f"{run['base']}/desk/#/wall")
    sign_in(page, run, run["viewer"], "登录")
    # notify's failed deliveries, read beside the stream (central operators only)
    failed = page.locator("[data-test=failed-delivery]").first
    failed.wait_for(timeout=WAIT_MS)
    steps.append(snapshot(page, "live", failed=failed.inner_text()))
    # another screen of the operations centre: its own browser context (no storage shared)
    screen = context.browser.new_context(locale="zh-CN", viewport={"width": 1600,
                                                                   "height": 1000})
    second = screen.new_page()
    second.goto(f"{run['base']}/desk/#/wall")
    sign_in(second, run, run["viewer"], "登录")

    reported_at = time.monotonic()
    case = report_major(run)
    pinned = page.locator(f"[data-test=major][data-case-id='{case['case_id']}']")
    pinned.wait_for(timeout=WAIT_MS)
    seconds = time.monotonic() - reported_at
    colour = pinned.evaluate("n => getComputedStyle(n).backgroundColor")
    flashing = pinned.evaluate("n => getComputedStyle(n).animationName")
    on_map = page.locator(f"[data-test=wall-map] path.major[data-grid-code='{case['grid_code']}']")
    on_map.wait_for(timeout=WAIT_MS)
    first = page.locator("[data-test=major]").first.get_attribute("data-case-id")
    chimes = page.get_attribute("[data-test=wall]", "data-chimes")
    steps.append(snapshot(page, "pinned", case=case, seconds=seconds, colour=colour,
                          flashing=flashing, first_pinned=first, chimes=chimes))

    there = second.locator(f"[data-test=major][data-case-id='{case['case_id']}']")
    there.wait_for(timeout=WAIT_MS)  # pinned on the second screen too
    pinned.get_by_role("button", name="已知晓").click()
    pinned.wait_for(state="detached", timeout=WAIT_MS)
    acked = page.locator("[data-test=wall-acked] a", has_text=case["case_number"])
    acked.wait_for(timeout=WAIT_MS)
    steps.append(snapshot(page, "acknowledged"))
    there.wait_for(state="detached", timeout=WAIT_MS)  # the other screen heard it
    second.locator(f"[data-test=acked][data-case-id='{case['case_id']}'] [data-test=acked-by]",
                   has_text=run["viewer"]["name"]).wait_for(timeout=WAIT_MS)
    steps.append(snapshot(second, "other_screen"))
    screen.close()

    acked.click()
    page.locator(".case-page h2", has_text=case["case_number"]).wait_for(timeout=WAIT_MS)
    steps.append(snapshot(page, "case_page"))

    page.get_by_role("button", name="返回").click()
    live(page)
    page.locator("[data-test=wall-acked] a", has_text=case["case_number"]).wait_for(
        timeout=WAIT_MS)  # still acknowledged: not pinned again after the reload of the view
    page.get_by_role("button", name="English").click()
    page.get_by_text("Operations wall").first.wait_for(timeout=WAIT_MS)
    steps.append(snapshot(page, "english",
                          pinned_after=page.locator("[data-test=major]").count()))

    context.set_offline(True)
    page.locator("[data-test=wall-disconnected]").wait_for(timeout=WAIT_MS)
    steps.append(snapshot(page, "disconnected",
                          state=page.get_attribute("[data-test=wall]", "data-state")))
    context.set_offline(False)
    live(page)
    steps.append(snapshot(page, "reconnected"))

    page.get_by_role("button", name="Sign out").click()
    page.goto(f"{run['base']}/desk/#/wall")
    sign_in(page, run, run["chief"], "Sign in")
    steps.append(snapshot(page, "town"))


def main() -> int:
    run = json.loads(os.environ["GRIDGOV_APP_RUN"])
    # motion as most screens have it: the major event's flash is what is checked (under
    # reduced motion the desk has none, rightly)
    seen = run_in_browser(wall, run, locale="zh-CN", viewport={"width": 1600, "height": 1000},
                          reduced_motion="no-preference")
    print(json.dumps(seen, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Drive the dashboard in headless Chromium with Playwright, as an operator would, and print
what was seen as JSON (one scenario per run).

Run as its own process (``python -m tests.assessment_dashboard.playwright_run SCENARIO
BASE_URL TOKEN``) by test_dashboard_signin.py: Playwright's sync API runs its own event
loop, which must not share a process with eventlet's monkey patching, and the services
under test keep serving from the test process meanwhile. The browser is Debian's
``chromium`` (no browser download); the accessibility check is axe-core (bundled with
axe-playwright-python), run on every state of the page.

Scenarios:
  form      zh-CN first: the sign-in form, a token pasted in, the data shown; then the
            language toggle to en; then a reload (the tab keeps its session)
  fragment  /dashboard?lang=en#token=…: signed in, the fragment gone from the address bar
  refused   a grid worker's token pasted in: refused, asked again, nothing kept
"""

from __future__ import annotations

import json
import sys

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import sync_playwright

from tests.assessment_dashboard.browser import chromium_path

TOKEN_KEY = "gridgov.dashboard.token"
WAIT_MS = 60_000  # a safety net for a slow machine, not a timing assertion


def axe_violations(page) -> list[dict]:
    results = Axe().run(page)
    return [{"id": v["id"], "impact": v["impact"], "help": v["help"],
             "nodes": [n["target"] for n in v["nodes"]][:5]}
            for v in results.response["violations"]]


def snapshot(page, label: str) -> dict:
    return {
        "label": label,
        "url": page.url,
        "state": page.get_attribute("body", "data-state"),
        "lang": page.get_attribute("html", "lang"),
        "title": page.title(),
        "status": page.text_content("#status"),
        "login_visible": page.is_visible("#login"),
        "panels_visible": page.is_visible("#departments-section"),
        # lines the title takes (a phone once broke it after every character)
        "title_lines": page.evaluate(
            "(() => { const h = document.getElementById('title');"
            " return Math.round(h.getBoundingClientRect().height /"
            " parseFloat(getComputedStyle(h).lineHeight)); })()"),
        "columns": page.evaluate(
            "getComputedStyle(document.querySelector('main')).gridTemplateColumns"
            ".split(' ').length"),
        "prompt": page.text_content("label[for=token-input]"),
        "session_token": page.evaluate(f"window.sessionStorage.getItem('{TOKEN_KEY}')"),
        "local_token": page.evaluate(f"window.localStorage.getItem('{TOKEN_KEY}')"),
        "history_length": page.evaluate("window.history.length"),
        "headings": page.eval_on_selector_all("h2", "nodes => nodes.map(n => n.textContent)"),
        "axe": axe_violations(page),
    }


def wait_state(page, state: str) -> None:
    page.wait_for_selector(f"body[data-state={state}]", timeout=WAIT_MS)


def form(page, base: str, token: str, steps: list) -> None:
    page.goto(f"{base}/dashboard")
    wait_state(page, "login")
    steps.append(snapshot(page, "asked"))
    page.fill("#token-input", token)
    page.click("#token-save")
    wait_state(page, "ready")
    steps.append({**snapshot(page, "signed_in"),
                  "input_after": page.input_value("#token-input")})
    page.click("#lang-toggle")
    page.wait_for_selector("html[lang=en]", timeout=WAIT_MS)
    steps.append(snapshot(page, "english"))
    page.reload()
    wait_state(page, "ready")
    steps.append(snapshot(page, "reloaded"))


def fragment(page, base: str, token: str, steps: list) -> None:
    page.goto(f"{base}/dashboard?lang=en#token={token}")
    wait_state(page, "ready")
    step = snapshot(page, "signed_in")
    page.go_back()  # the history entry was replaced: Back leaves the page, token and all
    steps.append({**step, "back_url": page.url})


def refused(page, base: str, token: str, steps: list) -> None:
    page.goto(f"{base}/dashboard?lang=en")
    wait_state(page, "login")
    page.fill("#token-input", token)
    with page.expect_response(lambda r: r.url.endswith("/dashboard/data"), timeout=WAIT_MS):
        page.click("#token-save")
    # the page forgets the refused token and asks again
    page.wait_for_function(f"window.sessionStorage.getItem('{TOKEN_KEY}') === null",
                           timeout=WAIT_MS)
    wait_state(page, "login")
    steps.append(snapshot(page, "refused"))




def phone(page, base: str, token: str, steps: list) -> None:
    """A phone-sized screen: the sign-in form alone, then the wall in one column."""
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{base}/dashboard")
    wait_state(page, "login")
    steps.append(snapshot(page, "phone_asked"))
    page.goto(f"{base}/dashboard?lang=zh-CN#token={token}")
    wait_state(page, "ready")
    steps.append(snapshot(page, "phone_signed_in"))


SCENARIOS = {"form": form, "fragment": fragment, "refused": refused, "phone": phone}


def main(argv: list[str]) -> int:
    scenario, base, token = argv
    steps: list[dict] = []
    requests_seen: list[dict] = []
    console: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium_path(),
            args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
        try:
            page = browser.new_context(locale="zh-CN").new_page()
            page.on("request", lambda r: requests_seen.append(
                {"url": r.url, "authorization": r.headers.get("authorization", "")}))
            page.on("console", lambda m: console.append(f"{m.type}: {m.text}"))
            page.on("pageerror", lambda e: console.append(f"pageerror: {e}"))
            SCENARIOS[scenario](page, base, token, steps)
        finally:
            browser.close()
    print(json.dumps({"steps": steps, "requests": requests_seen, "console": console}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

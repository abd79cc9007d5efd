"""Signing in to the dashboard without a credential in any URL (issue 10, item 4), in a real
browser: Playwright drives Debian's Chromium (playwright_run.py, a process of its own) against
the real registry, dispatch and dashboard service; axe-core checks every state of the page
for accessibility violations. zh-CN (the default) first, then en.

Before issue 10 the page signed in only with ``?token=`` in the query (kept in
localStorage), so the sign-in form never saw a token reach the data and the fragment was
ignored; these tests fail on that code."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from eventlet.green import subprocess

ROOT = Path(__file__).resolve().parents[2]
RUN_TIMEOUT = 240  # seconds: a safety net for a slow machine


def drive(scenario: str, port: int, token: str) -> dict:
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.assessment_dashboard.playwright_run", scenario,
         f"http://127.0.0.1:{port}", token],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        out, err = process.communicate(timeout=RUN_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        raise AssertionError(f"the {scenario} scenario did not finish") from None
    assert process.returncode == 0, err.decode()[-4000:]
    return json.loads(out)


def bearer(headers: dict) -> str:
    return headers["Authorization"].split(" ", 1)[1]


def assert_accessible(step: dict) -> None:
    assert step["axe"] == [], f"axe-core violations in state {step['label']}: {step['axe']}"


def assert_never_in_a_url(seen: dict, token: str) -> None:
    urls = [r["url"] for r in seen["requests"]]
    assert urls, "the page made no request"
    assert not [u for u in urls if token in u or "token=" in u]
    data = [r for r in seen["requests"] if r["url"].endswith("/dashboard/data")]
    assert data and {r["authorization"] for r in data} == {f"Bearer {token}"}


def test_the_sign_in_form_in_chinese_then_english(dashboard, web_config_port, viewer,
                                                   seeded_cases):
    token = bearer(viewer)
    seen = drive("form", web_config_port, token)
    asked, signed_in, english, reloaded = seen["steps"]

    assert asked["state"] == "login" and asked["login_visible"]
    assert not asked["panels_visible"]  # the form alone, no wall of empty panels
    assert asked["lang"] == "zh-CN" and asked["title"] == "区级运行中心"
    assert asked["prompt"] == "请输入访问令牌"
    assert asked["status"] == "需要区管理员或运行中心查看员的令牌"
    assert asked["session_token"] is None and asked["local_token"] is None

    assert signed_in["state"] == "ready" and not signed_in["login_visible"]
    assert signed_in["panels_visible"] and signed_in["columns"] == 2  # desktop: two columns
    assert signed_in["session_token"] == token  # this tab only
    assert signed_in["local_token"] is None  # never kept across sessions
    assert signed_in["input_after"] == ""  # the pasted token does not stay on screen
    assert signed_in["url"].endswith("/dashboard")
    assert "部门处置情况" in signed_in["headings"]

    assert english["lang"] == "en" and english["state"] == "ready"
    assert "Departments" in english["headings"]
    assert reloaded["state"] == "ready" and reloaded["lang"] == "en"  # the tab's session

    for step in seen["steps"]:
        assert_accessible(step)
    assert_never_in_a_url(seen, token)
    assert not [line for line in seen["console"] if "pageerror" in line]


def test_a_token_in_the_fragment_signs_in_and_leaves_the_address_bar(
        dashboard, web_config_port, viewer):
    token = bearer(viewer)
    seen = drive("fragment", web_config_port, token)
    [step] = seen["steps"]
    assert step["state"] == "ready" and step["lang"] == "en"
    assert step["session_token"] == token and step["local_token"] is None
    assert token not in step["url"] and "#" not in step["url"]
    assert step["url"].endswith("/dashboard?lang=en")
    assert token not in step["back_url"] and "dashboard" not in step["back_url"]
    assert_accessible(step)
    assert_never_in_a_url(seen, token)  # the fragment never reached the server


def test_a_refused_token_is_forgotten_and_the_form_asks_again(
        dashboard, web_config_port, token, demo_district):
    worker = bearer(token("neighbourhood_grid_worker",
                          f"grid:{demo_district['grid_codes'][0]}"))
    seen = drive("refused", web_config_port, worker)
    [step] = seen["steps"]
    assert step["state"] == "login" and step["login_visible"]
    assert step["session_token"] is None and step["local_token"] is None
    assert "ops viewer" in step["status"]
    assert_accessible(step)


def test_on_a_phone_the_form_stands_alone_and_the_wall_is_one_column(
        dashboard, web_config_port, viewer, seeded_cases):
    token = bearer(viewer)
    seen = drive("phone", web_config_port, token)
    asked, signed_in = seen["steps"]
    assert asked["state"] == "login" and asked["login_visible"]
    assert not asked["panels_visible"]
    assert asked["title_lines"] == 1  # 区级运行中心 on one line, not one character a line
    assert signed_in["state"] == "ready" and signed_in["panels_visible"]
    assert signed_in["columns"] == 1 and signed_in["title_lines"] == 1
    assert "部门处置情况" in signed_in["headings"]
    for step in seen["steps"]:
        assert_accessible(step)
    assert_never_in_a_url(seen, token)

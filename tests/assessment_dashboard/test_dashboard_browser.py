"""The dashboard page in headless Chromium against the running services: the real
registry (generated district), the real dispatch (cases inserted by SQL, cases.py), the
broker's management API and the dashboard service (see conftest).  These FAIL if Chromium is
missing: ``apt-get install -y --no-install-recommends chromium``."""

from __future__ import annotations

import re
import time
from urllib.parse import urlencode

import pytest
import sqlalchemy as sa

from services.assessment.dashboard import rabbit
from services.assessment.dashboard.settings import settings_from_config
from tests.amqp import publish
from tests.assessment_dashboard.browser import dump_dom, parse

QUEUE = "registry.intake"
SNAKE_CODE = re.compile(r"\b[a-z]+(?:_[a-z0-9]+)+\b")  # public_security, water_affairs …
ISO_INSTANT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")


def load(port: int, token: str | None = None, **params) -> object:
    """The page after its scripts ran; a token goes in the URL's fragment, which the
    browser never sends (``?token=`` is refused: test_routes.py)."""
    fragment = f"#{urlencode({'token': token})}" if token else ""
    return parse(dump_dom(f"http://127.0.0.1:{port}/dashboard?{urlencode(params)}{fragment}"))


def bearer(headers: dict) -> str:
    return headers["Authorization"].split(" ", 1)[1]


def cells(row) -> dict[str, str]:
    return {td.attrs["data-field"]: td.text for td in row.find_all("td")}


def wait_for_dlq_depth(rabbit_config, depth: int, timeout: float = 30.0) -> None:
    """The management API samples queue lengths every few seconds: wait until it shows
    the dead letter (a precondition of the test, not a timing assertion)."""
    settings = settings_from_config(rabbit_config)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = {r["name"]: r for r in rabbit.summarise(
            rabbit.fetch_queues(settings.queues_url, 5))}
        if rows.get(QUEUE, {}).get("dlq_messages") == depth:
            return
        time.sleep(0.5)
    raise AssertionError(f"the management API never showed {depth} dead letter(s)")


@pytest.fixture
def dead_letter(dashboard, rabbit_config):
    """One refused message waiting in the registry's dead-letter queue."""
    publish(rabbit_config["AMQP_URI"], "", QUEUE + ".dlq", {"refused": "for the test"})
    wait_for_dlq_depth(rabbit_config, 1)


def test_the_page_shows_the_district_in_chinese(dashboard, dead_letter, web_config_port,
                                                 viewer, demo_district, seeded_cases,
                                                 db_engine):
    page = load(web_config_port, token=bearer(viewer))
    body = page.by_id("dashboard")
    assert body.attrs["data-state"] == "ready", page.by_id("status").text
    assert page.find_all("html")[0].attrs["lang"] == "zh-CN"
    assert {h.text for h in page.find_all("h2")} >= {"部门处置情况", "消息队列", "服务状态"}
    assert page.by_id("errors").children == []

    paths = page.by_id("map").find_all("path")
    assert sorted(p.attrs["data-grid-code"] for p in paths) == demo_district["grid_codes"]
    counts = {p.attrs["data-grid-code"]: (int(p.attrs["data-open"]), int(p.attrs["data-overdue"]))
              for p in paths if p.attrs["data-level"] != "none"}
    assert counts == seeded_cases["expected"]["by_grid"]
    levels = {p.attrs["data-grid-code"]: p.attrs["data-level"] for p in paths}
    assert (levels[seeded_cases["g0"]], levels[seeded_cases["g1"]]) == ("overdue", "open")
    g0_path = [p for p in paths if p.attrs["data-grid-code"] == seeded_cases["g0"]][0]
    assert seeded_cases["g0"] in g0_path.find_all("title")[0].text

    civil = cells(page.by_id("departments").find_all("tr", data_department="civil_affairs")[0])
    assert civil == {"department": "民政", "assigned": "3", "acked": "2", "acked_on_time": "2",
                     "overdue": "1", "closed": "1", "closure_rate": "33.3%"}

    ranked = page.by_id("towns").find_all("tr", data_rank=True)
    assert [r.attrs["data-town-code"] for r in ranked] == seeded_cases["expected"]["towns_ranked"]
    with db_engine.connect() as conn:  # the town's name from the registry, with its code
        names = dict(conn.execute(sa.text("SELECT code, name FROM registry.towns")).all())
    first = seeded_cases["expected"]["towns_ranked"][0]
    assert cells(ranked[0])["town_code"] == f"{names[first]} ({first})"

    queue = page.by_id("queues").find_all("tr", data_queue=QUEUE)[0]
    assert queue.attrs["data-alert"] == "true" and "alert" in queue.attrs["class"]
    assert cells(queue)["dlq_messages"] == "1"
    assert page.by_id("queues").find_all("tr", data_queue="rpc-dispatch")

    health = {li.attrs["data-service"]: li.attrs["data-status"]
              for li in page.by_id("health").find_all("li")}
    assert health == {"registry": "ready", "assessment": "ready", "events": "unreachable"}

    feed = page.by_id("feed").find_all("li")
    kinds = [(li.attrs["data-kind"], li.attrs["data-case-number"]) for li in feed]
    assert [number for kind, number in kinds if kind == "case"] == \
        seeded_cases["expected"]["recent"]
    escalation = page.by_id("feed").find_all("li", data_kind="escalation")
    assert [li.attrs["data-case-number"] for li in escalation] == ["GS-K1"]
    assert "黄牌督办" in escalation[0].text and "民政" in escalation[0].text
    assert feed[0].find_all("span", **{"class": "detail"})[0].text.startswith("已派遣")
    # issue 11: what people read is named — work category, grid and town by name
    first = feed[0].find_all("span", **{"class": "detail"})[0].text
    with db_engine.connect() as conn:
        grid_names = dict(conn.execute(sa.text("SELECT grid_code, name FROM registry.grids")
                                       ).all())
    assert any(name in first for name in grid_names.values()), first
    assert any(name in first for name in names.values()), first
    assert "楼道堆物堵塞消防通道" in first  # the subcategory, from the followed catalogue
    for section in ("feed", "departments", "towns"):
        shown = page.by_id(section).text
        assert not SNAKE_CODE.search(shown), (section, SNAKE_CODE.search(shown).group(0))
        assert not ISO_INSTANT.search(shown), section


def test_lang_en_renders_english(dashboard, web_config_port, viewer):
    page = load(web_config_port, token=bearer(viewer), lang="en")
    assert page.by_id("dashboard").attrs["data-state"] == "ready"
    assert page.find_all("html")[0].attrs["lang"] == "en"
    assert page.by_id("title").text == "District operations centre"
    assert {h.text for h in page.find_all("h2")} >= {
        "Departments", "Queues", "Service health", "Live feed", "Town ranking (by closure rate)"}
    civil = page.by_id("departments").find_all("tr", data_department="civil_affairs")[0]
    assert cells(civil)["department"] == "Civil Affairs"
    assert page.by_id("lang-toggle").attrs["data-lang-target"] == "zh-CN"
    escalation = page.by_id("feed").find_all("li", data_kind="escalation")[0]
    assert "Yellow card" in escalation.text and "Civil Affairs" in escalation.text
    assert not SNAKE_CODE.search(page.by_id("feed").text)
    assert "Stairwell or fire exit blocked" in page.by_id("feed").text


def test_polling_again_adds_nothing_twice_to_the_feed(dashboard, web_config_port, viewer,
                                                      seeded_cases):
    page = load(web_config_port, token=bearer(viewer), refresh=2)  # ~4 polls in 8 s
    assert int(page.by_id("dashboard").attrs["data-polls"]) >= 2
    feed = page.by_id("feed").find_all("li")
    assert len(feed) == len(seeded_cases["expected"]["recent"]) + 1
    assert {li.attrs["data-new"] for li in feed} == {"false"}  # nothing changed since


def test_without_a_token_the_page_asks_for_one(dashboard, web_config_port):
    page = load(web_config_port)
    assert page.by_id("dashboard").attrs["data-state"] == "login"
    assert "hidden" not in page.by_id("login").attrs
    assert page.by_id("map").find_all("path") == []


def test_a_grid_workers_token_is_refused(dashboard, web_config_port, token, demo_district):
    worker = token("neighbourhood_grid_worker", f"grid:{demo_district['grid_codes'][0]}")
    page = load(web_config_port, token=bearer(worker), lang="en")
    assert page.by_id("dashboard").attrs["data-state"] == "login"
    assert "ops viewer" in page.by_id("status").text

"""Issue 11: the case file as a person reads it, across the real services. A grid worker on
the register reports a case at a building with a photo; the departments' own systems
report in and resolve it; the return visit closes it. The page then names what, where and
who — category, town, community, grid, address, the worker, the departments — in zh-CN and
en, with local times and no raw code or ISO instant in its visible text; the raw entries
stay in the JSON export, whose hash check the page repeats."""

from __future__ import annotations

import html
import re

import pytest
import sqlalchemy as sa
from nameko.testing.services import entrypoint_hook

from services.dispatch import place_names
from tests.amqp import wait_until
from tests.events.conftest import GRID_A, IN_A, file
from tests.events.test_cases import upload
from tests.flow.test_case_flow import FLOW_WAIT, wait_state

SNAKE_CODE = re.compile(r"\b[a-z]+(?:_[a-z0-9]+)+\b")
ISO_INSTANT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")


def visible_text(page: str) -> str:
    """What a reader sees: no style, no tags, entities decoded."""
    text = re.sub(r"<style>.*?</style>", " ", page, flags=re.S)
    text = re.sub(r"<title>.*?</title>", " ", text, flags=re.S)
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", text)))


@pytest.fixture
def closed_case(services, registry, registry_http, admin, web_session, worker_a,
                dispatch_http, db_engine):
    worker = registry_http.post("/staff", headers=admin, json={
        "name": "钱小红", "role": "neighbourhood_grid_worker", "scope": f"grid:{GRID_A}",
        "subject": "worker-a"})
    assert worker.status_code == 201, worker.text
    building = registry_http.post("/buildings", headers=admin, json={
        "grid_code": GRID_A, "address": "锦绣花园3幢", **IN_A})
    assert building.status_code == 201, building.text
    with entrypoint_hook(registry, "announce_departments") as announce:
        announce()  # dispatch started after the registry's own announcement
    assert wait_until(lambda: _count(db_engine, "SELECT count(*) FROM dispatch.departments")
                      >= 10, FLOW_WAIT)
    photo = upload(web_session, worker_a).json()["sha256"]
    case = file(web_session, worker_a, photos=[photo], building_id=building.json()["id"])
    wait_state(dispatch_http, worker_a, case["case_id"], "resolved")
    visit = dispatch_http.post(f"/cases/{case['case_id']}/return-visit", headers=worker_a,
                               json={"satisfied": True, "satisfaction": 5, "method": "phone"})
    assert visit.status_code == 200, visit.text
    wait_state(dispatch_http, worker_a, case["case_id"], "closed")
    return {**case, "photo": photo}


def _count(db_engine, query: str) -> int:
    with db_engine.connect() as conn:
        return conn.execute(sa.text(query)).scalar()


def page(dispatch_http, headers, case_id, **params):
    response = dispatch_http.get(f"/cases/{case_id}/file.html", headers=headers,
                                 params=params)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("text/html")
    return response.text


def test_the_case_file_page_names_what_where_and_who(closed_case, dispatch_http, worker_a):
    zh = page(dispatch_http, worker_a, closed_case["case_id"])
    text = visible_text(zh)
    for name in ("电子案卷", closed_case["case_number"], "已结案", "社会治安防控",
                 "楼道堆物", "枫桥街道", "锦绣社区", "锦绣一网格", "锦绣花园3幢",
                 "钱小红", "小区网格员", "主办", "协办", "部门签收（报到）",
                 "回访满意，结案", "案卷完整性校验通过"):
        assert name in text, name
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d", text)  # local time, to the minute
    assert closed_case["photo"] in zh  # the photo is linked by its hash
    assert "<svg" in zh and "<circle" in zh  # the grid drawn, the case's point on it
    assert not SNAKE_CODE.search(text), SNAKE_CODE.search(text).group(0)
    assert not ISO_INSTANT.search(text)

    en = visible_text(page(dispatch_http, worker_a, closed_case["case_id"], lang="en"))
    for name in ("Case file", "Closed", "Public-security prevention", "Lead", "Assisting",
                 "Department reported in", "Hash chain verified"):
        assert name in en, name
    assert "电子案卷" not in en
    assert not SNAKE_CODE.search(en), SNAKE_CODE.search(en).group(0)
    assert not ISO_INSTANT.search(en)


def test_the_browser_language_picks_the_page_language(closed_case, dispatch_http, worker_a):
    en = page(dispatch_http, {**worker_a, "Accept-Language": "en-GB,en;q=0.8"},
              closed_case["case_id"])
    assert '<html lang="en">' in en
    zh = page(dispatch_http, {**worker_a, "Accept-Language": "en"}, closed_case["case_id"],
              lang="zh-CN")
    assert '<html lang="zh-CN">' in zh  # ?lang= wins over the header


def test_the_department_names_come_from_the_register(closed_case, dispatch_http, worker_a,
                                                     db_engine):
    with db_engine.connect() as conn:
        names = dict(conn.execute(sa.text(
            "SELECT code, name_zh FROM dispatch.departments "
            "WHERE code IN ('fire', 'emergency_management')")).all())
    text = visible_text(page(dispatch_http, worker_a, closed_case["case_id"]))
    for name in names.values():
        assert name in text


def test_a_departments_to_do_list_names_what_and_where(closed_case, dispatch_http, token):
    """Issue 14: the workbench a department without IT works from says 楼道堆物 at
    枫桥街道 锦绣社区 锦绣一网格, from the catalogue dispatch follows and the registry."""
    fire = token("department_officer", "department:fire", sub="fire-officer")
    place_names.forget()  # names an earlier test's district cached (or missed) in this process
    listed = dispatch_http.get("/assignments", headers=fire)
    assert listed.status_code == 200, listed.text
    [mine] = [a for a in listed.json() if a["case_id"] == closed_case["case_id"]]
    assert mine["subcategory_name"]["zh-CN"] == "楼道堆物堵塞消防通道"
    assert mine["subcategory_name"]["en"] == "Stairwell or fire exit blocked"
    assert mine["place"] == {"town": "枫桥街道", "community": "锦绣社区", "grid": "锦绣一网格"}

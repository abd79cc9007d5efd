"""The department workbench (issue 14) in a real browser, through the real reverse proxy
and the real services: a department officer without IT of its own signs in with a
password, finds the case a grid worker reported (named, with its countdown), signs for it
and reports the result with a photo. The case file then says the result came from the
workbench, by that officer, with the photo, and events shows the photo with the case.
axe-core finds no serious violation on any screen; zh-CN first, then en."""

from __future__ import annotations

import hashlib

import pytest
import requests
import sqlalchemy as sa

from gridgov_common.platform.db import make_engine, transaction
from services.dispatch import place_names
from services.registry import accounts
from tests.adapters import FAST, Lines, amqp_url, running
from tests.amqp import wait_until
from tests.app.conftest import PASSWORD
from tests.app.test_app_browser import drive, point_in, steps_of
from tests.dispatch.test_actions import entries
from tests.events.conftest import JPEG, case_body
from tools.department_adapter.adapter import AdapterConfig

OFFICER = "fire-desk-officer"
NOTE = "楼道杂物已清空，消防通道畅通"
WAIT = 30.0  # seconds, a bound for conditions across the bus


@pytest.fixture
def department_queues(rabbit_config):
    """The assigned departments' queues exist (their adapters hold them) but no system
    reports in: these departments work on the workbench."""
    url = amqp_url(rabbit_config)
    with running(AdapterConfig(department="fire", amqp_url=url, **FAST), Lines()), \
            running(AdapterConfig(department="emergency_management", amqp_url=url, **FAST),
                    Lines()):
        yield


def _officer(proxy, token, district: str, db_url: str) -> dict:
    """A fire department officer on the register, with a password (P2.2)."""
    admin = token("district_admin", f"district:{district}", sub="admin-1")
    made = requests.post(f"{proxy['base']}/api/registry/staff", headers=admin, timeout=10,
                         json={"name": "王消防", "role": "department_officer",
                               "scope": "department:fire", "subject": OFFICER})
    assert made.status_code == 201, made.text
    engine = make_engine(db_url)
    try:
        with transaction(engine) as session:
            accounts.set_password(session, OFFICER, PASSWORD, operator="test")
    finally:
        engine.dispose()
    return {"login": OFFICER, "password": PASSWORD}


def _reported_case(proxy, token, worker) -> dict:
    """A grid worker reports a blocked fire exit in their grid (the rules send it to fire)."""
    headers = token("neighbourhood_grid_worker", f"grid:{worker['grid']}", sub=worker["login"])
    grid = requests.get(f"{proxy['base']}/api/registry/grids/{worker['grid']}",
                        headers=headers, timeout=10)
    assert grid.status_code == 200, grid.text
    lon, lat = point_in(grid.json())
    filed = requests.post(f"{proxy['base']}/api/events/cases", headers=headers, timeout=10,
                          json=case_body(location={"lon": lon, "lat": lat}))
    assert filed.status_code == 201, filed.text
    return filed.json()


def _assigned(proxy, token, case_id: str) -> bool:
    fire = token("department_officer", "department:fire", sub=OFFICER)
    listed = requests.get(f"{proxy['base']}/api/dispatch/assignments", headers=fire, timeout=10)
    return listed.status_code == 200 and any(a["case_id"] == case_id for a in listed.json())


def _events_photos(db_engine, case_id: str) -> list[str]:
    with db_engine.connect() as conn:
        return conn.execute(sa.text("SELECT photos FROM events.cases WHERE case_id = :id"),
                            {"id": case_id}).scalar()


def test_a_department_officer_signs_for_and_reports_a_result_with_a_photo(
        department_queues, proxy, worker, token, db_engine, db_url, demo_district, tmp_path):
    place_names.forget()  # another test's district of the same code may be cached
    officer = _officer(proxy, token, demo_district["code"], db_url)
    case = _reported_case(proxy, token, worker)
    assert wait_until(lambda: _assigned(proxy, token, case["case_id"]), WAIT)
    photo = tmp_path / "result.jpg"
    photo.write_bytes(JPEG)

    steps = steps_of(drive("tests.app.playwright_desk", {
        "base": proxy["base"], **officer, "case_number": case["case_number"],
        "photo": str(photo), "note": NOTE}))
    assert steps["signin"]["lang"] == "zh-CN" and "登录" in steps["signin"]["text"]
    listed = steps["list"]["text"]
    assert "部门工作台" in listed and "王消防" in listed
    assert "楼道堆物堵塞消防通道" in listed and "待签收" in listed and "剩余" in listed
    assert "fire_hazard_corridor" not in listed and worker["grid"] not in listed  # names
    assert "已反馈结果" in steps["result_reported"]["text"]
    opened = steps["case_page"]["text"]
    assert case["case_number"] in opened and "部门签收（报到）" in opened and "部门办结" in opened
    english = steps["english"]
    assert english["lang"] == "en" and "Result reported" in english["text"]
    assert "Department officer" in english["text"] and "部门工作人员" not in english["text"]
    assert "Stairwell or fire exit blocked" in english["text"]

    sha = hashlib.sha256(JPEG).hexdigest()
    [result] = [e for e in entries(db_engine, case["case_id"])
                if e["action"] == "department_result"]
    assert (result["data"]["channel"], result["data"]["officer"]) == ("workbench", OFFICER)
    assert result["data"]["photos"] == [sha] and result["data"]["note"] == NOTE
    assert wait_until(lambda: sha in _events_photos(db_engine, case["case_id"]), WAIT)

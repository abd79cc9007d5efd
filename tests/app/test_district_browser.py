"""The district workbench (issue 14) in a real browser, through the real reverse proxy and
the five real services: two cases are reported in a grid and handled by the departments'
own systems, one closed by its return visit; the district admin signs in with a password,
checks the month's circular (its figures by department and town NAME, its text), publishes
it, and reads it back listed with its document number and as its printable page; the
published circular is in the API, readable by the fire department's officer and in its
inbox; the audit log shows the admin's own sign-in. zh-CN first, then en; axe-core finds
no serious violation on any screen."""

from __future__ import annotations

from datetime import datetime

import pytest
import requests

from services.assessment.compliance import TZ
from services.dispatch import place_names
from tests.adapters import FAST, Lines, amqp_url, running
from tests.amqp import wait_until
from tests.app.conftest import staff_with_password
from tests.app.test_app_browser import drive, point_in, steps_of
from tests.events.conftest import case_body
from tools.department_adapter.adapter import AdapterConfig

ADMIN = "district-desk-admin"
SWAP_DAY, SWAP_REASON = "2026-12-26", "元旦调休上班"  # a Saturday
WAIT = 30.0  # seconds, a bound for conditions across the bus


@pytest.fixture
def departments(rabbit_config):
    """The departments' own systems (the reference adapter): sign for at once and send
    their result 0.3 s later, as in tests/flow."""
    url = amqp_url(rabbit_config)
    with running(AdapterConfig(department="fire", amqp_url=url, auto_ack=True,
                               auto_result_after=0.3, **FAST), Lines()), \
            running(AdapterConfig(department="emergency_management", amqp_url=url,
                                  auto_ack=True, auto_result_after=0.3, **FAST), Lines()):
        yield


def _case(proxy, token, worker, description: str) -> dict:
    headers = token("neighbourhood_grid_worker", f"grid:{worker['grid']}", sub=worker["login"])
    grid = requests.get(f"{proxy['base']}/api/registry/grids/{worker['grid']}",
                        headers=headers, timeout=10)
    assert grid.status_code == 200, grid.text
    lon, lat = point_in(grid.json())
    filed = requests.post(f"{proxy['base']}/api/events/cases", headers=headers, timeout=10,
                          json=case_body(location={"lon": lon, "lat": lat},
                                         description=description))
    assert filed.status_code == 201, filed.text
    return filed.json()


def _state(proxy, token, worker, case_id: str) -> str | None:
    headers = token("neighbourhood_grid_worker", f"grid:{worker['grid']}", sub=worker["login"])
    found = requests.get(f"{proxy['base']}/api/dispatch/cases/{case_id}", headers=headers,
                         timeout=10)
    return found.json()["state"] if found.status_code == 200 else None


def _names(proxy, token, district: str) -> dict:
    admin = token("district_admin", f"district:{district}", sub="admin-1")
    departments = requests.get(f"{proxy['base']}/api/registry/departments", headers=admin,
                               timeout=10).json()
    return {d["code"]: (d["name_zh"], d["name_en"]) for d in departments}


def _inbox(proxy, headers) -> list[dict]:
    found = requests.get(f"{proxy['base']}/api/notify/inbox", headers=headers, timeout=10)
    assert found.status_code == 200, found.text
    return [m for m in found.json()["items"] if m["kind"] == "circular"]


def test_a_district_admin_checks_and_publishes_a_circular_and_reads_the_audit_log(
        departments, proxy, worker, token, db_url, demo_district):
    place_names.forget()  # another test's district of the same code may be cached
    district = demo_district["code"]
    login = staff_with_password(proxy, token, district, db_url, ADMIN, "李区管",
                                "district_admin", f"district:{district}")
    cases = [_case(proxy, token, worker, f"{n}幢楼道堆物堵塞消防通道（通报）") for n in (3, 5)]
    for case in cases:  # the departments' systems resolve both
        assert wait_until(lambda c=case: _state(proxy, token, worker, c["case_id"]) ==
                          "resolved", WAIT)
    visited = requests.post(
        f"{proxy['base']}/api/dispatch/cases/{cases[0]['case_id']}/return-visit",
        headers=token("neighbourhood_grid_worker", f"grid:{worker['grid']}",
                      sub=worker["login"]), timeout=10,
        json={"method": "visit", "satisfied": True, "satisfaction": 5, "note": "通道已畅通"})
    assert visited.status_code in (200, 201), visited.text
    assert wait_until(lambda: _state(proxy, token, worker, cases[0]["case_id"]) == "closed",
                      WAIT)
    names = _names(proxy, token, district)
    now = datetime.now(TZ)
    month = now.strftime("%Y-%m")
    half_year = f"{now.year}H{1 if now.month <= 6 else 2}"
    town_code = worker["grid"][:9]

    steps = steps_of(drive("tests.app.playwright_district", {
        "base": proxy["base"], **login, "period": month, "today": now.date().isoformat(),
        "swap_day": SWAP_DAY, "swap_reason": SWAP_REASON, "half_year": half_year,
        "appraised_town": town_code, "democratic": 92, "points": 80}))

    assert steps["signin"]["lang"] == "zh-CN" and "登录" in steps["signin"]["text"]
    assert "通报" in steps["circulars"]["text"] and "李区管" in steps["circulars"]["text"]
    draft = steps["draft"]
    assert "通报稿（尚未发布）" in draft["text"]
    # the departments' rows by NAME, with their counts and rates as the person reads them:
    # two items each (both cases), one closed (the visited case) -> 50.0 %
    by_name = {row[1]: row for row in draft["departments"]}
    fire_zh, emergency_zh = names["fire"][0], names["emergency_management"][0]
    assert set(by_name) == {fire_zh, emergency_zh}, draft["departments"]
    for name in (fire_zh, emergency_zh):
        assert by_name[name][2] == "2" and by_name[name][4] == "1", by_name[name]
        assert by_name[name][7] == "50.0%", by_name[name]
    assert "fire" not in {row[1] for row in draft["departments"]}  # names, never codes
    [town] = draft["towns"]
    assert town[1] != town_code and town[1].endswith(("镇", "街道")), town
    assert town[2] == "4" and town[3] == "2" and town[5] == "50.0%", town
    paragraph = draft["paragraph"]
    assert "共交办事项 4 件" in paragraph and "办结 2 件（办结率 50.0%）" in paragraph

    published = steps["published"]
    number = published["number"]
    assert number.startswith("网格通〔") and number.endswith("号"), number
    assert published["draft_gone"] and number in published["listed"][0][0]
    assert published["listed"][0][1] == "月通报" and published["listed"][0][2] == month
    printable = steps["printable"]
    assert number in printable["text"] and fire_zh in printable["text"]
    assert town[1] in printable["text"] and "交办事项办理情况通报" in printable["text"]

    audit = steps["audit"]
    assert audit["rows"] and all("李区管" in r[1] and r[2] == "登录" for r in audit["rows"])
    assert "查阅审计日志" not in "".join(r[2] for r in audit["rows"])  # the filter held

    # the half-year assessment: towns by name, the typed inputs counted in version 2, published
    first_inputs = [row[0] for row in steps["assessment_first"]["inputs"]]
    assert town[1] in first_inputs and len(first_inputs) == len(demo_district["towns"])
    assert not any(name.isdigit() for name in first_inputs), first_inputs  # names
    # only the town given values is a subject (its cases were filed today, after as_of):
    # too little data for a score, and the page says so by name
    assessed = {row[0]: row for row in steps["assessment_draft"]["towns"]}
    assert list(assessed) == [town[1]], assessed
    remark = assessed[town[1]][4]
    assert "数据不全" in remark and "缺数据：" in remark and "办结率" in remark, remark
    assert "民主测评" not in remark and "量化积分" not in remark, remark
    published_rows = steps["assessment_published"]["reports"]
    assert [(r[0], r[1]) for r in published_rows] == [("2", "已发布"), ("1", "草稿")]
    reports = requests.get(f"{proxy['base']}/api/assessment/appraisals?half_year={half_year}",
                           headers=token("district_admin", f"district:{district}", sub=ADMIN),
                           timeout=10).json()
    [final] = [r for r in reports if r["version"] == 2]
    assert final["state"] == "published" and final["created_by"] == ADMIN
    full = requests.get(f"{proxy['base']}/api/assessment/appraisals/{final['report_id']}",
                        headers=token("district_admin", f"district:{district}"),
                        timeout=10).json()
    [row] = [r for r in full["content"]["rows"]
             if r["subject_kind"] == "town" and r["code"] == town_code]
    typed = {i["key"]: (i["status"], i["raw"]) for i in row["indicators"]}
    assert typed["democratic_appraisal"] == ("ok", 92.0)
    assert typed["quantified_points"] == ("ok", 80.0)
    assert (row["score"], row["complete"], assessed[town[1]][1]) == (None, False, "—")

    # master data by name: the catalogue under its work category, the rule routing the
    # blocked corridor to fire (lead) and emergency management (assisting), the register
    catalogue = steps["catalogue"]["text"]
    assert "社会治安防控" in catalogue and "楼道堆物堵塞消防通道" in catalogue
    assert "现行版本" in steps["rules"]["version"]
    [rule] = [r for r in steps["rules"]["rows"] if r[0].startswith("楼道堆物堵塞消防通道")]
    assert f"主办：{fire_zh}" in rule[2] and f"协办：{emergency_zh}" in rule[2], rule
    assert rule[1] == "镇（街道）" and rule[4] == "1 工作小时" and rule[5] == "3 个工作日", rule
    [fire_row] = [r for r in steps["departments"]["rows"] if r[0].startswith(fire_zh)]
    assert "fire.#" in fire_row[4] and "dept.fire.assignments" in fire_row[4], fire_row

    # the calendar: the Saturday set as a working day with its reason, then removed
    assert [SWAP_DAY in r[0] and r[1] == "工作日（调休上班）" and r[2] == SWAP_REASON
            for r in steps["calendar_added"]["rows"]] == [True]
    assert "当月每日" in steps["calendar"]["text"]
    assert not any(SWAP_DAY in r[0] for r in steps["calendar_removed"]["rows"])
    overrides = requests.get(
        f"{proxy['base']}/api/dispatch/config/calendar-overrides?from=2026-12-01&to=2026-12-31",
        headers=token("district_admin", f"district:{district}", sub=ADMIN), timeout=10)
    assert overrides.status_code == 200 and overrides.json() == [], overrides.text

    english = steps["english"]
    assert english["lang"] == "en" and "Draft (not published yet)" in english["text"]
    assert {row[1] for row in english["departments"]} == {names["fire"][1],
                                                         names["emergency_management"][1]}
    assert "dispatched 4 items" in english["paragraph"]
    assert "Version 2 · published" in steps["english_assessment"]["text"]
    assert "Stairwell or fire exit blocked" in steps["english_master-data"]["text"]
    assert "Public-security prevention" in steps["english_master-data"]["text"]
    assert "Each day of the month" in steps["english_calendar"]["text"]
    assert "Signed in" in steps["english_audit"]["text"]
    assert "Read the audit log" in steps["english_audit"]["text"]  # its own reads

    # the published circular through the API: the admin's list, and the fire department's
    # officer reads it (and finds it in the inbox, with its link)
    admin = token("district_admin", f"district:{district}", sub=ADMIN)
    listed = requests.get(f"{proxy['base']}/api/assessment/circulars", headers=admin,
                          timeout=10).json()
    [circular] = [c for c in listed if c["document_number"] == number]
    assert (circular["kind"], circular["period"], circular["generated_by"]) == (
        "monthly", month, ADMIN)
    officer = token("department_officer", "department:fire", sub="fire-officer")
    read = requests.get(f"{proxy['base']}/api/assessment/circulars/{circular['circular_id']}",
                        headers=officer, timeout=10)
    assert read.status_code == 200, read.text
    content = read.json()["content"]
    [fire] = [d for d in content["departments"] if d["code"] == "fire"]
    assert (fire["dispatched"], fire["closed"], fire["closure_rate"]) == (2, 1, 0.5)
    assert content["names"]["departments"]["fire"]["zh-CN"] == fire_zh
    page = requests.get(
        f"{proxy['base']}/api/assessment/circulars/{circular['circular_id']}.html?lang=zh-CN",
        headers=officer, timeout=10)
    assert page.status_code == 200 and number in page.text and fire_zh in page.text
    [message] = wait_until(lambda: _inbox(proxy, officer), WAIT)
    assert f"/circulars/{circular['circular_id']}.html" in message["body"]
    chief = token("town_grid_chief", f"town:{town_code}", sub="town-chief")
    assert wait_until(lambda: _inbox(proxy, chief), WAIT)

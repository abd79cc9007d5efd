"""Configuration admin on a real broker and database: rule sets and escalation policies are
published as whole new versions (validated, 422 with field errors), new cases use them at
once while running cases keep theirs, and calendar overrides move new cases' deadlines."""

from __future__ import annotations

import copy
import json
import uuid
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from gridgov_common.contract import make_envelope
from gridgov_common.contract.messages import P42_UNITS
from services.dispatch import calendar_notice
from services.dispatch.models import assignments, cases
from services.dispatch.models import catalogue_versions as dispatch_catalogue
from services.dispatch.models import departments as dispatch_departments
from services.dispatch.schemas import CalendarNoticeBodySchema
from services.events.domain.catalogue_version import DEFAULT as PACKAGED_CATALOGUE
from tests.amqp import bind_queue, drain, publish, wait_until
from tests.dispatch.conftest import (
    DISTRICT,
    EM_SINK,
    FIRE_SINK,
    POLICE_SINK,
    received,
    reported_envelope,
)

ADMIN = ("district_admin", f"district:{DISTRICT}")
RULE = "public_security_prevention.fire_hazard_corridor"
DEPARTMENTS = (*P42_UNITS, "police")  # the default rules name the ten P4.2 units


def announce_department(uri: str, code: str, active: bool = True,
                        updated_at: str = "2026-12-06T03:00:00.000Z", name_zh: str = "部门",
                        ) -> None:
    """What the registry announces (registry.department.changed v1), over the real bus."""
    publish(uri, "gridgov.events", "registry.department.changed", make_envelope(
        "registry.department.changed", {
            "code": code, "action": "announced", "name_zh": name_zh, "name_en": code,
            "unit": None, "work_categories": [], "active": active, "updated_at": updated_at},
        "registry"))


def announce_catalogue(uri: str) -> None:
    """What events announces at start (events.catalogue.published v1, version 1)."""
    keep = ("code", "work_category", "info_class", "name_zh", "name_en", "severity", "public",
            "sensitive", "retired")
    entries = [{k: v for k, v in entry.items() if k in keep}
               for entry in PACKAGED_CATALOGUE.to_dict()["subcategories"]]
    publish(uri, "gridgov.events", "events.catalogue.published", make_envelope(
        "events.catalogue.published", {"version": 1, "published_by": "system:packaged",
                                       "subcategories": entries}, "events", version=1))


def _stored(db_engine, table) -> int:
    with db_engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table)).scalar()


@pytest.fixture
def master_data(dispatch, sinks, db_engine):
    """The register and the catalogue as their owners announce them, taken by dispatch."""
    for code in DEPARTMENTS:
        announce_department(sinks, code)
    announce_catalogue(sinks)
    assert wait_until(lambda: _stored(db_engine, dispatch_departments) == len(DEPARTMENTS)
                      and _stored(db_engine, dispatch_catalogue) == 1)


def _file_case(uri: str, sink: str = FIRE_SINK) -> tuple[str, dict]:
    """A fire-hazard case with a fresh number; returns (case_id, first assignment)."""
    envelope = reported_envelope(case_number=f"GS20261128-{uuid.uuid4().hex[:6].upper()}")
    publish(uri, "gridgov.events", "events.case.reported", envelope)
    [(_, assignment)] = received(uri, sink)
    return envelope["payload"]["case_id"], assignment["payload"]


def _case(db_engine, case_id: str) -> dict:
    with db_engine.connect() as conn:
        return dict(conn.execute(sa.select(cases).where(cases.c.case_id == case_id))
                    .mappings().one())


def _departments(db_engine, case_id: str) -> list[tuple[str, str]]:
    with db_engine.connect() as conn:
        return sorted(tuple(r) for r in conn.execute(
            sa.select(assignments.c.department, assignments.c.role)
            .where(assignments.c.case_id == case_id)))


def test_rule_set_versions_apply_to_new_cases_only(dispatch, sinks, db_engine, web_session,
                                                   token, master_data):
    admin = token(*ADMIN, sub="admin-1")
    first_id, first = _file_case(sinks)
    received(sinks, EM_SINK)
    listed = web_session.get("/config/rule-sets", headers=token("ops_viewer",
                                                                f"district:{DISTRICT}"))
    assert listed.status_code == 200, listed.text
    assert [(v["version"], v["created_by"]) for v in listed.json()] == [(1, "system:default")]
    current = web_session.get("/config/rule-sets/1", headers=admin).json()["rules"]

    changed = copy.deepcopy(current)
    changed.pop("version")
    changed["description"] = "corridor hazards go to the police"
    rule = next(r for r in changed["rules"] if r["id"] == RULE)
    rule.update(lead="police", assist=[])
    stale = web_session.post("/config/rule-sets", json={**changed, "version": 5}, headers=admin)
    assert stale.status_code == 409, stale.text
    created = web_session.post("/config/rule-sets", json=changed, headers=admin)
    assert created.status_code == 201, created.text
    assert (created.json()["version"], created.json()["created_by"]) == (2, "admin-1")
    assert created.json()["rules"]["version"] == 2

    second_id, second = _file_case(sinks, POLICE_SINK)
    assert (second["department"], second["rule_version"]) == ("police", 2)
    assert _case(db_engine, second_id)["rule_version"] == 2
    assert _departments(db_engine, second_id) == [("police", "lead")]
    # the running case keeps the version it was filed under, and its departments
    assert first["rule_version"] == 1 and _case(db_engine, first_id)["rule_version"] == 1
    assert _departments(db_engine, first_id) == [("emergency_management", "assist"),
                                                  ("fire", "lead")]
    versions = web_session.get("/config/rule-sets", headers=admin).json()
    assert [v["version"] for v in versions] == [2, 1]
    assert versions[0]["description"] == "corridor hazards go to the police"


def test_invalid_rule_set_is_refused_with_its_fields(dispatch, web_session, token,
                                                    master_data):
    admin = token(*ADMIN)
    current = web_session.get("/config/rule-sets/1", headers=admin).json()["rules"]
    broken = copy.deepcopy(current)
    broken["rules"][1]["priority"] = "whenever"
    broken["rules"][1]["lead"] = "Not A Code"
    response = web_session.post("/config/rule-sets", json=broken, headers=admin)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_rules"
    assert any(key.startswith("rules.1") for key in error["fields"]), error
    missing = web_session.post("/config/rule-sets", json={"description": "x"}, headers=admin)
    assert missing.status_code == 422 and "rules" in missing.json()["error"]["fields"]
    assert [v["version"] for v in
            web_session.get("/config/rule-sets", headers=admin).json()] == [1]
    assert web_session.get("/config/rule-sets/9", headers=admin).status_code == 404


def test_a_rule_set_names_only_departments_and_subcategories_that_exist(
        dispatch, sinks, db_engine, web_session, token, master_data):
    """Issue 11: the lead, the assisting departments and a rule's subcategory are checked
    against the register and the catalogue dispatch follows; every problem is named."""
    admin = token(*ADMIN)
    current = web_session.get("/config/rule-sets/1", headers=admin).json()["rules"]
    current.pop("version")
    rules = {rule["id"]: rule for rule in current["rules"]}

    def refused(change) -> dict:
        body = copy.deepcopy(current)
        change({rule["id"]: rule for rule in body["rules"]})
        response = web_session.post("/config/rule-sets", json=body, headers=admin)
        assert response.status_code == 422, response.text
        assert response.json()["error"]["code"] == "invalid_rules"
        return response.json()["error"]["fields"]

    index = list(rules).index(RULE)
    fields = refused(lambda r: r[RULE].update(lead="water_bureau", assist=["nobody_dept"]))
    assert len(fields[f"rules.{index}"]) == 2  # both named
    fields = refused(lambda r: r[RULE].update(subcategory="no_such_subcategory"))
    assert "not in the catalogue" in fields[f"rules.{index}"][0]
    fields = refused(lambda r: r[RULE].update(subcategory="petition"))
    assert "belongs to dispute_mediation" in fields[f"rules.{index}"][0]
    # a retired department takes no new rules; a late, older message does not revive it
    announce_department(sinks, "police", active=False, updated_at="2026-12-06T04:00:00.000Z")
    announce_department(sinks, "police", active=True, updated_at="2026-12-06T03:30:00.000Z")
    assert wait_until(lambda: _claimed(db_engine) == len(DEPARTMENTS) + 3  # both taken
                      and not any(
        code == "police" for code in _active(db_engine)))
    refused(lambda r: r[RULE].update(lead="police", assist=[]))
    assert [v["version"] for v in
            web_session.get("/config/rule-sets", headers=admin).json()] == [1]


def _claimed(db_engine) -> int:
    with db_engine.connect() as conn:
        return conn.exec_driver_sql("SELECT count(*) FROM dispatch.processed_messages "
                                    "WHERE consumer = 'dispatch.master_data'").scalar()


def _active(db_engine) -> list[str]:
    with db_engine.connect() as conn:
        return list(conn.execute(sa.select(dispatch_departments.c.code)
                                 .where(dispatch_departments.c.active)).scalars())


def test_before_the_register_arrives_a_rule_set_naming_departments_waits(
        dispatch, web_session, token):
    admin = token(*ADMIN)
    current = web_session.get("/config/rule-sets/1", headers=admin).json()["rules"]
    current.pop("version")
    response = web_session.post("/config/rule-sets", json=current, headers=admin)
    assert response.status_code == 422, response.text
    messages = [m for ms in response.json()["error"]["fields"].values() for m in ms]
    assert any("has not reached dispatch yet" in m for m in messages)


def test_escalation_policy_versions(dispatch, sinks, db_engine, web_session, token):
    admin = token(*ADMIN, sub="admin-2")
    first_id, _ = _file_case(sinks)
    received(sinks, EM_SINK)
    policy = web_session.get("/config/escalation-policies/1", headers=admin)
    assert policy.status_code == 200, policy.text
    body = policy.json()["policy"]
    invalid = web_session.post("/config/escalation-policies", json={**body, "ladder": []},
                               headers=admin)
    assert invalid.status_code == 422, invalid.text
    assert invalid.json()["error"]["code"] == "invalid_escalation"
    assert any(key.startswith("ladder") for key in invalid.json()["error"]["fields"])
    created = web_session.post("/config/escalation-policies",
                               json={**body, "version": 2, "description": "stricter"},
                               headers=admin)
    assert created.status_code == 201, created.text
    assert created.json()["version"] == 2 and created.json()["policy"]["version"] == 2
    second_id, _ = _file_case(sinks)
    assert _case(db_engine, second_id)["escalation_version"] == 2
    assert _case(db_engine, first_id)["escalation_version"] == 1
    listed = web_session.get("/config/escalation-policies", headers=admin).json()
    assert [(v["version"], v["created_by"]) for v in listed] == [(2, "admin-2"),
                                                                 (1, "system:default")]


def test_calendar_override_moves_a_new_cases_deadline(dispatch, sinks, web_session, token):
    admin = token(*ADMIN)
    _, before = _file_case(sinks)
    received(sinks, EM_SINK)
    due = datetime.fromisoformat(before["handle_due_at"])
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date()
    last = due.astimezone(ZoneInfo("Asia/Shanghai")).date()
    days = [today + timedelta(days=n) for n in range((last - today).days + 1)]
    for day in days:  # every day up to the old deadline is now a day off
        response = web_session.put(f"/config/calendar-overrides/{day.isoformat()}",
                                   json={"is_workday": False, "note": "test closure"},
                                   headers=admin)
        assert response.status_code == 201, response.text
    again = web_session.put(f"/config/calendar-overrides/{today.isoformat()}",
                            json={"is_workday": False, "note": "still closed"}, headers=admin)
    assert again.status_code == 200 and again.json()["note"] == "still closed"

    _, after = _file_case(sinks)
    received(sinks, EM_SINK)
    assert datetime.fromisoformat(after["handle_due_at"]) > due
    assert datetime.fromisoformat(after["ack_due_at"]).astimezone(
        ZoneInfo("Asia/Shanghai")).date() > last

    span = f"from={today.isoformat()}&to={last.isoformat()}"
    overrides = web_session.get(f"/config/calendar-overrides?{span}", headers=admin).json()
    assert [o["day"] for o in overrides] == [d.isoformat() for d in days]
    calendar = web_session.get(f"/config/calendar?{span}", headers=admin).json()
    assert {(d["is_workday"], d["source"]) for d in calendar} == {(False, "override")}
    assert calendar[0]["note"] == "still closed"

    gone = web_session.delete(f"/config/calendar-overrides/{today.isoformat()}",
                              headers=admin)
    assert gone.status_code == 204, gone.text
    assert web_session.delete(f"/config/calendar-overrides/{today.isoformat()}",
                              headers=admin).status_code == 404
    shown = web_session.get(f"/config/calendar?from={today.isoformat()}&to="
                            f"{today.isoformat()}", headers=admin).json()
    assert shown[0]["source"] != "override"
    bad = web_session.put("/config/calendar-overrides/2027-02-30",
                          json={"is_workday": True}, headers=admin)
    assert bad.status_code == 422


def test_calendar_shows_a_make_up_working_day(dispatch, web_session, token):
    """调休 the libraries may lack (2027): an operator marks a Sunday as a working day."""
    admin = token(*ADMIN)
    sunday = date(2027, 2, 7)
    assert sunday.weekday() == 6
    put = web_session.put(f"/config/calendar-overrides/{sunday}",
                          json={"is_workday": True, "note": "春节调休上班"}, headers=admin)
    assert put.status_code == 201, put.text
    [day] = web_session.get(f"/config/calendar?from={sunday}&to={sunday}",
                            headers=admin).json()
    assert day == {"day": "2027-02-07", "is_workday": True, "source": "override",
                   "note": "春节调休上班"}
    too_long = web_session.get("/config/calendar?from=2027-01-01&to=2028-06-01",
                               headers=admin)
    assert too_long.status_code == 422


def _national_day_notice(year: int) -> dict:
    """A notice like the State Council's: 1-8 October off, the Saturday after (or before)
    worked, whatever weekdays they fall on in ``year``."""
    days_off = [{"day": date(year, 10, d).isoformat(), "name": "国庆节、中秋节"}
                for d in range(1, 9)]
    saturday = next(date(year, 10, d) for d in range(9, 16) if date(year, 10, d).weekday() == 5)
    return {"notice": f"国务院办公厅关于{year}年部分节假日安排的通知 国办发明电〔{year - 1}〕7号",
            "days_off": days_off,
            "workdays": [{"day": saturday.isoformat(), "name": "国庆节"}]}


def test_a_years_holiday_notice_is_entered_whole_and_ends_the_estimate(
        dispatch, web_session, token):
    """M12: next year has no official calendar in the libraries: it is an estimate (erring
    late), flagged from November; the admin enters the notice, and the year follows it."""
    admin = token(*ADMIN)
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date()
    year = today.year + 1
    listed = web_session.get("/config/calendar/years", headers=admin)
    assert listed.status_code == 200, listed.text
    status = {item["year"]: item for item in listed.json()}
    if status[year]["source"] == "estimate":  # while the libraries stop at this year
        assert (status[year]["warning"] is not None) == (today.month >= 11)
    body = _national_day_notice(year)
    bad = copy.deepcopy(body)
    bad["workdays"].append({"day": f"{year}-10-05", "name": "x"})  # off and worked
    bad["workdays"].append({"day": f"{year}-10-14", "name": "x"} if date(
        year, 10, 14).weekday() < 5 else {"day": f"{year}-10-13", "name": "x"})  # a weekday
    bad["days_off"].append({"day": f"{year + 1}-01-01", "name": "x"})  # another year
    refused = web_session.put(f"/config/calendar/years/{year}", json=bad, headers=admin)
    assert refused.status_code == 422, refused.text
    error = refused.json()["error"]
    assert error["code"] == "invalid_calendar_notice"
    assert len(error["fields"]["workdays"]) == 2 and "days_off" in error["fields"]

    entered = web_session.put(f"/config/calendar/years/{year}", json=body, headers=admin)
    assert entered.status_code == 200, entered.text
    assert entered.json() == {"year": year, "notice": body["notice"], "days_off": 8,
                              "workdays": 1}
    status = {item["year"]: item for item in
              web_session.get("/config/calendar/years", headers=admin).json()}
    assert (status[year]["source"], status[year]["warning"]) == ("notice", None)
    make_up = body["workdays"][0]["day"]
    days = {d["day"]: d for d in web_session.get(
        f"/config/calendar?from={year}-10-01&to={year}-10-31", headers=admin).json()}
    assert days[f"{year}-10-08"]["is_workday"] is False
    assert days[make_up]["is_workday"] is True and "调休" in days[make_up]["note"]
    plain = [d for d in days.values() if d["source"] == "operator_schedule"]
    assert plain and all(d["is_workday"] == (date.fromisoformat(d["day"]).weekday() < 5)
                         for d in plain)
    # entered again (a corrected notice): the year's overrides are replaced, not added to
    body["days_off"] = body["days_off"][:7]
    again = web_session.put(f"/config/calendar/years/{year}", json=body, headers=admin)
    assert again.status_code == 200 and again.json()["days_off"] == 7
    overrides = web_session.get(f"/config/calendar-overrides?from={year}-01-01"
                                f"&to={year}-12-31", headers=admin).json()
    assert len(overrides) == 8
    assert web_session.put("/config/calendar/years/1999", json=body,
                           headers=admin).status_code == 404


def test_district_admins_are_reminded_once_a_day_from_november(dispatch, sinks, db_engine):
    """M12: while next year's notice is missing, each district with cases gets one
    reminder a day from 1 November (2027 has no official data in the pinned libraries)."""
    bind_queue(sinks, "test.notify", "gridgov.events", ["notify.request"])
    _file_case(sinks)  # a case of district 320505
    october = datetime(2026, 10, 30, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    november = datetime(2026, 11, 2, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    with Session(db_engine, info={"db_schema": "dispatch"}) as session:
        assert calendar_notice.warn_due(session, october) == 0
        assert calendar_notice.warn_due(session, november) == 1
        assert calendar_notice.warn_due(session, november) == 0  # once that day
        session.commit()
    seen: list[dict] = []  # the case's assignment notices come through here too

    def reminders() -> list[dict]:
        seen.extend(json.loads(body)["payload"]
                    for _, _, body in drain(sinks, "test.notify", expect=10, timeout=0.5))
        return [r for r in seen if r["template"] == "calendar_notice_missing"]

    [request] = wait_until(reminders, 15)
    assert request["recipients"] == [{"role": "district_admin", "scope": f"district:{DISTRICT}"}]
    assert request["params"] == {"year": 2027}
    with Session(db_engine, info={"db_schema": "dispatch"}) as session:
        notice = CalendarNoticeBodySchema().load(_national_day_notice(2027))
        calendar_notice.enter_notice(session, 2027, notice, "admin-1")
        assert calendar_notice.warn_due(session, november.replace(day=3)) == 0  # entered
        session.rollback()


def test_only_the_district_admin_writes(dispatch, web_session, token):
    viewer = token("ops_viewer", f"district:{DISTRICT}")
    chief = token("town_grid_chief", "town:320505001")
    officer = token("department_officer", "department:fire")
    body = web_session.get("/config/rule-sets/1", headers=viewer).json()["rules"]
    for headers in (viewer, chief, officer):
        assert web_session.post("/config/rule-sets", json=body, headers=headers) \
            .status_code == 403
        assert web_session.put("/config/calendar-overrides/2027-02-07",
                               json={"is_workday": True}, headers=headers).status_code == 403
        assert web_session.delete("/config/calendar-overrides/2027-02-07",
                                  headers=headers).status_code == 403
    for headers in (chief, officer):
        assert web_session.get("/config/rule-sets", headers=headers).status_code == 403
        assert web_session.get("/config/calendar", headers=headers).status_code == 403

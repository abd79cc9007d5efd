"""Delay requests (P5.3.3) on a real broker and database: a department's ``delay_request``
is stored pending, town staff decide it once over HTTP, the assignment's due time moves on
approval, and the department hears the decision on ``<department>.decisions``."""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa

from services.dispatch.models import assignments, case_file, delay_requests, departments
from tests.amqp import bind_queue, publish, wait_until
from tests.dispatch.conftest import (
    DISTRICT,
    FIRE_SINK,
    received,
    report_envelope,
    reported_envelope,
    send_report,
)

TOWN = "320505001"
DECISIONS_SINK = "fire-decisions"


def _ts(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _dispatch_case(uri: str) -> tuple[dict, dict]:
    envelope = reported_envelope()
    publish(uri, "gridgov.events", "events.case.reported", envelope)
    [(_, fire)] = received(uri, FIRE_SINK)
    return envelope, fire["payload"]


def _requests(db_engine, assignment_id: str) -> list[dict]:
    with db_engine.connect() as conn:
        return [dict(r) for r in conn.execute(sa.select(delay_requests).where(
            delay_requests.c.assignment_id == assignment_id)).mappings()]


def _due(db_engine, assignment_id: str) -> datetime:
    with db_engine.connect() as conn:
        return conn.execute(sa.select(assignments.c.handle_due_at).where(
            assignments.c.assignment_id == assignment_id)).scalar_one()


def _entries(db_engine, case_id: str) -> list[dict]:
    with db_engine.connect() as conn:
        return [row.entry for row in conn.execute(
            sa.select(case_file.c.entry).where(case_file.c.case_id == case_id)
            .order_by(case_file.c.seq))]


def _ask_for_more_time(uri: str, db_engine, fire: dict, days: int = 2):
    # the stored deadline, to the microsecond; the assignment message gives it to the
    # millisecond (within a working period the deadline keeps the filing instant's
    # microseconds: comparing with the message passed only outside working hours)
    current = _due(db_engine, fire["assignment_id"])
    said = datetime.fromisoformat(fire["handle_due_at"])
    assert abs(current - said) < timedelta(milliseconds=1)
    wanted = (current + timedelta(days=days)).replace(microsecond=0)
    report = report_envelope(fire, "delay_request", reason="需协调物业清运，申请延期",
                             requested_due_at=_ts(wanted))
    send_report(uri, report)
    [row] = wait_until(lambda: _requests(db_engine, fire["assignment_id"]))
    return report, row, current, wanted


def test_approved_delay_moves_the_due_time_and_tells_the_department(
        dispatch, sinks, db_engine, web_session, token):
    bind_queue(sinks, DECISIONS_SINK, "gridgov.dispatch", ["fire.decisions"])
    envelope, fire = _dispatch_case(sinks)
    case_id = envelope["payload"]["case_id"]
    report, row, current, wanted = _ask_for_more_time(sinks, db_engine, fire)
    assert row["state"] == "pending" and row["requested_due_at"] == wanted
    assert row["department"] == "fire" and row["message_id"] == report["message_id"]
    assert _entries(db_engine, case_id)[-1]["action"] == "delay_requested"

    chief = token("town_grid_chief", f"town:{TOWN}", sub="chief-1")
    with db_engine.begin() as conn:  # the register as dispatch follows it (names to read)
        conn.execute(sa.insert(departments).values(
            code="fire", name_zh="消防", name_en="Fire and Rescue", active=True,
            updated_at=datetime.now().astimezone()))
    listed = web_session.get("/delay-requests?state=pending", headers=chief)
    assert listed.status_code == 200, listed.text
    assert [r["request_id"] for r in listed.json()] == [row["request_id"]]
    assert listed.json()[0]["case_number"] == envelope["payload"]["case_number"]
    # issue 14: the town staff read names — the department's, the subcategory's (catalogue)
    assert listed.json()[0]["department_name"] == {"zh-CN": "消防", "en": "Fire and Rescue"}
    assert listed.json()[0]["subcategory"] == envelope["payload"]["subcategory"]
    assert datetime.fromisoformat(listed.json()[0]["current_due_at"]) == current
    other_town = token("town_grid_chief", "town:320505002")
    assert web_session.get("/delay-requests", headers=other_town).json() == []

    url = f"/delay-requests/{row['request_id']}/decision"
    decided = web_session.post(url, json={"approve": True, "note": "同意"}, headers=chief)
    assert decided.status_code == 200, decided.text
    assert decided.json()["state"] == "approved"
    assert decided.json()["decided_by"] == "chief-1"
    assert _due(db_engine, fire["assignment_id"]) == wanted
    [stored] = _requests(db_engine, fire["assignment_id"])
    assert (stored["state"], stored["decision_note"]) == ("approved", "同意")

    [(key, message)] = received(sinks, DECISIONS_SINK)
    assert key == "fire.decisions" and message["type"] == "dispatch.delay_decision"
    assert message["correlation_id"] == report["message_id"]
    payload = message["payload"]
    assert payload["approved"] is True and payload["request_id"] == row["request_id"]
    assert datetime.fromisoformat(payload["handle_due_at"]) == wanted
    assert payload["case_number"] == envelope["payload"]["case_number"]
    last = _entries(db_engine, case_id)[-1]
    assert last["action"] == "delay_granted" and last["actor_sub"] == "chief-1"
    assert datetime.fromisoformat(last["deadline"]) == wanted
    assert last["notifications"][0]["routing_key"] == "fire.decisions"

    again = web_session.post(url, json={"approve": False}, headers=chief)
    assert again.status_code == 409, again.text
    assert again.json()["error"]["code"] == "already_decided"
    assert web_session.get("/delay-requests?state=pending", headers=chief).json() == []

    # the result is judged against the new due time (stage_outcome with handle_due_at)
    send_report(sinks, report_envelope(fire, "ack"))
    send_report(sinks, report_envelope(fire, "result", resolved=True))
    assert wait_until(lambda: _handle_on_time(db_engine, fire["assignment_id"]) is not None)
    assert _handle_on_time(db_engine, fire["assignment_id"]) is True
    assert current < wanted


def _handle_on_time(db_engine, assignment_id: str):
    with db_engine.connect() as conn:
        return conn.execute(sa.select(assignments.c.handle_on_time).where(
            assignments.c.assignment_id == assignment_id)).scalar_one()


def test_denied_delay_keeps_the_due_time(dispatch, sinks, db_engine, web_session, token):
    bind_queue(sinks, DECISIONS_SINK, "gridgov.dispatch", ["fire.decisions"])
    envelope, fire = _dispatch_case(sinks)
    _, row, current, _ = _ask_for_more_time(sinks, db_engine, fire)
    admin = token("district_admin", f"district:{DISTRICT}", sub="admin-1")
    decided = web_session.post(f"/delay-requests/{row['request_id']}/decision",
                               json={"approve": False, "note": "时限内可办结"}, headers=admin)
    assert decided.status_code == 200, decided.text
    assert decided.json()["state"] == "denied"
    assert _due(db_engine, fire["assignment_id"]) == current
    [(_, message)] = received(sinks, DECISIONS_SINK)
    assert message["payload"]["approved"] is False
    said = datetime.fromisoformat(message["payload"]["handle_due_at"])  # to the millisecond
    assert abs(said - current) < timedelta(milliseconds=1)
    assert message["payload"]["note"] == "时限内可办结"
    last = _entries(db_engine, envelope["payload"]["case_id"])[-1]
    assert (last["action"], last["reason"]) == ("delay_refused", "时限内可办结")


def test_delay_to_an_earlier_time_is_refused(dispatch, sinks, db_engine):
    _, fire = _dispatch_case(sinks)
    current = _due(db_engine, fire["assignment_id"])
    report = report_envelope(fire, "delay_request", reason="申请延期",
                             requested_due_at=_ts(current - timedelta(hours=1)))
    send_report(sinks, report)
    [(key, rejection)] = received(sinks, FIRE_SINK)
    assert key == "fire.rejections"
    assert rejection["payload"]["code"] == "due_not_later"
    assert "requested_due_at" in rejection["payload"]["fields"]
    assert rejection["payload"]["original_message_id"] == report["message_id"]
    assert _requests(db_engine, fire["assignment_id"]) == []
    assert _due(db_engine, fire["assignment_id"]) == current


def test_a_second_request_while_one_waits_is_refused(dispatch, sinks, db_engine):
    """One pending request per assignment: town staff decide it before another is made."""
    _, fire = _dispatch_case(sinks)
    _first, row, current, _wanted = _ask_for_more_time(sinks, db_engine, fire, days=2)
    again = report_envelope(fire, "delay_request", reason="再次申请延期",
                            requested_due_at=_ts(current + timedelta(days=5)))
    send_report(sinks, again)
    [(key, rejection)] = received(sinks, FIRE_SINK)
    assert key == "fire.rejections"
    assert rejection["payload"]["code"] == "delay_request_pending"
    assert rejection["payload"]["original_message_id"] == again["message_id"]
    assert [r["request_id"] for r in _requests(db_engine, fire["assignment_id"])] == \
        [row["request_id"]]


def test_only_town_staff_in_scope_decide(dispatch, sinks, db_engine, web_session, token):
    _, fire = _dispatch_case(sinks)
    _, row, _, _ = _ask_for_more_time(sinks, db_engine, fire)
    url = f"/delay-requests/{row['request_id']}/decision"
    for headers in (token("department_officer", "department:fire"),
                    token("community_grid_chief", f"community:{TOWN}001"),
                    token("ops_viewer", f"district:{DISTRICT}")):
        assert web_session.get("/delay-requests", headers=headers).status_code == 403
        assert web_session.post(url, json={"approve": True}, headers=headers) \
            .status_code == 403
    outside = token("town_grid_chief", "town:320505002")
    assert web_session.post(url, json={"approve": True}, headers=outside).status_code == 404
    assert _requests(db_engine, fire["assignment_id"])[0]["state"] == "pending"


def test_a_finished_assignment_gets_no_extension(dispatch, sinks, db_engine, web_session,
                                                 token):
    _, fire = _dispatch_case(sinks)
    _, row, current, _ = _ask_for_more_time(sinks, db_engine, fire)
    send_report(sinks, report_envelope(fire, "return", reason="不属于消防职责"))

    def returned():
        with db_engine.connect() as conn:
            return conn.execute(sa.select(assignments.c.state).where(
                assignments.c.assignment_id == fire["assignment_id"])).scalar() == "returned"
    assert wait_until(returned)
    chief = token("town_grid_chief", f"town:{TOWN}")
    url = f"/delay-requests/{row['request_id']}/decision"
    approve = web_session.post(url, json={"approve": True}, headers=chief)
    assert approve.status_code == 409, approve.text
    assert approve.json()["error"]["code"] == "assignment_not_active"
    assert _due(db_engine, fire["assignment_id"]) == current
    deny = web_session.post(url, json={"approve": False, "note": "已退办"}, headers=chief)
    assert deny.status_code == 200 and deny.json()["state"] == "denied"

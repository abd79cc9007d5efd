"""The dispatch flow on a real broker and database: a reported case is triaged and
whistled to its departments; their reports move it to resolved; foreign, mismatched and
repeated reports are refused or applied once; the case file's hash chain holds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from services.dispatch.models import assignments, case_file, cases
from tests.amqp import publish, wait_until
from tests.dispatch.conftest import (
    DISTRICT,
    EM_SINK,
    EVENTS_SINK,
    FIRE_SINK,
    POLICE_SINK,
    received,
    report_envelope,
    reported_envelope,
    send_report,
)

TOWN = "320505001"


def _case(db_engine, case_id):
    with db_engine.connect() as conn:
        return conn.execute(sa.select(cases).where(cases.c.case_id == case_id)) \
            .mappings().first()


def _assignment_row(db_engine, assignment_id):
    with db_engine.connect() as conn:
        return conn.execute(sa.select(assignments).where(
            assignments.c.assignment_id == assignment_id)).mappings().first()


def _actions(db_engine, case_id):
    with db_engine.connect() as conn:
        return [row.entry["action"] for row in conn.execute(
            sa.select(case_file.c.entry).where(case_file.c.case_id == case_id)
            .order_by(case_file.c.seq))]


def _dispatch_case(uri):
    envelope = reported_envelope()
    publish(uri, "gridgov.events", "events.case.reported", envelope)
    [(key, fire)] = received(uri, FIRE_SINK)
    [(em_key, em)] = received(uri, EM_SINK)
    return envelope, (key, fire["payload"]), (em_key, em["payload"])


def test_reported_case_is_dispatched_to_lead_and_assist(dispatch, sinks, db_engine):
    envelope, (key, fire), (em_key, em) = _dispatch_case(sinks)
    case_id = envelope["payload"]["case_id"]
    assert key == f"fire.{TOWN}.public_security_prevention.normal"
    assert em_key == f"emergency_management.{TOWN}.public_security_prevention.normal"
    assert (fire["role"], em["role"]) == ("lead", "assist")
    assert fire["case_id"] == case_id and fire["rule_version"] == 1
    assert fire["ack_due_at"] < fire["handle_due_at"]
    case = _case(db_engine, case_id)
    assert case["state"] == "dispatched"
    assert case["rule_version"] == 1
    assert case["rule_id"] == "public_security_prevention.fire_hazard_corridor"
    assert _actions(db_engine, case_id) == ["filed", "dispatch"]
    # filed and triaged in one transaction: one change, from nothing to dispatched (v3)
    [(key, change)] = received(sinks, EVENTS_SINK, expect=1)
    assert (key, change["version"]) == ("dispatch.case.changed", 3)
    payload = change["payload"]
    assert (payload["from_state"], payload["to_state"]) == (None, "dispatched")
    assert payload["departments"] == ["fire", "emergency_management"]  # lead first
    assert payload["due_at"] == fire["handle_due_at"] and payload["actor_role"] == "system"
    assert received(sinks, EVENTS_SINK, timeout=0.5) == []  # and no second one


def test_handled_on_spot_is_closed_without_assignments(dispatch, sinks, db_engine):
    envelope = reported_envelope(handled_on_spot=True)
    publish(sinks, "gridgov.events", "events.case.reported", envelope)
    case_id = envelope["payload"]["case_id"]
    case = wait_until(lambda: _case(db_engine, case_id))
    assert case["state"] == "closed" and case["closed_at"] is not None
    assert received(sinks, FIRE_SINK, timeout=0.5) == []


def test_ack_and_results_resolve_the_case(dispatch, sinks, db_engine, web_session, token):
    envelope, (_, fire), (_, em) = _dispatch_case(sinks)
    case_id = envelope["payload"]["case_id"]
    send_report(sinks, report_envelope(fire, "ack", department_ref="XF-1"))
    assert wait_until(lambda: _case(db_engine, case_id)["state"] == "in_progress")
    row = _assignment_row(db_engine, fire["assignment_id"])
    assert row["state"] == "acked" and row["ack_on_time"] is True
    send_report(sinks, report_envelope(fire, "result", resolved=True, note="已清理"))
    assert wait_until(lambda: _assignment_row(db_engine, fire["assignment_id"])["state"]
                      == "reported")
    assert _case(db_engine, case_id)["state"] == "in_progress"  # the assist still owes one
    send_report(sinks, report_envelope(em, "result", resolved=True))
    assert wait_until(lambda: _case(db_engine, case_id)["state"] == "resolved")
    assert _assignment_row(db_engine, fire["assignment_id"])["handle_on_time"] is True
    assert _actions(db_engine, case_id) == [
        "filed", "dispatch", "ack", "department_result", "department_result"]

    admin = token("district_admin", f"district:{DISTRICT}")
    response = web_session.get(f"/cases/{case_id}/file", headers=admin)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["verification"] == {"valid": True, "broken_at": None, "count": 5}
    assert [e["to_state"] for e in body["entries"]][-1] == "resolved"
    response = web_session.get(f"/cases/{case_id}", headers=admin)
    assert response.status_code == 200, response.text
    assert response.json()["state"] == "resolved"
    assert len(response.json()["assignments"]) == 2


def test_case_file_is_append_only(dispatch, sinks, db_engine):
    envelope, _, _ = _dispatch_case(sinks)
    import pytest
    with pytest.raises(sa.exc.DBAPIError, match="append-only"):
        with db_engine.begin() as conn:
            conn.execute(sa.update(case_file).where(
                case_file.c.case_id == envelope["payload"]["case_id"]).values(hash="x"))


def test_report_from_another_department_is_rejected(dispatch, sinks, db_engine):
    envelope, (_, fire), _ = _dispatch_case(sinks)
    case_id = envelope["payload"]["case_id"]
    foreign = report_envelope(fire, "ack", department="police")
    send_report(sinks, foreign)
    [(key, rejection)] = received(sinks, POLICE_SINK)
    assert key == "police.rejections"
    assert rejection["type"] == "platform.rejection"
    assert rejection["payload"]["code"] == "not_your_assignment"
    assert rejection["payload"]["original_message_id"] == foreign["message_id"]
    # routing key's department differs from the payload's
    mismatched = report_envelope(fire, "ack")
    send_report(sinks, mismatched, routing_key="police.ack")
    [(key, rejection)] = received(sinks, POLICE_SINK)
    assert (key, rejection["payload"]["code"]) == ("police.rejections", "department_mismatch")
    assert _case(db_engine, case_id)["state"] == "dispatched"
    assert _assignment_row(db_engine, fire["assignment_id"])["state"] == "sent"


def test_wrong_state_is_rejected_with_reason(dispatch, sinks, db_engine):
    _, (_, fire), _ = _dispatch_case(sinks)
    send_report(sinks, report_envelope(fire, "ack"))
    wait_until(lambda: _assignment_row(db_engine, fire["assignment_id"])["state"] == "acked")
    second = report_envelope(fire, "ack")
    send_report(sinks, second)
    [(key, rejection)] = received(sinks, FIRE_SINK)
    assert key == "fire.rejections"
    assert rejection["payload"]["code"] == "wrong_state"
    assert "acked" in rejection["payload"]["message"]


def test_the_same_report_twice_is_applied_once(dispatch, sinks, db_engine):
    envelope, (_, fire), _ = _dispatch_case(sinks)
    case_id = envelope["payload"]["case_id"]
    ack = report_envelope(fire, "ack")
    send_report(sinks, ack)
    send_report(sinks, ack)
    assert wait_until(lambda: _case(db_engine, case_id)["state"] == "in_progress")
    assert received(sinks, FIRE_SINK, timeout=1.5) == []  # no wrong_state rejection
    assert _actions(db_engine, case_id) == ["filed", "dispatch", "ack"]


def test_lead_return_sends_the_case_back(dispatch, sinks, db_engine):
    envelope, (_, fire), (_, em) = _dispatch_case(sinks)
    case_id = envelope["payload"]["case_id"]
    send_report(sinks, report_envelope(fire, "return", reason="不属于消防职责"))
    assert wait_until(lambda: _case(db_engine, case_id)["state"] == "filed")
    assert _assignment_row(db_engine, fire["assignment_id"])["state"] == "returned"
    assert _assignment_row(db_engine, em["assignment_id"])["state"] == "withdrawn"


def test_case_scope_for_staff_and_departments(dispatch, sinks, web_session, token):
    envelope, _, _ = _dispatch_case(sinks)
    case_id = envelope["payload"]["case_id"]
    grid = envelope["payload"]["grid_code"]
    ok = [token("neighbourhood_grid_worker", f"grid:{grid}"),
          token("department_officer", "department:fire")]
    refused = [token("neighbourhood_grid_worker", f"grid:{grid[:-1]}9"),
               token("department_officer", "department:police")]
    for headers in ok:
        assert web_session.get(f"/cases/{case_id}", headers=headers).status_code == 200
    for headers in refused:
        assert web_session.get(f"/cases/{case_id}/file", headers=headers).status_code == 404


def test_assist_reports_only_touch_their_assignment(dispatch, sinks, db_engine):
    envelope, (_, fire), (_, em) = _dispatch_case(sinks)
    case_id = envelope["payload"]["case_id"]
    send_report(sinks, report_envelope(em, "ack"))  # before the lead: case stays dispatched
    assert wait_until(lambda: _assignment_row(db_engine, em["assignment_id"])["state"]
                      == "acked")
    assert _case(db_engine, case_id)["state"] == "dispatched"
    send_report(sinks, report_envelope(em, "result", resolved=True))
    assert wait_until(lambda: _assignment_row(db_engine, em["assignment_id"])["state"]
                      == "reported")
    # lead not acked, and no ack on its way: refused once its first ORDER_ATTEMPTS
    # deliveries found no ack (the result is older than ORDER_GRACE)
    send_report(sinks, report_envelope(fire, "result", resolved=True, reported_at=_ago(60)))
    [(key, rejection)] = received(sinks, FIRE_SINK, timeout=30)
    assert (key, rejection["payload"]["code"]) == ("fire.rejections", "wrong_state")
    send_report(sinks, report_envelope(fire, "ack"))
    assert wait_until(lambda: _case(db_engine, case_id)["state"] == "in_progress")
    send_report(sinks, report_envelope(fire, "result", resolved=True))
    assert wait_until(lambda: _case(db_engine, case_id)["state"] == "resolved")


def test_an_assist_s_ack_overtaken_by_its_result_is_recorded_not_refused(dispatch, sinks,
                                                                        db_engine):
    """The bus may deliver an assist's result before its ack (two replicas, a redelivery):
    the result is applied (an assist needs no ack first) and the late ack then records the
    report-in time, without a rejection (the kill test of tests/compose saw it refused)."""
    envelope, (_, fire), (_, em) = _dispatch_case(sinks)
    send_report(sinks, report_envelope(em, "result", resolved=True))
    assert wait_until(lambda: _assignment_row(db_engine, em["assignment_id"])["state"]
                      == "reported")
    ack = report_envelope(em, "ack", reported_at=_ago(1))
    send_report(sinks, ack)
    assert wait_until(lambda: _assignment_row(db_engine, em["assignment_id"])["acked_at"])
    row = _assignment_row(db_engine, em["assignment_id"])
    assert row["state"] == "reported" and row["ack_on_time"] is True
    send_report(sinks, report_envelope(fire, "ack"))  # the lead: a rejection would be first
    assert wait_until(lambda: _case(db_engine, envelope["payload"]["case_id"])["state"]
                      == "in_progress")
    assert received(sinks, FIRE_SINK, expect=0, timeout=1) == []


def test_a_late_lead_result_waits_for_its_ack_held_elsewhere(dispatch, sinks, db_engine):
    """A result that reaches dispatch long after it was reported (a backlog), with its ack
    behind it, is applied after the ack, not refused (the rule itself, deterministically:
    tests/dispatch/test_reordering.py)."""
    envelope, (_, fire), _ = _dispatch_case(sinks)
    send_report(sinks, report_envelope(fire, "result", resolved=True, reported_at=_ago(120)))
    send_report(sinks, report_envelope(fire, "ack", reported_at=_ago(121)))
    assert wait_until(lambda: _assignment_row(db_engine, fire["assignment_id"])["state"]
                      == "reported", timeout=20)
    assert _case(db_engine, envelope["payload"]["case_id"])["state"] == "in_progress"
    assert received(sinks, FIRE_SINK, expect=0, timeout=1) == []


def test_assignment_nobody_listens_for_is_marked_unroutable(dispatch, sinks, db_engine):
    envelope = reported_envelope(work_category="livelihood_service",
                                 subcategory="low_income_allowance")
    publish(sinks, "gridgov.events", "events.case.reported", envelope)
    case_id = envelope["payload"]["case_id"]

    def unroutable():
        with db_engine.connect() as conn:
            return conn.execute(sa.select(assignments.c.department, assignments.c.unroutable)
                                .where(assignments.c.case_id == case_id)).all()
    assert wait_until(lambda: [tuple(r) for r in unroutable()] == [("civil_affairs", True)])


def _ago(seconds: float) -> str:
    moment = datetime.now(UTC) - timedelta(seconds=seconds)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def test_a_result_overtaking_its_ack_waits_for_it(dispatch, sinks, db_engine):
    """At-least-once delivery can reorder a department's ack and result (the ack was
    redelivered after a consumer died): a fresh result for an unacknowledged lead is retried
    until the ack is applied, then taken; nothing is refused."""
    envelope, (_, fire), (_, em) = _dispatch_case(sinks)
    case_id = envelope["payload"]["case_id"]
    send_report(sinks, report_envelope(em, "ack"))
    send_report(sinks, report_envelope(em, "result", resolved=True))
    send_report(sinks, report_envelope(fire, "result", resolved=True))  # before its ack
    assert wait_until(lambda: _assignment_row(db_engine, em["assignment_id"])["state"]
                      == "reported")
    send_report(sinks, report_envelope(fire, "ack", reported_at=_ago(1)))
    assert wait_until(lambda: _case(db_engine, case_id)["state"] == "resolved", timeout=20)
    assert received(sinks, FIRE_SINK, expect=1, timeout=1.0) == []  # no rejection

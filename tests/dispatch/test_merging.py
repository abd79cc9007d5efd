"""Confirmed duplicates merged into their original's flow (P5.3.1, P5.3.3; issue 11 M9) on
the real dispatch service, broker and database: ``events.case.duplicate_decided`` as the
events service publishes it, department reports as the departments send them, the return
visit over HTTP, the supervision timer running."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from gridgov_common.contract import load_sample
from gridgov_common.kernel.work_calendar import DEFAULT_TZ
from services.dispatch import kpis
from services.dispatch.models import assignments, cases
from services.dispatch.service import DispatchService
from tests.amqp import drain, publish, wait_until
from tests.dispatch.conftest import EM_SINK, FIRE_SINK, received, report_envelope, send_report
from tests.dispatch.test_actions import COMMUNITY_CASE, act, entries, file_case, people, row
from tests.dispatch.test_escalation import FAR_PAST, _rows

DLQ = "dispatch.duplicates.dlq"


@pytest.fixture
def merging_dispatch(container_factory, service_config, clean_db, sinks):
    """Dispatch with its supervision timer ticking fast, so a missed deadline would be
    escalated within a second."""
    container = container_factory(DispatchService, service_config(
        "dispatch", ESCALATION_POLL_SECONDS=0.2))
    container.start()
    return container


def _instant(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def decide(uri: str, duplicate: dict, original: dict, decision: str = "confirmed",
           decided_at: datetime | None = None, producer: str = "events") -> dict:
    """Publish a decision as the events service does; the envelope."""
    envelope = load_sample("events.case.duplicate_decided", 1)
    envelope.update(message_id=str(uuid.uuid4()), producer=producer)
    envelope["payload"].update(
        case_id=duplicate["case_id"], case_number=duplicate["case_number"],
        original_case_id=original["case_id"], original_case_number=original["case_number"],
        decision=decision, decided_at=_instant(decided_at or datetime.now(UTC)))
    publish(uri, "gridgov.events", "events.case.duplicate_decided", envelope)
    return envelope


def dispatched_case(uri: str, db_engine) -> tuple[dict, dict, dict]:
    """A fire-corridor case dispatched to fire (lead) and emergency management; (case row,
    fire's assignment, emergency management's assignment)."""
    case_id = file_case(uri, db_engine, "dispatched",
                        case_number=f"GS-{uuid.uuid4().hex[:12].upper()}")
    [(_, fire)] = received(uri, FIRE_SINK)
    [(_, em)] = received(uri, EM_SINK)
    return dict(row(db_engine, case_id)), fire["payload"], em["payload"]


def resolve(uri: str, db_engine, case_id: str, *orders: dict) -> None:
    for order in orders:
        send_report(uri, report_envelope(order, "ack"))
    assert wait_until(lambda: row(db_engine, case_id)["state"] == "in_progress")
    for order in orders:
        send_report(uri, report_envelope(order, "result", resolved=True))
    assert wait_until(lambda: row(db_engine, case_id)["state"] == "resolved")


def actions_of(db_engine, case_id: str) -> list[str]:
    return [entry["action"] for entry in entries(db_engine, case_id)]


def test_a_confirmed_duplicate_stops_its_clocks_and_closes_with_its_original(
        merging_dispatch, sinks, db_engine, web_session, token):
    who = people(token)
    original, fire, em = dispatched_case(sinks, db_engine)
    duplicate, dup_fire, _ = dispatched_case(sinks, db_engine)
    control, control_fire, _ = dispatched_case(sinks, db_engine)

    confirm = decide(sinks, duplicate, original)
    assert wait_until(lambda: row(db_engine, duplicate["case_id"])["state"] == "merged")
    merged = row(db_engine, duplicate["case_id"])
    assert merged["merged_into"] == original["case_id"]
    assert merged["merged_from_state"] == "dispatched"
    with db_engine.connect() as conn:  # P5.3.1: its own work orders are withdrawn
        states = set(conn.execute(sa.select(assignments.c.state).where(
            assignments.c.case_id == duplicate["case_id"])).scalars())
    assert states == {"withdrawn"}
    entry = entries(db_engine, duplicate["case_id"])[-1]
    assert (entry["action"], entry["from_state"], entry["to_state"]) == (
        "merged_into", "dispatched", "merged")
    assert entry["data"]["original_case_number"] == original["case_number"]
    assert entry["data"]["decided_by_sub"] == "staff-4711"  # who decided is on file
    assert actions_of(db_engine, original["case_id"])[-1] == "duplicate_merged"

    # P6.2: both deadlines are missed; only the case that is its own is escalated
    for case, order in ((duplicate, dup_fire), (control, control_fire)):
        with db_engine.begin() as conn:
            conn.execute(sa.update(assignments).where(
                assignments.c.assignment_id == order["assignment_id"]).values(
                ack_due_at=FAR_PAST, handle_due_at=FAR_PAST))
            conn.execute(sa.update(cases).where(cases.c.case_id == case["case_id"])
                         .values(updated_at=sa.func.clock_timestamp()))
    assert wait_until(lambda: _rows(db_engine, control["case_id"]))
    assert _rows(db_engine, duplicate["case_id"]) == []

    # the original is resolved by its departments and closed by the return visit: the
    # duplicate closes in the same transaction, with the original's result
    resolve(sinks, db_engine, original["case_id"], fire, em)
    act(web_session, who["worker"], original["case_id"], "return-visit", satisfied=True,
        satisfaction=5, method="visit")
    closed = row(db_engine, duplicate["case_id"])
    assert closed["state"] == "closed" and closed["closed_at"] is not None
    last = entries(db_engine, duplicate["case_id"])[-1]
    assert (last["action"], last["from_state"], last["to_state"]) == (
        "closed_with_original", "merged", "closed")
    assert last["data"]["original_satisfaction"] == 5
    assert _rows(db_engine, duplicate["case_id"]) == []  # never escalated
    verified = web_session.get(f"/cases/{duplicate['case_id']}/file",
                               headers=who["worker"]).json()
    assert verified["verification"]["valid"] is True

    # KPIs (docs/KPIS.md): the problem closed once; the duplicate is not due either
    today = datetime.now(ZoneInfo(DEFAULT_TZ)).date()  # the district's day, as local_period
    with db_engine.connect() as conn:
        [town] = kpis.kpis(conn, None, *kpis.local_period(today - timedelta(days=1), today),
                           "town")["rows"]
    assert (town["due"], town["closed"]) == (2, 1)  # the original closed, the control open

    # the same confirmation delivered again changes nothing; a later undo comes too late
    publish(sinks, "gridgov.events", "events.case.duplicate_decided", confirm)
    decide(sinks, duplicate, original, "undone")
    assert wait_until(lambda: actions_of(db_engine, duplicate["case_id"])[-1]
                      == "unmerge_skipped")
    assert actions_of(db_engine, duplicate["case_id"]).count("merged_into") == 1
    assert row(db_engine, duplicate["case_id"])["state"] == "closed"


def test_a_duplicate_of_a_closed_original_closes_at_once(
        merging_dispatch, sinks, db_engine, web_session, token):
    who = people(token)
    original_id = file_case(sinks, db_engine, "handling_local", **COMMUNITY_CASE)
    act(web_session, who["worker"], original_id, "local-result", note="已处理",
        resolved=True)
    act(web_session, who["worker"], original_id, "return-visit", satisfied=True,
        satisfaction=4, method="phone")
    original = dict(row(db_engine, original_id))
    duplicate, _, _ = dispatched_case(sinks, db_engine)

    decide(sinks, duplicate, original)
    assert wait_until(lambda: row(db_engine, duplicate["case_id"])["state"] == "closed")
    assert actions_of(db_engine, duplicate["case_id"])[-2:] == [
        "merged_into", "closed_with_original"]
    assert row(db_engine, duplicate["case_id"])["merged_into"] == original_id


def test_an_undone_merge_returns_the_duplicate_to_its_departments_with_new_deadlines(
        merging_dispatch, sinks, db_engine):
    original, _, _ = dispatched_case(sinks, db_engine)
    duplicate, dup_fire, _ = dispatched_case(sinks, db_engine)
    confirmed_at = datetime.now(UTC)
    decide(sinks, duplicate, original, decided_at=confirmed_at)
    assert wait_until(lambda: row(db_engine, duplicate["case_id"])["state"] == "merged")

    undone_at = datetime.now(UTC)
    decide(sinks, duplicate, original, "undone", decided_at=undone_at)
    assert wait_until(lambda: row(db_engine, duplicate["case_id"])["state"] == "dispatched")
    back = row(db_engine, duplicate["case_id"])
    assert back["merged_into"] is None and back["merged_from_state"] is None
    # the departments the merge withdrew get new work orders, timed from the undo
    [(_, again)] = received(sinks, FIRE_SINK)
    [(_, _em_again)] = received(sinks, EM_SINK)
    assert again["payload"]["case_id"] == duplicate["case_id"]
    assert again["payload"]["assignment_id"] != dup_fire["assignment_id"]
    assert again["payload"]["handle_due_at"] >= dup_fire["handle_due_at"]
    with db_engine.connect() as conn:  # counted from the undo, not from the first dispatch
        sent_at = conn.execute(sa.select(assignments.c.sent_at).where(
            assignments.c.assignment_id == again["payload"]["assignment_id"])).scalar_one()
    assert sent_at >= undone_at
    assert actions_of(db_engine, duplicate["case_id"])[-1] == "merge_undone"
    assert actions_of(db_engine, original["case_id"])[-2:] == [
        "duplicate_merged", "duplicate_unmerged"]

    # a confirmation made before the undo but delivered after it changes nothing
    decide(sinks, duplicate, original, decided_at=confirmed_at - timedelta(seconds=1))
    marker, _, _ = dispatched_case(sinks, db_engine)  # the bus moved on past it
    assert marker and row(db_engine, duplicate["case_id"])["state"] == "dispatched"


def test_a_malformed_or_foreign_decision_is_dead_lettered_with_its_reason(
        merging_dispatch, sinks, db_engine):
    original, _, _ = dispatched_case(sinks, db_engine)
    duplicate, _, _ = dispatched_case(sinks, db_engine)
    foreign = decide(sinks, duplicate, original, producer="dispatch")
    unknown = decide(sinks, {"case_id": str(uuid.uuid4()), "case_number": "GS20261128-009999"},
                     original, decided_at=datetime.now(UTC) - timedelta(minutes=5))
    own = load_sample("events.case.duplicate_decided", 1)
    own["payload"]["original_case_id"] = own["payload"]["case_id"]  # its own duplicate
    publish(sinks, "gridgov.events", "events.case.duplicate_decided", own)
    dead = {json.loads(body)["message_id"]: props.headers  # bodies unchanged
            for _, props, body in drain(sinks, DLQ, expect=3)}
    assert dead[foreign["message_id"]]["x-gridgov-error-code"] == "unexpected_producer"
    assert dead[unknown["message_id"]]["x-gridgov-error-code"] == "unknown_case"
    assert dead[own["message_id"]]["x-gridgov-error-code"] == "invalid_payload"
    assert "original_case_id" in json.loads(dead[own["message_id"]]["x-gridgov-error-fields"])
    assert row(db_engine, duplicate["case_id"])["state"] == "dispatched"

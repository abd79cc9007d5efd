"""The supervision timer (P6.2 督办, P2.2, P5.3.3) on a real broker and database: missed
deadlines raise ``dispatch.escalation`` up the ladder with cards, repeat while nobody reports
in, stop when the department acks, reach the district admin when no department queue is
bound, and are raised exactly once across restarts and concurrent replicas.

Deadlines are moved into the past in the database after dispatch, bumping the case's
``updated_at`` as every writer that changes a case does (escalating.py's contract)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from services.dispatch.models import (
    assignments,
    case_file,
    cases,
    delay_requests,
    escalations,
)
from services.dispatch.service import DispatchService
from tests.amqp import bind_queue, publish, wait_until
from tests.dispatch.conftest import (
    DISTRICT,
    EM_SINK,
    FIRE_SINK,
    received,
    report_envelope,
    reported_envelope,
    send_report,
)

ESC_SINK = "escalation-sink"
COMMUNITY = "community:320505001001"
LADDER = ["community_grid_chief", "grid_instructor", "town_grid_chief"]
FAR_PAST = sa.text("now() - interval '30 days'")
JUST_PAST = sa.text("now() - interval '1 minute'")


@pytest.fixture
def esc_sink(sinks):
    bind_queue(sinks, ESC_SINK, "gridgov.events", ["dispatch.escalation"])
    return sinks


@pytest.fixture
def fast_config(service_config):
    return service_config("dispatch", ESCALATION_POLL_SECONDS=0.2)


@pytest.fixture
def timer_dispatch(container_factory, fast_config, clean_db, esc_sink):
    container = container_factory(DispatchService, fast_config)
    container.start()
    return container


def _report(uri: str, **changes) -> dict:
    number = f"GS-{uuid.uuid4().hex[:12].upper()}"
    envelope = reported_envelope(case_number=number, **changes)
    publish(uri, "gridgov.events", "events.case.reported", envelope)
    return envelope


def _dispatch_case(uri: str) -> tuple[str, dict, dict]:
    envelope = _report(uri)
    [(_, fire)] = received(uri, FIRE_SINK)
    [(_, em)] = received(uri, EM_SINK)
    return envelope["payload"]["case_id"], fire["payload"], em["payload"]


def _move_due(db_engine, case_id: str, assignment_id: str | None = None, **due) -> None:
    """Move deadlines (of an assignment, or of the case) and mark the case changed."""
    with db_engine.begin() as conn:
        if assignment_id is not None:
            conn.execute(sa.update(assignments)
                         .where(assignments.c.assignment_id == assignment_id).values(**due))
        elif due:
            conn.execute(sa.update(cases).where(cases.c.case_id == case_id).values(**due))
        conn.execute(sa.update(cases).where(cases.c.case_id == case_id)
                     .values(updated_at=sa.func.clock_timestamp()))


def _examined(db_engine, case_id: str) -> bool:
    """The timer has looked at the case since its last change."""
    with db_engine.connect() as conn:
        row = conn.execute(sa.select(cases.c.updated_at, cases.c.escalation_basis_at)
                           .where(cases.c.case_id == case_id)).first()
    return row.escalation_basis_at == row.updated_at


def _rows(db_engine, case_id: str | None = None) -> list[dict]:
    query = sa.select(escalations).order_by(escalations.c.kind, escalations.c.level)
    if case_id is not None:
        query = query.where(escalations.c.case_id == case_id)
    with db_engine.connect() as conn:
        return [dict(r) for r in conn.execute(query).mappings()]


def _file(db_engine, case_id: str) -> list[dict]:
    with db_engine.connect() as conn:
        return [row.entry for row in conn.execute(
            sa.select(case_file.c.entry).where(case_file.c.case_id == case_id)
            .order_by(case_file.c.seq))]


def _escalations(uri: str, expect: int, timeout: float = 10.0) -> list[dict]:
    got = received(uri, ESC_SINK, expect=expect, timeout=timeout)
    assert all(key == "dispatch.escalation" for key, _ in got)
    return [body["payload"] for _, body in got]


def _levels(messages: list[dict]) -> list[tuple]:
    return [(m["kind"], m["level"], m["target_role"], m["card"]) for m in messages]


def test_ack_timeout_tells_the_community_grid_chief(timer_dispatch, esc_sink, db_engine):
    case_id, fire, _ = _dispatch_case(esc_sink)
    _move_due(db_engine, case_id, fire["assignment_id"], ack_due_at=JUST_PAST)
    [message] = _escalations(esc_sink, expect=1)
    assert _levels([message]) == [("ack_timeout", 1, "community_grid_chief", "ordinary")]
    assert message["case_id"] == case_id and message["department"] == "fire"
    assert message["assignment_id"] == fire["assignment_id"]
    assert message["target_scope"] == COMMUNITY
    assert "fire" in message["reason"]
    [entry] = [e for e in _file(db_engine, case_id) if e["action"] == "escalation"]
    assert entry["data"]["kind"] == "ack_timeout" and entry["data"]["level"] == 1
    assert entry["data"]["target_role"] == "community_grid_chief"
    assert entry["data"]["target_scope"] == COMMUNITY
    assert entry["deadline"] is not None and entry["reason"] == message["reason"]
    [note] = entry["notifications"]
    assert note["routing_key"] == "dispatch.escalation" and note["message_id"]
    assert [(r["kind"], r["level"]) for r in _rows(db_engine, case_id)] == [("ack_timeout", 1)]
    assert _escalations(esc_sink, expect=1, timeout=1.0) == []  # level 2 is not due yet


def test_overdue_long_ago_climbs_the_whole_ladder(timer_dispatch, esc_sink, db_engine):
    case_id, fire, _ = _dispatch_case(esc_sink)
    send_report(esc_sink, report_envelope(fire, "ack"))
    assert wait_until(lambda: _examined(db_engine, case_id) and _case_state(db_engine, case_id)
                      == "in_progress")
    _move_due(db_engine, case_id, fire["assignment_id"], handle_due_at=FAR_PAST)
    messages = _escalations(esc_sink, expect=3)
    assert _levels(messages) == [("overdue", 1, LADDER[0], "ordinary"),
                                 ("overdue", 2, LADDER[1], "yellow"),
                                 ("overdue", 3, LADDER[2], "red")]
    assert [m["target_scope"] for m in messages] == [COMMUNITY, COMMUNITY, "town:320505001"]
    assert _escalations(esc_sink, expect=1, timeout=1.0) == []  # overdue does not repeat
    entries = [e for e in _file(db_engine, case_id) if e["action"] == "escalation"]
    assert [(e["data"]["level"], e["data"]["card"]) for e in entries] == [
        (1, "ordinary"), (2, "yellow"), (3, "red")]


def test_an_approved_delay_rearms_the_overdue_ladder(timer_dispatch, esc_sink, db_engine,
                                                     web_session, token):
    """P5.3.3/P6.2: after an approved delay the cards raised against the old due time stay
    in the file, and a department late again is supervised anew from level 1."""
    case_id, fire, _ = _dispatch_case(esc_sink)
    send_report(esc_sink, report_envelope(fire, "ack"))
    assert wait_until(lambda: _examined(db_engine, case_id) and _case_state(db_engine, case_id)
                      == "in_progress")
    _move_due(db_engine, case_id, fire["assignment_id"], handle_due_at=FAR_PAST)
    assert len(_escalations(esc_sink, expect=3)) == 3  # the ladder is exhausted
    wanted = datetime.now(UTC) - timedelta(seconds=30)  # granted, and missed again already
    send_report(esc_sink, report_envelope(
        fire, "delay_request", reason="需协调物业清运，申请延期",
        requested_due_at=wanted.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"))
    assert wait_until(lambda: _delay_request(db_engine, fire["assignment_id"]))
    chief = token("town_grid_chief", "town:320505001", sub="chief-1")
    request_id = _delay_request(db_engine, fire["assignment_id"])
    decided = web_session.post(f"/delay-requests/{request_id}/decision",
                               json={"approve": True, "note": "同意"}, headers=chief)
    assert decided.status_code == 200, decided.text
    [again] = _escalations(esc_sink, expect=1)
    assert _levels([again]) == [("overdue", 1, LADDER[0], "ordinary")]
    rows = [(r["kind"], r["level"]) for r in _rows(db_engine, case_id)]
    assert sorted(rows) == [("overdue", 1), ("overdue", 1), ("overdue", 2), ("overdue", 3)]


def _delay_request(db_engine, assignment_id: str) -> str | None:
    with db_engine.connect() as conn:
        return conn.execute(sa.select(delay_requests.c.request_id).where(
            delay_requests.c.assignment_id == assignment_id)).scalar()


def test_ack_timeout_repeats_while_nobody_reports_in(timer_dispatch, esc_sink, db_engine):
    case_id, fire, _ = _dispatch_case(esc_sink)
    _move_due(db_engine, case_id, fire["assignment_id"], ack_due_at=JUST_PAST)
    assert [m["level"] for m in _escalations(esc_sink, expect=1)] == [1]
    _move_due(db_engine, case_id, fire["assignment_id"], ack_due_at=FAR_PAST)  # time passes
    messages = _escalations(esc_sink, expect=5)
    assert _levels(messages) == [("ack_timeout", 2, LADDER[1], "yellow"),
                                 ("ack_timeout", 3, LADDER[2], "red"),
                                 ("ack_timeout", 4, LADDER[2], "red"),
                                 ("ack_timeout", 5, LADDER[2], "red"),
                                 ("ack_timeout", 6, LADDER[2], "red")]
    assert _escalations(esc_sink, expect=1, timeout=1.0) == []  # max_repeats reached
    assert [r["level"] for r in _rows(db_engine, case_id)] == [1, 2, 3, 4, 5, 6]


def test_ack_before_the_deadline_raises_nothing(timer_dispatch, esc_sink, db_engine):
    case_id, fire, em = _dispatch_case(esc_sink)
    send_report(esc_sink, report_envelope(fire, "ack"))
    send_report(esc_sink, report_envelope(em, "ack"))
    assert wait_until(lambda: _acked(db_engine, case_id) == 2)
    _move_due(db_engine, case_id, fire["assignment_id"], ack_due_at=FAR_PAST)
    assert wait_until(lambda: _examined(db_engine, case_id))
    assert _escalations(esc_sink, expect=1, timeout=1.0) == []
    assert _rows(db_engine, case_id) == []


def test_unroutable_assignment_goes_to_the_district_admin(timer_dispatch, esc_sink,
                                                          db_engine):
    # civil affairs has no queue bound in these tests: the assignment comes back
    envelope = _report(esc_sink, work_category="livelihood_service",
                       subcategory="low_income_allowance")
    case_id = envelope["payload"]["case_id"]
    [message] = _escalations(esc_sink, expect=1)
    assert (message["kind"], message["level"], message["card"]) == ("unroutable", 1, None)
    assert (message["target_role"], message["target_scope"]) == (
        "district_admin", f"district:{DISTRICT}")
    with db_engine.connect() as conn:
        key = conn.execute(sa.select(assignments.c.routing_key).where(
            assignments.c.assignment_id == message["assignment_id"])).scalar_one()
    assert key in message["reason"]
    assert [e["data"]["kind"] for e in _file(db_engine, case_id)
            if e["action"] == "escalation"] == ["unroutable"]
    assert _escalations(esc_sink, expect=1, timeout=1.0) == []


def test_restart_and_two_replicas_raise_each_escalation_once(
        container_factory, fast_config, clean_db, esc_sink, db_engine, timer_dispatch):
    first_case, fire, _ = _dispatch_case(esc_sink)
    _move_due(db_engine, first_case, fire["assignment_id"], ack_due_at=FAR_PAST)
    assert len(_escalations(esc_sink, expect=6)) == 6
    timer_dispatch.stop()

    replicas = [container_factory(DispatchService, {**fast_config,
                                                    "WEB_SERVER_ADDRESS": "127.0.0.1:0"})
                for _ in range(2)]
    for replica in replicas:
        replica.start()
    _move_due(db_engine, first_case)  # look again: nothing new may be sent
    case_ids = [first_case]
    for _ in range(3):
        case_id, fire, _ = _dispatch_case(esc_sink)
        _move_due(db_engine, case_id, fire["assignment_id"], ack_due_at=FAR_PAST)
        case_ids.append(case_id)
    messages = _escalations(esc_sink, expect=19, timeout=15.0)
    assert len(messages) == 18
    keys = [(m["case_id"], m["kind"], m["level"]) for m in messages]
    assert len(set(keys)) == 18 and first_case not in {k[0] for k in keys}
    assert len(_rows(db_engine)) == 24
    for case_id in case_ids:
        entries = [e for e in _file(db_engine, case_id) if e["action"] == "escalation"]
        assert len(entries) == 6


def test_local_handling_past_its_deadline_escalates(timer_dispatch, esc_sink, db_engine):
    envelope = _report(esc_sink, work_category="other", subcategory="misc")
    case_id = envelope["payload"]["case_id"]
    assert wait_until(lambda: _case_state(db_engine, case_id) == "handling_local")
    _move_due(db_engine, case_id, handle_due_at=JUST_PAST)
    [message] = _escalations(esc_sink, expect=1)
    assert _levels([message]) == [("overdue", 1, "community_grid_chief", "ordinary")]
    assert message["assignment_id"] is None and message["department"] is None
    assert [(r["kind"], r["assignment_id"]) for r in _rows(db_engine, case_id)] == [
        ("overdue", None)]


def _case_state(db_engine, case_id: str) -> str | None:
    with db_engine.connect() as conn:
        return conn.execute(sa.select(cases.c.state)
                            .where(cases.c.case_id == case_id)).scalar()


def _acked(db_engine, case_id: str) -> int:
    with db_engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(assignments).where(
            assignments.c.case_id == case_id, assignments.c.state == "acked")).scalar_one()


def test_departments_are_reminded_at_half_and_four_fifths_of_their_time(
        timer_dispatch, esc_sink, db_engine):
    """P5.3.3: before the ladder starts at the due time, the department handling the case is
    reminded at 50 % and 80 % of its working time, once each."""
    bind_queue(esc_sink, "notify-sink", "gridgov.events", ["notify.request"])
    case_id, fire, _ = _dispatch_case(esc_sink)
    _move_due(db_engine, case_id, fire["assignment_id"],
              sent_at=sa.text("now() - interval '60 days'"),
              handle_due_at=sa.text("now() + interval '5 days'"))
    # besides the two reminders, the two assignment notices (P2.2) of the dispatch itself
    got = received(esc_sink, "notify-sink", expect=4)
    assert sorted(body["payload"]["kind"] for _, body in got) == [
        "assignment", "assignment", "deadline_reminder", "deadline_reminder"]
    payloads = sorted((body["payload"] for _, body in got
                       if body["payload"]["kind"] == "deadline_reminder"),
                      key=lambda p: p["params"]["percent"])
    assert [p["params"]["percent"] for p in payloads] == [50, 80]
    assert {p["kind"] for p in payloads} == {"deadline_reminder"}
    assert payloads[0]["recipients"] == [{"role": "department_officer",
                                          "scope": "department:fire"}]
    assert payloads[0]["case_id"] == case_id
    _move_due(db_engine, case_id)  # the timer looks again: nothing new
    assert wait_until(lambda: _examined(db_engine, case_id))
    assert received(esc_sink, "notify-sink", expect=1, timeout=1.0) == []
    assert _rows(db_engine, case_id) == []  # not overdue: no supervision card

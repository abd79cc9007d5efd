"""Following a batch of dispatch's messages in a fixed number of statements
(``following.apply_many``, issue 16) gives what applying them one after the other gives:
the same answers, the same case rows, the same follow-up alerts in the same order, and
the statements do not grow with the batch. On the real PostgreSQL: each way runs in a
transaction that is rolled back, so both start from the same stored cases."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from gridgov_common.contract import make_envelope, parse_envelope
from gridgov_common.contract.envelope import encode
from gridgov_common.platform.messaging import PermanentError
from gridgov_common.platform.outbox import PENDING_KEY
from services.events import following
from services.events.domain.numbers import now_utc
from tests.events.test_batch_filing import report, stored


@pytest.fixture
def session(db_engine, clean_db):
    with Session(db_engine, info={"db_schema": "events"}) as db:
        yield db
        db.rollback()


FOLLOWED = ("dispatch_state", "dispatch_state_at", "departments", "status", "status_notes",
            "updated_at", "expected_at", "alert_msg_type", "photos")


def change(case: dict, from_state: str | None, to_state: str, at, *, due=None,
           producer: str = "dispatch"):
    payload = {"case_id": case["case_id"], "case_number": case["case_number"],
               "from_state": from_state, "to_state": to_state, "at": at,
               "actor_role": "system", "grid_code": case["grid_code"],
               "town_code": case["town_code"], "departments": ["fire"], "on_time": True,
               "due_at": due}
    return parse_envelope(encode(make_envelope("dispatch.case.changed", payload, producer)))


def photos(case: dict, *shas: str):
    return parse_envelope(encode(make_envelope("dispatch.case.photos_attached", {
        "case_id": case["case_id"], "case_number": case["case_number"],
        "department": "fire", "photos": list(shas), "at": now_utc()}, "dispatch")))


def filed_cases(session: Session) -> list[dict]:
    minor = report(1)
    major = dataclasses.replace(report(2, north_m=500), severity="critical")  # P5.2.7
    stored(session, [minor, major])
    rows = session.execute(sa.text(
        "SELECT case_id::text, case_number, grid_code, town_code FROM events.cases "
        "ORDER BY case_number")).mappings().all()
    return [dict(row) for row in rows]


def state(session: Session, outcomes: list[str]) -> tuple:
    rows = session.execute(sa.text(
        f"SELECT case_number, {', '.join(FOLLOWED)}, alert_sent_at IS NOT NULL "
        "FROM events.cases ORDER BY case_number")).all()
    alerts = [(row["body"]["type"], row["body"]["payload"]["case_number"],
               row["body"]["payload"]["msg_type"])
              for rows in session.info.get(PENDING_KEY, {}).values() for row in rows]
    return outcomes, [tuple(row) for row in rows], alerts


def both_ways(session: Session, messages: list) -> tuple[tuple, tuple]:
    one_by_one = [following.apply(session, message) for message in messages]
    sequential = state(session, one_by_one)
    session.rollback()
    batched = state(session, following.apply_many(session, messages))
    session.rollback()
    return sequential, batched


def test_a_batch_gives_what_one_after_the_other_gives(session):
    minor, major = filed_cases(session)
    t0 = now_utc()
    due = t0 + timedelta(days=3)
    later = t0 + timedelta(minutes=5)
    messages = [
        change(major, "filed", "dispatched", t0, due=due),  # before its own "filed"
        change(minor, None, "filed", t0),
        change(major, None, "filed", t0),
        change(minor, "filed", "dispatched", t0, due=due),
        photos(minor, "a" * 64),
        change(major, "dispatched", "in_progress", later, due=due),
        photos(minor, "a" * 64, "b" * 64),  # one new, one already there
        change(minor, "filed", "dispatched", t0, due=due),  # stale: already applied
        change(major, "in_progress", "closed", later + timedelta(minutes=1)),
        change(major, "dispatched", "in_progress", later, due=due),  # older than closed
    ]
    sequential, batched = both_ways(session, messages)
    assert batched == sequential
    outcomes, rows, alerts = batched
    # the major case's "filed" comes after its "dispatched" of the same instant: stale
    assert outcomes == ["applied", "applied", "stale", "applied", "applied", "applied",
                        "applied", "stale", "applied", "stale"]
    assert [row[1] for row in rows] == ["dispatched", "closed"]
    assert rows[0][-2] == ["a" * 64, "b" * 64]
    assert [a[2] for a in alerts] == ["update", "update", "cancel"]  # dispatched, in progress


def test_statements_do_not_grow_with_the_batch(session):
    minor, major = filed_cases(session)
    t0 = now_utc()
    counted: list[str] = []

    def count(conn, cursor, statement, *args) -> None:
        counted.append(statement)

    sa.event.listen(session.get_bind(), "before_cursor_execute", count)
    try:
        following.apply_many(session, [change(minor, None, "filed", t0)])
        one = len(counted)
        session.rollback()
        counted.clear()
        following.apply_many(session, [
            change(minor, None, "filed", t0 + timedelta(seconds=i))
            for i in range(20)] + [change(major, None, "filed", t0)])
        assert len(counted) == one == 2  # the locking SELECT, the UPDATE
    finally:
        sa.event.remove(session.get_bind(), "before_cursor_execute", count)


def test_a_case_not_filed_or_another_producer_fails_the_batch(session):
    minor, _ = filed_cases(session)
    unknown = {**minor, "case_id": str(uuid.uuid4())}
    with pytest.raises(following.CaseNotFiledYet):
        following.apply_many(session, [change(minor, None, "filed", now_utc()),
                                       change(unknown, None, "filed", now_utc())])
    session.rollback()
    with pytest.raises(PermanentError, match="come from dispatch"):
        following.apply_many(session, [change(minor, None, "filed", now_utc(),
                                              producer="events")])

"""Filing a batch of reported cases in a fixed number of statements
(``filing.file_reported_many`` → ``case_store.file_many``, issue 16) writes what filing them
one after the other writes: the same case rows, assignments, case-file entries (valid
chains) and outgoing messages in the same order. On the real PostgreSQL: each way runs in
a transaction that is rolled back, so both start from the same stored state."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from gridgov_common.contract import load_sample, parse_envelope
from gridgov_common.platform.outbox import PENDING_KEY
from services.dispatch import case_store, casefile_store, filing, notifications
from tests.dispatch.conftest import reported_envelope

NOW = datetime(2026, 12, 7, 2, 30, tzinfo=UTC)  # a Monday, 10:30 in the district


def batch() -> list:
    """Dispatched, closed on the spot, handled locally, a case twice, a major event."""
    made = [
        reported_envelope(case_number="GS20261207-000001"),
        reported_envelope(case_number="GS20261207-000002", handled_on_spot=True),
        reported_envelope(case_number="GS20261207-000003", work_category="livelihood_service",
                          subcategory="elderly_care_application", info_class="social_affairs"),
        reported_envelope(case_number="GS20261207-000004", severity="major"),
    ]
    again = dict(made[0], message_id=str(uuid.uuid4()))  # the same case, another message
    return [parse_envelope(envelope) for envelope in [*made, again]]


def waiting_notice(case_id: str):
    """A notify.sent about the case that arrives before the case is filed (it waits)."""
    envelope = load_sample("notify.sent", 1)
    envelope["message_id"] = str(uuid.uuid4())
    envelope["payload"].update({"case_id": case_id, "kind": "major_event"})
    return parse_envelope(envelope)


def snapshot(session: Session, returned: list) -> dict:
    """What a filing wrote, with the random ids (assignments, messages) replaced by names."""
    names: dict[str, str] = {}
    rows = session.execute(sa.text(
        "SELECT a.assignment_id::text, c.case_number, a.department FROM dispatch.assignments a "
        "JOIN dispatch.cases c USING (case_id)")).all()
    for assignment_id, number, department in rows:
        names[assignment_id] = f"{number}/{department}"

    def plain(value):
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items() if k != "message_id"}
        if isinstance(value, list):
            return [plain(v) for v in value]
        if isinstance(value, str):
            for assignment_id, name in names.items():  # also inside a cause_id
                value = value.replace(assignment_id, name)
        return value

    cases = session.execute(sa.text(
        "SELECT * FROM dispatch.cases ORDER BY case_number")).mappings().all()
    assignments = session.execute(sa.text(
        "SELECT * FROM dispatch.assignments ORDER BY case_id, department")).mappings().all()
    files = {}
    for case in cases:
        found = casefile_store.verified(session, str(case["case_id"]))
        assert found["verification"]["valid"] is True
        files[case["case_number"]] = [plain(entry) for entry in found["entries"]]
    outbox = [(row["exchange"], row["routing_key"], plain(row["body"]["payload"]))
              for rows in session.info.get(PENDING_KEY, {}).values() for row in rows]
    return {
        "returned": [None if case is None else plain(dict(case)) for case in returned],
        "cases": [dict(case) for case in cases],
        "assignments": [plain({k: str(v) if k == "assignment_id" else v
                               for k, v in row.items()}) for row in assignments],
        "files": {number: [{k: v for k, v in entry.items() if k not in ("hash", "prev_hash")}
                           for entry in entries] for number, entries in files.items()},
        "outbox": outbox,
        "waiting": session.execute(sa.text(
            "SELECT count(*) FROM dispatch.waiting_file_entries")).scalar(),
    }


def test_a_batch_is_filed_as_its_cases_one_after_the_other(db_engine, clean_db):
    envelopes = batch()
    known = parse_envelope(reported_envelope(case_number="GS20261207-000009"))
    with Session(db_engine, info={"db_schema": "dispatch"}) as session:
        filing.file_reported(session, known, now=NOW)  # filed before the batch comes
        notifications.record_sent(session, waiting_notice(envelopes[3].payload["case_id"]))
        session.commit()
        envelopes.append(known)
        ids = [e.payload["case_id"] for e in envelopes]

        case_store.lock_files(session, ids)
        one_by_one = snapshot(session, [filing.file_reported(session, e, now=NOW)
                                        for e in envelopes])
        session.rollback()
        case_store.lock_files(session, ids)
        together = snapshot(session, filing.file_reported_many(session, envelopes, now=NOW))
        session.rollback()

    assert together == one_by_one
    states = [None if case is None else case["state"] for case in together["returned"]]
    assert states == ["dispatched", "closed", "handling_local", "dispatched", None, None]
    assert together["waiting"] == 0  # the notice that waited is in its case's file
    major = together["files"]["GS20261207-000004"]
    assert [entry["action"] for entry in major][:2] == ["filed", "notification_sent"]


def test_a_batch_takes_a_fixed_number_of_statements(db_engine, clean_db):
    envelopes = [parse_envelope(reported_envelope(case_number=f"GS20261207-{n:06d}"))
                 for n in range(1, 51)]
    statements = []

    def count(*args):
        statements.append(args[2])

    with Session(db_engine, info={"db_schema": "dispatch"}) as session:
        filing.file_reported_many(session, envelopes[:2], now=NOW)  # configuration cached
        session.rollback()
        sa.event.listen(db_engine, "before_cursor_execute", count)
        try:
            filed = filing.file_reported_many(session, envelopes, now=NOW)
        finally:
            sa.event.remove(db_engine, "before_cursor_execute", count)
        session.rollback()
    assert all(case["state"] == "dispatched" for case in filed)
    # catalogue defaults (one subcategory), cases, waiting entries, assignments, case files
    assert len(statements) == 5, statements

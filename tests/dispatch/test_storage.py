"""Dispatch's storage under concurrency: the packaged defaults are stored as version 1 in a
transaction of their own (an open or dead case transaction must not hide or lock the seed);
a killed container's open transactions roll back at once; case-file appends of one
transaction chain on the head read once, and concurrent appends to one case wait for each
other instead of colliding."""

from __future__ import annotations

import threading
import time
import uuid
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from gridgov_common.contract import load_sample, parse_envelope
from gridgov_common.platform.db import Database
from services.dispatch import case_store, casefile_store, config_store, filing, notifications
from services.dispatch.models import rule_sets
from tests.dispatch.conftest import reported_envelope


def test_seed_is_visible_to_others_while_the_seeding_transaction_is_open(db_engine, db_url,
                                                                           clean_db):
    # the other worker gives up on a lock after 5 s instead of hanging the suite
    impatient = sa.create_engine(db_url, connect_args={"options": "-c lock_timeout=5s"})
    first = Session(bind=db_engine)
    try:
        assert config_store.rule_set(first).version == 1  # seeds, first stays open
        config_store.forget()  # another process: nothing cached
        with Session(bind=impatient) as second:
            assert config_store.rule_set(second).version == 1
        first.rollback()  # the case that seeded fails: the seed stays
        with db_engine.connect() as conn:
            assert conn.execute(sa.select(sa.func.count()).select_from(rule_sets)).scalar() == 1
    finally:
        first.close()
        impatient.dispose()


class _Container:
    config: dict


def _provider_and_session(db_url: str):
    """A Database provider set up outside nameko, and one worker's session."""
    provider = Database(pool_size=2)
    provider.container = _Container()
    provider.container.config = {"DB_URL": db_url, "DB_SCHEMA": "dispatch"}
    provider.setup()
    worker_ctx = object.__new__(type("WorkerCtx", (), {}))
    return provider, worker_ctx, provider.get_dependency(worker_ctx)


def test_killed_database_provider_drops_its_workers_connections(db_engine, db_url, clean_db):
    """A worker killed mid-transaction never reaches worker_teardown; its row lock must
    not outlive the kill, or another replica redoing the work waits on it forever."""
    provider, worker_ctx, session = _provider_and_session(db_url)
    session.execute(sa.insert(rule_sets).values(version=7, rules={}, created_by="test"))
    provider.kill()
    with db_engine.connect() as conn:  # would block on the uncommitted version 7
        conn.execute(sa.text("SET lock_timeout = '5s'"))
        inserted = conn.execute(
            sa.insert(rule_sets).values(version=7, rules={}, created_by="other replica")
            .returning(rule_sets.c.created_by)).scalar()
        conn.rollback()
    assert inserted == "other replica"


def test_case_file_appends_chain_within_and_across_transactions(db_engine, clean_db):
    """Later appends of a transaction reuse the head read by the first (no second query);
    the chain stays whole, and the next transaction reads the head from the table."""
    case_id = "5d1c7a58-8f0e-4c1b-9a3e-2b6f0d4e9a11"
    with Session(bind=db_engine) as session:
        for action in ("filed", "dispatch", "note"):
            casefile_store.append(session, case_id, action=action, actor_sub="system",
                                  actor_role="system")
        session.commit()
        casefile_store.append(session, case_id, action="note", actor_sub="system",
                              actor_role="system")
        session.rollback()  # this entry never existed: the next one takes its place
        casefile_store.append(session, case_id, action="acknowledged", actor_sub="fire",
                              actor_role="department_officer")
        session.commit()
        found = casefile_store.verified(session, case_id)
    assert [e["seq"] for e in found["entries"]] == [1, 2, 3, 4]
    assert found["entries"][-1]["action"] == "acknowledged"
    assert found["verification"] == {"valid": True, "broken_at": None, "count": 4}


def test_a_worker_whose_connection_the_database_dropped_does_not_kill_its_container(
        db_engine, db_url, clean_db):
    """After a database restart even ROLLBACK fails; worker_result and worker_teardown must
    not raise (in nameko that would kill the container, as a fault-injection run showed)."""
    provider, worker_ctx, session = _provider_and_session(db_url)
    pid = session.execute(sa.text("SELECT pg_backend_pid()")).scalar()
    with db_engine.connect() as conn:  # the administrator's shutdown, for this one session
        conn.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    failure = RuntimeError("the worker failed")
    provider.worker_result(worker_ctx, None, (RuntimeError, failure, None))
    provider.worker_teardown(worker_ctx)
    provider.stop()
    with db_engine.connect() as conn:  # and the database is fine for everyone else
        assert conn.execute(sa.text("SELECT 1")).scalar() == 1


def _wait_until_blocked(db_engine, application_name: str, count: int = 1) -> None:
    """Until ``count`` backends named ``application_name`` wait on a lock (a condition, not
    a sleep)."""
    deadline = time.monotonic() + 10
    query = sa.text("SELECT count(*) FROM pg_stat_activity WHERE application_name = :n "
                    "AND wait_event_type = 'Lock'")
    while time.monotonic() < deadline:
        with db_engine.connect() as conn:
            if conn.execute(query, {"n": application_name}).scalar() >= count:
                return
        time.sleep(0.02)
    raise AssertionError(f"{count} x {application_name} never waited for the first writer's "
                         "lock")


@pytest.mark.parametrize("existing_entries", [0, 2])
def test_concurrent_appends_to_one_case_file_never_collide(db_engine, db_url, clean_db,
                                                           existing_entries):
    """Issue 17 (soak): two writers appending to the same case at once both land, the second
    after the first, with consecutive seq numbers and one unbroken chain. Formerly the second
    writer re-read the *old* last entry after its row lock was granted (or, for a new file,
    locked nothing) and died on the unique (case_id, seq) key: 444 times in a 40-minute soak."""
    case_id = str(uuid.uuid4())
    with Session(bind=db_engine) as session:
        for _ in range(existing_entries):
            casefile_store.append(session, case_id, action="note", actor_sub="system",
                                  actor_role="system")
        session.commit()
    second = sa.create_engine(db_url, connect_args={"application_name": "second-writer"})
    errors: list[BaseException] = []

    def second_writer() -> None:
        try:
            with Session(bind=second) as session:
                casefile_store.append(session, case_id, action="acknowledged",
                                      actor_sub="fire", actor_role="department_officer")
                session.commit()
        except BaseException as exc:  # reported to the test below
            errors.append(exc)

    try:
        with Session(bind=db_engine) as first:
            casefile_store.append(first, case_id, action="dispatch", actor_sub="system",
                                  actor_role="system")
            thread = threading.Thread(target=second_writer)
            thread.start()
            _wait_until_blocked(db_engine, "second-writer")
            first.commit()
        thread.join(timeout=10)
    finally:
        second.dispose()
    assert not thread.is_alive()
    assert errors == []
    with Session(bind=db_engine) as session:
        found = casefile_store.verified(session, case_id)
    assert [e["seq"] for e in found["entries"]] == list(range(1, existing_entries + 3))
    assert [e["action"] for e in found["entries"]][-2:] == ["dispatch", "acknowledged"]
    assert found["verification"]["valid"] is True


WRITERS, TRANSACTIONS, ENTRIES = 8, 5, 3


def test_many_concurrent_transactions_append_to_one_case_file_without_colliding(
        db_engine, db_url, clean_db):
    """Issue 15.7: the compose run logged ``UniqueViolation case_file_seq`` ~25 times (retried,
    nothing lost). P5.3.4: every step is kept in the case's electronic file, so concurrent
    appends to one file must not collide at all. Eight writers, each on its own connection,
    append through the case store (the only writer of the case tables) in five transactions
    of three entries each: half of them lock the case row first, as a department's report
    does; the others append only, as a notification or an escalation entry does. All eight
    are first held at the case's lock by an open append (so they are released together) and
    then run freely against each other. Every entry must land once, with consecutive seq
    numbers, each transaction's entries together and in order, and one unbroken chain.
    Without the case's append lock (the head read ``FOR UPDATE``, as before issue 17) the
    released writers all re-read the same last entry and die on the unique key."""
    reported = parse_envelope(reported_envelope())
    case_id = reported.payload["case_id"]
    with Session(bind=db_engine, info={"db_schema": "dispatch"}) as session:
        filing.file_reported(session, reported)
        session.commit()
        filed = len(casefile_store.entries(session, case_id))
    writers = sa.create_engine(db_url, pool_size=WRITERS, connect_args={
        "application_name": "case-file-writer", "options": "-c lock_timeout=20s"})
    errors: list[BaseException] = []

    def writer(number: int) -> None:
        try:
            for transaction in range(TRANSACTIONS):
                with Session(bind=writers, info={"db_schema": "dispatch"}) as session:
                    if number % 2 == 0:
                        assert case_store.lock(session, case_id) is not None
                    for n in range(ENTRIES):
                        case_store.record_entry(
                            session, case_id, "note", actor_sub=f"writer-{number}",
                            actor_role="system", at=datetime.now(UTC),
                            data={"writer": number, "transaction": transaction, "n": n})
                    session.commit()
        except BaseException as exc:  # reported to the test below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(number,)) for number in range(WRITERS)]
    try:
        with Session(bind=db_engine, info={"db_schema": "dispatch"}) as holder:
            case_store.record_entry(holder, case_id, "note", actor_sub="holder",
                                    actor_role="system", at=datetime.now(UTC),
                                    data={"writer": "holder"})
            for thread in threads:
                thread.start()
            _wait_until_blocked(db_engine, "case-file-writer", count=WRITERS)
            holder.commit()  # releases all eight at once
        for thread in threads:
            thread.join(timeout=60)
    finally:
        writers.dispose()
    assert not any(thread.is_alive() for thread in threads)
    assert errors == []
    with Session(bind=db_engine) as session:
        found = casefile_store.verified(session, case_id)
    entries = found["entries"]
    total = filed + 1 + WRITERS * TRANSACTIONS * ENTRIES
    assert [e["seq"] for e in entries] == list(range(1, total + 1))
    assert found["verification"] == {"valid": True, "broken_at": None, "count": total}
    assert entries[filed]["data"] == {"writer": "holder"}
    written = [(e["data"]["writer"], e["data"]["transaction"], e["data"]["n"])
               for e in entries[filed + 1:]]
    assert sorted(written) == [(w, t, n) for w in range(WRITERS) for t in range(TRANSACTIONS)
                               for n in range(ENTRIES)]  # each once
    for start in range(0, len(written), ENTRIES):  # a transaction's entries stay together
        group = written[start:start + ENTRIES]
        assert [n for _, _, n in group] == list(range(ENTRIES))
        assert len({(w, t) for w, t, _ in group}) == 1
    for number in range(WRITERS):  # and each writer's transactions follow one another
        mine = [t for w, t, n in written if w == number and n == 0]
        assert mine == list(range(TRANSACTIONS))


def _notification(case_id: str):
    envelope = load_sample("notify.sent", 1)
    envelope["message_id"] = str(uuid.uuid4())
    envelope["payload"].update({"case_id": case_id, "kind": "major_event"})
    return parse_envelope(envelope)


def _in_thread(engine: sa.Engine, work) -> tuple[threading.Thread, list[BaseException]]:
    errors: list[BaseException] = []

    def run() -> None:
        try:
            with Session(bind=engine, info={"db_schema": "dispatch"}) as session:
                work(session)
                session.commit()
        except BaseException as exc:  # reported to the test
            errors.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    return thread, errors


@pytest.mark.parametrize("first", ["filing", "notification"])
def test_a_notification_and_the_filing_of_its_case_never_miss_each_other(
        db_engine, db_url, clean_db, first):
    """Issue 17 (soak): the page about a major event can reach dispatch while its case is
    being filed. Whichever transaction takes the case's lock first, the other waits for it,
    and the entry ends up in the file exactly once (appended or waiting, then appended)."""
    reported = parse_envelope(reported_envelope())
    case_id = reported.payload["case_id"]
    sent = _notification(case_id)

    def file(session):
        filing.file_reported(session, reported)

    def notify(session):
        notifications.record_sent(session, sent)

    work_first, work_second = (file, notify) if first == "filing" else (notify, file)
    second = sa.create_engine(db_url, connect_args={"application_name": "second-writer"})
    try:
        with Session(bind=db_engine, info={"db_schema": "dispatch"}) as session:
            work_first(session)
            thread, errors = _in_thread(second, work_second)
            _wait_until_blocked(db_engine, "second-writer")
            session.commit()
        thread.join(timeout=10)
    finally:
        second.dispose()
    assert errors == []
    with Session(bind=db_engine) as session:
        found = casefile_store.verified(session, case_id)
        waiting = session.execute(sa.text(
            "SELECT count(*) FROM dispatch.waiting_file_entries")).scalar()
    actions = [e["action"] for e in found["entries"]]
    assert actions.count("notification_sent") == 1 and actions[0] == "filed"
    assert waiting == 0
    assert found["verification"]["valid"] is True


def test_transactions_writing_to_several_cases_lock_them_in_one_order(db_engine, db_url,
                                                                     clean_db):
    """Issue 17 (soak): a notification batch and another dispatch transaction locked the
    same two cases in opposite orders and deadlocked. ``lock_cases`` takes a batch's locks
    in one global order, so the second transaction waits for the first lock holding none."""
    ids = [str(uuid.uuid4()), str(uuid.uuid4())]
    with db_engine.connect() as conn:
        low, high = sorted(ids, key=lambda i: conn.execute(
            sa.text("SELECT hashtext(:i)"), {"i": i}).scalar())
    second = sa.create_engine(db_url, connect_args={"application_name": "second-writer"})
    try:
        with Session(bind=db_engine) as session:
            casefile_store.lock(session, low)  # the first key of the global order
            thread, errors = _in_thread(second, lambda s: casefile_store.lock_cases(
                s, [high, low, high]))  # given in the other order
            _wait_until_blocked(db_engine, "second-writer")
            with db_engine.connect() as conn:
                held = conn.execute(sa.text(
                    "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid) "
                    "WHERE a.application_name = 'second-writer' AND l.locktype = 'advisory' "
                    "AND l.granted")).scalar()
            assert held == 0  # waits for the first key holding nothing another could need
            session.commit()
        thread.join(timeout=10)
    finally:
        second.dispose()
    assert not thread.is_alive() and errors == []

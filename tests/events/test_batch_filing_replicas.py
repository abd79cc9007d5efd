"""Two events replicas filing at once (services/events/batch_filing.py, issue 16).

The reference check and the duplicate search run before the day's counter is locked; what
another replica filed meanwhile is searched once the lock is held. These tests make that
happen for real, on PostgreSQL: an "other replica" files a batch and holds the lock
uncommitted; this replica's batch searches (seeing none of it), then waits on the lock
(checked in pg_stat_activity, not slept on); the other commits; the outcome must be what
filing after it one by one gives: its reference not filed twice, its cases suggested as
duplicates, the numbers gapless.
"""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from math import cos, radians

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from services.events import batch_filing, duplicate_search
from services.events import cases as filing
from tests.events.test_batch_filing import HERE, METRE_LAT, SETTINGS, items, report


class Replica(threading.Thread):
    """``file_many`` in a session of its own, in a thread; keeps its result or error."""

    def __init__(self, engine, reports) -> None:
        super().__init__(daemon=True)
        self.engine = engine
        self.reports = reports
        self.results = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            with Session(self.engine, info={"db_schema": "events"}) as db:
                self.results = batch_filing.file_many(db, SETTINGS, items(db, self.reports))
                db.commit()
        except BaseException as exc:  # handed to the test
            self.error = exc


def waiting_on_the_counter(engine, timeout: float = 30.0) -> None:
    """Until a backend waits for a lock while moving the day's counter on."""
    deadline = time.monotonic() + timeout
    with engine.connect() as conn:
        while time.monotonic() < deadline:
            waiting = conn.execute(sa.text(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                "AND query LIKE '%case_number_counters%'")).scalar()
            conn.rollback()
            if waiting:
                return
            time.sleep(0.02)
    raise AssertionError("the second replica never waited for the counter")


def race(engine, first: list[filing.Report], second: list[filing.Report]):
    """``first`` filed and held uncommitted while ``second`` searches and waits; both
    results, and every case as stored (number → (description, duplicate of number))."""
    with Session(engine, info={"db_schema": "events"}) as holder:
        held = batch_filing.file_many(holder, SETTINGS, items(holder, first))
        replica = Replica(engine, second)
        replica.start()
        waiting_on_the_counter(engine)
        holder.commit()
    replica.join(30)
    assert not replica.is_alive()
    if replica.error is not None:
        raise replica.error
    with engine.connect() as conn:
        stored = conn.execute(sa.text(
            "SELECT c.case_number, c.description, d.case_number AS original "
            "FROM events.cases c LEFT JOIN events.cases d ON d.case_id = c.duplicate_of "
            "ORDER BY c.case_number")).all()
    return held, replica.results, {row.case_number: (row.description, row.original)
                                   for row in stored}


def test_what_another_replica_filed_meanwhile_is_found(db_engine, clean_db):
    with Session(db_engine, info={"db_schema": "events"}) as db:
        filing.file_case(db, SETTINGS, *items(db, [report(0, north_m=3000)])[0])
        db.commit()
    held, results, stored = race(
        db_engine,
        [report(1, ref="R-1"), report(2, ref="R-2", north_m=300)],
        [report(3, ref="R-1", north_m=1),      # the other replica's ticket: not twice
         report(4, ref="R-4", north_m=298),    # 2 m from its #2: that one's duplicate
         report(5, north_m=3004)])             # 4 m from the case stored before both
    numbers = sorted(stored)
    assert [n[-6:] for n in numbers] == ["000001", "000002", "000003", "000004", "000005"]
    (first, made_first), (fourth, made_fourth), (fifth, _made) = results
    assert made_first is False and first["case_id"] == held[0][0]["case_id"]
    assert made_fourth is True and fourth["case_number"] == numbers[3]
    assert stored[numbers[3]] == ("批量第4件", held[1][0]["case_number"])
    assert fourth["duplicate_of_number"] == held[1][0]["case_number"]
    assert stored[numbers[4]] == ("批量第5件", numbers[0])


def test_the_counter_gives_back_the_number_of_a_ticket_filed_meanwhile(db_engine, clean_db):
    _held, results, stored = race(db_engine, [report(1, ref="G-1", north_m=900),
                                              report(2, ref="G-2", north_m=1800)],
                                  [report(3, ref="G-2"), report(4, ref="G-1")])
    assert [made for _, made in results] == [False, False]
    with db_engine.connect() as conn:
        assert conn.execute(sa.text(
            "SELECT last_value FROM events.case_number_counters")).scalar() == 2
    assert len(stored) == 2


def test_the_cap_on_candidates_counts_what_was_filed_meanwhile(db_engine, clean_db,
                                                               monkeypatch):
    """Only the earliest reported candidates count (MAX_DUPLICATE_CANDIDATES, here 2): a
    case filed meanwhile but reported before the stored ones pushes the latest out — here
    the nearest, so merging the two searches' best would be wrong — and the search is run
    again under the lock. The three are more than 50 m apart (none is another's
    duplicate) and within 50 m and 24 h of the new report."""
    monkeypatch.setattr(duplicate_search, "MAX_DUPLICATE_CANDIDATES", 2)
    with Session(db_engine, info={"db_schema": "events"}) as db:
        for item in items(db, [report(1, north_m=20, minutes_ago=60),       # 20 m, latest
                               report(2, north_m=-48, minutes_ago=120)]):   # 48 m
            filing.file_case(db, SETTINGS, *item)
        db.commit()
    earliest = replace(report(3, minutes_ago=180), lon=HERE[0] - 47 * METRE_LAT / cos(
        radians(HERE[1])))                                                   # 47 m west
    _held, results, stored = race(db_engine, [earliest, report(4, north_m=3000)],
                                  [report(5), report(6, north_m=5000)])
    by_text = {text: number for number, (text, _o) in stored.items()}
    assert [original for _t, original in stored.values()].count(None) == 5
    assert results[0][0]["duplicate_of_number"] == by_text["批量第3件"]
    assert stored[results[0][0]["case_number"]][1] == by_text["批量第3件"]


BASE = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)


@pytest.mark.parametrize(("before", "late", "expected"), [
    # nothing found late (or before): the other search stands
    ((2, 5.0, 10, 20), (0, None, None, None), (2, 5.0)),
    ((0, None, None, None), (1, 5.0, 10, 20), (1, 5.0)),
    # nothing stored in the box before: the late cases are the set (under the cap)
    (None, (1, 5.0, 10, 20), (1, 5.0)),
    (None, (3, 5.0, 10, 20), None),
    # under the cap together: the nearer of the two
    ((1, 20.0, 10, 10), (1, 5.0, 30, 30), (2, 5.0)),
    ((1, 5.0, 10, 10), (2, 30.0, 30, 40), (3, 5.0)),
    ((1, None, 10, 10), (1, None, 30, 30), (2, None)),
    # the cap full before, every late case reported after it: the set is unchanged
    ((3, 20.0, 10, 30), (1, 5.0, 31, 31), (3, 20.0)),
    # the cap full, a late case reported before its last: unknowable here
    ((3, 20.0, 10, 30), (1, 5.0, 29, 29), None),
    ((2, 20.0, 10, 30), (2, 5.0, 40, 50), None),
])
def test_merging_two_searches(monkeypatch, before, late, expected):
    """(count, best distance, first and last reported in minutes) of each search."""
    monkeypatch.setattr(duplicate_search, "MAX_DUPLICATE_CANDIDATES", 3)

    def searched(spec):
        if spec is None:
            return None
        count, distance, first, last = spec
        best = None if distance is None else duplicate_search.Candidate(
            distance, BASE, f"case-{distance}", f"N-{distance}")
        if first is None:
            return duplicate_search.Searched(best, count, None, None)
        return duplicate_search.Searched(best, count, BASE + timedelta(minutes=first),
                                         BASE + timedelta(minutes=last))

    merged = duplicate_search.merged(searched(before), searched(late))
    if expected is None:
        assert merged is None
    else:
        assert merged is not None
        assert (merged.count, merged.best and merged.best.distance) == expected


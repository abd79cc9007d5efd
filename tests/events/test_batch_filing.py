"""Filing a batch in a fixed number of statements (services/events/batch_filing.py, issue 16)
gives what filing its reports one after the other gives: the same case numbers, the same
"already filed" answers, the same duplicate suggestions, the same events in the same order.
On the real PostgreSQL: each filing runs in a transaction that is rolled back, so both see
the same stored cases."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from gridgov_common.platform.outbox import PENDING_KEY
from services.events import batch_filing, catalogue_store
from services.events import cases as filing
from services.events.dependencies import Settings
from services.events.domain.numbers import now_utc
from tests.events.conftest import GRID_A, GRID_B, TOWN

SETTINGS = Settings(case_number_prefix="SZ", duplicate_distance_m=50.0,
                    duplicate_window_hours=24.0, open311_api_keys=(), cap_sender="gridgov",
                    open311_contact="ops", registry_timeout=5.0)
HERE = (120.005, 31.005)
METRE_LAT = 1 / 111_195  # degrees of latitude per metre, about


def report(n: int, *, ref: str | None = None, north_m: float = 0.0, grid: str = GRID_A,
           subcategory: str = "fire_hazard_corridor", on_spot: bool = False,
           minutes_ago: float = 0.0, system: str = "hotline_12345") -> filing.Report:
    return filing.Report(
        source="hotline", source_system=system, reporter_sub=system, reporter_role="hotline",
        work_category="public_security_prevention", subcategory=subcategory,
        description=f"批量第{n}件", lon=HERE[0], lat=HERE[1] + north_m * METRE_LAT,
        handled_on_spot=on_spot, external_ref=ref,
        reported_at=now_utc() - timedelta(minutes=minutes_ago))


def items(session: Session, reports: list[filing.Report]) -> list[batch_filing.Item]:
    current = catalogue_store.current(session)
    made = []
    for one in reports:
        sub = filing.complete(one, current)
        grid = GRID_B if one.lon > 120.01 else GRID_A
        made.append((one, filing.Placement(grid, TOWN), sub))
    return made


def outcome(session: Session, results) -> list[tuple]:
    """What a filing decided, with case ids replaced by case numbers (ids are random)."""
    numbers = {case["case_id"]: case["case_number"] for case, _ in results}
    numbers.update(dict(session.execute(sa.text(
        "SELECT case_id::text, case_number FROM events.cases")).all()))
    decided = [(case["case_number"], created, numbers.get(case["duplicate_of"]),
                case["duplicate_of_number"], case["duplicate_status"], case["status"],
                case["external_ref"]) for case, created in results]
    events = [(row["body"]["type"], row["body"]["payload"]["case_number"])
              for rows in session.info.get(PENDING_KEY, {}).values() for row in rows]
    return decided + events


@pytest.fixture
def session(db_engine, clean_db):
    with Session(db_engine, info={"db_schema": "events"}) as db:
        yield db
        db.rollback()


def stored(session: Session, reports: list[filing.Report]) -> None:
    """Cases filed and committed before the batch arrives."""
    for item in items(session, reports):
        filing.file_case(session, SETTINGS, *item)
    session.commit()


def both_ways(session: Session, reports: list[filing.Report]) -> tuple[list, list]:
    batch = items(session, reports)
    one_by_one = [filing.file_case(session, SETTINGS, *item) for item in batch]
    sequential = outcome(session, one_by_one)
    session.rollback()
    together = outcome(session, batch_filing.file_many(session, SETTINGS, batch))
    return sequential, together


def test_a_batch_is_filed_as_its_reports_one_after_the_other(session):
    stored(session, [report(0, ref="T-0", minutes_ago=30),
                     report(1, north_m=30, minutes_ago=20, subcategory="electric_bike_charging"),
                     report(2, north_m=500, minutes_ago=10)])
    reports = [
        report(10, ref="T-0"),                          # filed before: that case, not created
        report(11, ref="T-11", north_m=10),             # duplicate of the stored T-0 (10 m)
        report(12, ref="T-11"),                         # the same ticket again, same batch
        report(13, north_m=600),                        # 100 m from stored #2: too far
        report(14, north_m=2000),                       # alone
        report(15, north_m=2020),                       # 20 m from #14, filed earlier here
        report(16, north_m=4000, on_spot=True),         # closed at once: nobody's original
        report(17, north_m=4010),                       # so not #16's duplicate
        report(18, north_m=35, subcategory="electric_bike_charging"),  # stored #1, 5 m
        report(19, north_m=6000, minutes_ago=60 * 30),  # outside the window of everything
        report(20, north_m=6000),
        report(21, ref="T-21", system="fire", north_m=8000),
        report(22, ref="T-21", north_m=8000),           # same ref, another system: a case
    ]
    sequential, together = both_ways(session, reports)
    assert together == sequential
    decided = together[:len(reports)]
    created = [made for _, made, *_ in decided]
    assert created == [False, True, False, True, True, True, True, True, True, True, True,
                       True, True]
    numbers = [number for number, *_ in decided]
    assert numbers[1] == numbers[2] and len(set(numbers)) == len(reports) - 1
    assert [d[2] for d in decided][1:6] == [decided[0][0], decided[0][0], None, None,
                                            numbers[4]]


def test_the_nearest_stored_case_is_suggested(session):
    stored(session, [report(0, north_m=30, minutes_ago=5),
                     report(1, north_m=-30, minutes_ago=50)])
    reports = [report(10, north_m=-10), report(11, north_m=25), report(12, north_m=-12)]
    sequential, together = both_ways(session, reports)
    assert together == sequential
    originals = [number for _, _, number, *_ in together[:3]]
    first, second = (session.execute(sa.text(
        "SELECT case_number FROM events.cases WHERE description = :d"), {"d": f"批量第{n}件"}
    ).scalar_one() for n in (0, 1))
    # 20 m from #1; 5 m from #0; #1 18 m away, #10 (2 m) is itself a duplicate
    assert originals == [second, first, second]


def test_a_batch_takes_a_fixed_number_of_statements(session, db_engine):
    stored(session, [report(0, ref="S-0", minutes_ago=1)])
    batch = items(session, [report(n, ref=f"S-{n % 40}", north_m=n * 7) for n in range(50)])
    statements = []

    def count(*args):
        statements.append(args[2])

    sa.event.listen(db_engine, "before_cursor_execute", count)
    try:
        results = batch_filing.file_many(session, SETTINGS, batch)
    finally:
        sa.event.remove(db_engine, "before_cursor_execute", count)
    assert sum(created for _, created in results) == 39  # S-0 stored, S-0..S-9 twice
    # photos (none: no statement), counter read, references, duplicates, counter locked and
    # moved on, insert
    assert len(statements) == 5, statements


def test_a_row_filed_meanwhile_under_another_counter_fails_the_batch(session, monkeypatch):
    """Midnight: a replica holding yesterday's counter filed the same reference. The batch
    fails (and is replayed message by message, where file_case settles it)."""
    stored(session, [report(0, ref="M-1")])
    monkeypatch.setattr(batch_filing, "_by_external_refs", lambda *args: {})
    with pytest.raises(batch_filing.BatchConflict):
        batch_filing.file_many(session, SETTINGS, items(session, [report(1, ref="M-1"),
                                                                  report(2, ref="M-2")]))


def test_a_batch_of_one_settles_a_row_filed_meanwhile_as_file_case_does(session,
                                                                       monkeypatch):
    """A batch of one takes the batch way (issue 16); when its reference was filed under
    another counter row meanwhile, it answers with the stored case and gives its number
    back (P5.3.1: no gap), as ``file_case`` does, instead of failing."""
    stored(session, [report(0, ref="M-9")])
    counter = sa.text("SELECT coalesce(sum(last_value), 0) FROM events.case_number_counters")
    before = session.execute(counter).scalar_one()
    kept = session.execute(sa.text(
        "SELECT case_id::text FROM events.cases WHERE external_ref = 'M-9'")).scalar_one()
    monkeypatch.setattr(batch_filing, "_by_external_refs", lambda *args: {})
    [(case, created)] = batch_filing.file_many(session, SETTINGS,
                                               items(session, [report(1, ref="M-9")]))
    assert (case["case_id"], created) == (kept, False)
    assert session.execute(counter).scalar_one() == before
    assert session.execute(sa.text(
        "SELECT count(*) FROM events.cases WHERE external_ref = 'M-9'")).scalar_one() == 1

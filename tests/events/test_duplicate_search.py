"""The duplicate search by place and by time give the same result (duplicate_search.py).

Which statement runs depends on how crowded a report's box is (DENSE_BOX); the suggestion
must not. Real PostgreSQL: stored cases spread around, a crowded spot, cases of another
subcategory, outside the window, already duplicates, closed; every report searched both
ways, with the cap on candidates loose and tight.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from services.events import cases as filing
from services.events import duplicate_search
from tests.events.test_batch_filing import SETTINGS, items, report


@pytest.fixture
def stored(db_engine, clean_db):
    """Cases around HERE: a crowded spot (12 within 5 m, one of them a duplicate), a line
    of cases 30–45 m away, another subcategory, one too old, one closed at once."""
    with Session(db_engine, info={"db_schema": "events"}) as db:
        reports = [report(n, north_m=(n % 3) * 2, minutes_ago=100 - n) for n in range(12)]
        reports += [report(20 + n, north_m=30 + 5 * n, minutes_ago=50 + n) for n in range(4)]
        reports += [report(30, north_m=10, subcategory="electric_bike_charging"),
                    report(31, north_m=3, minutes_ago=60 * 30),
                    report(32, north_m=4, on_spot=True)]
        for item in items(db, reports):
            filing.file_case(db, SETTINGS, *item)
        # filed one after the other they suggested each other: none is a duplicate but #5
        db.execute(sa.text("UPDATE events.cases SET duplicate_of = NULL, "
                           "duplicate_status = NULL"))
        db.execute(sa.text(
            "UPDATE events.cases SET duplicate_status = 'suggested', duplicate_of = "
            "(SELECT case_id FROM events.cases WHERE description = '批量第0件') "
            "WHERE description = '批量第5件'"))
        db.commit()
    with Session(db_engine, info={"db_schema": "events"}) as db:
        yield db
        db.rollback()


def both_ways(db: Session, monkeypatch, reports) -> tuple[dict, dict]:
    monkeypatch.setattr(duplicate_search, "DENSE_BOX", 10_000)  # every box by place
    by_place = duplicate_search.search(db, SETTINGS, reports)
    monkeypatch.setattr(duplicate_search, "DENSE_BOX", -1)  # every box by time
    by_time = duplicate_search.search(db, SETTINGS, reports)
    return by_place, by_time


@pytest.mark.parametrize("cap", [200, 5, 1])
def test_by_place_and_by_time_suggest_the_same(stored, monkeypatch, cap):
    monkeypatch.setattr(duplicate_search, "MAX_DUPLICATE_CANDIDATES", cap)
    reports = [report(100 + n, north_m=north) for n, north in enumerate(
        (0, 1, 3, 12, 28, 40, 47, 60, 95, 400))]
    reports.append(report(120, north_m=10, subcategory="electric_bike_charging"))
    by_place, by_time = both_ways(stored, monkeypatch, reports)
    assert by_place == by_time
    assert by_place[0].best is not None and by_place[0].count == min(cap, 15)
    assert 9 not in by_place  # 400 m from everything


def test_a_crowded_box_is_searched_again_by_time(stored, monkeypatch):
    monkeypatch.setattr(duplicate_search, "DENSE_BOX", 5)  # the spot's 12 are a crowd
    statements = []
    monkeypatch.setattr(duplicate_search, "_run", _counting(duplicate_search._run,
                                                            statements))
    found = duplicate_search.search(stored, SETTINGS, [report(1), report(2, north_m=400)])
    assert statements == ["_BY_PLACE", "_BY_TIME"]
    assert found[0].best is not None and 1 not in found


def _counting(run, names):
    def counted(session, settings, reports, indexes, statement, **extra):
        names.append(next(name for name in ("_BY_PLACE", "_BY_TIME", "_AMONG")
                          if getattr(duplicate_search, name) is statement))
        return run(session, settings, reports, indexes, statement, **extra)
    return counted

"""Case-handling KPIs (services/dispatch/kpis.py, ``GET /kpis``) against hand-built cases
inserted with SQL, every figure computed by hand below.

Period: the last 30 local days. T1 has grid G1, T2 grid G2. Times relative to now.

- A, T1, closed: filed −10 d, closed −8 d (48 h), score 5; fire acked +1 h on time, result
  on time after 24 h.
- B, T1, closed: filed −10 d, closed −5 d (120 h), score 3, one rework; fire round 0 acked
  +2 h on time, result late after 48 h; round 1 (sent −7 d) acked +1 h on time, result on
  time after 24 h.
- C, T1, in_progress, returned once: police returned it; fire (sent −2 d) acked +5 h late.
- D, T2, closed on the spot −1 d. E, T2, cancelled (never due).
- F, T1, closed, filed −40 d, its fire assignment sent −40 d: outside the period.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from services.dispatch import kpis
from services.dispatch.models import assignments, cases
from tests.dispatch.test_statistics import _assignment, _case

T1, T2 = "320505001", "320505002"
G1, G2 = f"{T1}001001", f"{T2}001001"
HOUR, DAY = timedelta(hours=1), timedelta(days=1)


def _filed(now, name, grid, state, filed, **extra):
    return _case(now, "C1", grid, state, case_number=f"K-{name}", description=name,
                 filed_at=now - filed, reported_at=now - filed, **extra)


def build(now: datetime) -> tuple[list[dict], list[dict]]:
    a = _filed(now, "A", G1, "closed", 10 * DAY, resolved_at=now - 9 * DAY,
               closed_at=now - 8 * DAY, satisfaction=5)
    b = _filed(now, "B", G1, "closed", 10 * DAY, resolved_at=now - 6 * DAY,
               closed_at=now - 5 * DAY, rework_count=1, satisfaction=3)
    c = _filed(now, "C", G1, "in_progress", 3 * DAY, return_count=1)
    d = _filed(now, "D", G2, "closed", DAY, handled_on_spot=True, closed_at=now - DAY)
    e = _filed(now, "E", G2, "cancelled", DAY, cancelled_at=now - DAY)
    f = _filed(now, "F", G1, "closed", 40 * DAY, closed_at=now - 39 * DAY, satisfaction=5)
    s10, s7, s2 = now - 10 * DAY, now - 7 * DAY, now - 2 * DAY
    rows = [
        _assignment(a, "fire", "reported", s10, now - 8 * DAY, acked_at=s10 + HOUR,
                    ack_on_time=True, reported_at=s10 + DAY, handle_on_time=True),
        _assignment(b, "fire", "reported", s10, now - 9 * DAY, acked_at=s10 + 2 * HOUR,
                    ack_on_time=True, reported_at=s10 + 2 * DAY, handle_on_time=False),
        _assignment(b, "fire", "reported", s7, now - 5 * DAY, rework=1, acked_at=s7 + HOUR,
                    ack_on_time=True, reported_at=s7 + DAY, handle_on_time=True),
        _assignment(c, "police", "returned", now - 3 * DAY, now + DAY),
        _assignment(c, "fire", "acked", s2, now + 2 * DAY, acked_at=s2 + 5 * HOUR,
                    ack_on_time=False),
        _assignment(f, "fire", "reported", now - 40 * DAY, now - 39 * DAY,
                    acked_at=now - 40 * DAY + HOUR, ack_on_time=True,
                    reported_at=now - 39 * DAY, handle_on_time=True),
    ]
    return [a, b, c, d, e, f], rows


@pytest.fixture
def period(db_engine, clean_db):
    now = datetime.now(UTC)
    case_rows, assignment_rows = build(now)
    with db_engine.begin() as conn:
        for row in case_rows:
            conn.execute(sa.insert(cases).values(**row))
        for row in assignment_rows:
            conn.execute(sa.insert(assignments).values(**row))
    return now - 30 * DAY, now + HOUR


TOWN1 = {"code": T1, "due": 3, "closed": 2, "closure_rate": 0.6667,
         "on_time_closure_rate": 0.3333, "rework_rate": 0.5, "forwarding_rate": 0.3333,
         "first_contact_rate": 0.5, "satisfaction": 4.0, "satisfied_rate": 0.5,
         "avg_hours_to_close": 84.0,
         # stages: A resolved 24 h after filing, B 96 h → 60; each closed 24 h later
         "avg_hours_to_resolve": 60.0, "avg_hours_to_return_visit": 24.0}
TOWN2 = {"code": T2, "due": 1, "closed": 1, "closure_rate": 1.0, "on_time_closure_rate": 1.0,
         "rework_rate": 0.0, "forwarding_rate": 0.0, "first_contact_rate": 1.0,
         "satisfaction": None, "satisfied_rate": None, "avg_hours_to_close": 0.0,
         "avg_hours_to_resolve": None, "avg_hours_to_return_visit": None}  # D: on the spot
FIRE = {"code": "fire", "assigned": 4, "ack_on_time_rate": 0.75, "handling_rate": 0.75,
        "on_time_handling_rate": 0.5, "return_rate": 0.0, "rework_rate": 0.3333,
        "avg_ack_hours": 2.25, "avg_handle_hours": 32.0}
POLICE = {"code": "police", "assigned": 1, "ack_on_time_rate": 0.0, "handling_rate": 0.0,
          "on_time_handling_rate": 0.0, "return_rate": 1.0, "rework_rate": None,
          "avg_ack_hours": None, "avg_handle_hours": None}


def test_area_kpis_match_the_hand_counts(db_engine, period):
    with db_engine.connect() as conn:
        assert kpis.kpis(conn, None, *period, "town")["rows"] == [TOWN1, TOWN2]
        by_grid = kpis.kpis(conn, [T1], *period, "grid")["rows"]
    assert by_grid == [{**TOWN1, "code": G1}]  # scoped to T1: one grid


def test_department_kpis_match_the_hand_counts(db_engine, period):
    with db_engine.connect() as conn:
        assert kpis.kpis(conn, None, *period, "department")["rows"] == [FIRE, POLICE]


def test_http_kpis_are_scoped_and_validated(dispatch, period, web_session, token):
    start, end = period
    query = {"from": (start + DAY).date().isoformat(), "to": end.date().isoformat()}
    admin = token("district_admin", "district:320505")
    found = web_session.get("/kpis", headers=admin, params=query)
    assert found.status_code == 200, found.text
    assert [row["code"] for row in found.json()["rows"]] == [T1, T2]
    chief = token("town_grid_chief", f"town:{T2}")
    mine = web_session.get("/kpis", headers=chief, params={**query, "by": "department"})
    assert mine.json()["rows"] == []  # T2's one case had no department
    backwards = web_session.get("/kpis", headers=admin,
                                params={"from": query["to"], "to": query["from"]})
    assert backwards.status_code == 422 and "to" in backwards.json()["error"]["fields"]
    worker = token("neighbourhood_grid_worker", f"grid:{G1}")
    assert web_session.get("/kpis", headers=worker, params=query).status_code == 403


def test_a_department_officer_reads_its_own_row_only(dispatch, period, web_session, token):
    """Issue 14: a department's standing tab: its own figures wherever its assignments were
    sent (the workbench's reach), never another department's; only by=department."""
    start, end = period
    query = {"from": (start + DAY).date().isoformat(), "to": end.date().isoformat(),
             "by": "department"}
    fire = token("department_officer", "department:fire", sub="fire-officer")
    mine = web_session.get("/kpis", headers=fire, params=query)
    assert mine.status_code == 200, mine.text
    assert mine.json()["rows"] == [FIRE]
    police = token("department_officer", "department:police", sub="police-officer")
    assert web_session.get("/kpis", headers=police, params=query).json()["rows"] == [POLICE]
    by_town = web_session.get("/kpis", headers=fire, params={**query, "by": "town"})
    assert by_town.status_code == 422 and "by" in by_town.json()["error"]["fields"]

"""A hand-built half-year (2026H1) for the assessment tests, with every figure computed by
hand below; and a fixture running the REAL dispatch and assessment services on one
throw-away vhost (dispatch answers the ``kpis`` RPC).

Town T, community C with grids G1, G2; community C2 (no cases, no checks).

Cases (dispatch, filed 2026-03-10):
| case | grid | state       | assignment                                      |
| C1   | G1   | closed      | fire: acked on time, reported on time            |
| C2–C4| G1   | closed      | —                                                |
| C5   | G2   | closed      | —                                                |
| C6   | G2   | closed      | fire: acked on time, reported LATE               |
| C7–C8| G2   | in_progress | —                                                |

- G1: due 4, closed 4, on time 4 → closure 1.0, on-time 1.0
- G2: due 4, closed 2, on time 1 → closure 0.5, on-time 0.25
- C = T: due 8, closed 4 + 2 = 6 → closure 0.75; on time 4 + 1 = 5 → 0.625
- fire: assigned 2, acked on time 2 → 1.0, on time handled 1 → 0.5

Spot checks (2026-04-01): G1 10 checks, 9 correct → 0.9; G2 4 checks, 2 correct → 0.5;
C = T: 11 / 14 = 0.7857.

Staff (assessment.field_staff): w1 neighbourhood worker of G1, w2 of G2, chief the
community grid chief of C, w3 a community grid worker of C2.
2026H1 has 120 working days (the dispatch calendar: 2026-01-04 … 2026-06-30).
- patrols: w1 a fix on all 120 → 1.0; w2 none → 0.0; chief the first 60 → 0.5; w3 none → 0.
- meetings: chief held community_chief meetings in Jan, Feb, Mar → 3 of 6 months = 0.5;
  w3 (community_worker, ≥ 2 a month) none → 0 of 6 = 0.0; w1, w2: no rule → n/a.
- pooled over C (w1, w2, chief): patrol (120 + 0 + 60) / 360 = 0.5; meetings 3 / 6 = 0.5;
  over T (+ w3): patrol 180 / 480 = 0.375; meetings 3 / 12 = 0.25.

Typed (PUT /appraisal-inputs/2026H1): T 80 / 70; C 90 / (none); w1 95 / 90; w2 40 / 20;
fire 70 / 60 (district); chief and w3: nothing.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
import sqlalchemy as sa

from gridgov_common.kernel.work_calendar import WorkCalendar
from services.assessment import appraisal_names
from services.assessment.compliance import TZ
from services.assessment.models import metadata as assessment_metadata
from services.assessment.service import AssessmentService
from services.dispatch import config_store
from services.dispatch.models import assignments, cases
from services.dispatch.models import metadata as dispatch_metadata
from services.dispatch.service import DispatchService
from tests.assessment.circular_cases import start_on_free_port
from tests.dispatch.test_statistics import _assignment, _case
from tests.events.conftest import _truncate

T, T_OTHER = "320505001", "320505002"
C, C2 = T + "001", T + "002"
G1, G2 = C + "001", C + "002"
HALF = "2026H1"
FILED = datetime(2026, 3, 10, 2, 0, tzinfo=UTC)
STAFF = [("w1", "neighbourhood_grid_worker", G1), ("w2", "neighbourhood_grid_worker", G2),
         ("chief", "community_grid_chief", C), ("w3", "community_grid_worker", C2)]
ADMIN = ("district_admin", "district:320505")
TOWN_CHIEF = ("town_grid_chief", f"town:{T}")


def workdays(first: date = date(2026, 1, 1), last: date = date(2026, 6, 30)) -> list[date]:
    cal = WorkCalendar()
    return [first + timedelta(n) for n in range((last - first).days + 1)
            if cal.is_workday(first + timedelta(n))]


def _cases() -> tuple[list[dict], list[dict]]:
    kw = {"filed_at": FILED, "reported_at": FILED}
    closed = {**kw, "closed_at": FILED + timedelta(days=2)}
    c = {name: _case(FILED, name, grid, state, **(closed if state == "closed" else kw))
         for name, grid, state in (
             ("C1", G1, "closed"), ("C2", G1, "closed"), ("C3", G1, "closed"),
             ("C4", G1, "closed"), ("C5", G2, "closed"), ("C6", G2, "closed"),
             ("C7", G2, "in_progress"), ("C8", G2, "in_progress"))}
    done = {"acked_at": FILED + timedelta(hours=1), "ack_on_time": True,
            "reported_at": FILED + timedelta(days=1)}
    rows = [_assignment(c["C1"], "fire", "reported", FILED, FILED + timedelta(days=3),
                        handle_on_time=True, **done),
            _assignment(c["C6"], "fire", "reported", FILED, FILED + timedelta(hours=12),
                        handle_on_time=False, **done)]
    return list(c.values()), rows


def _fix(conn, patrol: str, sub: str, day: date) -> None:
    conn.execute(sa.text(
        "INSERT INTO assessment.track_points (patrol_id, client_point_id, staff_sub, "
        "recorded_at, lon, lat) VALUES (:p, :i, :s, :t, 120.005, 31.005)"),
        {"p": patrol, "i": day.isoformat(), "s": sub,
         "t": datetime.combine(day, time(10), TZ)})


@pytest.fixture
def half_year(db_engine):
    """Empty dispatch and assessment schemas, then the records above (not the typed
    inputs and spot checks, which the tests enter through the API)."""
    _truncate(db_engine, "dispatch", dispatch_metadata, {"alembic_version"})
    _truncate(db_engine, "assessment", assessment_metadata, {"alembic_version"})
    config_store.forget()
    appraisal_names.forget()  # names cached by an earlier test (or its absent registry)
    case_rows, assignment_rows = _cases()
    days = workdays()
    assert len(days) == 120
    with db_engine.begin() as conn:
        for row in case_rows:
            conn.execute(sa.insert(cases).values(**row))
        for row in assignment_rows:
            conn.execute(sa.insert(assignments).values(**row))
        for sub, role, scope in STAFF:
            conn.execute(sa.text("INSERT INTO assessment.field_staff (staff_sub, role, "
                                 "scope_code) VALUES (:s, :r, :c)"),
                         {"s": sub, "r": role, "c": scope})
        for sub, count in (("w1", 120), ("chief", 60)):
            patrol = {"w1": "00000000-0000-4000-8000-000000000001",
                      "chief": "00000000-0000-4000-8000-000000000002"}[sub]
            conn.execute(sa.text(
                "INSERT INTO assessment.patrols (patrol_id, staff_sub, role, scope_code, "
                "started_at) VALUES (:p, :s, 'x', :c, :t)"),
                {"p": patrol, "s": sub, "c": dict((s, c) for s, _r, c in STAFF)[sub],
                 "t": datetime(2026, 1, 1, tzinfo=UTC)})
            for day in days[:count]:
                _fix(conn, patrol, sub, day)
        for month in (1, 2, 3):
            conn.execute(sa.text(
                "INSERT INTO assessment.meetings (meeting_id, kind, convener_sub, "
                "convener_role, scope_code, held_on, attendees, minutes) VALUES "
                "(gen_random_uuid(), 'community_chief', 'chief', 'community_grid_chief', :c, "
                ":d, '[\"w1\"]', 'm')"), {"c": C, "d": date(2026, month, 15)})


@pytest.fixture
def appraisal_services(container_factory, service_config, half_year):
    """dispatch and assessment (timers idle); returns assessment's HTTP session."""
    start_on_free_port(container_factory, service_config, DispatchService, "dispatch",
                       DIGEST_POLL_SECONDS=86400, ESCALATION_POLL_SECONDS=86400)
    _, http = start_on_free_port(container_factory, service_config, AssessmentService,
                                 "assessment", CIRCULAR_POLL_SECONDS=86400,
                                 MEETING_REMINDER_SECONDS=86400)
    yield http
    http.close()

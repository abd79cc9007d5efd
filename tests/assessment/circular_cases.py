"""Hand-built dispatch records for the circular tests (SQL into dispatch's tables), with
every figure computed by hand below; and fixtures that run the REAL dispatch, assessment
and notify services on one throw-away vhost (each on its own HTTP port).

Times relative to ``now``; towns T1, T2; period: the last 10 local days (custom).

| case | town | state       | assignment (department: facts)                           |
| C1   | T1   | closed      | fire: acked on time, reported on time                     |
| C2   | T1   | closed      | fire: acked on time, reported LATE                        |
| C3   | T1   | in_progress | fire: acked late, due −2 d (overdue open)                 |
| C4   | T2   | dispatched  | police: sent, due +1 d; police again, withdrawn (ignored) |
| C5   | T2   | in_progress | police: acked on time, due −3.5 d (overdue open)          |
| C6   | T2   | closed      | police: acked on time, reported on time                   |
| C7   | T2   | dispatched  | water: sent −40 d (outside the period), due −35 d         |
| C8   | T1   | closed      | water: acked on time, reported on time                    |

Card rules of these tests: red on-time < 40 %, red ≥ 2 overdue, yellow on-time < 80 %.

- fire: 3 dispatched, 2 acked on time, 2 closed, 1 on time, 1 overdue → closure 2/3,
  on-time 1/(2+1) = 0.3333 → red; rank 3.
- police: 3, 2, 1, 1, 1 → closure 1/3, on-time 1/2 → yellow; rank 2.
- water: 1, 1, 1, 1, 0 → 1.0, 1.0 → no card; rank 1 (C7 is outside the period).
- T1 (C1, C2, C3, C8): 4, 3, 3, 2, 1 → closure 0.75, on-time 2/4 → yellow; rank 1.
- T2 (C4, C5, C6): 3, 2, 1, 1, 1 → closure 1/3, on-time 1/2 → yellow; rank 2 (lower
  closure rate at the same on-time rate).
- total: 7, 5, 4, 3, 2 → closure 4/7 = 0.5714, on-time 3/6 = 0.5; 1 red, 3 yellow.
- overdue list (any period), longest first: N-C7 water 35 days, N-C5 police 3, N-C3 fire 2.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from services.assessment.compliance import TZ
from services.assessment.models import metadata as assessment_metadata
from services.assessment.service import AssessmentService
from services.dispatch import config_store
from services.dispatch.models import assignments, cases
from services.dispatch.models import metadata as dispatch_metadata
from services.dispatch.service import DispatchService
from tests.dispatch.test_statistics import _assignment, _case
from tests.events.conftest import PrefixedSession, _truncate, free_port

T1, T2 = "320505001", "320505002"
G1, G2 = f"{T1}001001", f"{T2}001001"
HOUR, DAY = timedelta(hours=1), timedelta(days=1)
RULES = [{"card": "red", "on_time_rate_below": 0.4}, {"card": "red", "overdue_at_least": 2},
         {"card": "yellow", "on_time_rate_below": 0.8}]


def build(now: datetime) -> tuple[list[dict], list[dict]]:
    c = {name: _case(now, name, grid, state) for name, grid, state in (
        ("C1", G1, "closed"), ("C2", G1, "closed"), ("C3", G1, "in_progress"),
        ("C4", G2, "dispatched"), ("C5", G2, "in_progress"), ("C6", G2, "closed"),
        ("C7", G2, "dispatched"), ("C8", G1, "closed"))}
    s = now - 5 * DAY
    on_time = {"acked_at": s + HOUR, "ack_on_time": True}
    done = {**on_time, "reported_at": s + DAY, "handle_on_time": True}
    rows = [
        _assignment(c["C1"], "fire", "reported", s, now - 3 * DAY, **done),
        _assignment(c["C2"], "fire", "reported", s, now - 4 * DAY,
                    **{**done, "handle_on_time": False}),
        _assignment(c["C3"], "fire", "acked", s, now - 2 * DAY, acked_at=s + 9 * HOUR,
                    ack_on_time=False),
        _assignment(c["C4"], "police", "sent", s, now + DAY),
        _assignment(c["C4"], "police", "withdrawn", s - DAY, now + DAY, role="assist"),
        _assignment(c["C5"], "police", "acked", s, now - 3.5 * DAY, **on_time),
        _assignment(c["C6"], "police", "reported", s, now - 3 * DAY, **done),
        _assignment(c["C7"], "water", "sent", now - 40 * DAY, now - 35 * DAY),
        _assignment(c["C8"], "water", "reported", s, now - 3 * DAY, **done),
    ]
    return list(c.values()), rows


def custom_period(now: datetime) -> str:
    today = now.astimezone(TZ).date()
    return f"{(today - timedelta(days=10)).isoformat()}..{today.isoformat()}"


@pytest.fixture
def seeded(db_engine):
    """Empty dispatch and assessment schemas, then the cases above; returns ``now``."""
    _truncate(db_engine, "dispatch", dispatch_metadata, {"alembic_version"})
    _truncate(db_engine, "assessment", assessment_metadata, {"alembic_version"})
    config_store.forget()
    now = datetime.now(UTC)
    case_rows, assignment_rows = build(now)
    with db_engine.begin() as conn:
        for row in case_rows:
            conn.execute(sa.insert(cases).values(**row))
        for row in assignment_rows:
            conn.execute(sa.insert(assignments).values(**row))
    return now


def start_on_free_port(container_factory, service_config, service, schema: str, **extra):
    """A real service on its own port; returns (container, PrefixedSession)."""
    port = free_port()
    container = container_factory(service, service_config(
        schema, WEB_SERVER_ADDRESS=f"127.0.0.1:{port}", **extra))
    container.start()
    return container, PrefixedSession(f"http://127.0.0.1:{port}/")


@pytest.fixture
def circular_services(container_factory, service_config, seeded):
    """dispatch and assessment (no schedule: its timer runs once a day here)."""
    start_on_free_port(container_factory, service_config, DispatchService, "dispatch",
                       DIGEST_POLL_SECONDS=86400, ESCALATION_POLL_SECONDS=86400)
    _, assessment_http = start_on_free_port(
        container_factory, service_config, AssessmentService, "assessment",
        CIRCULAR_POLL_SECONDS=86400, CIRCULAR_CARD_RULES=RULES,
        CIRCULAR_PUBLIC_URL="http://gridgov.test:8004")
    yield assessment_http
    assessment_http.close()

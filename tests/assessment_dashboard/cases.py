"""Dispatch cases the dashboard tests insert with SQL (as tests/dispatch/test_statistics.py
does), and the figures the REAL ``dispatch.case_statistics`` must report for them.

| case | town / grid | state          | assignment (civil_affairs)                    |
| K1   | A / g0      | dispatched     | lead sent 3 d ago, due 1 d ago (overdue)       |
| K2   | A / g0      | in_progress    | lead acked on time, due in 2 d                 |
| K3   | A / g1      | handling_local | — own deadline in 1 d                          |
| K4   | B / gB      | closed         | lead acked on time, reported on time           |
| K5   | B / gB      | closed         | — closed on the spot                           |

Escalation: K1 overdue, level 1, yellow card, to the town grid chief.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from services.dispatch.models import assignments, cases, escalations

HOUR, DAY = timedelta(hours=1), timedelta(days=1)
DEPARTMENT = "civil_affairs"
ORDER = ["K1", "K2", "K3", "K4", "K5"]  # K1 updated last


def _case(now: datetime, name: str, grid: str, state: str, **extra) -> dict:
    return {"case_id": str(uuid.uuid4()), "case_number": f"GS-{name}", "state": state,
            "handling_level": "town", "grid_code": grid, "town_code": grid[:9],
            "source": "app", "work_category": "public_security_prevention",
            "info_class": "event", "subcategory": "fire_hazard_corridor", "severity": "minor",
            "priority": "normal", "description": name, "private": False,
            "handled_on_spot": False, "reported_at": now - 5 * DAY, "filed_at": now - 5 * DAY,
            "updated_at": now - (ORDER.index(name) + 1) * timedelta(minutes=1), **extra}


def _assignment(case: dict, state: str, sent: datetime, due: datetime, **extra) -> dict:
    return {"assignment_id": str(uuid.uuid4()), "case_id": case["case_id"],
            "department": DEPARTMENT, "role": "lead", "state": state,
            "routing_key": f"{DEPARTMENT}.{case['town_code']}.public_security_prevention.normal",
            "sent_at": sent, "ack_due_at": sent + 2 * HOUR, "handle_due_at": due, **extra}


def insert(engine, grid_codes: list[str]) -> dict:
    """Insert the five cases; returns the case numbers and the grids used."""
    now = datetime.now(UTC)
    g0, g1, gb = grid_codes[0], grid_codes[1], grid_codes[-1]
    c = {"K1": _case(now, "K1", g0, "dispatched"),
         "K2": _case(now, "K2", g0, "in_progress"),
         "K3": _case(now, "K3", g1, "handling_local", handled_locally=True,
                     handle_due_at=now + DAY),
         "K4": _case(now, "K4", gb, "closed", closed_at=now - DAY),
         "K5": _case(now, "K5", gb, "closed", handled_on_spot=True, closed_at=now - 4 * DAY)}
    rows = [
        _assignment(c["K1"], "sent", now - 3 * DAY, now - DAY),
        _assignment(c["K2"], "acked", now - DAY, now + 2 * DAY, acked_at=now - DAY + HOUR,
                    ack_on_time=True),
        _assignment(c["K4"], "reported", now - 4 * DAY, now - DAY,
                    acked_at=now - 4 * DAY + HOUR, ack_on_time=True,
                    reported_at=now - 2 * DAY, handle_on_time=True, resolved=True),
    ]
    escalation = {"case_id": c["K1"]["case_id"], "kind": "overdue", "level": 1,
                  "card": "yellow", "department": DEPARTMENT, "target_role": "town_grid_chief",
                  "target_scope": f"town:{g0[:9]}", "at": now - HOUR}
    with engine.begin() as conn:
        for row in c.values():
            conn.execute(sa.insert(cases).values(**row))
        for row in rows:
            conn.execute(sa.insert(assignments).values(**row))
        conn.execute(sa.insert(escalations).values(**escalation))
    return {"g0": g0, "g1": g1, "town_a": g0[:9], "town_b": gb[:9]}


def expected(seeded: dict) -> dict:
    """Hand counts of the table above (definitions: services/dispatch/statistics.py)."""
    return {
        "by_grid": {seeded["g0"]: (2, 1), seeded["g1"]: (1, 0)},
        "department": {"department": DEPARTMENT, "assigned": 3, "acked": 2,
                       "acked_on_time": 2, "overdue": 1, "closed": 1, "closure_rate": 0.3333},
        "towns_ranked": [seeded["town_b"], seeded["town_a"]],  # closure 1.0 before 0.0
        "recent": [f"GS-{name}" for name in ORDER],
        "escalation": "GS-K1",
    }

"""KPIs per grid worker (``by=grid_worker``, services/dispatch/kpis_workers.py): the cases of
tests/dispatch/test_kpis.py (A–F) with reporters, grid staff from ``registry.staff.changed``
consumed by the REAL dispatch service, every figure counted by hand below.

Reporters: A, B, E (cancelled), F (outside the period) by gw-1; C, D by gw-2.
Staff: gw-1 neighbourhood grid worker of G1 (grids [G1]); gw-2 community grid worker of
T2's community 001 (grids [G2]); gw-3 dismissed; staff 4 has no subject.

gw-1 reported A, B: due 2, closed 2 → closure 1.0; on time A only (B's first result was
  late) → 0.5; first contact A only (B reworked) → 1/2 = 0.5; rework 1 / handled 2 = 0.5.
gw-1 responsible G1 = A, B, C: due 3, closed 2 → 0.6667; on time 1/3 = 0.3333; first
  contact 1/2 = 0.5; rework 1 / handled 2 (C unresolved) = 0.5 (= town T1's figures).
gw-2 reported C, D: due 2, closed 1 (D) → 0.5; on time 1/2 = 0.5; first contact 1/1 = 1.0;
  rework 0 / handled 1 = 0.0.
gw-2 responsible G2 = D (E cancelled): due 1, closed 1 → 1.0, 1.0, 1.0, rework 0/1 = 0.0.
A town grid chief of T2 sees gw-2 only, over T2's cases: reported = D alone, due 1.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from gridgov_common.contract import load_sample, make_envelope
from services.dispatch import kpis
from services.dispatch.models import assignments, cases
from tests.amqp import publish, wait_until
from tests.dispatch.test_kpis import DAY, G1, G2, HOUR, T1, T2, build

REPORTERS = {"A": "gw-1", "B": "gw-1", "E": "gw-1", "F": "gw-1", "C": "gw-2", "D": "gw-2"}
C2 = G2[:12]  # T2's community 001


def staff_changed(staff_id, subject, role, scope, grids, active=True, occurred_at=None):
    envelope = make_envelope("registry.staff.changed", {
        "staff_id": staff_id, "subject": subject, "action": "created", "role": role,
        "scope": scope, "town_code": scope.partition(":")[2][:9],
        "community_code": scope.partition(":")[2][:12], "grid_codes": grids,
        "lifecycle_state": "active" if active else "dismissed", "active": active,
        "valid_from": "2026-11-01"}, "registry")
    if occurred_at:
        envelope["occurred_at"] = occurred_at
    return envelope


STAFF = [
    staff_changed(1, "gw-1", "neighbourhood_grid_worker", f"grid:{G1}", [G1]),
    staff_changed(2, "gw-2", "community_grid_worker", f"community:{C2}", [G2]),
    staff_changed(3, "gw-3", "neighbourhood_grid_worker", f"grid:{G2}", [G2], active=False),
    staff_changed(4, None, "neighbourhood_grid_worker", f"grid:{G2}", [G2]),
]
GW1 = {"code": "gw-1", "staff_id": 1, "role": "neighbourhood_grid_worker", "scope_code": G1,
       "grid_codes": [G1],
       "reported": {"due": 2, "closed": 2, "closure_rate": 1.0, "on_time_closure_rate": 0.5,
                    "first_contact_rate": 0.5, "rework_rate": 0.5},
       "responsible": {"due": 3, "closed": 2, "closure_rate": 0.6667,
                       "on_time_closure_rate": 0.3333, "first_contact_rate": 0.5,
                       "rework_rate": 0.5}}
GW2 = {"code": "gw-2", "staff_id": 2, "role": "community_grid_worker", "scope_code": C2,
       "grid_codes": [G2],
       "reported": {"due": 2, "closed": 1, "closure_rate": 0.5, "on_time_closure_rate": 0.5,
                    "first_contact_rate": 1.0, "rework_rate": 0.0},
       "responsible": {"due": 1, "closed": 1, "closure_rate": 1.0, "on_time_closure_rate": 1.0,
                       "first_contact_rate": 1.0, "rework_rate": 0.0}}


@pytest.fixture
def period(db_engine, dispatch, rabbit_config):
    """Cases by SQL (as in test_kpis); staff through the running dispatch's consumer."""
    now = datetime.now(UTC)
    case_rows, assignment_rows = build(now)
    with db_engine.begin() as conn:
        for row in case_rows:
            conn.execute(sa.insert(cases).values(**row,
                                                 reporter_sub=REPORTERS[row["description"]]))
        for row in assignment_rows:
            conn.execute(sa.insert(assignments).values(**row))
    uri = rabbit_config["AMQP_URI"]
    for envelope in STAFF:
        publish(uri, "gridgov.events", "registry.staff.changed", envelope)
    wait_until(lambda: _count(db_engine, "grid_workers") == 4, timeout=20)
    return now - 30 * DAY, now + HOUR


def _count(engine, table: str) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.text(f"SELECT count(*) FROM dispatch.{table}")).scalar()


def test_grid_worker_kpis_match_the_hand_counts(db_engine, period):
    with db_engine.connect() as conn:
        assert kpis.kpis(conn, None, *period, "grid_worker")["rows"] == [GW1, GW2]
        town2 = kpis.kpis(conn, [T2], *period, "grid_worker")["rows"]
        town1 = kpis.kpis(conn, [T1], *period, "grid_worker")["rows"]
    assert town2 == [{**GW2, "reported": {**GW2["responsible"]}}]  # C lies in T1
    assert town1 == [GW1]


def test_http_and_rpc_answer_by_grid_worker(dispatch, period, web_session, token):
    start, end = period
    query = {"from": (start + DAY).date().isoformat(), "to": end.date().isoformat(),
             "by": "grid_worker"}
    found = web_session.get("/kpis", headers=token("district_admin", "district:320505"),
                            params=query)
    assert found.status_code == 200, found.text
    assert found.json()["by"] == "grid_worker" and found.json()["rows"] == [GW1, GW2]
    chief = web_session.get("/kpis", headers=token("town_grid_chief", f"town:{T2}"),
                            params=query)
    assert [row["code"] for row in chief.json()["rows"]] == ["gw-2"]


def test_staff_messages_are_applied_once_and_never_rolled_back(dispatch, db_engine, period,
                                                               rabbit_config):
    uri = rabbit_config["AMQP_URI"]
    newer = staff_changed(1, "gw-1", "neighbourhood_grid_worker", f"grid:{G1}", [],
                          occurred_at="2099-01-01T00:00:00.000Z")
    older = staff_changed(1, "gw-1", "neighbourhood_grid_worker", f"grid:{G1}", [G1],
                          occurred_at="2000-01-01T00:00:00.000Z")
    for envelope in (newer, newer, older):  # a re-delivery, then a late older state
        publish(uri, "gridgov.events", "registry.staff.changed", envelope)
    wait_until(lambda: _claimed(db_engine, [newer["message_id"], older["message_id"]]) == 2,
               timeout=20)
    assert _count(db_engine, "grid_worker_grids") == 3  # gw-1's G1 gone; gw-2, 3, 4 keep G2


def _claimed(engine, ids) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.text(
            "SELECT count(*) FROM dispatch.processed_messages "
            "WHERE consumer = 'dispatch.registry_staff' AND message_id = ANY(:ids)"),
            {"ids": ids}).scalar()


def test_reporter_of_a_v2_case_is_filed(dispatch, db_engine, rabbit_config):
    envelope = load_sample("events.case.reported", 2)
    envelope["message_id"] = str(uuid.uuid4())
    case_id = str(uuid.uuid4())
    envelope["payload"].update(case_id=case_id, reporter_sub="gw-7")
    publish(rabbit_config["AMQP_URI"], "gridgov.events", "events.case.reported", envelope)

    def reporter():
        with db_engine.connect() as conn:
            return conn.execute(sa.text("SELECT reporter_sub FROM dispatch.cases "
                                        "WHERE case_id = :id"), {"id": case_id}).scalar()
    wait_until(lambda: reporter() == "gw-7", timeout=20)

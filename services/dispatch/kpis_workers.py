"""KPIs per grid worker (``GET /kpis?by=grid_worker``; P5.4.6 assessment of grid staff).

Per active grid staff member tied to a token subject (``grid_workers``, from
``registry.staff.changed``), over the cases **filed** in ``[start, end)`` in the caller's
scope, cancelled ones and merged duplicates left out — the same definitions as the
areas' (docs/KPIS.md):

- ``reported``: the cases the person reported through the app (``cases.reporter_sub``,
  from ``events.case.reported`` v2);
- ``responsible``: the cases in the grids the person answers for (``grid_worker_grids``:
  a neighbourhood grid worker's grid, the grids a community grid worker leads; P5.1.4,
  P5.1.5).

Each holds ``due``, ``closed``, ``closure_rate`` = closed / due, ``on_time_closure_rate`` =
closed on time / due, ``first_contact_rate`` = closed with no rework and no return /
closed, ``rework_rate`` = reworked / handled. Aggregated in PostgreSQL, one statement per
side; rates are ``None`` when their denominator is 0.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from gridgov_common.kernel.roles import GRID_ROLES
from services.dispatch.domain.states import CaseState
from services.dispatch.models import cases, grid_worker_grids, grid_workers
from services.dispatch.statistics import (
    closed_on_time,
    count_where,
    counted,
    in_scope,
    late_results,
    rate,
)

WORKER_ROLES = sorted(str(r) for r in GRID_ROLES)  # P5.0: the five grid roles
EMPTY = {"due": 0, "closed": 0, "closed_on_time": 0, "handled": 0, "reworked": 0,
         "first_contact": 0}


def worker_rows(session, scope_codes: list[str] | None, start, end) -> list[dict[str, Any]]:
    w = grid_workers.c
    people = sa.select(w.staff_id, w.subject, w.role, w.scope_code).where(
        w.active, w.subject.is_not(None), w.role.in_(WORKER_ROLES))
    if scope_codes is not None:
        people = people.where(sa.or_(sa.false(), *(
            w.scope_code.startswith(code, autoescape=True) for code in scope_codes)))
    workers = session.execute(people.order_by(w.subject)).all()
    if not workers:
        return []
    ids = [r.staff_id for r in workers]
    reported = _figures(session, sa.select(w.staff_id.label("staff_id"), w.subject).where(
        w.staff_id.in_(ids)).subquery("wr"), "subject", cases.c.reporter_sub,
        scope_codes, start, end)
    responsible = _figures(session, sa.select(grid_worker_grids).where(
        grid_worker_grids.c.staff_id.in_(ids)).subquery("wg"), "grid_code",
        cases.c.grid_code, scope_codes, start, end)
    grids = {}
    for staff_id, code in session.execute(sa.select(
            grid_worker_grids.c.staff_id, grid_worker_grids.c.grid_code)
            .where(grid_worker_grids.c.staff_id.in_(ids)).order_by(grid_worker_grids.c.grid_code)):
        grids.setdefault(staff_id, []).append(code)
    return [{"code": r.subject, "staff_id": r.staff_id, "role": r.role,
             "scope_code": r.scope_code, "grid_codes": grids.get(r.staff_id, []),
             "reported": _rates(reported.get(r.staff_id, EMPTY)),
             "responsible": _rates(responsible.get(r.staff_id, EMPTY))} for r in workers]


def _figures(session, side: sa.Subquery, side_column: str, case_column,
             scope_codes, start, end) -> dict[int, dict[str, int]]:
    closed = cases.c.state == CaseState.CLOSED.value
    late = late_results()
    query = (sa.select(
        side.c.staff_id, sa.func.count().label("due"), count_where(closed).label("closed"),
        count_where(closed_on_time(late)).label("closed_on_time"),
        count_where(cases.c.resolved_at.is_not(None) | closed).label("handled"),
        count_where(cases.c.rework_count > 0).label("reworked"),
        count_where(closed & (cases.c.rework_count == 0) & (cases.c.return_count == 0))
        .label("first_contact"))
        .select_from(side.join(cases, case_column == side.c[side_column])
                     .outerjoin(late, late.c.case_id == cases.c.case_id))
        .where(cases.c.filed_at >= start, cases.c.filed_at < end,
               cases.c.state != CaseState.CANCELLED.value, counted(),
               in_scope(scope_codes))
        .group_by(side.c.staff_id))
    return {r.staff_id: dict(r._mapping) for r in session.execute(query)}


def _rates(f: dict[str, int]) -> dict[str, Any]:
    return {"due": f["due"], "closed": f["closed"],
            "closure_rate": rate(f["closed"], f["due"]),
            "on_time_closure_rate": rate(f["closed_on_time"], f["due"]),
            "first_contact_rate": rate(f["first_contact"], f["closed"]),
            "rework_rate": rate(f["reworked"], f["handled"])}

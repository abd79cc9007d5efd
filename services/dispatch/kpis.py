"""Case-handling KPIs for any period, computed in PostgreSQL from the case records that the
case file describes (P5.3.5 circulars, P5.4.6 assessment: never typed in by hand).

Definitions (docs/KPIS.md; CJ/T 292 / GB/T 30428.4 as summarised in DOMAIN-REFERENCES §3,
plus forwarding and first-contact resolution from Mark-a-Spot):

Areas (town, community, grid) over the cases **filed** in ``[start, end)``, cancelled ones
and merged duplicates left out ("due to close", 应结案; P5.3.1: a duplicate merged into
another case is closed by its original's closure, counted once, there):

- ``closure_rate`` 结案率 = closed / due; ``on_time_closure_rate`` 按期结案率 = closed on
  time / due (on time: no assignment's result late and, if handled at own level, resolved
  by its deadline — ``statistics.closed_on_time``'s definition);
- ``rework_rate`` 返工率 = cases sent back after an unsatisfied return visit / cases
  handled (resolved at least once);
- ``forwarding_rate`` = cases a department returned as not its own / due;
- ``first_contact_rate`` = closed with no rework and no return / closed;
- ``satisfaction`` = mean return-visit score (1–5) and ``satisfied_rate`` = scores ≥ 4 /
  scores;
- ``avg_hours_to_close`` = mean of closed_at − filed_at, in hours; its two stages:
  ``avg_hours_to_resolve`` = mean of resolved_at − filed_at (triage, report-in, handling)
  and ``avg_hours_to_return_visit`` = mean of closed_at − resolved_at over closed cases
  (the return visit); cases never resolved (closed on the spot) count in neither.

Departments over their assignments **sent** in ``[start, end)`` (one row per department
and round; withdrawn ones left out):

- ``ack_on_time_rate`` 按时签收率 = acknowledged by the ack deadline / assigned;
- ``handling_rate`` 处置率 = reported / assigned; ``on_time_handling_rate`` 按时处置率 =
  reported on time / assigned; ``return_rate`` = returned / assigned;
- ``rework_rate`` 返工率 = rework rounds / reported;
- ``avg_ack_hours``, ``avg_handle_hours`` = mean acked_at − sent_at, reported_at − sent_at.

Grid workers (``by=grid_worker``): the cases each reported and the cases in their grids,
with the areas' definitions — ``kpis_workers.py``.

Rates are ``None`` when their denominator is 0.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from gridgov_common.kernel.errors import Unprocessable
from gridgov_common.kernel.roles import Role
from gridgov_common.kernel.work_calendar import DEFAULT_TZ
from services.dispatch import kpis_workers
from services.dispatch.domain.states import AssignmentState, CaseState
from services.dispatch.models import assignments, cases
from services.dispatch.statistics import (
    closed_on_time,
    count_where,
    counted,
    in_scope,
    late_results,
    rate,
)

AREAS = {"town": 9, "community": 12, "grid": 15}
BY = (*AREAS, "department", "grid_worker")
CANCELLED = CaseState.CANCELLED.value
CLOSED = CaseState.CLOSED.value
SATISFIED = 4


def kpis(session, scope_codes: list[str] | None, start: datetime, end: datetime,
         by: str) -> dict[str, Any]:
    """{"by", "start", "end", "rows": [...]}: one row per area or department."""
    if by not in BY:
        raise ValueError(f"by must be one of {', '.join(BY)}")
    if by == "grid_worker":  # P5.4.6: per grid staff member (kpis_workers.py)
        rows = kpis_workers.worker_rows(session, scope_codes, start, end)
    elif by == "department":
        rows = department_rows(session, scope_codes, start, end)
    else:
        rows = area_rows(session, scope_codes, start, end, AREAS[by])
    return {"by": by, "start": start.isoformat(), "end": end.isoformat(), "rows": rows}


def kpis_for(session, principal, start: datetime, end: datetime, by: str) -> dict[str, Any]:
    """``GET /kpis`` for the caller: grid and district staff over their area; a department
    officer (P2.2 departments report in, P5.3.5 circulars rank departments) over its own
    assignments only, wherever they were sent (its workbench's reach), ``by=department``."""
    if principal.role != Role.DEPARTMENT_OFFICER:
        return kpis(session, [principal.scope_code], start, end, by)
    if by != "department":
        raise Unprocessable("a department reads its own figures: by=department",
                            fields={"by": ["must be department for a department officer"]})
    rows = department_rows(session, None, start, end, department=principal.scope_code)
    return {"by": by, "start": start.isoformat(), "end": end.isoformat(), "rows": rows}


def local_period(first: date, last: date) -> tuple[datetime, datetime]:
    """[first 00:00, day after last 00:00) in the district's time zone, as UTC instants."""
    zone = ZoneInfo(DEFAULT_TZ)
    start = datetime.combine(first, time(), zone).astimezone(UTC)
    end = datetime.combine(last + timedelta(days=1), time(), zone).astimezone(UTC)
    return start, end


def _hours(later, earlier) -> sa.ColumnElement:
    return sa.func.avg(sa.extract("epoch", later - earlier) / 3600.0)


def area_rows(session, scope_codes, start, end, digits: int) -> list[dict[str, Any]]:
    code = sa.func.substr(cases.c.grid_code, 1, digits).label("code")
    closed = cases.c.state == CLOSED
    late = late_results()  # one hash join, not a subquery per case (10× over 1 M cases)
    query = (sa.select(
        code, sa.func.count().label("due"), count_where(closed).label("closed"),
        count_where(closed_on_time(late)).label("closed_on_time"),
        count_where(cases.c.resolved_at.is_not(None) | closed).label("handled"),
        count_where(cases.c.rework_count > 0).label("reworked"),
        count_where(cases.c.return_count > 0).label("forwarded"),
        count_where(closed & (cases.c.rework_count == 0) & (cases.c.return_count == 0))
        .label("first_contact"),
        sa.func.avg(cases.c.satisfaction).label("satisfaction"),
        sa.func.count(cases.c.satisfaction).label("scored"),
        count_where(cases.c.satisfaction >= SATISFIED).label("satisfied"),
        _hours(cases.c.closed_at, cases.c.filed_at).filter(closed).label("hours_to_close"),
        _hours(cases.c.resolved_at, cases.c.filed_at).label("hours_to_resolve"),
        _hours(cases.c.closed_at, cases.c.resolved_at).filter(closed)
        .label("hours_to_return_visit"))
        .select_from(cases.outerjoin(late, late.c.case_id == cases.c.case_id))
        .where(cases.c.filed_at >= start, cases.c.filed_at < end,
               cases.c.state != CANCELLED, counted(), in_scope(scope_codes))
        .group_by(code).order_by(code))
    return [{
        "code": r.code, "due": r.due, "closed": r.closed,
        "closure_rate": rate(r.closed, r.due),
        "on_time_closure_rate": rate(r.closed_on_time, r.due),
        "rework_rate": rate(r.reworked, r.handled),
        "forwarding_rate": rate(r.forwarded, r.due),
        "first_contact_rate": rate(r.first_contact, r.closed),
        "satisfaction": _round(r.satisfaction), "satisfied_rate": rate(r.satisfied, r.scored),
        "avg_hours_to_close": _round(r.hours_to_close),
        "avg_hours_to_resolve": _round(r.hours_to_resolve),
        "avg_hours_to_return_visit": _round(r.hours_to_return_visit),
    } for r in session.execute(query)]


def department_rows(session, scope_codes, start, end, department: str | None = None
                    ) -> list[dict[str, Any]]:
    a = assignments.c
    reported = a.reported_at.is_not(None)
    only = sa.true() if department is None else a.department == department
    query = (sa.select(
        a.department, sa.func.count().label("assigned"),
        count_where(a.ack_on_time.is_(True)).label("acked_on_time"),
        count_where(reported).label("reported"),
        count_where(reported & a.handle_on_time.is_(True)).label("reported_on_time"),
        count_where(a.state == AssignmentState.RETURNED.value).label("returned"),
        count_where(reported & (a.rework > 0)).label("rework_rounds"),
        _hours(a.acked_at, a.sent_at).label("ack_hours"),
        _hours(a.reported_at, a.sent_at).label("handle_hours"))
        .join(cases, cases.c.case_id == a.case_id)
        .where(a.sent_at >= start, a.sent_at < end,
               a.state != AssignmentState.WITHDRAWN.value, in_scope(scope_codes), only)
        .group_by(a.department).order_by(a.department))
    return [{
        "code": r.department, "assigned": r.assigned,
        "ack_on_time_rate": rate(r.acked_on_time, r.assigned),
        "handling_rate": rate(r.reported, r.assigned),
        "on_time_handling_rate": rate(r.reported_on_time, r.assigned),
        "return_rate": rate(r.returned, r.assigned),
        "rework_rate": rate(r.rework_rounds, r.reported),
        "avg_ack_hours": _round(r.ack_hours), "avg_handle_hours": _round(r.handle_hours),
    } for r in session.execute(query)]


def _round(value) -> float | None:
    return None if value is None else round(float(value), 2)

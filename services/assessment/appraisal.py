"""The half-year assessment (P5.4.6): each subject's indicators, points, score and grade.

"By the town every half year, of the grid leads at every level; inputs: platform operating
records, case closure rate, closure timeliness, base-data accuracy, phone spot checks,
democratic appraisal, quantified points." Everything but democratic appraisal and
quantified points is computed from records here (docs/ASSESSMENT.md):

- case KPIs from dispatch's ``kpis`` RPC (docs/KPIS.md), by town, community, grid and
  department, over the cases filed from the half-year's first day to ``as_of``;
- base-data accuracy from spot checks (``spotchecks``);
- patrol compliance = working days with a patrol fix / working days (P5.4.3);
- meeting compliance = meeting periods met / periods ended (P5.4.5, ``meeting_rules.RULES``);
- democratic appraisal and quantified points from ``appraisal_inputs`` (typed by the town).

Subjects: towns, communities, grid staff of every level (``field_staff``) and departments.
A person's case figures and base-data accuracy are those of the grids the registry says they
answer for (dispatch's ``kpis`` by ``grid_worker``, from ``registry.staff.changed``) when
dispatch knows them, else of the area of their scope code — a neighbourhood grid worker's
grid, the community's for community-level staff, the town's for the town grid chief.
A value is ``ok``, ``missing`` (no data: no cases, no check, nothing typed) or ``n/a`` (the
indicator does not apply, e.g. meetings for a neighbourhood grid worker); see ``score``.
"""

from __future__ import annotations

from datetime import date, timedelta

import sqlalchemy as sa
from nameko.exceptions import RemoteError

from gridgov_common.kernel import area
from gridgov_common.kernel.roles import GRID_ROLES
from services.assessment import meetings, spotchecks
from services.assessment.domain.subjects import Inputs
from services.assessment.models import appraisal_inputs, field_staff

PATROL_SQL = sa.text(f"""
SELECT staff_sub, count(DISTINCT (recorded_at AT TIME ZONE '{area.TZ_NAME}')::date)
         FILTER (WHERE (recorded_at AT TIME ZONE '{area.TZ_NAME}')::date = ANY(:workdays))
         AS patrolled_days
  FROM assessment.track_points
 WHERE recorded_at >= :start AND recorded_at < :end AND staff_sub = ANY(:subs)
 GROUP BY staff_sub
""")


def gather(db, kpis_client, scope: str, first: date, last: date, workdays: list[date],
           half_year: str) -> Inputs:
    code = scope.partition(":")[2]
    out = Inputs()
    for level in ("town", "community", "grid"):
        reply = kpis_client.kpis(scope, first.isoformat(), last.isoformat(), level)
        out.area[level] = {row["code"]: row for row in reply["rows"]}
    reply = kpis_client.kpis(scope, first.isoformat(), last.isoformat(), "department")
    out.departments = {row["code"]: row for row in reply["rows"]}
    try:  # the registry's staff ↔ grid assignments, as dispatch knows them
        reply = kpis_client.kpis(scope, first.isoformat(), last.isoformat(), "grid_worker")
        out.workers = {row["code"]: row for row in reply["rows"] if row["grid_codes"]}
    except RemoteError:  # a dispatch without by=grid_worker: the scope rule alone
        out.workers = {}
    start, end = spotchecks.period_of(first, last)
    for by in ("town", "community", "grid", "grid_worker"):
        rows = spotchecks.accuracy(db, code, start, end, by)
        out.accuracy[by] = {r["staff_sub"] if by == "grid_worker" else r["code"]: r
                            for r in rows}
    out.staff = [dict(r) for r in db.execute(
        sa.select(field_staff.c.staff_sub, field_staff.c.role, field_staff.c.scope_code)
        .where(field_staff.c.role.in_([r.value for r in GRID_ROLES]),
               field_staff.c.scope_code.startswith(code, autoescape=True))
        .order_by(field_staff.c.staff_sub)).mappings()]
    subs = [s["staff_sub"] for s in out.staff]
    done = {r.staff_sub: r.patrolled_days for r in db.execute(PATROL_SQL, {
        "workdays": workdays, "start": start, "end": end, "subs": subs})}
    out.patrol = {sub: (done.get(sub, 0), len(workdays)) for sub in subs}
    out.meeting = meeting_periods(db, code, first, last)
    out.typed = {(r.subject_kind, r.subject_code): dict(r._mapping) for r in db.execute(
        sa.select(appraisal_inputs).where(appraisal_inputs.c.half_year == half_year))}
    return out


def meeting_periods(db, code: str, first: date, last: date) -> dict[str, tuple[int, int]]:
    """Per person a meeting rule applies to: (periods met, periods ended by ``last``)."""
    out: dict[str, list[int]] = {}
    month = first
    while month <= last:
        nxt = date(month.year + (month.month == 12), month.month % 12 + 1, 1)
        month_end = nxt - timedelta(days=1)
        if month_end <= last:
            for row in meetings.standing(db, code, month_end):
                if row["period_end"] == month_end:  # a quarter is judged at its last month
                    tally = out.setdefault(row["staff_sub"], [0, 0])
                    tally[0] += row["met"]
                    tally[1] += 1
        month = nxt
    return {sub: (met, judged) for sub, (met, judged) in out.items()}

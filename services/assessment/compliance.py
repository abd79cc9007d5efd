"""Patrol compliance per person and day, computed in PostgreSQL (P5.4.3, P5.1.2).

- patrolled: at least one patrol with a track point that (local) day;
- inside share: seconds inside one's own grids within working hours / working seconds,
  where each point stands for the time until the next point of the same person
  (``lead(recorded_at)``), capped at ``max_gap`` (a device that went quiet proves nothing);
- P5.1.2: a grid instructor has at least one point inside their community's grids in the
  calendar month so far.

Point-in-polygon is PostgreSQL's built-in ``polygon @> point`` (PostGIS is not installed).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa

from gridgov_common.kernel import area
from gridgov_common.kernel.roles import Role
from services.assessment.domain import patrol_rules

TZ = area.TZ  # the district's clock (gridgov_common/kernel/area.py)
WORK_START, WORK_END = time(8, 30), time(17, 30)  # P5.4.3 working time (brief)
DEFAULT_MAX_GAP_SECONDS = 900
# an own grid: code inside the staff member's scope (codes are digits; range = prefix)
_INSIDE = """EXISTS (
  SELECT 1 FROM assessment.grid_rings g
   WHERE g.ring = 0 AND g.grid_code >= {scope} AND g.grid_code <= {scope} || '999999999999999'
     AND (g.valid_from IS NULL OR g.valid_from <= :day)
     AND (g.valid_to IS NULL OR g.valid_to > :day)
     AND g.area @> point({lon}, {lat})
     AND NOT EXISTS (SELECT 1 FROM assessment.grid_rings h
                      WHERE h.grid_code = g.grid_code AND h.part = g.part AND h.ring > 0
                        AND h.area @> point({lon}, {lat})))"""

DAY_SQL = sa.text(f"""
WITH people AS (
  SELECT staff_sub, role, scope_code FROM assessment.field_staff
   WHERE scope_code LIKE :scope || '%' AND active
), pts AS (
  SELECT t.staff_sub, p.scope_code, t.patrol_id, t.recorded_at, t.lon, t.lat,
         lead(t.recorded_at) OVER (PARTITION BY t.staff_sub ORDER BY t.recorded_at) AS next_at
    FROM assessment.track_points t JOIN assessment.patrols p USING (patrol_id)
   WHERE t.recorded_at >= :day_start AND t.recorded_at < :day_end
     AND t.staff_sub IN (SELECT staff_sub FROM people)
), seg AS (
  SELECT staff_sub, patrol_id,
         greatest(0, extract(epoch FROM
           least(coalesce(next_at, recorded_at), recorded_at + make_interval(secs => :max_gap),
                 :work_end)
           - greatest(recorded_at, :work_start))) AS secs,
         {_INSIDE.format(scope="pts.scope_code", lon="pts.lon", lat="pts.lat")} AS inside
    FROM pts
), per_staff AS (
  SELECT staff_sub, count(DISTINCT patrol_id) AS patrols,
         coalesce(sum(secs) FILTER (WHERE inside), 0) AS inside_seconds
    FROM seg GROUP BY staff_sub
)
SELECT people.staff_sub, people.role, people.scope_code,
       coalesce(per_staff.patrols, 0) AS patrols,
       coalesce(per_staff.inside_seconds, 0)::float AS inside_seconds
  FROM people LEFT JOIN per_staff USING (staff_sub)
 ORDER BY people.staff_sub
""")

INSTRUCTOR_SQL = sa.text(f"""
SELECT s.staff_sub FROM assessment.field_staff s
 WHERE s.role = :role AND s.scope_code LIKE :scope || '%' AND s.active
   AND EXISTS (SELECT 1 FROM assessment.track_points t
                WHERE t.staff_sub = s.staff_sub
                  AND t.recorded_at >= :month_start AND t.recorded_at < :day_end
                  AND {_INSIDE.format(scope="s.scope_code", lon="t.lon", lat="t.lat")})
""")


def day_bounds(day: date) -> tuple[datetime, datetime, datetime, datetime]:
    """Local day start/end and working window start/end, as aware datetimes."""
    start = datetime.combine(day, time(0), TZ)
    return (start, start + timedelta(days=1), datetime.combine(day, WORK_START, TZ),
            datetime.combine(day, WORK_END, TZ))


def patrol_day(db, day: date, scope_code: str, is_workday: bool,
               max_gap: int = DEFAULT_MAX_GAP_SECONDS) -> list[dict[str, Any]]:
    """One row per known staff member in ``scope_code`` for ``day`` (see module doc)."""
    day_start, day_end, work_start, work_end = day_bounds(day)
    # the planner's cost (one polygon probe per fix) triggers JIT, whose compilation took
    # 60 % of a community's query (bench_08): off for this transaction only
    db.execute(sa.text("SET LOCAL jit = off"))
    rows = db.execute(DAY_SQL, {"day_start": day_start, "day_end": day_end,
                                "work_start": work_start, "work_end": work_end,
                                "max_gap": max_gap, "scope": scope_code,
                                "day": day}).mappings().all()
    month_start = datetime.combine(day.replace(day=1), time(0), TZ)
    instructors = {r[0] for r in db.execute(INSTRUCTOR_SQL, {
        "role": Role.GRID_INSTRUCTOR.value, "scope": scope_code,
        "month_start": month_start, "day_end": day_end, "day": day})}
    working = (work_end - work_start).total_seconds() if is_workday else 0.0
    month_end = (day + timedelta(days=1)).month != day.month
    return [patrol_rules.judge(dict(r), working, is_workday, instructors, month_end) for r in rows]

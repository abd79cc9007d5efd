"""Case statistics for the operations dashboard and the Prometheus collector (P6.2, P5.3.3).

Every figure is an aggregate computed by PostgreSQL (``count(*) FILTER``, ``GROUP BY``);
no case is loaded into Python except the 20 ``recent`` rows.  Definitions (the same in
docs/METRICS.md; "now" is the ``now`` argument):

- **scope**: a case is in scope when its ``grid_code`` starts with one of the given codes
  (district 6, town 9, community 12 or grid 15 digits nest by prefix, P4.1); ``None``
  means every case, an empty list means none.  Departments and escalations are counted
  through the cases they belong to.
- **open**: ``cases.state`` in ``domain.states.OPEN_STATES`` — filed, handling_local,
  dispatched, in_progress, resolved (awaiting the return visit).  Suspended (挂账) cases
  are parked and cancelled/closed ones are done: not open.
- **overdue** (case, P5.3.3): ``queries.overdue_condition`` — the case has an active
  assignment (state sent or acked) whose ``handle_due_at`` < now, or it is handled at
  own level (state handling_local) with ``cases.handle_due_at`` < now.  The same test as
  ``GET /cases?overdue=true``.
- **closed**: ``cases.state = 'closed'`` (return visit satisfied, or handled on the spot).
  Cancelled (注销) cases are not closed.
- **merged** duplicates (``cases.merged_into`` set, P5.3.1) are left out of by_town and
  by_grid altogether: their original carries the closure, once. Department rows count
  assignments: the merge withdraws the duplicate's open ones (not counted); a result
  reported on it before the merge stays the department's.
- **total** (by_town): every case in scope, whatever its state.
- **closure_rate** (by_town): closed / total; ``None`` when total is 0.
- **on_time_rate** (by_town): closed_on_time / closed, ``None`` when closed is 0; a closed
  case is on time when none of its assignments has ``handle_on_time = false`` (the frozen
  outcome of each result report, P5.3.3) and, if it carries its own deadline (handled at
  own level), ``resolved_at <= cases.handle_due_at``.  A case closed on the spot has no
  deadline and counts as on time.
- **by_department**, counted over assignment rows (one per department and round, rework
  rounds included) of cases in scope: ``assigned`` every row; ``acked`` rows with
  ``acked_at`` set; ``acked_on_time`` of those, ``ack_on_time = true`` (acked by
  ``ack_due_at``, P2.2); ``overdue`` active rows (sent/acked) with ``handle_due_at`` < now;
  ``closed`` rows in state reported whose case is closed; ``closure_rate`` closed /
  assigned, ``None`` when assigned is 0.
- **by_grid**: open and overdue per grid, for grids with at least one open or overdue case.
- **recent**: the 20 cases updated last; **escalations**: the 20 latest by ``at``; both
  leave out sensitive cases (P5.2.5: a case revealing special-group membership is shown on
  the dashboard only as a count, in the figures above).
- **majors**: the major events (P5.2.7: work category ``major_event`` or severity
  ``critical``) reported in the last ``MAJOR_WINDOW_DAYS`` days, newest first, at most
  ``MAJOR_LIMIT``, sensitive ones left out: the wall pins those nobody acknowledged
  (assessment keeps the acknowledgements), however many other cases changed since.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from gridgov_common.kernel.errors import Unprocessable
from gridgov_common.kernel.roles import CODE_LENGTH, ScopeLevel
from gridgov_common.platform.db import fixed
from services.dispatch.domain import states
from services.dispatch.master_data import subcategory_names
from services.dispatch.models import assignments, cases, escalations
from services.dispatch.queries import overdue_condition

RECENT = 20
MAJOR_WINDOW_DAYS = 7  # a major event older than a week is no longer news on the wall
MAJOR_LIMIT = 50
MAJOR_CATEGORY, CRITICAL = "major_event", "critical"  # P5.2.7 (events' catalogue.is_major)
RATE_DIGITS = 4
OPEN = [s.value for s in states.OPEN_STATES]
ACTIVE = [s.value for s in states.ACTIVE_ASSIGNMENT_STATES]
CLOSED = states.CaseState.CLOSED.value
REPORTED = states.AssignmentState.REPORTED.value
GEOGRAPHIC = (ScopeLevel.DISTRICT, ScopeLevel.TOWN, ScopeLevel.COMMUNITY, ScopeLevel.GRID)


def parse_scope(scope: str) -> str:
    """The code of a geographic scope text ("town:320505001"); ``Unprocessable`` else."""
    level_text, _, code = str(scope).partition(":")
    try:
        level = ScopeLevel(level_text)
    except ValueError:
        level = None
    if level not in GEOGRAPHIC:
        raise Unprocessable("scope must be district:, town:, community: or grid:<code>",
                            fields={"scope": [f"not a geographic scope: {scope!r}"]})
    if len(code) != CODE_LENGTH[level] or not code.isdigit():
        raise Unprocessable(f"a {level} code has {CODE_LENGTH[level]} digits",
                            fields={"scope": [f"bad code {code!r}"]})
    return code


def in_scope(scope_codes: list[str] | None):
    """WHERE clause on ``cases``: grid_code under one of ``scope_codes`` (None = all)."""
    if scope_codes is None:
        return sa.true()
    if not scope_codes:
        return sa.false()
    return sa.or_(*(cases.c.grid_code.startswith(code, autoescape=True)
                    for code in scope_codes))


def rate(part: int, whole: int) -> float | None:
    return round(part / whole, RATE_DIGITS) if whole else None


def count_where(condition) -> sa.ColumnElement:
    return sa.func.count().filter(condition)


def _is_open():
    return cases.c.state.in_(OPEN)


def counted():
    """P5.3.1/P5.4.6: a case merged into another (a confirmed duplicate, waiting for its
    original or closed with it) is no case of its own in the case figures: not due, not
    closed, not overdue — its original carries the closure, once (docs/KPIS.md)."""
    return cases.c.merged_into.is_(None)


def late_results() -> sa.Subquery:
    """Cases with at least one result reported late, one row each: outer-join it and pass
    it to :func:`closed_on_time` to test millions of cases with one hash join."""
    return (sa.select(assignments.c.case_id).where(assignments.c.handle_on_time.is_(False))
            .group_by(assignments.c.case_id).subquery("late"))


def closed_on_time(late: sa.Subquery | None = None):
    """Closed, no result late and, if handled at own level, resolved by its deadline.
    ``late``: the outer-joined :func:`late_results`; without it, a subquery per case."""
    if late is None:
        no_late_result = ~sa.exists().where(assignments.c.case_id == cases.c.case_id,
                                            assignments.c.handle_on_time.is_(False))
    else:
        no_late_result = late.c.case_id.is_(None)
    late_local = sa.and_(cases.c.handle_due_at.is_not(None),
                         cases.c.resolved_at > cases.c.handle_due_at)
    return sa.and_(cases.c.state == CLOSED, no_late_result,
                   sa.not_(sa.func.coalesce(late_local, False)))


def by_grid(session, scope_codes: list[str] | None, now: datetime) -> list[dict[str, Any]]:
    open_, overdue = count_where(_is_open()), count_where(overdue_condition(now))
    query = (sa.select(cases.c.grid_code, open_.label("open"), overdue.label("overdue"))
             .where(in_scope(scope_codes), counted()).group_by(cases.c.grid_code)
             .having(sa.or_(open_ > 0, overdue > 0)).order_by(cases.c.grid_code))
    return [dict(row) for row in session.execute(query).mappings()]


def by_town(session, scope_codes: list[str] | None, now: datetime) -> list[dict[str, Any]]:
    query = (sa.select(cases.c.town_code, sa.func.count().label("total"),
                       count_where(_is_open()).label("open"),
                       count_where(overdue_condition(now)).label("overdue"),
                       count_where(cases.c.state == CLOSED).label("closed"),
                       count_where(closed_on_time()).label("closed_on_time"))
             .where(in_scope(scope_codes), counted()).group_by(cases.c.town_code)
             .order_by(cases.c.town_code))
    found = []
    for row in session.execute(query).mappings():
        row = dict(row)
        on_time = row.pop("closed_on_time")
        row["closure_rate"] = rate(row["closed"], row["total"])
        row["on_time_rate"] = rate(on_time, row["closed"])
        found.append(row)
    return found


def by_department(session, scope_codes: list[str] | None,
                  now: datetime) -> list[dict[str, Any]]:
    a = assignments.c
    query = (sa.select(a.department, sa.func.count().label("assigned"),
                       count_where(a.acked_at.is_not(None)).label("acked"),
                       count_where(sa.and_(a.acked_at.is_not(None), a.ack_on_time.is_(True)))
                       .label("acked_on_time"),
                       count_where(sa.and_(a.state.in_(ACTIVE), a.handle_due_at < now))
                       .label("overdue"),
                       count_where(sa.and_(a.state == REPORTED, cases.c.state == CLOSED))
                       .label("closed"))
             .select_from(assignments.join(cases, cases.c.case_id == a.case_id))
             .where(in_scope(scope_codes)).group_by(a.department).order_by(a.department))
    found = []
    for row in session.execute(query).mappings():
        row = dict(row)
        row["closure_rate"] = rate(row["closed"], row["assigned"])
        found.append(row)
    return found


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat() if moment is not None else None


def _case_rows(session, query) -> list[dict[str, Any]]:
    rows = session.execute(query).mappings().all()
    # the subcategories' names from the followed catalogue (the feed shows them)
    names = subcategory_names(session, [row["subcategory"] for row in rows])
    return [{**row, "updated_at": _iso(row["updated_at"]),
             **({"reported_at": _iso(row["reported_at"])} if "reported_at" in row else {}),
             "subcategory_name": names.get(row["subcategory"])} for row in rows]


def _case_columns():
    c = cases.c
    return (c.case_id, c.case_number, c.state, c.town_code, c.grid_code, c.work_category,
            c.subcategory, c.severity, c.updated_at)


def recent_cases(session, scope_codes: list[str] | None) -> list[dict[str, Any]]:
    """The 20 cases updated last (index ix_cases_updated_at, walked backwards)."""
    c = cases.c
    return _case_rows(session, sa.select(*_case_columns())
                      .where(in_scope(scope_codes), c.sensitive.is_(False))  # P5.2.5
                      .order_by(c.updated_at.desc(), c.case_id.desc()).limit(RECENT))


def major_cases(session, scope_codes: list[str] | None, now: datetime
                ) -> list[dict[str, Any]]:
    """The major events of the last days (module doc; partial index
    ix_cases_major_reported), whatever else changed since."""
    c = cases.c
    # constants in the SQL text: a generic plan can then prove the partial index's predicate
    major = sa.or_(c.work_category == fixed(MAJOR_CATEGORY), c.severity == fixed(CRITICAL))
    return _case_rows(session, sa.select(*_case_columns(), c.reported_at)
                      .where(major, c.reported_at >= now - timedelta(days=MAJOR_WINDOW_DAYS),
                             in_scope(scope_codes), c.sensitive.is_(False))  # P5.2.5
                      .order_by(c.reported_at.desc(), c.case_id.desc()).limit(MAJOR_LIMIT))


def recent_escalations(session, scope_codes: list[str] | None) -> list[dict[str, Any]]:
    e = escalations.c
    query = (sa.select(cases.c.case_id, cases.c.case_number, e.kind, e.card, e.level, e.department,
                       e.target_role, e.at)
             .select_from(escalations.join(cases, cases.c.case_id == e.case_id))
             .where(in_scope(scope_codes), cases.c.sensitive.is_(False))  # P5.2.5
             .order_by(e.at.desc(), e.id.desc()).limit(RECENT))
    return [{**row, "at": _iso(row["at"])} for row in session.execute(query).mappings()]


def case_statistics(session, scope_codes: list[str] | None,
                    now: datetime | None = None) -> dict[str, Any]:
    """The dashboard's figures for the cases under ``scope_codes`` (see the module doc)."""
    now = now or datetime.now(UTC)
    return {
        "generated_at": _iso(now),
        "by_grid": by_grid(session, scope_codes, now),
        "by_department": by_department(session, scope_codes, now),
        "by_town": by_town(session, scope_codes, now),
        "recent": recent_cases(session, scope_codes),
        "escalations": recent_escalations(session, scope_codes),
        "majors": major_cases(session, scope_codes, now),
    }

"""Reading cases for the people who work them (P5.3, P6.2): one case, or a list, always
within the caller's scope.

Scope rules (the same for HTTP and RPC callers): grid staff, the district admin and the ops
viewer see the cases whose grid code lies in their scope (codes nest by prefix, P4.1: a
district holds its towns, a town its communities, a community its grids); a department
officer sees only the cases its department has (or had) an assignment on (P2.2).  A case
whose subcategory reveals a special group (``sensitive``, P5.2.5) only the special-group
readers in scope and the departments assigned see.  A case outside the scope is answered
as unknown, never as forbidden: its existence is not told.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from gridgov_common.kernel.auth import Principal, parse_scope
from gridgov_common.kernel.errors import NotFound, Unprocessable
from gridgov_common.kernel.roles import SPECIAL_GROUP_READERS, Role
from services.dispatch import case_store
from services.dispatch.domain import states
from services.dispatch.models import assignments, cases

MAX_LIMIT = 200
SUMMARY_COLUMNS = (
    "case_id", "case_number", "state", "grid_code", "town_code", "work_category",
    "subcategory", "severity", "priority", "handling_level", "reported_at", "updated_at",
)
_ACTIVE = [s.value for s in states.ACTIVE_ASSIGNMENT_STATES]


def _unknown(case_id: str) -> NotFound:
    return NotFound(f"no case {case_id}", code="unknown_case")


def _is_uuid(text: str) -> bool:
    try:
        uuid.UUID(str(text))
    except ValueError:
        return False
    return True


def _assigned_to(department: str):
    """Cases on which ``department`` has an assignment, current or past."""
    return sa.exists().where(assignments.c.case_id == cases.c.case_id,
                             assignments.c.department == department)


def scope_filter(principal):
    """The WHERE clause of the cases ``principal`` may see."""
    if principal.role == Role.DEPARTMENT_OFFICER:
        return _assigned_to(principal.scope_code)  # sensitive ones too: assigned (P5.2.5)
    return sa.and_(cases.c.grid_code.startswith(principal.scope_code, autoescape=True),
                   sensitive_filter(principal))


def sensitive_filter(principal):
    """P5.2.5: a case revealing special-group membership (``sensitive``) only for the
    roles that may see special groups (the registry's ``unmask=special_groups`` list)."""
    if principal.role in SPECIAL_GROUP_READERS:
        return sa.true()
    return cases.c.sensitive.is_(False)


def visible_case(session, principal, case_id: str, lock: bool = False) -> dict[str, Any]:
    """The case if ``principal`` may see it, else ``NotFound``; ``lock``: FOR UPDATE, for an
    action that changes it (concurrent actions on one case apply one after the other)."""
    if not _is_uuid(case_id):
        raise _unknown(case_id)
    if lock:  # the case store alone locks a case for a change
        locked = case_store.lock(session, case_id, scope_filter(principal))
        if locked is None:
            raise _unknown(case_id)
        return locked
    case = session.execute(sa.select(cases).where(cases.c.case_id == case_id,
                                                  scope_filter(principal))).mappings().first()
    if case is None:
        raise _unknown(case_id)
    return dict(case)


def case_assignments(session, case_id: str) -> list[dict[str, Any]]:
    """Every assignment of the case, oldest round first, the lead before its assists."""
    rows = session.execute(sa.select(assignments).where(assignments.c.case_id == case_id)
                           .order_by(assignments.c.sent_at, assignments.c.role.desc()))
    return [dict(row) for row in rows.mappings()]


def case_with_assignments(session, principal, case_id: str) -> dict[str, Any]:
    case = visible_case(session, principal, case_id)
    return {**case, "assignments": case_assignments(session, case_id)}


def overdue_condition(now: datetime):
    """P5.3.3: past the time limit — an assignment still owing its result after its
    handle_due_at, or a case handled at own level past its handle_due_at."""
    late_assignment = sa.exists().where(
        assignments.c.case_id == cases.c.case_id, assignments.c.state.in_(_ACTIVE),
        assignments.c.handle_due_at < now)
    late_local = sa.and_(cases.c.state == states.CaseState.HANDLING_LOCAL.value,
                         cases.c.handle_due_at < now)
    return sa.or_(late_assignment, late_local)


def _as_utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _filters(params: dict[str, Any], now: datetime) -> list:
    found = []
    for name in ("state", "town_code", "grid_code", "work_category", "handling_level"):
        if params.get(name):
            found.append(cases.c[name] == params[name])
    if params.get("reported_from"):
        found.append(cases.c.reported_at >= _as_utc(params["reported_from"]))
    if params.get("reported_to"):
        found.append(cases.c.reported_at < _as_utc(params["reported_to"]))
    if params.get("overdue") is not None:
        late = overdue_condition(now)
        found.append(late if params["overdue"] else sa.not_(late))
    return found


def list_cases(session, principal, params: dict[str, Any],
               now: datetime | None = None) -> dict[str, Any]:
    """A page of the cases ``principal`` sees, newest reported first, with the total.

    ``params``: state, town_code, grid_code, work_category, handling_level (P5.3.2: the
    cases waiting at a level), overdue (bool),
    reported_from (inclusive), reported_to (exclusive), limit (≤ 200), offset."""
    now = now or datetime.now(UTC)
    where = [scope_filter(principal), *_filters(params, now)]
    total = session.execute(sa.select(sa.func.count()).select_from(cases)
                            .where(*where)).scalar_one()
    limit = min(int(params.get("limit") or 50), MAX_LIMIT)
    rows = session.execute(
        sa.select(*(cases.c[name] for name in SUMMARY_COLUMNS)).where(*where)
        .order_by(cases.c.reported_at.desc(), cases.c.case_id.desc())
        .limit(limit).offset(int(params.get("offset") or 0))).mappings()
    return {"items": [dict(row) for row in rows], "total": total}


def allowed_actions(session, principal, case_id: str) -> dict[str, Any]:
    """The transitions the caller may attempt on the case now (for the app's buttons):
    the state machine's table for its role, less the level moves that cannot be made
    (nothing above the district, nothing below the grid)."""
    case = visible_case(session, principal, case_id)
    names = states.allowed(case["state"], principal.role)
    level = case["handling_level"]
    impossible = {
        states.TransitionName.REPORT_UP: level == states.HandlingLevel.DISTRICT,
        states.TransitionName.ASSIGN_DOWN: level == states.HandlingLevel.GRID,
    }
    return {"case_id": case["case_id"], "state": case["state"], "handling_level": level,
            "transitions": [str(name) for name in names if not impossible.get(name, False)],
            "supervise": _may_supervise(principal, case)}


def _may_supervise(principal, case: dict[str, Any]) -> bool:
    """The 督办 button (supervision.py imports this module, hence imported here)."""
    from services.dispatch import supervision
    return supervision.may_issue(principal, case)


def principal_for(role: str, scope: str, sub: str = "rpc"):
    """A principal for an RPC caller that names the scope it acts for (``role`` and
    ``"level:code"`` as in a token); the same scope rules as over HTTP apply."""
    try:
        who = Role(role)
        level, code = parse_scope(who, scope)
    except ValueError as exc:
        raise Unprocessable(f"bad role or scope: {exc}",
                            fields={"scope": [str(exc)]}) from None
    return Principal(sub=sub, role=who, scope_level=level, scope_code=code)

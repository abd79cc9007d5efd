"""The return visit (回访, P5.2.1, P5.3.3) and the rework it may order (返工).

Grid workers or the community grid chief go back to the resident with the result.  If the
resident is satisfied the case closes; if not, the case goes back to whoever handled it:
to own-level handling with a new time limit, or to the departments whose results did not
solve it — new assignments with the same lead/assist roles, new deadlines from the case's
rule and ``rework`` = the case's rework count.  The earlier assignments stay as history.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from gridgov_common.contract.cases import AssignmentRole
from gridgov_common.kernel.errors import Conflict
from services.dispatch import actions, config_store, queries
from services.dispatch.domain import states, triage
from services.dispatch.domain.states import CaseState, TransitionName
from services.dispatch.models import assignments


def return_visit(session, principal, case_id: str, visit: dict[str, Any],
                 now: datetime | None = None) -> dict[str, Any]:
    """Record the visit (``visit``: satisfied, satisfaction 1–5, method, note) and close
    the case or order its rework."""
    now = now or datetime.now(UTC)
    case = queries.visible_case(session, principal, case_id, lock=True)
    data = {"satisfied": visit["satisfied"], "satisfaction": visit["satisfaction"],
            "method": visit["method"], "note": visit.get("note")}
    if visit["satisfied"]:
        target = actions.move(case, TransitionName.RETURN_VISIT_SATISFIED, principal)
        return actions.record(
            session, principal, case, TransitionName.RETURN_VISIT_SATISFIED.value, target,
            now, values={"closed_at": now, "satisfaction": visit["satisfaction"]},
            reason=visit.get("note"), data=data)
    target = actions.move(case, TransitionName.RETURN_VISIT_UNSATISFIED, principal,
                          handled_locally=case["handled_locally"], reason=visit.get("note"))
    return _rework(session, principal, case, target, visit, data, now)


def _rework(session, principal, case: dict[str, Any], target: str, visit: dict[str, Any],
            data: dict[str, Any], now: datetime) -> dict[str, Any]:
    count = case["rework_count"] + 1
    rule_version, rule = actions.case_rule(session, case)
    values: dict[str, Any] = {"rework_count": count, "satisfaction": visit["satisfaction"],
                              "resolved_at": None}
    action = TransitionName.RETURN_VISIT_UNSATISFIED.value
    data = {**data, "rework": count, "rule_id": rule.id, "rule_version": rule_version}
    if target == CaseState.HANDLING_LOCAL:  # P5.3.3: own level again, a new time limit
        _, handle_due = triage.deadlines(rule, now, config_store.work_calendar(session))
        values["handle_due_at"] = handle_due
        return actions.record(session, principal, case, action, target, now, values=values,
                              departments=[], reason=visit["note"], deadline=handle_due,
                              data=data)
    lead, assist = _reporters(session, case, rule)
    notifications, ack_due, handle_due = actions.dispatch_to(
        session, case, lead, assist, rule, rule_version, now, rework=count)
    departments = [lead, *assist]
    return actions.record(session, principal, case, action, target, now, values=values,
                          departments=departments, reason=visit["note"], deadline=handle_due,
                          notifications=notifications,
                          data={**data, "departments": departments,
                                "ack_due_at": ack_due.isoformat()})


def _reporters(session, case: dict[str, Any], rule: triage.Rule
               ) -> tuple[str, tuple[str, ...]]:
    """(lead, assists) that reported a result in the case's last round of assignments
    (the ones sent together most recently); the rule's departments if none did."""
    last_round = sa.select(sa.func.max(assignments.c.sent_at)).where(
        assignments.c.case_id == case["case_id"]).scalar_subquery()
    rows = session.execute(sa.select(assignments.c.department, assignments.c.role).where(
        assignments.c.case_id == case["case_id"], assignments.c.sent_at == last_round,
        assignments.c.state == states.AssignmentState.REPORTED.value)).all()
    leads = [row.department for row in rows if row.role == AssignmentRole.LEAD]
    if leads:
        assists = tuple(row.department for row in rows if row.role != AssignmentRole.LEAD)
        return leads[0], assists
    if rule.lead:
        return rule.lead, rule.assist
    raise Conflict("no department reported a result to take up the rework; triage the case "
                   "again", code="no_departments")

"""People acting on a case (P5.3.1–P5.3.3): manual triage (分流交办) — handle at own
level, whistle the departments, report up or assign down — cancellation (注销), the result
of local handling, and suspension (挂账) with its resumption.  The return visit and its
rework (P5.2.1 回访/返工) are in ``rework``.

Every action is one transaction: the case row locked ``FOR UPDATE`` (actions on one case
apply one after the other), the move asked of the state machine (``states.apply``: it
alone says which transition is allowed from which state and for whom; a refusal becomes a
409 ``illegal_transition``), the case updated, one case-file entry appended (P5.3.4) and
``dispatch.case.changed`` plus any assignments put in the outbox.  The caller's scope
decides what it may see (``queries.visible_case``): a case outside it is a 404.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa

from gridgov_common.contract.cases import AssignmentRole
from gridgov_common.kernel.errors import Conflict, Unprocessable
from gridgov_common.kernel.roles import STAFF_ROLES, Role
from services.dispatch import (
    case_store,
    config_store,
    master_data,
    notices,
    queries,
)
from services.dispatch.domain import states, triage
from services.dispatch.domain.casefile import stage_outcome
from services.dispatch.domain.states import CaseState, IllegalTransition, TransitionName
from services.dispatch.models import rule_sets

# Who may call the action endpoints: every person who may act on a case.  Which of them
# may make which move is the state machine's table, so a department officer trying to
# triage is told so by it (409), not by a role list kept here as well.
ACTORS = STAFF_ROLES | {Role.DEPARTMENT_OFFICER}


class Outcome(StrEnum):
    """P5.3.2 triage by a person: handle at own level, route to the departments, ask the
    level above to coordinate, or assign down to a lower level."""

    LOCAL = "local"
    DISPATCH = "dispatch"
    REPORT_UP = "report_up"
    ASSIGN_DOWN = "assign_down"


TRIAGE_TRANSITIONS = {
    Outcome.LOCAL: TransitionName.TRIAGE_LOCAL, Outcome.DISPATCH: TransitionName.DISPATCH,
    Outcome.REPORT_UP: TransitionName.REPORT_UP, Outcome.ASSIGN_DOWN: TransitionName.ASSIGN_DOWN,
}


# --- shared by every action --------------------------------------------------------------

def refusal(case: dict[str, Any], transition: TransitionName, exc: IllegalTransition
            ) -> Conflict:
    """The state machine's refusal as a 409 that says which rule refused and why."""
    return Conflict(exc.message, code="illegal_transition",
                    fields={"code": exc.code, "transition": str(transition),
                            "state": case["state"]})


def move(case: dict[str, Any], transition: TransitionName, principal, **context: Any) -> str:
    """The state ``transition`` leads to when ``principal`` makes it, or a 409."""
    try:
        return states.apply(case["state"], transition, principal.role, **context).value
    except IllegalTransition as exc:
        raise refusal(case, transition, exc) from None


def case_rule(session, case: dict[str, Any]) -> tuple[int, triage.Rule]:
    """(rule set version, rule) of the case: it keeps the rules it was filed under, so its
    time limits and departments do not change when operators publish new rules (P5.3.2)."""
    rule_set = config_store.rule_set(session, case["rule_version"])
    version = case.get("catalogue_version")
    _, defaults = (master_data.subcategory_defaults(session, case["subcategory"], version)
                   if version is not None else (None, None))
    if case["rule_id"]:
        try:
            return rule_set.version, triage.with_defaults(rule_set.rule(case["rule_id"]),
                                                          defaults)
        except triage.UnknownRule:
            pass
    rule = rule_set.match(triage.CaseFacts.from_mapping(case))
    return rule_set.version, triage.with_defaults(rule, defaults)


def known_departments(session) -> set[str]:
    """The departments dispatch knows: those named by any stored rule set (P4.2; a new
    department joins by a rule set naming it)."""
    versions = session.execute(sa.select(rule_sets.c.version)).scalars()
    return {code for version in versions
            for rule in config_store.rule_set(session, version).rules
            for code in rule.departments}


def dispatch_to(session, case: dict[str, Any], lead: str, assist: tuple[str, ...],
                rule: triage.Rule, rule_version: int, now: datetime,
                rework: int = 0) -> tuple[list[dict[str, Any]], datetime, datetime]:
    """P2.2 the town whistles: one assignment per department, deadlines from the case's
    rule counted from now (P5.3.3); (notifications, ack_due, handle_due)."""
    ack_due, handle_due = triage.deadlines(rule, now, config_store.work_calendar(session))
    notifications = [
        case_store.assign(session, case, department, role, ack_due, handle_due,
                          rule_version, now, None, rework=rework)
        for department, role in [(lead, AssignmentRole.LEAD.value),
                                 *((a, AssignmentRole.ASSIST.value) for a in assist)]
    ]
    return notifications, ack_due, handle_due


def record(session, principal, case: dict[str, Any], action: str, target: str,
           now: datetime, *, values: dict[str, Any] | None = None,
           departments: list[str] | None = None, **entry: Any) -> dict[str, Any]:
    """Store the move: the case row, its case-file entry (``entry``: reason, deadline,
    on_time, notifications, data) and ``dispatch.case.changed``; the case as it is now,
    with its assignments."""
    case_now = case_store.record_move(session, case, action, target, now,
                                      actor_sub=principal.sub, actor_role=str(principal.role),
                                      values=values, departments=departments, **entry)
    if target in states.TERMINAL_STATES:
        # P5.3.3: the duplicates merged into this case end with it (merging imports this
        # module, hence the import here)
        from services.dispatch import merging
        merging.close_duplicates_of(session, case_now, now)
    return {**case_now, "assignments": queries.case_assignments(session, case["case_id"])}


# --- triage (P5.3.2) -----------------------------------------------------------------------

def triage_case(session, principal, case_id: str, body: dict[str, Any],
                now: datetime | None = None) -> dict[str, Any]:
    """Triage a ``filed`` case by hand (a level that needs a person, a case its lead
    department returned, a resumed case); ``body``: outcome, reason, lead, assist."""
    now = now or datetime.now(UTC)
    case = queries.visible_case(session, principal, case_id, lock=True)
    outcome = Outcome(body["outcome"])
    transition = TRIAGE_TRANSITIONS[outcome]
    target = move(case, transition, principal, reason=body.get("reason"))
    try:
        states.require_level(case["handling_level"], principal.role)  # P5.3.2
    except IllegalTransition as exc:
        raise refusal(case, transition, exc) from None
    if outcome in (Outcome.REPORT_UP, Outcome.ASSIGN_DOWN):
        return _shift_level(session, principal, case, transition, target, body, now)
    rule_version, rule = case_rule(session, case)
    facts = {"rule_id": rule.id, "rule_version": rule_version,
             "handling_level": case["handling_level"]}
    if outcome == Outcome.LOCAL:  # P5.3.3: own level, the rule's time limit from now
        _, handle_due = triage.deadlines(rule, now, config_store.work_calendar(session))
        return record(session, principal, case, transition.value, target, now,
                      values={"handled_locally": True, "handle_due_at": handle_due},
                      departments=[], reason=body.get("reason"), deadline=handle_due,
                      data=facts)
    lead, assist = _chosen_departments(session, rule, body.get("lead"), body.get("assist"))
    notifications, ack_due, handle_due = dispatch_to(session, case, lead, assist, rule,
                                                     rule_version, now)
    departments = [lead, *assist]
    return record(session, principal, case, transition.value, target, now,
                  values={"handled_locally": False, "handle_due_at": None},
                  departments=departments, reason=body.get("reason"), deadline=handle_due,
                  notifications=notifications,
                  data={**facts, "departments": departments,
                        "chosen_by": "person" if body.get("lead") else "rule",
                        "ack_due_at": ack_due.isoformat()})


def _shift_level(session, principal, case, transition, target, body, now) -> dict[str, Any]:
    """P5.3.1/P5.3.2: one level up (ask the level above) or down; the case stays filed."""
    try:
        level = states.shift_level(case["handling_level"], transition).value
    except IllegalTransition as exc:
        raise refusal(case, transition, exc) from None
    return record(session, principal, case, transition.value, target, now,
                  values={"handling_level": level}, departments=[],
                  reason=body.get("reason"),
                  data={"from_level": case["handling_level"], "to_level": level})


def _chosen_departments(session, rule: triage.Rule, lead: str | None,
                        assist: list[str] | None) -> tuple[str, tuple[str, ...]]:
    """The person's choice (lead, assists), or the case's rule's departments."""
    if lead is None:
        if rule.lead is None:
            raise Unprocessable(f"the case's rule {rule.id} names no departments: name the "
                                "lead department", fields={"lead": ["required"]})
        return rule.lead, rule.assist
    known = known_departments(session)
    unknown = sorted({lead, *(assist or [])} - known)
    if unknown:
        raise Unprocessable(f"unknown department(s): {', '.join(unknown)}",
                            fields={"lead" if lead in unknown else "assist":
                                    [f"unknown department: {', '.join(unknown)}"]},
                            code="unknown_department")
    return lead, tuple(assist or ())


# --- cancel, local result, suspend, resume -------------------------------------------------

def cancel(session, principal, case_id: str, reason: str,
           now: datetime | None = None) -> dict[str, Any]:
    """P5.3.1 注销: the case fails the filing conditions."""
    now = now or datetime.now(UTC)
    case = queries.visible_case(session, principal, case_id, lock=True)
    target = move(case, TransitionName.CANCEL, principal, reason=reason)
    withdrawn = case_store.withdraw_active(session, case_id)
    return record(session, principal, case, TransitionName.CANCEL.value, target, now,
                  values={"cancelled_at": now}, reason=reason, data={"withdrawn": withdrawn})


def local_result(session, principal, case_id: str, note: str, resolved: bool,
                 now: datetime | None = None) -> dict[str, Any]:
    """P5.3.3: the result of handling at own level; on time against handle_due_at."""
    now = now or datetime.now(UTC)
    case = queries.visible_case(session, principal, case_id, lock=True)
    target = move(case, TransitionName.LOCAL_RESULT, principal)
    due = case["handle_due_at"]
    on_time = stage_outcome(due, now) if due else None
    if target == CaseState.RESOLVED:
        notices.request_return_visit(session, case, now)  # P5.2.1 回访
    return record(session, principal, case, TransitionName.LOCAL_RESULT.value, target, now,
                  values={"resolved_at": now}, departments=[], deadline=due,
                  on_time=on_time, data={"note": note, "resolved": resolved})


def suspend(session, principal, case_id: str, reason: str,
            now: datetime | None = None) -> dict[str, Any]:
    """挂账 with the approver's reason: the departments' open assignments are withdrawn."""
    now = now or datetime.now(UTC)
    case = queries.visible_case(session, principal, case_id, lock=True)
    target = move(case, TransitionName.SUSPEND, principal, reason=reason)
    withdrawn = case_store.withdraw_active(session, case_id)
    return record(session, principal, case, TransitionName.SUSPEND.value, target, now,
                  values={"suspended_at": now}, departments=[], reason=reason,
                  data={"withdrawn": withdrawn})


def resume(session, principal, case_id: str, reason: str | None,
           now: datetime | None = None) -> dict[str, Any]:
    """Back to ``filed`` for re-triage: its old deadlines no longer apply."""
    now = now or datetime.now(UTC)
    case = queries.visible_case(session, principal, case_id, lock=True)
    target = move(case, TransitionName.RESUME, principal, reason=reason)
    return record(session, principal, case, TransitionName.RESUME.value, target, now,
                  values={"suspended_at": None, "handle_due_at": None}, departments=[],
                  reason=reason, data={"suspended_at": case["suspended_at"].isoformat()
                                       if case["suspended_at"] else None})


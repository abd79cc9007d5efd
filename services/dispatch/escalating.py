"""The supervision timer (督办, P6.2, P2.2, P5.3.3): raise due escalations of running cases.

``run_due`` runs in one transaction (the caller commits): it locks candidate cases
``FOR UPDATE SKIP LOCKED`` (replicas share the work and never handle the same case at
once), asks the pure ladder (``domain.escalation.next_escalations``) what is due, and per
new escalation writes its row (the unique index makes it exactly once), a case-file entry
and the ``dispatch.escalation`` event (outbox; the notify service tells the people).

Not re-examining idle cases every tick: each examined case stores ``next_escalation_at``
(the earliest step still ahead, NULL when its ladders are exhausted) and
``escalation_basis_at`` (the ``updated_at`` that value was computed from).  A case is a
candidate only when that step is due, or when it changed since (every state change bumps
``updated_at``: new assignments after a return, rework, local handling).  Stages that end
(ack) leave at worst an early look.  An approved delay clears ``escalation_basis_at``: the
overdue ladder re-arms against the new due time (escalations are unique per deadline, 0004).
A writer that moves a deadline *earlier* without a state change must bump ``updated_at``.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg

from gridgov_common.contract import EVENTS_EXCHANGE
from gridgov_common.contract.cases import EscalationKind
from gridgov_common.kernel.area import district_of
from gridgov_common.kernel.roles import Role
from gridgov_common.platform import department_register
from gridgov_common.platform.outbox import add_event
from services.dispatch import case_store, config_store, reminders
from services.dispatch.domain.escalation import (
    AssignmentView,
    CaseView,
    Escalation,
    next_escalations,
)
from services.dispatch.domain.states import AssignmentState, CaseState, PseudoActor
from services.dispatch.models import assignments, cases, departments, escalations

log = logging.getLogger(__name__)

PRODUCER = case_store.PRODUCER
MESSAGE_TYPE = "dispatch.escalation"
SYSTEM = PseudoActor.SYSTEM.value
DEFAULT_BATCH = 200
# Cases whose stages the ladder watches (domain ``_open_stages``).
WATCHED_STATES = (CaseState.DISPATCHED.value, CaseState.IN_PROGRESS.value,
                  CaseState.HANDLING_LOCAL.value)
DISPATCHED_STATES = (CaseState.DISPATCHED.value, CaseState.IN_PROGRESS.value)
ACTIVE = (AssignmentState.SENT.value, AssignmentState.ACKED.value)
_FAR_FUTURE = datetime.max.replace(tzinfo=UTC)


def run_due(session, now: datetime | None = None, batch: int = DEFAULT_BATCH) -> int:
    """Raise every escalation due at ``now`` on up to ``batch`` cases; return how many."""
    now = now or datetime.now(UTC)
    sent = 0
    timed = _lock_timed_candidates(session, now, batch)
    unroutable = _lock_unroutable(session, batch)
    case_store.lock_files(session, [c["case_id"] for c in timed]
                          + [c["case_id"] for c, _ in unroutable])
    for case in timed:
        sent += _escalate_case(session, case, now)
    for case, assignment in unroutable:
        sent += _escalate_unroutable(session, case, assignment, now)
    return sent


# --- candidates ---------------------------------------------------------------------------

def _lock_timed_candidates(session, now: datetime, batch: int) -> list[dict[str, Any]]:
    """Cases with a step due, or changed since last examined (partial indexes of 0003)."""
    return case_store.lock_where(
        session, cases.c.state.in_(WATCHED_STATES),
        sa.or_(cases.c.next_escalation_at <= now,
               cases.c.escalation_basis_at.is_distinct_from(cases.c.updated_at)),
        limit=batch, skip_locked=True)


def _lock_unroutable(session, batch: int) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """Active assignments no department queue took, not escalated yet (rare: tiny index)."""
    told = sa.exists().where(escalations.c.case_id == assignments.c.case_id,
                             escalations.c.assignment_id == assignments.c.assignment_id,
                             escalations.c.kind == EscalationKind.UNROUTABLE.value)
    rows = case_store.lock_where(
        session, assignments.c.unroutable, assignments.c.state.in_(ACTIVE),
        cases.c.state.in_(DISPATCHED_STATES), ~told, limit=batch, skip_locked=True,
        columns=(assignments.c.assignment_id.label("a_id"),
                 assignments.c.department.label("a_department"),
                 assignments.c.routing_key.label("a_routing_key")))
    found = []
    for row in rows:
        assignment = {"assignment_id": row.pop("a_id"), "department": row.pop("a_department"),
                      "routing_key": row.pop("a_routing_key")}
        found.append((row, assignment))
    return found


# --- timed escalations (ack timeout, overdue) --------------------------------------------

def _department_names(session, view) -> dict[str, str]:
    """The register's names of the case's departments (people read 消防, not fire)."""
    codes = {a.department for a in view.assignments}
    if not codes:
        return {}
    found = department_register.names_both(session, departments, codes)
    return {code: zh for code, (zh, _) in found.items()}


def _escalate_case(session, case: dict[str, Any], now: datetime) -> int:
    version = case["escalation_version"]
    if version is None:  # filed before policies were versioned: the current one, for good
        version = config_store.escalation_policy(session).version
    policy = config_store.escalation_policy(session, version)
    calendar = config_store.work_calendar(session)
    view = _case_view(session, case, version)
    keys = _sent_keys(session, case["case_id"], _current_dues(view))
    sent = 0
    names = _department_names(session, view)
    for escalation in next_escalations(view, now, calendar, keys, policy, names):
        if record(session, case, escalation, now):
            sent += 1
        keys.add(escalation.key)
    ahead = [e.at for e in next_escalations(view, _FAR_FUTURE, calendar, keys, policy)]
    reminder = reminders.remind_due(session, case, calendar, now)  # P5.3.3, 50 % / 80 %
    if reminder is not None:
        ahead.append(reminder)
    case_store.set_fields(  # updated_at untouched: not a case change
        session, case["case_id"], escalation_version=version,
        next_escalation_at=min(ahead, default=None), escalation_basis_at=case["updated_at"])
    return sent


def _case_view(session, case: dict[str, Any], version: int) -> CaseView:
    rows = session.execute(sa.select(assignments).where(
        assignments.c.case_id == case["case_id"], assignments.c.state.in_(ACTIVE))
    ).mappings().all()
    return CaseView(
        case_id=case["case_id"], case_number=case["case_number"],
        state=CaseState(case["state"]), priority=case["priority"],
        grid_code=case["grid_code"], town_code=case["town_code"], policy_version=version,
        handle_due_at=case["handle_due_at"],
        assignments=tuple(AssignmentView(
            str(a["assignment_id"]), a["department"], a["role"], AssignmentState(a["state"]),
            a["ack_due_at"], a["handle_due_at"]) for a in rows))


def _current_dues(view: CaseView) -> dict[tuple[str, str | None], datetime | None]:
    """(overdue, assignment id or None) → the handling deadline the ladder runs against
    now. Only handling deadlines move (delay approved); report-in deadlines never do."""
    dues: dict[tuple[str, str | None], datetime | None] = {
        (EscalationKind.OVERDUE.value, None): view.handle_due_at}
    for a in view.assignments:
        dues[(EscalationKind.OVERDUE.value, a.assignment_id)] = a.handle_due_at
    return dues


def _sent_keys(session, case_id: str, dues: dict[tuple[str, str | None], datetime | None]
               ) -> set[tuple[str, int, str | None]]:
    """Keys of the escalations raised against the stages' current deadlines: those raised
    against a deadline since moved (an approved delay) no longer count, so the ladder
    starts again from level 1 against the new one (P5.3.3, P6.2)."""
    rows = session.execute(sa.select(escalations.c.kind, escalations.c.level,
                                     escalations.c.assignment_id, escalations.c.due_at)
                           .where(escalations.c.case_id == case_id))
    return {(row.kind, row.level, row.assignment_id) for row in rows
            if dues.get((row.kind, row.assignment_id), row.due_at) == row.due_at}


# --- unroutable assignments ---------------------------------------------------------------

def _escalate_unroutable(session, case: dict[str, Any], assignment: dict[str, Any],
                         now: datetime) -> int:
    """No queue is bound for the department: its district admin must fix the routing."""
    code = assignment["department"]
    known = department_register.names_both(session, departments, [code]).get(code)
    who = f"{known[0]}（{code}）" if known else f"{code} 部门"  # the admin needs the code
    reason = (f"{who}没有绑定接收队列，派遣消息无法投递"
              f"（路由键 {assignment['routing_key']}），请配置部门对接")
    escalation = Escalation(
        case["case_id"], case["case_number"], str(assignment["assignment_id"]),
        assignment["department"], EscalationKind.UNROUTABLE, 1, None, Role.DISTRICT_ADMIN,
        f"district:{district_of(case['town_code'])}", reason, now, None,  # none was missed
        case["escalation_version"] or config_store.escalation_policy(session).version)
    return int(record(session, case, escalation, now))


# --- writing one escalation ---------------------------------------------------------------

def record(session, case: dict[str, Any], escalation: Escalation, now: datetime,
           issuer=None) -> bool:
    """Row, case-file entry and event; False if another run recorded it already.
    ``issuer``: the person who issued a card by hand (supervision.issue_card), named as
    the entry's actor and on the row; the timer's cards are the system's."""
    inserted = session.execute(pg.insert(escalations).values(
        case_id=escalation.case_id, assignment_id=escalation.assignment_id,
        kind=escalation.kind.value, level=escalation.level,
        card=escalation.card.value if escalation.card else None,
        target_role=escalation.target_role.value, target_scope=escalation.target_scope,
        department=escalation.department, reason=escalation.reason,
        policy_version=escalation.policy_version, due_at=escalation.due_at,
        at=escalation.at, issued_by=issuer.sub if issuer else None,
        issued_role=issuer.role.value if issuer else None,
    ).on_conflict_do_nothing().returning(escalations.c.id)).first()
    if inserted is None:
        return False
    envelope = add_event(session, MESSAGE_TYPE, escalation.payload(), PRODUCER,
                         correlation_id=case["case_id"])
    case_store.record_entry(
        session, case["case_id"], "escalation", actor_sub=issuer.sub if issuer else SYSTEM,
        actor_role=issuer.role.value if issuer else SYSTEM,
        at=now, reason=escalation.reason, deadline=escalation.due_at,
        notifications=[{"channel": "amqp", "exchange": EVENTS_EXCHANGE,
                        "routing_key": MESSAGE_TYPE, "type": MESSAGE_TYPE,
                        "message_id": envelope["message_id"],
                        "to": f"{escalation.target_role.value}@{escalation.target_scope}"}],
        data={"kind": escalation.kind.value, "level": escalation.level,
              "card": escalation.card.value if escalation.card else None,
              "target_role": escalation.target_role.value,
              "target_scope": escalation.target_scope,
              "assignment_id": escalation.assignment_id,
              "department": escalation.department, "scheduled_at": escalation.at,
              "policy_version": escalation.policy_version})
    log.info("escalation %s level %s of case %s to %s %s", escalation.kind.value,
             escalation.level, escalation.case_number, escalation.target_role.value,
             escalation.target_scope)
    return True

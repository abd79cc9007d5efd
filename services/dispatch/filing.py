"""Filing a reported case (P5.3.1) and triaging it (P5.3.2, P2.2): closed on the spot,
handled locally, or dispatched to its departments with deadlines (P5.3.3).

Everything happens in the caller's transaction: the case, its assignments, the case file
entries and the outgoing messages (outbox) commit together.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg

from gridgov_common.contract import (
    DISPATCH_EXCHANGE,
    WorkCategory,
    dispatch_key,
    make_envelope,
)
from gridgov_common.outbox import add_event, add_to_outbox
from gridgov_common.work_calendar import WorkCalendar
from services.dispatch import casefile_store, config_store, master_data, notices
from services.dispatch.domain import states, triage
from services.dispatch.domain.states import CaseState, PseudoActor, TransitionName
from services.dispatch.models import assignments, cases

PRODUCER = "dispatch"
CONSUMER = "dispatch.cases"
SYSTEM = PseudoActor.SYSTEM.value


# states in which the case is being worked towards a deadline (Open311 expected_datetime)
WORKING_STATES = frozenset({CaseState.HANDLING_LOCAL.value, CaseState.DISPATCHED.value,
                            CaseState.IN_PROGRESS.value})
ACTIVE_ASSIGNMENTS = ("sent", "acked")


def case_changed(session, case: dict[str, Any], from_state: str | None, to_state: str,
                 at: datetime, actor_role: str, departments: list[str],
                 on_time: bool | None = None, correlation_id: str | None = None) -> None:
    """``dispatch.case.changed`` v2, in the caller's transaction after the change is
    written (``due_at`` is read from the rows as they now are).

    ``at`` never goes back before the case's previous change: followers keep the newest
    change by ``at``, and two transactions on one case take its lock in one order but may
    have read the clock in the other (a merge that waited for a department's report would
    otherwise look older than the report and be ignored)."""
    at = announced_at(case.get("updated_at"), at)
    add_event(session, "dispatch.case.changed", {
        "case_id": case["case_id"], "case_number": case["case_number"],
        "from_state": from_state, "to_state": to_state, "at": at, "actor_role": actor_role,
        "grid_code": case["grid_code"], "town_code": case["town_code"],
        "departments": departments, "on_time": on_time,
        "due_at": expected_due(session, case["case_id"], to_state),
    }, PRODUCER, correlation_id=correlation_id)


def announced_at(previous: datetime | None, now: datetime) -> datetime:
    """``now``, or just after the case's previous change when the clock read ``now`` before
    waiting for the case's lock behind a later one."""
    if isinstance(previous, datetime) and previous >= now:
        return previous + timedelta(microseconds=1)
    return now


def expected_due(session, case_id: str, state: str) -> datetime | None:
    """When the case is expected to be done: the latest handling deadline of its active
    assignments, else its own (local handling); None outside the working states."""
    if state not in WORKING_STATES:
        return None
    latest = session.execute(sa.select(sa.func.max(assignments.c.handle_due_at)).where(
        assignments.c.case_id == case_id,
        assignments.c.state.in_(ACTIVE_ASSIGNMENTS))).scalar()
    if latest is not None:
        return latest
    return session.execute(sa.select(cases.c.handle_due_at)
                           .where(cases.c.case_id == case_id)).scalar()


def is_sensitive(payload) -> bool:
    """P5.2.5: v3 says whether the case reveals special-group membership; a v1/v2 case
    (still accepted, docs/BUS-CONTRACT.md §6) is taken as sensitive when it is about
    special-group assistance, every subcategory of which is sensitive (fail closed)."""
    if "sensitive" in payload:
        return bool(payload["sensitive"])
    return str(payload["work_category"]) == WorkCategory.SPECIAL_GROUP_ASSISTANCE.value


def file_reported(session, envelope, rule_set: triage.RuleSet | None = None,
                  calendar: WorkCalendar | None = None,
                  now: datetime | None = None) -> dict[str, Any] | None:
    """File and triage an ``events.case.reported`` case; None if the case is known.

    The case is stamped with the current rule set and escalation policy versions: it keeps
    them to the end, whatever operators publish later (P5.3.2, P6.2)."""
    rule_set = rule_set or config_store.rule_set(session)
    calendar = calendar or config_store.work_calendar(session)
    policy_version = config_store.escalation_policy(session).version
    now = now or datetime.now(UTC)
    p = envelope.payload
    case_id = str(p["case_id"])
    catalogue_version, defaults = master_data.subcategory_defaults(session, p["subcategory"])
    rule = triage.with_defaults(rule_set.match(triage.CaseFacts.from_mapping(p)), defaults)
    case = {
        "case_id": case_id, "case_number": p["case_number"], "state": CaseState.FILED.value,
        "handling_level": rule.handling_level.value, "grid_code": p["grid_code"],
        "town_code": p["town_code"], "source": str(p["source"]),
        "work_category": str(p["work_category"]), "info_class": str(p["info_class"]),
        "subcategory": p["subcategory"], "severity": str(p["severity"]),
        "priority": rule.priority.value, "description": p["description"],
        "location": p["location"], "private": p["private"],
        "handled_on_spot": p["handled_on_spot"],
        "duplicate_of": str(p["duplicate_of"]) if p["duplicate_of"] else None,
        "rule_id": rule.id, "rule_version": rule_set.version,
        "escalation_version": policy_version,
        "reported_at": p["reported_at"], "filed_at": now,
        "reporter_sub": p.get("reporter_sub"),  # v2 on (per-grid-worker KPIs)
        "sensitive": is_sensitive(p),
        "building_id": p["building_id"], "photos": list(p["photos"]),
        "catalogue_version": catalogue_version,
    }
    inserted = session.execute(
        pg.insert(cases).values(**case)
        .on_conflict_do_nothing(index_elements=["case_id"]).returning(cases.c.case_id)).first()
    if inserted is None:
        return None  # the same case reported again under another message id
    corr = envelope.message_id
    casefile_store.append(session, case_id, action="filed", actor_sub=SYSTEM,
                          actor_role=SYSTEM, at=now, to_state=CaseState.FILED.value,
                          data={"source": case["source"], "rule_id": rule.id,
                                "rule_version": rule_set.version,
                                "message_id": envelope.message_id})
    casefile_store.append_waiting(session, case_id)  # e.g. a major event's page, sent first
    case_changed(session, case, None, CaseState.FILED.value, now, SYSTEM, [],
                 correlation_id=corr)

    departments: list[str] = []
    if p["handled_on_spot"]:
        transition = TransitionName.CLOSE_ON_SPOT
    elif rule.outcome == triage.Outcome.LOCAL:
        transition = TransitionName.TRIAGE_LOCAL
    else:
        transition = TransitionName.DISPATCH
    target = states.apply(CaseState.FILED, transition, PseudoActor.SYSTEM).value
    values: dict[str, Any] = {"state": target, "updated_at": now}
    if target == CaseState.CLOSED:
        values["closed_at"] = now
    notifications = []
    ack_due, handle_due = triage.deadlines(rule, now, calendar)
    if transition == TransitionName.TRIAGE_LOCAL:  # P5.3.3: own level, own time limit
        values.update(handled_locally=True, handle_due_at=handle_due)
    if transition == TransitionName.DISPATCH:
        for department in rule.departments:
            role = "lead" if department == rule.lead else "assist"
            notifications.append(assign(session, case, department, role, ack_due,
                                         handle_due, rule_set.version, now, corr))
            departments.append(department)
    session.execute(sa.update(cases).where(cases.c.case_id == case_id).values(**values))
    casefile_store.append(session, case_id, action=transition.value, actor_sub=SYSTEM,
                          actor_role=SYSTEM, at=now, from_state=CaseState.FILED.value,
                          to_state=target, notifications=notifications,
                          data={"rule_id": rule.id, "handling_level": case["handling_level"],
                                "departments": departments})
    case_changed(session, case, CaseState.FILED.value, target, now, SYSTEM, departments,
                 correlation_id=corr)
    return {**case, **values}


def assign(session, case: dict[str, Any], department: str, role: str, ack_due: datetime,
           handle_due: datetime, rule_version: int, now: datetime,
           correlation_id: str | None, rework: int = 0) -> dict[str, Any]:
    """One department's work order; its ``dispatch.assignment`` goes to the outbox.

    ``rework``: 0 for a first dispatch, else the case's rework count (P5.2.1 返工: the
    return visit found the problem unsolved and the departments take it up again)."""
    key = dispatch_key(department, case["town_code"], case["work_category"],
                       case["priority"])
    assignment_id = str(uuid.uuid4())
    session.execute(sa.insert(assignments).values(
        assignment_id=assignment_id, case_id=case["case_id"], department=department,
        role=role, state=states.AssignmentState.SENT.value, routing_key=key, sent_at=now,
        ack_due_at=ack_due, handle_due_at=handle_due, rework=rework))
    envelope = make_envelope("dispatch.assignment", {
        "assignment_id": assignment_id, "case_id": case["case_id"],
        "case_number": case["case_number"], "department": department, "role": role,
        "town_code": case["town_code"], "grid_code": case["grid_code"],
        "work_category": case["work_category"], "subcategory": case["subcategory"],
        "priority": case["priority"], "severity": case["severity"],
        "description": case["description"], "location": case["location"],
        "ack_due_at": ack_due, "handle_due_at": handle_due, "rule_version": rule_version,
        "rework": rework,
    }, PRODUCER, correlation_id=correlation_id)
    add_to_outbox(session, DISPATCH_EXCHANGE, key, envelope)
    notices.request_assignment_notice(session, case, assignment_id, department, ack_due)
    return {"channel": "amqp", "exchange": DISPATCH_EXCHANGE, "routing_key": key,
            "message_id": envelope["message_id"], "assignment_id": assignment_id,
            "department": department, "role": role}



def mark_unroutable(conn, returned) -> None:
    """OutboxRelay ``on_returned``: no department queue took an assignment."""
    for item in returned:
        body = item.body or {}
        payload = body.get("payload") or {}
        if (item.exchange == DISPATCH_EXCHANGE and body.get("type") == "dispatch.assignment"
                and payload.get("assignment_id")):  # not a delay decision, which names one too
            conn.execute(sa.update(assignments)
                         .where(assignments.c.assignment_id == payload["assignment_id"])
                         .values(unroutable=True))

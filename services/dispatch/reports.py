"""Departments reporting in on their assignments (P2.2, P5.3.3) over ``gridgov.reports``.

A report is applied to the assignment it names and, through the state machine, to the case:
the lead's ``ack`` puts the case in progress, the result that completes the set of results
resolves it, the lead's ``return`` sends it back for re-triage.  On-time flags are frozen
when the stage ends.  A report that may not be applied raises :class:`Refused`; the service
turns it into a ``platform.rejection`` to ``<department>.rejections``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from gridgov_common.contract import (
    DISPATCH_EXCHANGE,
    REPORTS_EXCHANGE,
    ContractError,
    parse_report_key,
    rejection_key,
    senders,
)
from gridgov_common.contract.cases import AssignmentRole
from gridgov_common.platform.messaging import RetryLater
from gridgov_common.platform.outbox import add_to_outbox
from services.dispatch import case_store, delays, notices
from services.dispatch.domain import states
from services.dispatch.domain.casefile import stage_outcome
from services.dispatch.domain.states import (
    AssignmentState,
    AssignmentStatus,
    IllegalTransition,
    PseudoActor,
    TransitionName,
)
from services.dispatch.models import assignments, cases

PRODUCER = case_store.PRODUCER

CONSUMER = "dispatch.reports"
DEPARTMENT = PseudoActor.DEPARTMENT.value


class Refused(Exception):
    """The report cannot be applied; ``department`` is who is told (the sender)."""

    def __init__(self, department: str | None, code: str, message: str,
                 fields: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.department = department
        self.code = code
        self.message = message
        self.fields = fields or {}


def sender(envelope) -> str | None:
    """The department named by the routing key (``<department>.<kind>``), if well formed."""
    try:
        return parse_report_key(envelope.routing_key or "").department
    except ValueError:
        return None


# How long a lead's result may wait for its ack to arrive (redelivered messages can be
# overtaken): until its reported_at is this old — the consumer's back-off (0.5, 1, 2, 4,
# 5 s) is cut short so that the last retry comes when the grace ends — and, for a result
# that reaches dispatch late (a backlog after an outage or a storm: its reported_at is old
# on arrival), for its first ORDER_ATTEMPTS deliveries (0.5 + 1 + 2 + 4 s of back-off): the
# kill test of tests/compose saw an ack overtaken by its result between two replicas with
# the result minutes old, refused at once before this.
ORDER_GRACE = timedelta(seconds=10)
ORDER_ATTEMPTS = 4  # below the consumer's delivery limit (5): the refusal is told
AMQP, WORKBENCH = "amqp", "workbench"  # the channels a report comes by (the case file says)
GRACE_MARGIN = 0.05  # seconds: the last retry comes just after the grace, not just before


class AheadOfAck(RetryLater):
    """Transient: a lead's result arrived before its ack; retried until the grace ends."""


def check_publisher(envelope, department: str, require_user: bool) -> None:
    """The publishing user must be the department's own (P2.2: a department reports for
    itself only), checked by the shared :func:`senders.check_publisher`; a ``dept.*`` user
    posing as another department is told on its own rejections key."""
    try:
        senders.check_publisher(envelope.user_id, department, require_user=require_user)
    except ContractError as exc:
        raise Refused(senders.user_department(envelope.user_id) or department, exc.code,
                      exc.message, exc.fields) from None


def apply_report(session, envelope, now: datetime | None = None,
                 require_user: bool = False) -> dict[str, Any]:
    """Apply a ``department.report`` from the bus; returns {"assignment_id", "case_state"}.

    The bus's own checks (routing key, publishing user) come first; then the report takes
    the one path every channel takes (:func:`apply`)."""
    p = envelope.payload
    department, kind = p["department"], str(p["kind"])
    from_key = sender(envelope)
    if from_key is None:
        raise Refused(None, "bad_routing_key",
                      f"routing key {envelope.routing_key!r} is not <department>.<kind>")
    check_publisher(envelope, from_key, require_user)
    if from_key != department:
        raise Refused(from_key, "department_mismatch",
                      f"sent as {from_key} but the report names {department}",
                      {"department": ["does not match the routing key"]})
    if parse_report_key(envelope.routing_key).kind != kind:
        raise Refused(from_key, "kind_mismatch",
                      f"routing key kind differs from the report's kind {kind}",
                      {"kind": ["does not match the routing key"]})
    return apply(session, Report(p, envelope.message_id, attempt=envelope.delivery_count),
                 now)


@dataclass(frozen=True, slots=True)
class Report:
    """A department's report however it came (P2.2): ``payload`` as ``department.report``
    v1 has it; ``message_id`` the bus message's id or the workbench request's; ``channel``
    ``amqp`` or ``workbench``, kept in the case file; ``officer`` who acted on the
    workbench; ``photos`` (workbench results) the events service's photo hashes.
    ``reorder_grace``: how long a lead's result may wait for its ack (the bus may reorder;
    a person on the workbench cannot); ``attempt``: which delivery of the bus message this
    is (a late result waits for its first ``ORDER_ATTEMPTS``)."""

    payload: Mapping[str, Any]
    message_id: str
    channel: str = AMQP
    officer: str | None = None
    photos: tuple[str, ...] = ()
    reorder_grace: timedelta = ORDER_GRACE
    attempt: int = 0  # the bus's delivery count (0 the first time)


def apply(session, report: Report, now: datetime | None = None) -> dict[str, Any]:
    """Apply a department's report, from the bus or the workbench, to its assignment and,
    through the state machine, to the case: one path, so a department may use both
    without acting twice (issue 14). Raises :class:`Refused` when it may not be applied."""
    now = now or datetime.now(UTC)
    p = report.payload
    department, kind = p["department"], str(p["kind"])
    assignment = case_store.lock_assignment(session, str(p["assignment_id"]))
    if assignment is None or assignment["case_id"] != str(p["case_id"]):
        raise Refused(department, "unknown_assignment",
                      "no such assignment on this case", {"assignment_id": ["unknown"]})
    if assignment["department"] != department:
        raise Refused(department, "not_your_assignment",
                      f"assignment belongs to {assignment['department']}, not {department}",
                      {"assignment_id": ["assigned to another department"]})
    case = case_store.lock(session, assignment["case_id"])
    at = p["reported_at"]
    handler = _HANDLERS.get(kind, _record_only)
    return handler(session, report, assignment, case, at, now)


def _wrong_state(assignment: dict[str, Any], kind: str, case_state: str) -> Refused:
    return Refused(assignment["department"], "wrong_state",
                   f"cannot {kind}: assignment is {assignment['state']}, case is {case_state}",
                   {"kind": [f"not allowed in assignment state {assignment['state']}"]})


WORKING = frozenset({states.CaseState.DISPATCHED.value, states.CaseState.IN_PROGRESS.value})
_SETTLED = (AssignmentState.RETURNED.value, AssignmentState.WITHDRAWN.value)


def _move(session, case, transition: TransitionName, assignment, **context) -> str | None:
    """The case's new state, or None when the state machine keeps it where it is.

    An assisting department's ack or return only touches its own assignment (P5.3.2), so
    the state machine is asked about the lead's only; the assist needs a working case.
    """
    if (transition in (TransitionName.ACK, TransitionName.DEPARTMENT_RETURN)
            and assignment["role"] != AssignmentRole.LEAD):
        if case["state"] not in WORKING:
            raise Refused(assignment["department"], "wrong_state",
                          f"cannot {transition}: the case is {case['state']}")
        return None
    if (transition == TransitionName.DEPARTMENT_RESULT
            and case["state"] != states.CaseState.IN_PROGRESS):
        return None  # an assist's result before the lead reported in: recorded, case waits
    try:
        return states.apply(case["state"], transition, PseudoActor.DEPARTMENT,
                            assignment_role=assignment["role"], **context).value
    except IllegalTransition as exc:
        if exc.code in ("lead_only", "results_pending"):
            return None
        raise Refused(assignment["department"], "wrong_state",
                      f"cannot {transition} a {case['state']} case: {exc}") from None


def _ack(session, report, assignment, case, at, now):
    if _overtaken_ack(assignment):
        return _late_ack(session, report, assignment, case, at, now)
    if assignment["state"] != AssignmentState.SENT:
        raise _wrong_state(assignment, "ack", case["state"])
    target = _move(session, case, TransitionName.ACK, assignment)
    on_time = stage_outcome(assignment["ack_due_at"], at)
    _update_assignment(session, assignment, state=AssignmentState.ACKED.value, acked_at=at,
                       ack_on_time=on_time,
                       department_ref=report.payload.get("department_ref")
                       or assignment["department_ref"])
    return _finish(session, report, assignment, case, target, "ack", at, now,
                   deadline=assignment["ack_due_at"], on_time=on_time)


def _overtaken_ack(assignment) -> bool:
    """An assist's ack that its own result overtook on the bus (an assist's result needs no
    ack first, P5.3.2): the result is applied, the ack never was."""
    return (assignment["role"] != AssignmentRole.LEAD and assignment["acked_at"] is None
            and assignment["state"] == AssignmentState.REPORTED)


def _late_ack(session, report, assignment, case, at, now):
    """The overtaken ack recorded as the department sent it (its report-in time and
    whether it was on time, P5.3.3), without moving anything: not refused for an order
    the department did not choose."""
    on_time = stage_outcome(assignment["ack_due_at"], at)
    _update_assignment(session, assignment, acked_at=at, ack_on_time=on_time)
    return _finish(session, report, assignment, case, None, "ack", at, now,
                   deadline=assignment["ack_due_at"], on_time=on_time)


def _result(session, report, assignment, case, at, now):
    if assignment["state"] not in states.ACTIVE_ASSIGNMENT_STATES:
        raise _wrong_state(assignment, "result", case["state"])
    if assignment["role"] == AssignmentRole.LEAD and assignment["state"] == AssignmentState.SENT:
        # at-least-once delivery can reorder: the ack published before this result may
        # still be on its way (redelivered after a consumer died, or held by another
        # replica); try again shortly
        if now - at < report.reorder_grace:
            remaining = (at + report.reorder_grace - now).total_seconds() + GRACE_MARGIN
            raise AheadOfAck(f"result for {assignment['assignment_id']} came before the ack",
                             retry_after=remaining)
        if report.reorder_grace and report.attempt < ORDER_ATTEMPTS:
            raise AheadOfAck(f"result for {assignment['assignment_id']} came before the ack "
                             f"(delivery {report.attempt + 1})", retry_after=ORDER_GRACE.seconds)
        raise Refused(assignment["department"], "wrong_state",
                      "cannot report a result: the lead reports in (ack) first",
                      {"kind": ["ack the assignment before its result"]})
    if case["state"] not in WORKING:
        raise _wrong_state(assignment, "result", case["state"])
    on_time = stage_outcome(assignment["handle_due_at"], at)
    _update_assignment(session, assignment, state=AssignmentState.REPORTED.value,
                       reported_at=at, handle_on_time=on_time,
                       resolved=report.payload["resolved"],
                       department_ref=report.payload.get("department_ref")
                       or assignment["department_ref"])
    # assignments returned or withdrawn before a re-triage owe nothing (an earlier lead's
    # 退办 must not keep the new lead's result from resolving the case)
    every = session.execute(sa.select(assignments.c.department, assignments.c.role,
                                      assignments.c.state)
                            .where(assignments.c.case_id == case["case_id"],
                                   assignments.c.state.notin_(_SETTLED))).all()
    statuses = [AssignmentStatus(row.department, AssignmentRole(row.role),
                                 AssignmentState(row.state)) for row in every]
    target = _move(session, case, TransitionName.DEPARTMENT_RESULT, assignment,
                   assignments=statuses)
    return _finish(session, report, assignment, case, target, "department_result", at, now,
                   deadline=assignment["handle_due_at"], on_time=on_time)


def _return(session, report, assignment, case, at, now):
    if assignment["state"] not in states.ACTIVE_ASSIGNMENT_STATES:
        raise _wrong_state(assignment, "return", case["state"])
    reason = report.payload.get("reason")
    target = _move(session, case, TransitionName.DEPARTMENT_RETURN, assignment, reason=reason)
    _update_assignment(session, assignment, state=AssignmentState.RETURNED.value)
    if target is not None:  # the lead returned it: the others are withdrawn, re-triage
        case_store.withdraw_active(session, case["case_id"])
        case_store.set_fields(session, case["case_id"],
                              return_count=cases.c.return_count + 1)  # 退办 counted
    return _finish(session, report, assignment, case, target, "department_return", at, now,
                   reason=reason)


def _record_only(session, report, assignment, case, at, now):
    """progress: recorded in the case file only."""
    if assignment["state"] not in states.ACTIVE_ASSIGNMENT_STATES:
        raise _wrong_state(assignment, str(report.payload["kind"]), case["state"])
    return _finish(session, report, assignment, case, None,
                   str(report.payload["kind"]), at, now,
                   reason=report.payload.get("reason"))


def _delay_request(session, report, assignment, case, at, now):
    """P5.3.3: a pending delay request for town staff to decide (``delays``)."""
    try:
        return delays.record_request(session, report, assignment, case, now)
    except delays.DelayRefused as refused:
        raise Refused(assignment["department"], refused.code, refused.message,
                      refused.fields) from None


_HANDLERS = {"ack": _ack, "result": _result, "return": _return,
             "delay_request": _delay_request}


def _update_assignment(session, assignment, **values) -> None:
    case_store.update_assignment(session, assignment["assignment_id"], **values)


def _finish(session, report: Report, assignment, case, target, action, at, now, *,
            deadline=None, on_time=None, reason=None) -> dict[str, Any]:
    p = report.payload
    from_state = case["state"]
    data = {"assignment_id": assignment["assignment_id"], "department": assignment["department"],
            "role": assignment["role"], "message_id": report.message_id,
            "channel": report.channel}
    if report.officer:
        data["officer"] = report.officer  # who signed for the department on the workbench
    if report.photos:
        data["photos"] = list(report.photos)
        case_store.photos_attached(session, case, assignment["department"],
                                   list(report.photos), now)
    for key in ("department_ref", "note", "resolved"):
        if p.get(key) is not None:
            data[key] = p[key]
    if target is None or target == from_state:
        case_store.record_entry(session, case["case_id"], action,
                                actor_sub=assignment["department"], actor_role=DEPARTMENT,
                                at=now,
                                from_state=from_state if target else None, to_state=target,
                                reason=reason, deadline=deadline, on_time=on_time, data=data)
    else:
        values: dict[str, Any] = {}
        if target == states.CaseState.RESOLVED:
            values["resolved_at"] = at
            notices.request_return_visit(session, case, at)  # P5.2.1 回访
        case_store.record_move(session, case, action, target, now,
                               actor_sub=assignment["department"], actor_role=DEPARTMENT,
                               values=values,
                               departments=case_store.every_department(session,
                                                                       case["case_id"]),
                               correlation_id=report.message_id, reason=reason,
                               deadline=deadline, on_time=on_time, data=data)
    return {"assignment_id": assignment["assignment_id"], "case_state": target or from_state}


def add_rejection(session, envelope, refused: Refused) -> None:
    """``platform.rejection`` to ``<department>.rejections`` (correlation: their id)."""
    if refused.department is None:
        return
    rejection = senders.rejection(
        PRODUCER, CONSUMER, original_message_id=envelope.message_id,
        routing_key=envelope.routing_key, exchange=REPORTS_EXCHANGE, code=refused.code,
        message=refused.message, fields=refused.fields)
    add_to_outbox(session, DISPATCH_EXCHANGE, rejection_key(refused.department), rejection)


def record_refusal(session, envelope, refused: Refused, now: datetime | None = None) -> bool:
    """CASE-FLOW §2: a refused report that names an existing case is an entry of its case
    file (``report_refused``: who sent it, the code and the message id; never its body).
    False when the report names no case we have."""
    case_id = str(envelope.payload.get("case_id") or "")
    if not case_id or case_store.lock(session, case_id) is None:
        return False
    sent_by = refused.department or senders.sender_of(envelope.routing_key, envelope.user_id)
    case_store.record_entry(
        session, case_id, "report_refused", actor_sub=sent_by or "unknown",
        actor_role=DEPARTMENT, at=now or datetime.now(UTC), reason=refused.message[:2000],
        data={"code": refused.code, "message_id": envelope.message_id,
              "routing_key": envelope.routing_key, "user_id": envelope.user_id,
              "kind": str(envelope.payload.get("kind")),
              "assignment_id": str(envelope.payload.get("assignment_id"))})
    return True

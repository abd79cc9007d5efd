"""Delay requests (P5.3.3 办理时限): a department asks for more time on an assignment, town
staff approve or deny it, and the department is told on ``<department>.decisions``.

A request arrives as a ``department.report`` of kind ``delay_request`` (``reports`` hands
it here) and is stored pending; a town grid chief or the district admin covering the case
decides it once over HTTP.  Approval moves the assignment's ``handle_due_at``; either way
the decision is a case-file entry and a ``dispatch.delay_decision`` in the same
transaction (outbox).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from gridgov_common.contract import DISPATCH_EXCHANGE, decision_key, make_envelope
from gridgov_common.kernel.errors import Conflict, NotFound
from gridgov_common.kernel.roles import SPECIAL_GROUP_READERS, Role
from gridgov_common.platform import department_register
from gridgov_common.platform.outbox import add_to_outbox
from services.dispatch import case_store, queries
from services.dispatch.domain import states
from services.dispatch.domain.states import PseudoActor
from services.dispatch.master_data import subcategory_names
from services.dispatch.models import assignments, cases, delay_requests, departments

PRODUCER = case_store.PRODUCER
DEPARTMENT = PseudoActor.DEPARTMENT.value
PENDING, APPROVED, DENIED = "pending", "approved", "denied"
DECIDERS = frozenset({Role.TOWN_GRID_CHIEF, Role.DISTRICT_ADMIN})  # P5.3.3: town staff decide


class DelayRefused(Exception):
    """The request cannot be recorded; ``reports`` turns it into its ``Refused``."""

    def __init__(self, code: str, message: str, fields: dict[str, Any]) -> None:
        super().__init__(message)
        self.code, self.message, self.fields = code, message, fields


def record_request(session, report, assignment: dict[str, Any], case: dict[str, Any],
                   now: datetime) -> dict[str, Any]:
    """Store a pending delay request and its case-file entry; raises ``DelayRefused``.

    P5.3.3: only more time can be asked for, so the requested due time must lie after the
    assignment's current one; one request per assignment is pending at a time.
    """
    p = report.payload
    requested = p["requested_due_at"]
    if assignment["state"] not in states.ACTIVE_ASSIGNMENT_STATES:
        raise DelayRefused("wrong_state",
                           f"cannot ask for more time: assignment is {assignment['state']}",
                           {"kind": [f"not allowed in assignment state {assignment['state']}"]})
    if requested <= assignment["handle_due_at"]:
        raise DelayRefused(
            "due_not_later",
            f"requested_due_at {requested.isoformat()} is not later than the current due "
            f"time {assignment['handle_due_at'].isoformat()}",
            {"requested_due_at": ["must be later than the assignment's handle_due_at"]})
    if _pending_for(session, assignment["assignment_id"]) is not None:
        raise DelayRefused("delay_request_pending",
                           "a delay request for this assignment is already waiting for a "
                           "decision", {"assignment_id": ["has a pending delay request"]})
    request_id = str(uuid.uuid4())
    session.execute(sa.insert(delay_requests).values(
        request_id=request_id, case_id=case["case_id"],
        assignment_id=assignment["assignment_id"], department=assignment["department"],
        requested_due_at=requested, reason=p["reason"], message_id=report.message_id,
        state=PENDING, requested_at=now))
    case_store.record_entry(
        session, case["case_id"], "delay_requested",
        actor_sub=assignment["department"], actor_role=DEPARTMENT, at=now,
        reason=p["reason"], deadline=requested,
        data={"request_id": request_id, "assignment_id": assignment["assignment_id"],
              "department": assignment["department"],
              "current_due_at": assignment["handle_due_at"].isoformat(),
              "message_id": report.message_id, "channel": report.channel,
              **({"officer": report.officer} if report.officer else {})})
    return {"assignment_id": assignment["assignment_id"], "case_state": case["state"],
            "request_id": request_id}


def _pending_for(session, assignment_id: str):
    return session.execute(sa.select(delay_requests.c.request_id).where(
        delay_requests.c.assignment_id == assignment_id,
        delay_requests.c.state == PENDING)).first()


def _area(principal):
    """Rows of cases in the caller's area (grid codes nest: town ⊂ district, P4.1) that
    it may see (a sensitive case only a special-group reader, P5.2.5)."""
    return sa.and_(cases.c.grid_code.startswith(principal.scope_code, autoescape=True),
                   queries.sensitive_filter(principal))


def list_requests(session, principal, state: str | None) -> list[dict[str, Any]]:
    """Delay requests on cases in the caller's area, oldest first, with the names the
    deciding town staff read (issue 14): the subcategory's from the catalogue dispatch
    follows, the department's from the register (``None`` where unknown)."""
    query = (sa.select(delay_requests, cases.c.case_number, cases.c.grid_code,
                       cases.c.town_code, cases.c.work_category, cases.c.subcategory,
                       assignments.c.handle_due_at.label("current_due_at"))
             .join(cases, cases.c.case_id == delay_requests.c.case_id)
             .join(assignments, assignments.c.assignment_id == delay_requests.c.assignment_id)
             .where(_area(principal)).order_by(delay_requests.c.requested_at))
    if state:
        query = query.where(delay_requests.c.state == state)
    rows = [dict(row) for row in session.execute(query).mappings()]
    subcategories = subcategory_names(session, [row["subcategory"] for row in rows])
    names = department_register.names_both(session, departments,
                                           {row["department"] for row in rows})
    for row in rows:
        row["subcategory_name"] = subcategories.get(row["subcategory"])
        known = names.get(row["department"])
        row["department_name"] = {"zh-CN": known[0], "en": known[1]} if known else None
    return rows


def decide(session, principal, request_id: str, approve: bool, note: str | None,
           now: datetime | None = None) -> dict[str, Any]:
    """Approve or deny a pending request (once: a decided one raises ``Conflict``)."""
    now = now or datetime.now(UTC)
    request = _locked_request(session, request_id)
    case = session.execute(sa.select(cases).where(cases.c.case_id == request["case_id"])
                           ).mappings().one()
    if not principal.covers(case["grid_code"]) or (
            case["sensitive"] and principal.role not in SPECIAL_GROUP_READERS):
        raise NotFound(f"no delay request {request_id}", code="unknown_delay_request")
    if request["state"] != PENDING:
        raise Conflict(f"delay request {request_id} was {request['state']} already",
                       code="already_decided")
    assignment = case_store.lock_assignment(session, request["assignment_id"])
    if approve and assignment["state"] not in states.ACTIVE_ASSIGNMENT_STATES:
        raise Conflict(f"the assignment is {assignment['state']}: no time left to extend "
                       "(deny the request to close it)", code="assignment_not_active")
    due = request["requested_due_at"] if approve else assignment["handle_due_at"]
    if approve:
        # From now on the assignment's result is judged against the new due time: reports
        # sets handle_on_time with stage_outcome(handle_due_at, reported_at) (P5.3.3).
        case_store.update_assignment(session, assignment["assignment_id"], handle_due_at=due)
        # the supervision timer looks at the case again: its overdue ladder re-arms against
        # the new due time (escalating._sent_keys), even if the old one was exhausted (P6.2)
        case_store.set_fields(session, case["case_id"], escalation_basis_at=None)
    state = APPROVED if approve else DENIED
    session.execute(sa.update(delay_requests)
                    .where(delay_requests.c.request_id == request["request_id"])
                    .values(state=state, decided_by=principal.sub,
                            decided_role=str(principal.role), decided_at=now,
                            decision_note=note))
    notification = _tell_department(session, request, case, approve, due, note, now)
    case_store.record_entry(
        session, case["case_id"], "delay_granted" if approve else "delay_refused",
        actor_sub=principal.sub, actor_role=str(principal.role), at=now, reason=note,
        deadline=due, notifications=[notification],
        data={"request_id": request["request_id"],
              "assignment_id": request["assignment_id"],
              "department": request["department"],
              "requested_due_at": request["requested_due_at"].isoformat(),
              "handle_due_at": due.isoformat()})
    return {**dict(request), "state": state, "decided_by": principal.sub,
            "decided_role": str(principal.role), "decided_at": now, "decision_note": note,
            "handle_due_at": due, "case_number": case["case_number"]}


def _locked_request(session, request_id: str) -> dict[str, Any]:
    try:
        uuid.UUID(request_id)
    except ValueError:
        raise NotFound(f"no delay request {request_id}", code="unknown_delay_request") from None
    row = session.execute(sa.select(delay_requests)
                          .where(delay_requests.c.request_id == request_id)
                          .with_for_update()).mappings().first()
    if row is None:
        raise NotFound(f"no delay request {request_id}", code="unknown_delay_request")
    return dict(row)


def _tell_department(session, request, case, approve: bool, due: datetime,
                     note: str | None, now: datetime) -> dict[str, Any]:
    """``dispatch.delay_decision`` to ``<department>.decisions`` through the outbox."""
    key = decision_key(request["department"])
    envelope = make_envelope("dispatch.delay_decision", {
        "request_id": request["request_id"], "assignment_id": request["assignment_id"],
        "case_id": case["case_id"], "case_number": case["case_number"],
        "department": request["department"], "approved": approve, "handle_due_at": due,
        "note": note, "decided_at": now,
    }, PRODUCER, correlation_id=request["message_id"])
    add_to_outbox(session, DISPATCH_EXCHANGE, key, envelope)
    return {"channel": "amqp", "exchange": DISPATCH_EXCHANGE, "routing_key": key,
            "message_id": envelope["message_id"], "type": "dispatch.delay_decision"}

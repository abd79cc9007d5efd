"""The department workbench's side of dispatch (issue 14; P2.2 departments report in,
P5.3.2–P5.3.3): a department without IT of its own signs for (签收, ``ack``), reports
progress or a result, returns a case (退办) or asks for more time (延时) through the HTTP API.

Each action becomes the same report a department's system publishes on the bus
(``department.report`` v1, checked by the contract's own schema) and is applied by the same
code (``reports.apply``): the state machine, deadlines, on-time flags, case store and case
file are shared, so a department may use both channels without acting twice. The case file
says which channel and which officer. A retried request (``client_ref``, e.g. a phone that
lost the answer) is applied once: it is claimed like a bus message.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from marshmallow import ValidationError

from gridgov_common.contract.cases import DepartmentReportV1
from gridgov_common.contract.envelope import format_timestamp
from gridgov_common.kernel.errors import Conflict, NotFound, Unprocessable
from gridgov_common.kernel.roles import Role
from gridgov_common.platform.messaging import claim_message
from services.dispatch import case_names, reports
from services.dispatch.domain import states
from services.dispatch.models import assignments, cases

CONSUMER = "dispatch.workbench"
# request ids: one per (officer, client_ref), so a retry is recognised whoever's replica
NAMESPACE = uuid.UUID("6f1c2e0a-5b7d-4c3e-9a1f-2d8e4b6c7a90")
NO_GRACE = timedelta(0)  # a person acts in order: no ack can be overtaken on the way
PlaceNames = Callable[[str], dict[str, str | None]]  # grid code → its names (place_names)
OPEN = tuple(s.value for s in states.ACTIVE_ASSIGNMENT_STATES)


def report(session, principal, assignment_id: str, body: dict[str, Any],
           now: datetime | None = None, place: PlaceNames | None = None) -> dict[str, Any]:
    """Apply the officer's action to their department's assignment; the assignment as it
    now is, with ``replayed`` true when the same ``client_ref`` was applied before."""
    now = now or datetime.now(UTC)
    department = _department_of(principal)
    assignment = _own_assignment(session, department, assignment_id)
    message_id = _request_id(principal.sub, body.get("client_ref"))
    if not claim_message(session, message_id, CONSUMER):
        return {**assignment_view(session, department, assignment_id, place=place),
                "replayed": True}
    payload = _checked_payload(assignment, department, body, now)
    try:
        reports.apply(session, reports.Report(
            payload, message_id, channel=reports.WORKBENCH, officer=principal.sub,
            photos=tuple(body.get("photos") or ()), reorder_grace=NO_GRACE), now)
    except reports.Refused as refused:
        raise Conflict(refused.message, code=refused.code, fields=refused.fields) from None
    return {**assignment_view(session, department, assignment_id, place=place),
            "replayed": False}


def assignments_of(session, principal, *, state: str | None = None,
                   overdue: bool | None = None, now: datetime | None = None,
                   place: PlaceNames | None = None) -> list[dict[str, Any]]:
    """The department's assignments with their case, overdue first, then by the deadline
    that comes next (sign-for before handling): the department's to-do list."""
    now = now or datetime.now(UTC)
    department = _department_of(principal)
    query = _assignment_query(department)
    if state:
        query = query.where(assignments.c.state == state)
    rows = [_with_clock(dict(row), now) for row in session.execute(query).mappings()]
    if overdue is not None:
        rows = [row for row in rows if row["overdue"] == overdue]
    rows = _named(session, rows, place)
    return sorted(rows, key=lambda r: (not r["overdue"], r["next_due_at"] is None,
                                       r["next_due_at"] or now))


def assignment_view(session, department: str, assignment_id: str,
                    now: datetime | None = None, place: PlaceNames | None = None
                    ) -> dict[str, Any]:
    row = session.execute(_assignment_query(department).where(
        assignments.c.assignment_id == assignment_id)).mappings().first()
    if row is None:
        raise NotFound(f"no assignment {assignment_id}", code="unknown_assignment")
    [named] = _named(session, [_with_clock(dict(row), now or datetime.now(UTC))], place)
    return named


def _named(session, rows: list[dict[str, Any]], place: PlaceNames | None
           ) -> list[dict[str, Any]]:
    """Each row with the names people read (issue 11; ``case_names``)."""
    return case_names.named(session, rows, place)


# --- helpers --------------------------------------------------------------------------------

def _department_of(principal) -> str:
    if principal.role != Role.DEPARTMENT_OFFICER:
        raise Conflict("the workbench acts for a department: sign in as its officer",
                       code="not_a_department")
    return principal.scope_code


def _own_assignment(session, department: str, assignment_id: str) -> dict[str, Any]:
    """The assignment if it is the department's; another's is a 404, as if unknown."""
    try:
        uuid.UUID(assignment_id)
    except ValueError:
        raise NotFound(f"no assignment {assignment_id}", code="unknown_assignment") from None
    row = session.execute(sa.select(assignments).where(
        assignments.c.assignment_id == assignment_id,
        assignments.c.department == department)).mappings().first()
    if row is None:
        raise NotFound(f"no assignment {assignment_id}", code="unknown_assignment")
    return dict(row)


def _request_id(officer: str, client_ref: str | None) -> str:
    if not client_ref:
        return str(uuid.uuid4())
    return str(uuid.uuid5(NAMESPACE, f"{officer}\x1f{client_ref}"))


def _checked_payload(assignment: dict[str, Any], department: str, body: dict[str, Any],
                     now: datetime) -> dict[str, Any]:
    """The ``department.report`` v1 payload of the action, loaded by the contract's own
    schema: the workbench obeys exactly the rules a department's system does."""
    raw = {"assignment_id": str(assignment["assignment_id"]),
           "case_id": str(assignment["case_id"]), "department": department,
           "kind": body["kind"], "reported_at": format_timestamp(now)}
    for key in ("note", "resolved", "reason", "department_ref"):
        if body.get(key) is not None:
            raw[key] = body[key]
    if body.get("requested_due_at") is not None:
        raw["requested_due_at"] = format_timestamp(body["requested_due_at"])
    try:
        return DepartmentReportV1().load(raw)
    except ValidationError as exc:
        raise Unprocessable("the report breaks a rule of department reports",
                            fields=exc.messages) from None


def _assignment_query(department: str):
    return (sa.select(assignments.c.assignment_id, assignments.c.case_id,
                      assignments.c.department, assignments.c.role, assignments.c.state,
                      assignments.c.sent_at, assignments.c.ack_due_at,
                      assignments.c.acked_at, assignments.c.handle_due_at,
                      assignments.c.reported_at, assignments.c.rework,
                      cases.c.case_number, cases.c.state.label("case_state"),
                      cases.c.work_category, cases.c.subcategory, cases.c.priority,
                      cases.c.description, cases.c.grid_code, cases.c.town_code)
            .join(cases, cases.c.case_id == assignments.c.case_id)
            .where(assignments.c.department == department))


def _with_clock(row: dict[str, Any], now: datetime) -> dict[str, Any]:
    """The deadline that applies now (report in, then handle, P2.2/P5.3.3), whether it has
    passed and the seconds left (negative once late): the workbench's countdown."""
    due = None
    if row["state"] == states.AssignmentState.SENT.value:
        due = row["ack_due_at"]
    elif row["state"] in OPEN:
        due = row["handle_due_at"]
    left = None if due is None else int((due - now).total_seconds())
    return {**row, "next_due_at": due, "seconds_left": left,
            "overdue": left is not None and left < 0}

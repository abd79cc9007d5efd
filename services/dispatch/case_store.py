"""The dispatch case's one home: the only module that locks a case for a change and writes
the case tables (``cases``, ``assignments``), and the only caller of the case file's store.

Every use case — filing, department reports, people's actions, rework, escalation, delays,
merging — records what it decided through the functions here, so "set the state, append
to the case file (P5.3.4), announce ``dispatch.case.changed``" is written once
(:func:`record_move`), as is a department's work order (:func:`assign`, P2.2). All of it
runs in the caller's transaction: the rows, the case-file entries and the outgoing
messages (outbox) commit together or not at all.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg

from gridgov_common.contract import DISPATCH_EXCHANGE, dispatch_key, make_envelope
from gridgov_common.platform import bulk
from gridgov_common.platform.outbox import add_event, add_to_outbox
from services.dispatch import casefile_store, notices
from services.dispatch.domain import states
from services.dispatch.domain.states import CaseState, PseudoActor
from services.dispatch.models import assignments, case_file, cases

PRODUCER = "dispatch"
SYSTEM = PseudoActor.SYSTEM.value

# states in which the case is being worked towards a deadline (Open311 expected_datetime)
WORKING_STATES = frozenset({CaseState.HANDLING_LOCAL.value, CaseState.DISPATCHED.value,
                            CaseState.IN_PROGRESS.value})
ACTIVE = tuple(s.value for s in states.ACTIVE_ASSIGNMENT_STATES)
GONE = (states.AssignmentState.RETURNED.value, states.AssignmentState.WITHDRAWN.value)
_READ = object()  # case_changed: read due_at from the rows


# --- loading for a change ------------------------------------------------------------------

def lock(session, case_id: str, *conditions) -> dict[str, Any] | None:
    """The case row, locked ``FOR UPDATE`` until the transaction ends (changes to one case
    apply one after the other), if it exists and meets ``conditions``."""
    row = session.execute(sa.select(cases).where(cases.c.case_id == str(case_id), *conditions)
                          .with_for_update(of=cases)).mappings().first()
    return None if row is None else dict(row)


def lock_where(session, *conditions, order_by=(), limit: int | None = None,
               skip_locked: bool = False, columns=()) -> list[dict[str, Any]]:
    """Several case rows locked at once (an escalation batch, the duplicates of a case);
    ``columns``: assignment columns to read beside them (cases joined to their
    assignments, one row per assignment that meets ``conditions``)."""
    query = sa.select(cases, *columns).where(*conditions).order_by(*order_by)
    if columns:
        query = query.select_from(cases.join(assignments,
                                             assignments.c.case_id == cases.c.case_id))
    if limit is not None:
        query = query.limit(limit)
    query = query.with_for_update(of=cases, skip_locked=skip_locked)
    return [dict(row) for row in session.execute(query).mappings()]


def lock_assignment(session, assignment_id: str) -> dict[str, Any] | None:
    row = session.execute(sa.select(assignments)
                          .where(assignments.c.assignment_id == str(assignment_id))
                          .with_for_update()).mappings().first()
    return None if row is None else dict(row)


def lock_files(session, case_ids) -> None:
    """The case-file locks of several cases, in one global order (``casefile_store``)."""
    casefile_store.lock_cases(session, case_ids)


# --- filing ---------------------------------------------------------------------------------

def file_new(session, case: dict[str, Any], at: datetime, data: dict[str, Any]) -> bool:
    """A reported case's row and its first case-file entry (then whatever reached the case
    before it was filed); False when the case is known already. Its first change is
    announced by the triage move that follows in the same transaction (``record_move``
    with ``filing=True``: from_state null, ``dispatch.case.changed`` v3)."""
    inserted = session.execute(
        pg.insert(cases).values(**case)
        .on_conflict_do_nothing(index_elements=["case_id"]).returning(cases.c.case_id)).first()
    if inserted is None:
        return False
    casefile_store.append(session, case["case_id"], action="filed", actor_sub=SYSTEM,
                          actor_role=SYSTEM, at=at, to_state=CaseState.FILED.value, data=data)
    casefile_store.append_waiting(session, case["case_id"])  # e.g. a major event's page
    return True


def file_many(session, filings: list) -> list[dict[str, Any] | None]:
    """A batch of triaged filings (``filing.Filing``) written as ``file_new``, ``assign``
    and ``record_move`` write them one after the other, in a fixed number of statements
    whatever the batch's size (issue 16): the case rows (already in their target state, as
    the move leaves them; one INSERT per outcome: dispatched, local, closed), the entries
    that waited for their case, the assignments, the case-file entries (new files: chained
    from the genesis in Python) and nothing else; the messages go to the outbox in the same
    order. None for a case known already (or twice here).

    The case files' locks are the caller's (``lock_files``), as for ``file_new``."""
    fresh, seen = [], set()
    for filing in filings:
        if filing.case["case_id"] not in seen:
            seen.add(filing.case["case_id"])
            fresh.append(filing)
    rows = [{**f.case, **f.values, "state": f.target, "updated_at": f.now} for f in fresh]
    inserted = set()
    for group in bulk.by_columns(rows):  # one column list per INSERT: one per outcome
        inserted.update(bulk.insert_rows(session, cases, group, on_conflict="(case_id) DO NOTHING",
                                         returning=["case_id"]).scalars())
    fresh = [f for f in fresh if f.case["case_id"] in inserted]
    waiting = casefile_store.take_waiting(session, [f.case["case_id"] for f in fresh])
    files: dict[str, list[dict[str, Any]]] = {}
    assignment_rows: list[dict[str, Any]] = []
    filed: dict[str, dict[str, Any]] = {}
    for f in fresh:
        case, case_id, corr = f.case, f.case["case_id"], f.correlation_id
        files[case_id] = [
            {"action": "filed", "actor_sub": SYSTEM, "actor_role": SYSTEM, "at": f.now,
             "to_state": CaseState.FILED.value, "data": f.filed_data},
            *waiting.get(case_id, [])]
        notifications = []
        for department, role in f.departments:
            row, notification = new_assignment(session, case, department, role, f.ack_due,
                                               f.handle_due, f.rule_version, f.now, corr)
            assignment_rows.append(row)
            notifications.append(notification)
        departments = [department for department, _ in f.departments]
        files[case_id].append(
            {"action": f.transition.value, "actor_sub": SYSTEM, "actor_role": SYSTEM,
             "at": f.now, "from_state": case["state"], "to_state": f.target,
             "notifications": notifications, "data": f.move_data})
        due = None
        if f.target in WORKING_STATES:  # expected_due, from what is written here
            due = f.handle_due if f.departments else f.values.get("handle_due_at")
        case_changed(session, case, None, f.target, f.now, SYSTEM, departments,
                     correlation_id=corr, due_at=due)  # filed and triaged: one change (v3)
        filed[case_id] = {**case, **f.values, "state": f.target, "updated_at": f.now}
    if assignment_rows:
        for group in bulk.by_columns(assignment_rows):
            bulk.insert_rows(session, assignments, group)
    casefile_store.append_new_files(session, files)
    written = {id(f) for f in fresh}
    return [filed[f.case["case_id"]] if id(f) in written else None for f in filings]


# --- moves and entries ----------------------------------------------------------------------

def record_move(session, case: dict[str, Any], action: str, target: str, at: datetime, *,
                actor_sub: str, actor_role: str, values: dict[str, Any] | None = None,
                departments: list[str] | None = None, correlation_id: str | None = None,
                filing: bool = False, **entry: Any) -> dict[str, Any]:
    """The move stored: the case row (``state``, ``updated_at`` and ``values``), its
    case-file entry (``entry``: reason, deadline, on_time, notifications, data) and
    ``dispatch.case.changed``; returns the case as it now is (without assignments).
    ``departments``: those the change names, else the ones still on the case.
    ``filing``: the triage move of the transaction that filed the case, announced as the
    case's first change (from_state null: filed, then moved to ``target``; v3)."""
    values = {**(values or {}), "state": target, "updated_at": at}
    session.execute(sa.update(cases).where(cases.c.case_id == case["case_id"])
                    .values(**values))
    casefile_store.append(session, case["case_id"], action=action, actor_sub=actor_sub,
                          actor_role=actor_role, at=at, from_state=case["state"],
                          to_state=target, **entry)
    if departments is None:
        departments = current_departments(session, case["case_id"])
    case_changed(session, case, None if filing else case["state"], target, at, actor_role,
                 departments, on_time=entry.get("on_time"), correlation_id=correlation_id)
    return {**case, **values}


def record_entry(session, case_id: str, action: str, *, actor_sub: str, actor_role: str,
                 at: datetime, **fields: Any) -> None:
    """A case-file entry that moves nothing (a progress note, an escalation, a delay)."""
    casefile_store.append(session, case_id, action=action, actor_sub=actor_sub,
                          actor_role=actor_role, at=at, **fields)


def record_delivery(session, case_id: str, *, action: str, actor_sub: str, actor_role: str,
                    at: datetime, data: dict[str, Any]) -> bool:
    """An entry that may arrive before its case is filed (notify's delivery reports):
    appended now, or kept until the filing appends it; True when appended now."""
    return casefile_store.append_or_wait(session, case_id, action=action,
                                         actor_sub=actor_sub, actor_role=actor_role, at=at,
                                         data=data)


def set_fields(session, case_id: str, **values: Any) -> None:
    """Bookkeeping on the case row that is not a move (the supervision timer's marks, the
    return count, the newest duplicate decision): no entry, no change event."""
    session.execute(sa.update(cases).where(cases.c.case_id == str(case_id)).values(**values))


def load_history(session, case_rows: list[dict[str, Any]],
                 assignment_rows: list[dict[str, Any]], file_rows: list[dict[str, Any]]
                 ) -> None:
    """Bulk rows of past cases worked out in full beforehand (the demo district's history,
    docs/DEMO.md); their file rows are already chained."""
    for table, rows in ((cases, case_rows), (assignments, assignment_rows),
                        (case_file, file_rows)):
        if rows:
            session.execute(table.insert(), rows)


# --- the change event ---------------------------------------------------------------------

def case_changed(session, case: dict[str, Any], from_state: str | None, to_state: str,
                 at: datetime, actor_role: str, departments: list[str],
                 on_time: bool | None = None, correlation_id: str | None = None,
                 due_at: datetime | None | object = _READ) -> None:
    """``dispatch.case.changed`` v3, in the caller's transaction after the change is
    written (``due_at`` is read from the rows as they now are). ``from_state`` None: the
    case's first change, filed and moved by triage in one transaction (v3; v2 announced
    the filing and the triage move as two changes).

    ``at`` never goes back before the case's previous change: followers keep the newest
    change by ``at``, and two transactions on one case take its lock in one order but may
    have read the clock in the other (a merge that waited for a department's report would
    otherwise look older than the report and be ignored).

    ``due_at``: given by a caller that knows it (a batch of filings), else read."""
    at = announced_at(case.get("updated_at"), at)
    add_event(session, "dispatch.case.changed", {
        "case_id": case["case_id"], "case_number": case["case_number"],
        "from_state": from_state, "to_state": to_state, "at": at, "actor_role": actor_role,
        "grid_code": case["grid_code"], "town_code": case["town_code"],
        "departments": departments, "on_time": on_time,
        "due_at": (expected_due(session, case["case_id"], to_state) if due_at is _READ
                   else due_at),
    }, PRODUCER, correlation_id=correlation_id)


def photos_attached(session, case: dict[str, Any], department: str,
                    photos: list[str], at: datetime) -> None:
    """``dispatch.case.photos_attached`` v1: a department's workbench report came with
    photos (P5.3.3), so events shows them with the case and keeps them as the case's own."""
    add_event(session, "dispatch.case.photos_attached", {
        "case_id": case["case_id"], "case_number": case["case_number"],
        "department": department, "photos": photos, "at": at}, PRODUCER)


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
        assignments.c.case_id == case_id, assignments.c.state.in_(ACTIVE))).scalar()
    if latest is not None:
        return latest
    return session.execute(sa.select(cases.c.handle_due_at)
                           .where(cases.c.case_id == case_id)).scalar()


# --- assignments (P2.2) ---------------------------------------------------------------------

def assign(session, case: dict[str, Any], department: str, role: str, ack_due: datetime,
           handle_due: datetime, rule_version: int, now: datetime,
           correlation_id: str | None, rework: int = 0) -> dict[str, Any]:
    """One department's work order; its ``dispatch.assignment`` goes to the outbox.

    ``rework``: 0 for a first dispatch, else the case's rework count (P5.2.1 返工: the
    return visit found the problem unsolved and the departments take it up again)."""
    row, notification = new_assignment(session, case, department, role, ack_due, handle_due,
                                       rule_version, now, correlation_id, rework)
    session.execute(sa.insert(assignments).values(**row))
    return notification


def new_assignment(session, case: dict[str, Any], department: str, role: str,
                   ack_due: datetime, handle_due: datetime, rule_version: int, now: datetime,
                   correlation_id: str | None, rework: int = 0
                   ) -> tuple[dict[str, Any], dict[str, Any]]:
    """:func:`assign` but the row: (the assignment row to insert, what the case file notes
    as sent); the work order and the officers' notice are in the outbox."""
    key = dispatch_key(department, case["town_code"], case["work_category"],
                       case["priority"])
    assignment_id = str(uuid.uuid4())
    row = {"assignment_id": assignment_id, "case_id": case["case_id"],
           "department": department, "role": role,
           "state": states.AssignmentState.SENT.value, "routing_key": key, "sent_at": now,
           "ack_due_at": ack_due, "handle_due_at": handle_due, "rework": rework}
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
    return row, {"channel": "amqp", "exchange": DISPATCH_EXCHANGE, "routing_key": key,
                 "message_id": envelope["message_id"], "assignment_id": assignment_id,
                 "department": department, "role": role}


def update_assignment(session, assignment_id: str, **values: Any) -> None:
    session.execute(sa.update(assignments)
                    .where(assignments.c.assignment_id == str(assignment_id))
                    .values(**values))


def withdraw_active(session, case_id: str) -> list[str]:
    """Withdraw the assignments that still owe something; their ids (kept as history)."""
    rows = session.execute(sa.update(assignments).where(
        assignments.c.case_id == case_id, assignments.c.state.in_(ACTIVE))
        .values(state=states.AssignmentState.WITHDRAWN.value)
        .returning(assignments.c.assignment_id))
    return [row.assignment_id for row in rows]


def current_departments(session, case_id: str) -> list[str]:
    """Departments still on the case (not returned, not withdrawn), first sent first."""
    return _departments(session, case_id, assignments.c.state.notin_(GONE))


def every_department(session, case_id: str) -> list[str]:
    """Every department the case ever went to, in the order people read (Open311
    agency_responsible): first sent first, the lead before those assisting it, by code."""
    return _departments(session, case_id)


def _departments(session, case_id: str, *conditions) -> list[str]:
    rows = session.execute(sa.select(assignments.c.department).where(
        assignments.c.case_id == case_id, *conditions)
        .order_by(assignments.c.sent_at, assignments.c.role.desc(), assignments.c.department))
    return list(dict.fromkeys(row.department for row in rows))


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

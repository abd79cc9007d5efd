"""Staff adjustments (P5.4.1 "those failing assessment are adjusted: community proposes,
town approves"), opened by ``assessment.staff.flagged`` (P5.4.6) and carried through by
HTTP: the community proposes a measure, the town approves or rejects it, and an approved
measure is applied to the staff record through the ordinary staff code in the same
transaction (so ``registry.staff.changed`` goes out through the outbox as for any change).

The state machine is ``domain/adjustment.py``; this module holds the rows, the scope
checks and the mapping of measures onto the staff record. docs/STAFF-ADJUSTMENT.md.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.orm import Session

from gridgov_common.kernel import scoping
from gridgov_common.kernel.area import Level, parent_or_none
from gridgov_common.kernel.auth import Principal
from gridgov_common.kernel.errors import Conflict, Forbidden, NotFound, Unprocessable
from gridgov_common.platform.messaging import PermanentError, claim_message
from services.registry import staff_identity, staffing
from services.registry.domain import adjustment as flow
from services.registry.models import grids, staff, staff_adjustment_steps, staff_adjustments

CONSUMER = "registry.staff_flagged"
SERVICE_ROLE = "service"  # actor_role of the steps the registry takes itself
A = staff_adjustments


# --- the flag (AMQP) ----------------------------------------------------------------------

def open_from_flag(session: Session, envelope) -> bool:
    """Open (or update) the adjustment a flag asks for; False for a duplicate delivery.

    One row per subject and half-year: a re-published report version updates the figures
    of the same row (an older version arriving late changes nothing); a subject the
    registry does not know opens an ``unmatched`` row rather than being dropped.
    """
    if not claim_message(session, envelope.message_id, CONSUMER):
        return False
    p = envelope.payload
    level, _, scope_code = p["scope"].partition(":")
    # the approving town must hold the person
    if parent_or_none(scope_code, Level.TOWN) != p["town_code"]:
        raise PermanentError("scope_mismatch", f"scope {p['scope']} is not in town "
                             f"{p['town_code']}", {"town_code": ["does not contain scope"]})
    person = _active_staff(session, p["staff_sub"])
    figures = {"report_id": str(p["report_id"]), "report_version": p["report_version"],
               "grade": p["grade"], "score": p["score"], "flag_grades": p["flag_grades"],
               "role": p["role"], "town_code": p["town_code"],
               "scope_code": person.scope_code if person else scope_code}
    state = flow.State.FLAGGED if person else flow.State.UNMATCHED
    detail = {"message_id": str(envelope.message_id), "report_id": figures["report_id"],
              "report_version": p["report_version"], "grade": p["grade"],
              "score": p["score"]}
    new_id = session.execute(pg.insert(A).values(
        staff_sub=p["staff_sub"], half_year=p["half_year"], staff_id=person.id if person
        else None, state=state.value, **figures)
        .on_conflict_do_nothing(constraint="ux_staff_adjustment_half_year")
        .returning(A.c.id)).scalar()
    if new_id is not None:
        _step(session, new_id, "flag", None, state.value, envelope.producer, SERVICE_ROLE,
              detail=detail)
        return True
    row = session.execute(sa.select(A).where(
        A.c.staff_sub == p["staff_sub"], A.c.half_year == p["half_year"])
        .with_for_update()).one()
    if p["report_version"] < row.report_version:
        return True  # an older report version, delivered late: the newer figures stand
    values: dict[str, Any] = {**figures, "changed_at": sa.func.now()}
    if row.state == flow.State.UNMATCHED and person is not None:
        values.update(staff_id=person.id, state=flow.transition(row.state, flow.Action.MATCH))
    elif row.staff_id is not None:
        values.pop("scope_code")  # a matched row keeps its staff member's scope
    session.execute(A.update().where(A.c.id == row.id).values(**values))
    _step(session, row.id, "reflag", row.state, values.get("state", row.state),
          envelope.producer, SERVICE_ROLE, detail=detail)
    return True


def _active_staff(session: Session, subject: str):
    return session.execute(sa.select(staff).where(
        staff.c.subject == subject, staff.c.active.is_(True))).first()


# --- the flow (HTTP) ----------------------------------------------------------------------

def propose(session: Session, principal: Principal, adjustment_id: int,
            command: dict[str, Any]) -> dict[str, Any]:
    """P5.4.1 the community proposes a measure (again, after a rejection)."""
    row = _locked(session, principal, adjustment_id)
    if row.state == flow.State.UNMATCHED:
        row = _rematch(session, principal, row)
    target = _move(row.state, flow.Action.PROPOSE, principal)
    measure = flow.Measure(command["measure"])
    codes = sorted(set(command.get("grid_codes") or []))
    person = session.execute(sa.select(staff).where(staff.c.id == row.staff_id)).one()
    if measure == flow.Measure.REASSIGN:
        _check_grids(session, person, codes)
    elif codes:
        raise Unprocessable("grid_codes go with the reassign measure only",
                            fields={"grid_codes": ["only for reassign"]})
    if measure == flow.Measure.DISMISS:  # P5.1.5 lifecycle: filed → adjustment_proposed
        _lifecycle(session, principal, row.staff_id, flow.Action.PROPOSE, command["reason"])
    _update(session, row.id, state=target, measure=measure.value,
            grid_codes=codes if measure == flow.Measure.REASSIGN else None,
            reason=command["reason"], decision_reason=None)
    _step(session, row.id, flow.Action.PROPOSE, row.state, target, principal.sub,
          principal.role, measure.value, command["reason"],
          {"grid_codes": codes} if codes else {})
    return get(session, principal, adjustment_id)


def approve(session: Session, principal: Principal, adjustment_id: int,
            reason: str) -> dict[str, Any]:
    """P5.4.1 the town approves; the measure is applied in the same transaction."""
    row = _locked(session, principal, adjustment_id)
    approved = _move(row.state, flow.Action.APPROVE, principal)
    _step(session, row.id, flow.Action.APPROVE, row.state, approved, principal.sub,
          principal.role, row.measure, reason)
    applied = flow.transition(approved, flow.Action.APPLY)
    detail = _apply(session, principal, row, reason)
    _update(session, row.id, state=applied, decision_reason=reason)
    _step(session, row.id, flow.Action.APPLY, approved, applied, principal.sub,
          principal.role, row.measure, reason, detail)
    return get(session, principal, adjustment_id)


def reject(session: Session, principal: Principal, adjustment_id: int,
           reason: str) -> dict[str, Any]:
    """P5.4.1 the town turns the proposal down (with a reason); the community may propose
    again. A proposed dismissal returns the worker to ``filed``."""
    row = _locked(session, principal, adjustment_id)
    target = _move(row.state, flow.Action.REJECT, principal)
    if row.measure == flow.Measure.DISMISS:
        _lifecycle(session, principal, row.staff_id, flow.Action.REJECT, reason)
    _update(session, row.id, state=target, decision_reason=reason)
    _step(session, row.id, flow.Action.REJECT, row.state, target, principal.sub,
          principal.role, row.measure, reason)
    return get(session, principal, adjustment_id)


def _apply(session: Session, principal: Principal, row, reason: str) -> dict[str, Any]:
    """Carry out the approved measure on the staff record (through the staff code, which
    publishes ``registry.staff.changed``); what was done, for the step's detail."""
    measure = flow.Measure(row.measure)
    if measure == flow.Measure.DISMISS:
        after = _lifecycle(session, principal, row.staff_id, flow.Action.APPROVE, reason)
        return {"lifecycle_state": after["lifecycle_state"], "active": after["active"]}
    if measure == flow.Measure.REASSIGN:
        staff_identity.set_grids(session, principal, row.staff_id, list(row.grid_codes))
        return {"grid_codes": list(row.grid_codes)}
    return {}  # keep_with_training: the record stays as it is; the training is the town's


def _lifecycle(session: Session, principal: Principal, staff_id: int, action: flow.Action,
               reason: str) -> dict[str, Any]:
    step = flow.DISMISS_LIFECYCLE[action]
    return staffing.transition_staff(session, principal, staff_id, step,
                                     f"P5.4.1 adjustment: {reason}"[:500])


def _check_grids(session: Session, person, codes: list[str]) -> None:
    if not codes:
        raise Unprocessable("a reassignment names the new grids",
                            fields={"grid_codes": ["required for reassign"]})
    if len(person.scope_code) != 12:
        raise Unprocessable("only community-level staff lead several grids (P5.1.4); a "
                            "neighbourhood grid worker serves one grid (P5.1.5)",
                            fields={"measure": ["not for this role"]})
    known = set(session.execute(sa.select(grids.c.grid_code).where(
        grids.c.grid_code.in_(codes), grids.c.valid_to.is_(None))).scalars())
    bad = [c for c in codes if c not in known or not c.startswith(person.scope_code)]
    if bad:
        raise Unprocessable("grids must be valid grids of the staff member's community",
                            fields={"grid_codes": bad})


def _rematch(session: Session, principal: Principal, row):
    """An unmatched flag whose subject has since been tied to a record is matched now."""
    person = _active_staff(session, row.staff_sub)
    if person is None:
        raise Conflict(f"no active staff member has the subject {row.staff_sub!r}: tie it "
                       f"to the record (PUT /staff/{{id}}/subject) first",
                       code="unmatched_subject")
    principal.require_covers(person.scope_code, f"staff {person.id}")
    state = flow.transition(row.state, flow.Action.MATCH)
    _update(session, row.id, state=state, staff_id=person.id, scope_code=person.scope_code)
    _step(session, row.id, flow.Action.MATCH, row.state, state, principal.sub,
          principal.role, detail={"staff_id": person.id})
    return session.execute(sa.select(A).where(A.c.id == row.id)).one()


def _move(state: str, action: flow.Action, principal: Principal) -> str:
    try:
        return flow.transition(state, action, principal.role)
    except flow.AdjustmentError as exc:
        if exc.code == "forbidden_role":
            raise Forbidden(exc.message, code="role_not_allowed") from None
        raise Conflict(exc.message, code=exc.code) from None


# --- rows, steps, reads -------------------------------------------------------------------

def _locked(session: Session, principal: Principal, adjustment_id: int):
    row = session.execute(sa.select(A).where(A.c.id == adjustment_id)
                          .with_for_update()).first()
    if row is None:
        raise NotFound(f"staff adjustment {adjustment_id} not found")
    principal.require_covers(row.scope_code, f"staff adjustment {adjustment_id}")
    return row


def _update(session: Session, adjustment_id: int, **values: Any) -> None:
    session.execute(A.update().where(A.c.id == adjustment_id)
                    .values(changed_at=sa.func.now(), **values))


def _step(session: Session, adjustment_id: int, action: str, from_state: str | None,
          to_state: str, actor_sub: str, actor_role: str, measure: str | None = None,
          reason: str = "", detail: dict[str, Any] | None = None) -> None:
    session.execute(staff_adjustment_steps.insert().values(
        adjustment_id=adjustment_id, action=str(action), from_state=from_state,
        to_state=str(to_state), actor_sub=actor_sub, actor_role=str(actor_role),
        measure=measure, reason=reason, detail=detail or {}))


def list_adjustments(session: Session, principal: Principal, state: str | None = None,
                     half_year: str | None = None) -> list[dict[str, Any]]:
    """Adjustments in the caller's scope: a community's, a town's, a district's (issue 10:
    its own district only)."""
    stmt = sa.select(A).order_by(A.c.id).where(scoping.where_scope(principal, A.c.scope_code))
    if state:
        stmt = stmt.where(A.c.state == state)
    if half_year:
        stmt = stmt.where(A.c.half_year == half_year)
    return [_view(r) for r in session.execute(stmt)]


def get(session: Session, principal: Principal, adjustment_id: int) -> dict[str, Any]:
    row = session.execute(sa.select(A).where(A.c.id == adjustment_id)).first()
    if row is None:
        raise NotFound(f"staff adjustment {adjustment_id} not found")
    principal.require_covers(row.scope_code, f"staff adjustment {adjustment_id}")
    steps = session.execute(sa.select(staff_adjustment_steps).where(
        staff_adjustment_steps.c.adjustment_id == adjustment_id)
        .order_by(staff_adjustment_steps.c.id))
    return {**_view(row), "steps": [
        {k: v for k, v in s._mapping.items() if k != "adjustment_id"} for s in steps]}


def _view(row) -> dict[str, Any]:
    return {k: row._mapping[k] for k in (
        "id", "staff_sub", "staff_id", "half_year", "report_id", "report_version", "grade",
        "score", "flag_grades", "role", "scope_code", "town_code", "state", "measure",
        "grid_codes", "reason", "decision_reason", "created_at", "changed_at")}

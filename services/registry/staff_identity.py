"""Staff ↔ token identity and the grids a staff member answers for (P5.0, P5.1.4, P5.1.5).

A token's ``sub`` names a person; ``staff.subject`` ties it to one active staff record, so
a grid worker's token maps to their record and grids (``GET /staff/me``) and other
services can key field work and KPIs by the subject. Every change is published as
``registry.staff.changed`` v1 through the outbox, in the caller's transaction (P6.2
"collect once, share many times"); the event carries ids, codes and states only, never a
name or phone (P5.4.4).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gridgov_common.kernel import area
from gridgov_common.kernel.area import Level, parent_or_none
from gridgov_common.kernel.auth import Principal
from gridgov_common.kernel.errors import Conflict, NotFound, Unprocessable
from gridgov_common.kernel.roles import ROLE_SCOPE, Role, ScopeLevel
from services.registry import accounts
from services.registry.emit import emit
from services.registry.models import grids, staff, staff_grids

STAFF_CHANGED = "registry.staff.changed"
TZ = area.TZ  # the district's clock
MAX_GRIDS = 50  # a community has at most a few dozen grids
SUBJECT_INDEX = "ux_staff_active_subject"  # unique subject among active staff (0003)


def require_free_subject(session: Session, subject: str | None, staff_id: int | None) -> None:
    """One active staff record per subject: a token must name one person."""
    if subject is None:
        return
    taken = session.execute(sa.select(staff.c.id).where(
        staff.c.subject == subject, staff.c.active.is_(True),
        staff.c.id != (staff_id or 0))).first()
    if taken is not None:
        raise Conflict(f"subject {subject!r} belongs to active staff {taken.id}",
                       fields={"subject": ["taken by another active staff member"]},
                       code="subject_taken")


def guarded_subject_write(session: Session, statement):
    """Execute an INSERT/UPDATE that sets ``staff.subject``; two requests claiming the same
    subject at once both pass :func:`require_free_subject`, and the loser hits the unique
    index ``ux_staff_active_subject``: a 409 like the checked case, not a 500 (a savepoint
    keeps the caller's transaction usable)."""
    try:
        with session.begin_nested():
            return session.execute(statement)
    except IntegrityError as exc:
        if getattr(getattr(exc.orig, "diag", None), "constraint_name", None) != SUBJECT_INDEX:
            raise
        raise Conflict("that subject was just given to another active staff member",
                       fields={"subject": ["taken by another active staff member"]},
                       code="subject_taken") from None


def grid_codes(session: Session, staff_id: int) -> list[str]:
    return list(session.execute(sa.select(staff_grids.c.grid_code).where(
        staff_grids.c.staff_id == staff_id).order_by(staff_grids.c.grid_code)).scalars())


def assign_own_grid(session: Session, staff_id: int, scope_code: str) -> None:
    """P5.1.5: a neighbourhood grid worker (grid scope) answers for that grid."""
    if len(scope_code) == 15 and session.execute(sa.select(grids.c.grid_code).where(
            grids.c.grid_code == scope_code)).first():
        session.execute(staff_grids.insert().values(staff_id=staff_id, grid_code=scope_code))


def _locked(session: Session, principal: Principal, staff_id: int):
    row = session.execute(sa.select(staff).where(staff.c.id == staff_id)
                          .with_for_update()).first()
    if row is None:
        raise NotFound(f"staff {staff_id} not found")
    principal.require_covers(row.scope_code, f"staff {staff_id}")
    return row


def set_subject(session: Session, principal: Principal, staff_id: int,
                subject: str | None) -> None:
    """Tie (or untie, with None) a staff record to a token subject."""
    row = _locked(session, principal, staff_id)
    if row.active:
        require_free_subject(session, subject, staff_id)
    guarded_subject_write(session, staff.update().where(staff.c.id == staff_id)
                          .values(subject=subject, changed_at=sa.func.now()))
    publish(session, staff_id, "subject_set")


def set_grids(session: Session, principal: Principal, staff_id: int,
              codes: list[str]) -> None:
    """Replace the grids a person answers for; each lies in their scope and is valid."""
    row = _locked(session, principal, staff_id)
    codes = sorted(set(codes))
    outside = [c for c in codes if not c.startswith(row.scope_code)]
    if outside or len(row.scope_code) not in (9, 12, 15):
        raise Unprocessable("grids must lie in the staff member's scope",
                            fields={"grid_codes": outside or ["not a geographic scope"]})
    known = set(session.execute(sa.select(grids.c.grid_code).where(
        grids.c.grid_code.in_(codes), grids.c.valid_to.is_(None))).scalars())
    unknown = [c for c in codes if c not in known]
    if unknown:
        raise Unprocessable("unknown or retired grids", fields={"grid_codes": unknown})
    session.execute(staff_grids.delete().where(staff_grids.c.staff_id == staff_id))
    if codes:
        session.execute(staff_grids.insert(),
                        [{"staff_id": staff_id, "grid_code": c} for c in codes])
    session.execute(staff.update().where(staff.c.id == staff_id)
                    .values(changed_at=sa.func.now()))
    publish(session, staff_id, "grids_changed")


def my_staff_id(session: Session, principal: Principal) -> int:
    """The caller's active staff record, found by the token's subject."""
    row = session.execute(sa.select(staff.c.id).where(
        staff.c.subject == principal.sub, staff.c.active.is_(True))).first()
    if row is None:
        raise NotFound(f"no active staff member has the subject {principal.sub!r}",
                       code="unknown_subject")
    return row.id


def payload(session: Session, staff_id: int, action: str) -> dict[str, Any]:
    """The ``registry.staff.changed`` v1 payload (ids, codes, states; no personal data)."""
    row = session.execute(sa.select(staff).where(staff.c.id == staff_id)).one()
    level = ROLE_SCOPE[Role(row.role)]
    geographic = level != ScopeLevel.DEPARTMENT
    changed = row.changed_at or datetime.now(TZ)
    return {
        "staff_id": row.id, "subject": row.subject, "action": action, "role": row.role,
        "scope": f"{level}:{row.scope_code}",
        "town_code": parent_or_none(row.scope_code, Level.TOWN) if geographic else None,
        "community_code": (parent_or_none(row.scope_code, Level.COMMUNITY) if geographic
                           else None),
        "grid_codes": grid_codes(session, staff_id),
        "lifecycle_state": row.lifecycle_state, "active": row.active,
        "valid_from": changed.astimezone(TZ).date().isoformat(),
    }


# changes after which a person's open sign-in sessions end (issue 12): a dismissal or any
# other lifecycle step, a new or removed subject (the login), other grids (a transfer)
ENDS_SESSIONS = frozenset({"status_changed", "subject_set", "grids_changed"})


def publish(session: Session, staff_id: int, action: str) -> None:
    """Announce a change of the staff record; a change of who the person is or what they
    answer for also ends their sign-in sessions, in the same transaction (their access
    cookie then lives out its few minutes: docs/SECURITY.md "Sign-in and sessions")."""
    if action in ENDS_SESSIONS:
        accounts.revoke_all(session, staff_id, f"staff {action}")
    emit(session, STAFF_CHANGED, payload(session, staff_id, action))

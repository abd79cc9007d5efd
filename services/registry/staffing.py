"""Grid staff (P5.0, P5.1), their lifecycle (P5.1.5, P5.4.1) and Party branches (P4.3)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from gridgov_common.kernel import scoping
from gridgov_common.kernel.area import community_of, town_of
from gridgov_common.kernel.auth import Principal, parse_scope
from gridgov_common.kernel.errors import Conflict, Forbidden, NotFound, Unprocessable
from gridgov_common.kernel.roles import GRID_ROLES, Role, ScopeLevel
from services.registry import staff_identity
from services.registry.domain import staff as staff_domain
from services.registry.models import party_branches, staff, staff_transitions

# P5.1.5/P5.4.1: neighbourhood grid workers go through recruitment, review, hiring and
# filing; the other roles are appointed and start active.
INITIAL_STATE = {Role.NEIGHBOURHOOD_GRID_WORKER: "recruited"}
APPOINTED = "active"
# who may appoint whom: the level above, or the district admin
APPOINTERS: dict[Role, frozenset[Role]] = {
    Role.TOWN_GRID_CHIEF: frozenset({Role.DISTRICT_ADMIN}),
    Role.GRID_INSTRUCTOR: frozenset({Role.DISTRICT_ADMIN, Role.TOWN_GRID_CHIEF}),
    Role.COMMUNITY_GRID_CHIEF: frozenset({Role.DISTRICT_ADMIN, Role.TOWN_GRID_CHIEF}),
    Role.COMMUNITY_GRID_WORKER: frozenset({Role.DISTRICT_ADMIN, Role.TOWN_GRID_CHIEF}),
    # P5.1.5: recruited by the community
    Role.NEIGHBOURHOOD_GRID_WORKER: frozenset({Role.DISTRICT_ADMIN, Role.COMMUNITY_GRID_CHIEF}),
    Role.DEPARTMENT_OFFICER: frozenset({Role.DISTRICT_ADMIN}),
    Role.DISTRICT_ADMIN: frozenset({Role.DISTRICT_ADMIN}),
    Role.OPS_VIEWER: frozenset({Role.DISTRICT_ADMIN}),
}


def create_staff(session: Session, principal: Principal, command: dict[str, Any]) -> dict:
    role = Role(command["role"])
    if principal.role not in APPOINTERS[role]:
        raise Forbidden(f"role {principal.role} may not appoint a {role}")
    try:
        level, scope_code = parse_scope(role, command["scope"])
    except ValueError as exc:
        raise Unprocessable(str(exc), fields={"scope": [str(exc)]}) from None
    if level != ScopeLevel.DEPARTMENT:
        principal.require_covers(scope_code, f"scope {scope_code}")
    staff_identity.require_free_subject(session, command.get("subject"), None)
    new_id = staff_identity.guarded_subject_write(session, staff.insert().values(
        name=command["name"], role=role.value, scope_code=scope_code,
        work_phone=command.get("work_phone"), duties=command.get("duties", ""),
        lifecycle_state=INITIAL_STATE.get(role, APPOINTED), subject=command.get("subject"),
    ).returning(staff.c.id)).scalar_one()
    staff_identity.assign_own_grid(session, new_id, scope_code)
    staff_identity.publish(session, new_id, "created")
    return get_staff(session, new_id)


def get_staff(session: Session, staff_id: int) -> dict[str, Any]:
    row = session.execute(sa.select(staff).where(staff.c.id == staff_id)).first()
    if row is None:
        raise NotFound(f"staff {staff_id} not found")
    return {**_view(row), "grid_codes": staff_identity.grid_codes(session, staff_id)}


def _view(row) -> dict[str, Any]:
    return {"id": row.id, "name": row.name, "role": row.role, "scope_code": row.scope_code,
            "work_phone": row.work_phone, "duties": row.duties,
            "lifecycle_state": row.lifecycle_state, "active": row.active,
            "subject": row.subject}


def public_names(session: Session, subjects: list[str]) -> dict[str, str]:
    """``{subject: name}`` of the active grid staff among ``subjects``. P5.4.2: the grid's
    notice board posts these names, so a report people file may name the people it
    assesses (P5.4.6); nothing else of the record leaves (no phone, no ID number), and
    department officers and administrators are not named."""
    if not subjects:
        return {}
    rows = session.execute(sa.select(staff.c.subject, staff.c.name).where(
        staff.c.active, staff.c.subject.in_(subjects),
        staff.c.role.in_([str(r) for r in GRID_ROLES])))
    return {row.subject: row.name for row in rows}


def list_staff(session: Session, principal: Principal, prefix: str = "",
               role: str | None = None) -> list[dict]:
    """Staff of the caller's district (issue 10: never another district's names and work
    phones) whose scope code starts with ``prefix``; department officers (whose scope is a
    department, in no district) are listed to every district."""
    stmt = sa.select(staff).order_by(staff.c.id)
    mine = scoping.district_prefix(principal)
    stmt = stmt.where(sa.or_(scoping.where(staff.c.scope_code, mine),
                             staff.c.role == Role.DEPARTMENT_OFFICER.value))
    if prefix:
        stmt = stmt.where(staff.c.scope_code.startswith(prefix, autoescape=True))
    if role:
        stmt = stmt.where(staff.c.role == role)
    return [_view(r) for r in session.execute(stmt)]


def transition_staff(session: Session, principal: Principal, staff_id: int, action: str,
                     reason: str = "") -> dict[str, Any]:
    """Apply one lifecycle step (P5.4.1: community proposes, town approves)."""
    row = session.execute(sa.select(staff).where(staff.c.id == staff_id)
                          .with_for_update()).first()
    if row is None:
        raise NotFound(f"staff {staff_id} not found")
    principal.require_covers(row.scope_code, f"staff {staff_id}")
    try:
        new_state = staff_domain.transition(row.lifecycle_state, action, principal.role)
    except staff_domain.TransitionError as exc:
        raise Conflict(str(exc), code="illegal_transition") from None
    active = new_state != "dismissed"
    if active and not row.active:
        staff_identity.require_free_subject(session, row.subject, staff_id)
    session.execute(staff.update().where(staff.c.id == staff_id).values(
        lifecycle_state=new_state, active=active, changed_at=sa.func.now()))
    session.execute(staff_transitions.insert().values(
        staff_id=staff_id, action=action, from_state=row.lifecycle_state, to_state=new_state,
        actor_sub=principal.sub, actor_role=str(principal.role), reason=reason))
    staff_identity.publish(session, staff_id, "status_changed")
    return get_staff(session, staff_id)


def staff_history(session: Session, principal: Principal,
                  staff_id: int) -> list[dict[str, Any]]:
    row = session.execute(sa.select(staff.c.scope_code).where(staff.c.id == staff_id)).first()
    if row is None:
        raise NotFound(f"staff {staff_id} not found")
    principal.require_covers(row.scope_code, f"staff {staff_id}")
    rows = session.execute(sa.select(staff_transitions).where(
        staff_transitions.c.staff_id == staff_id).order_by(staff_transitions.c.id))
    return [dict(r._mapping) for r in rows]


def responsible_staff(session: Session, grid_code: str) -> list[dict[str, Any]]:
    """Everyone answerable for a grid: its workers, the community's chief, workers and
    instructor, the town grid chief (P5.0), active only, top of the hierarchy first."""
    scopes = [grid_code, community_of(grid_code), town_of(grid_code)]
    rows = session.execute(sa.select(staff).where(
        staff.c.scope_code.in_(scopes), staff.c.active.is_(True))).all()
    order = {role.value: i for i, role in enumerate(Role)}
    return sorted((_view(r) for r in rows), key=lambda s: (order[s["role"]], s["id"]))


def set_party_branch(session: Session, grid_code: str, command: dict[str, Any]) -> dict:
    """P4.3: one Party branch or group per grid; its secretary is a grid worker of it."""
    secretary = session.execute(sa.select(staff).where(
        staff.c.id == command["secretary_staff_id"])).first()
    if secretary is None:
        raise NotFound(f"staff {command['secretary_staff_id']} not found")
    if secretary.scope_code not in (grid_code, community_of(grid_code)):
        raise Unprocessable("the secretary must be a grid worker of this grid (P4.3)",
                            fields={"secretary_staff_id": ["not a worker of this grid"]})
    values = {"kind": command["kind"], "name": command["name"],
              "secretary_staff_id": secretary.id}
    stmt = sa.dialects.postgresql.insert(party_branches).values(grid_code=grid_code, **values)
    session.execute(stmt.on_conflict_do_update(index_elements=["grid_code"], set_=values))
    return {"grid_code": grid_code, **values, "secretary_name": secretary.name}


def party_branch(session: Session, grid_code: str) -> dict[str, Any] | None:
    row = session.execute(sa.select(party_branches, staff.c.name.label("secretary_name"))
                          .join(staff, staff.c.id == party_branches.c.secretary_staff_id)
                          .where(party_branches.c.grid_code == grid_code)).first()
    return dict(row._mapping) if row else None

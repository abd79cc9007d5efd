"""One query finds everything about a target (P6.2 一查清).

Given a person (full ID number or phone, matched exactly through the blind index, or a
name) or an address, return the household, the grid and the staff responsible for it —
only inside the caller's scope, and audited, because a search by person is a use of
personal data (P5.4.4).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from gridgov_common.kernel import pii, scoping
from gridgov_common.kernel.auth import Principal
from services.registry import audit, people, places, privacy, staffing
from services.registry.models import buildings, households, residents

MAX_RESULTS = 50


def one_query(session: Session, cipher: pii.PiiCipher, principal: Principal,
              criteria: dict[str, Any]) -> dict[str, Any]:
    principal.require_role(*privacy.VIEW_RESIDENTS)
    used = sorted(k for k in ("id_number", "phone", "name", "address") if criteria.get(k))
    found = _residents(session, cipher, principal, criteria)
    matches = [_dossier(session, row) for row in found]
    matched_buildings = _buildings(session, principal, criteria.get("address"))
    audit.record(session, principal, "one_query", "resident",
                 ",".join(str(r.id) for r in found) or "none", used, criteria["reason"])
    return {"residents": matches, "buildings": matched_buildings}


def _residents(session: Session, cipher: pii.PiiCipher, principal: Principal,
               criteria: dict[str, Any]) -> list:
    # issue 10: the token's own district/town/community/grid, for every role
    stmt = sa.select(residents).where(scoping.where_scope(principal, residents.c.grid_code))
    if criteria.get("id_number"):
        id_number, _ = people.normalise_contact(criteria["id_number"], None)
        stmt = stmt.where(residents.c.id_number_bidx == cipher.blind_index(id_number,
                                                                          people.ID_FIELD))
    if criteria.get("phone"):
        phone = people.normalise_contact_phone(criteria["phone"])
        stmt = stmt.where(residents.c.phone_bidx == cipher.blind_index(phone, people.PHONE_FIELD))
    if criteria.get("name"):
        stmt = stmt.where(residents.c.name == criteria["name"])
    if not any(criteria.get(k) for k in ("id_number", "phone", "name")):
        return []
    return session.execute(stmt.order_by(residents.c.id).limit(MAX_RESULTS)).all()


def _dossier(session: Session, row) -> dict[str, Any]:
    household = None
    if row.household_id is not None:
        household = session.execute(
            sa.select(households.c.id, households.c.unit, buildings.c.address,
                      buildings.c.id.label("building_id"))
            .join(buildings, buildings.c.id == households.c.building_id)
            .where(households.c.id == row.household_id)).first()
    return {
        "resident": people.masked(row),
        "household": dict(household._mapping) if household else None,
        "grid": _grid_summary(session, row.grid_code),
        "responsible_staff": staffing.responsible_staff(session, row.grid_code),
    }


def _grid_summary(session: Session, grid_code: str) -> dict[str, Any]:
    grid = places.get_grid(session, grid_code)
    return {k: grid[k] for k in ("grid_code", "name", "community_code", "town_code", "kind",
                                 "supervision_phone")}


def _buildings(session: Session, principal: Principal, address: str | None) -> list[dict]:
    if not address:
        return []
    found = places.find_buildings(session, address, principal.scope_code, limit=MAX_RESULTS)
    for building in found:
        building["grid"] = _grid_summary(session, building["grid_code"])
        building["responsible_staff"] = staffing.responsible_staff(session,
                                                                   building["grid_code"])
    return found

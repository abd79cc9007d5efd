"""Residents: registration, masked reads, audited unmasking, department data push.

P3.1: every resident is registered in exactly one grid (one active registration per ID
number, found through the blind index).  P5.4.4: ID numbers, phones and special-group
tags are encrypted at rest, masked on output, and every unmasked read is audited.
"""

from __future__ import annotations

import io
import json
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from gridgov_common.kernel import csvsafe, pii, scoping
from gridgov_common.kernel.auth import Principal
from gridgov_common.kernel.errors import Conflict, Forbidden, NotFound, Unprocessable
from services.registry import audit, privacy
from services.registry.domain import identity
from services.registry.emit import emit
from services.registry.models import households, residents

ID_FIELD, PHONE_FIELD, GROUPS_FIELD = "id_number", "phone", "special_groups"


def _identity_error(exc: Exception, field: str) -> Unprocessable:
    return Unprocessable(str(exc), fields={field: [str(exc)]}, code=f"invalid_{field}")


def normalise_contact(id_number: str, phone: str | None) -> tuple[str, str | None]:
    try:
        id_number = identity.normalise_id_number(id_number)
    except identity.IdentityError as exc:
        raise _identity_error(exc, ID_FIELD) from None
    if phone:
        try:
            phone = identity.normalise_phone(phone)
        except identity.IdentityError as exc:
            raise _identity_error(exc, PHONE_FIELD) from None
    return id_number, phone


def normalise_contact_phone(phone: str) -> str:
    try:
        return identity.normalise_phone(phone)
    except identity.IdentityError as exc:
        raise _identity_error(exc, PHONE_FIELD) from None


def encrypted_columns(cipher: pii.PiiCipher, id_number: str, phone: str | None,
                      special_groups: list[str] | None) -> dict[str, Any]:
    """The stored form of the personal fields: ciphertext, blind index, masked display."""
    columns: dict[str, Any] = {
        "id_number_enc": cipher.encrypt(id_number, ID_FIELD),
        "id_number_bidx": cipher.blind_index(id_number, ID_FIELD),
        "id_number_masked": pii.mask_id_number(id_number),
        "sex": identity.sex(id_number),
        "birth_year": identity.birth_date(id_number).year,
        "phone_enc": None, "phone_bidx": None, "phone_masked": None,
        "special_groups_enc": None,
    }
    if phone:
        columns.update(phone_enc=cipher.encrypt(phone, PHONE_FIELD),
                       phone_bidx=cipher.blind_index(phone, PHONE_FIELD),
                       phone_masked=pii.mask_phone(phone))
    if special_groups:
        columns["special_groups_enc"] = cipher.encrypt(
            json.dumps(sorted(set(special_groups))), GROUPS_FIELD)
    return columns


def register_resident(session: Session, cipher: pii.PiiCipher, principal: Principal,
                      command: dict[str, Any]) -> dict[str, Any]:
    principal.require_role(*privacy.EDIT_RESIDENTS)
    grid_code = _grid_of(session, command)
    principal.require_covers(grid_code, f"grid {grid_code}")
    if command.get("special_groups") and principal.role not in privacy.SEE_SPECIAL_GROUPS:
        raise Forbidden("only the community grid chief, instructor or district admin "
                        "record special-group membership (P5.2.5)")
    id_number, phone = normalise_contact(command["id_number"], command.get("phone"))
    columns = encrypted_columns(cipher, id_number, phone, command.get("special_groups"))
    _refuse_duplicate(session, columns["id_number_bidx"])
    new_id = session.execute(residents.insert().values(
        household_id=command.get("household_id"), grid_code=grid_code, name=command["name"],
        relationship=command.get("relationship", "member"), **columns,
    ).returning(residents.c.id)).scalar_one()
    emit(session, "registry.resident.changed", {
        "resident_id": new_id, "household_id": command.get("household_id"),
        "grid_code": grid_code, "action": "registered"})
    return get_resident(session, cipher, principal, new_id)


def _grid_of(session: Session, command: dict[str, Any]) -> str:
    household_id = command.get("household_id")
    if household_id is None:
        if not command.get("grid_code"):
            raise Unprocessable("give household_id or grid_code",
                                fields={"household_id": ["required without grid_code"]})
        return command["grid_code"]
    grid_code = session.execute(sa.select(households.c.grid_code).where(
        households.c.id == household_id)).scalar()
    if grid_code is None:
        raise NotFound(f"household {household_id} not found")
    return grid_code


def _refuse_duplicate(session: Session, bidx: bytes) -> None:
    existing = session.execute(sa.select(residents.c.id, residents.c.grid_code).where(
        residents.c.id_number_bidx == bidx, residents.c.status == "active")).first()
    if existing:
        # P3.1: one person, one grid
        raise Conflict("this person is already registered", code="duplicate_resident",
                       fields={"id_number": [f"registered as resident {existing.id}"]})


def _row(session: Session, resident_id: int):
    row = session.execute(sa.select(residents).where(residents.c.id == resident_id)).first()
    if row is None:
        raise NotFound(f"resident {resident_id} not found")
    return row


def masked(row) -> dict[str, Any]:
    """The default view: no plaintext personal field, no special-group membership."""
    return {
        "id": row.id, "household_id": row.household_id, "grid_code": row.grid_code,
        "name": row.name, "sex": row.sex, "birth_year": row.birth_year,
        "relationship": row.relationship, "status": row.status,
        "moved_out_on": row.moved_out_on, "id_number": row.id_number_masked,
        "phone": row.phone_masked, "masked": True,
    }


def get_resident(session: Session, cipher: pii.PiiCipher, principal: Principal,
                 resident_id: int, unmask: set[str] | None = None,
                 reason: str | None = None) -> dict[str, Any]:
    principal.require_role(*privacy.VIEW_RESIDENTS)
    unmask = unmask or set()
    try:
        privacy.check_unmask(principal, unmask, reason)
        row = _row(session, resident_id)
        principal.require_covers(row.grid_code, f"resident {resident_id}")
    except Forbidden as exc:  # P5.4.4: a refused read is recorded too
        audit.record_refusal(session, principal, "unmask" if unmask else "read", "resident",
                             resident_id, unmask, reason, exc)
        raise
    view = masked(row)
    if not unmask:
        return view
    view.update(_unmasked_fields(cipher, row, unmask))
    view["masked"] = not (unmask & privacy.UNMASKABLE_FIELDS)
    audit.record(session, principal, "unmask", "resident", resident_id, unmask, reason or "")
    return view


def _unmasked_fields(cipher: pii.PiiCipher, row, unmask: set[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if ID_FIELD in unmask:
        out[ID_FIELD] = cipher.decrypt(row.id_number_enc, ID_FIELD)
    if PHONE_FIELD in unmask:
        out[PHONE_FIELD] = cipher.decrypt(row.phone_enc, PHONE_FIELD) if row.phone_enc else None
    if GROUPS_FIELD in unmask:
        out[GROUPS_FIELD] = (json.loads(cipher.decrypt(row.special_groups_enc, GROUPS_FIELD))
                             if row.special_groups_enc else [])
    return out


def list_residents(session: Session, principal: Principal, grid_code: str | None = None,
                   household_id: int | None = None, limit: int = 100,
                   offset: int = 0) -> list[dict[str, Any]]:
    """Masked residents of a grid or household inside the caller's scope."""
    principal.require_role(*privacy.VIEW_RESIDENTS)
    stmt = sa.select(residents).order_by(residents.c.id).limit(limit).offset(offset)
    if grid_code:
        principal.require_covers(grid_code, f"grid {grid_code}")
        stmt = stmt.where(residents.c.grid_code == grid_code)
    else:  # issue 10: the district in the token, never "district-wide sees all"
        stmt = stmt.where(scoping.where_scope(principal, residents.c.grid_code))
    if household_id is not None:
        stmt = stmt.where(residents.c.household_id == household_id)
    return [masked(r) for r in session.execute(stmt)]


def resident_grids(session: Session, resident_ids: list[int]) -> list[dict[str, Any]]:
    """Each existing resident's id and grid (no personal field), for other services that
    check a resident a case names against the reporter's scope (P5.4.4); unknown ids are
    left out."""
    rows = session.execute(sa.select(residents.c.id, residents.c.grid_code)
                           .where(residents.c.id.in_(sorted(set(resident_ids))))
                           .order_by(residents.c.id))
    return [{"resident_id": row.id, "grid_code": row.grid_code} for row in rows]


def find_active_by_id_number(session: Session, cipher: pii.PiiCipher, id_number: str):
    bidx = cipher.blind_index(id_number, ID_FIELD)
    return session.execute(sa.select(residents).where(
        residents.c.id_number_bidx == bidx, residents.c.status == "active")).first()


def mark_moved_out(session: Session, row, moved_out_on: date, source: str,
                   correlation_id: str | None) -> None:
    session.execute(residents.update().where(residents.c.id == row.id).values(
        status="moved_out", moved_out_on=moved_out_on, updated_at=sa.func.now()))
    emit(session, "registry.resident.changed", {
        "resident_id": row.id, "household_id": row.household_id, "grid_code": row.grid_code,
        "action": "moved_out"}, correlation_id=correlation_id)


def update_contact(session: Session, cipher: pii.PiiCipher, row, phone: str | None,
                   household_id: int | None, correlation_id: str | None) -> None:
    values: dict[str, Any] = {"updated_at": sa.func.now()}
    if phone:
        values.update(phone_enc=cipher.encrypt(phone, PHONE_FIELD),
                      phone_bidx=cipher.blind_index(phone, PHONE_FIELD),
                      phone_masked=pii.mask_phone(phone))
    if household_id is not None:
        grid_code = session.execute(sa.select(households.c.grid_code).where(
            households.c.id == household_id)).scalar()
        if grid_code is None:
            raise NotFound(f"household {household_id} not found")
        values.update(household_id=household_id, grid_code=grid_code)
    session.execute(residents.update().where(residents.c.id == row.id).values(**values))
    emit(session, "registry.resident.changed", {
        "resident_id": row.id, "household_id": values.get("household_id", row.household_id),
        "grid_code": values.get("grid_code", row.grid_code), "action": "updated"},
        correlation_id=correlation_id)


EXPORT_COLUMNS = ("id", "grid_code", "household_id", "name", "sex", "birth_year",
                  "relationship", "status", "id_number", "phone")


def export_csv(session: Session, principal: Principal, prefix: str) -> str:
    """Residents inside ``prefix`` (and the caller's scope) as CSV, masked, audited.

    Exports never carry plaintext personal data (an exported spreadsheet of people is the
    classic leak, DOMAIN-REFERENCES §6); who exported what is in the audit log.
    """
    principal.require_role(*privacy.EXPORT_RESIDENTS)
    if prefix and not scoping.covers(principal, prefix):
        refused = Forbidden(f"{prefix} is outside your scope {principal.scope}")
        audit.record_refusal(session, principal, "export_masked", "residents", prefix,
                             ["id_number", "phone"], "masked CSV export", refused)
        raise refused
    prefix = prefix or principal.scope_code  # issue 10: a district admin exports its own
    stmt = sa.select(residents).order_by(residents.c.id).where(
        scoping.where(residents.c.grid_code, prefix))
    out = io.StringIO()
    writer = csvsafe.writer(out)  # a name typed as =HYPERLINK(…) is text, not a formula
    writer.writerow(EXPORT_COLUMNS)
    count = 0
    for row in session.execute(stmt):
        view = masked(row)
        writer.writerow([view[c] for c in EXPORT_COLUMNS])
        count += 1
    audit.record(session, principal, "export_masked", "residents", prefix,
                 ["id_number", "phone"], f"masked CSV export of {count} residents")
    return out.getvalue()

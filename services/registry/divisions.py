"""Districts, towns and communities as a versioned division-code table (issue 11, M1).

Each division has a validity (``valid_from`` / ``valid_to``, like grids) and a name
history (``division_names``): renaming keeps the code and adds a version, retiring sets
``valid_to`` once no valid community or grid is left under it, and a code, once used, is
never given to another place.  Every change is announced as ``registry.division.changed``
through the outbox, in the caller's transaction (docs/PLACES.md, docs/BUS-CONTRACT.md).

The rules themselves are in :mod:`services.registry.domain.divisions`; this module reads
and writes the rows.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from gridgov_common.kernel.errors import Conflict, NotFound, Unprocessable
from services.registry.domain import codes
from services.registry.domain.divisions import (
    DivisionRefused,
    NameVersion,
    check_rename,
    check_retire,
    name_on,
    parent_open_on,
    still_valid,
)
from services.registry.emit import emit
from services.registry.models import communities, districts, division_names, grids, towns

TABLES: dict[str, sa.Table] = {"district": districts, "town": towns, "community": communities}
PARENT_LEVEL = {"town": "district", "community": "town"}
CHANGED = "registry.division.changed"


def _children(level: str) -> tuple[sa.Column, sa.Column, sa.Column, str]:
    """(child code, child parent-code, child valid_to, what) of a level's direct children."""
    if level == "district":
        return towns.c.code, towns.c.district_code, towns.c.valid_to, "towns"
    if level == "town":
        return (communities.c.code, communities.c.town_code, communities.c.valid_to,
                "communities")
    return grids.c.grid_code, grids.c.community_code, grids.c.valid_to, "grids"


def _refused(exc: DivisionRefused, what: str) -> Conflict | Unprocessable:
    message = f"{what}: {exc.message}"
    if exc.conflict:
        fields = {"children": exc.detail} if exc.detail else {}
        return Conflict(message, fields=fields, code=exc.code)
    return Unprocessable(message, fields={exc.field or "_schema": [exc.message]},
                         code=exc.code)


def _row(session: Session, level: str, code: str, lock: bool = False):
    table = TABLES[level]
    stmt = sa.select(table).where(table.c.code == code)
    row = session.execute(stmt.with_for_update() if lock else stmt).first()
    if row is None:
        raise NotFound(f"{level} {code} not found", code=f"unknown_{level}_code")
    return row


def versions(session: Session, code: str) -> list[NameVersion]:
    """The name versions of a division, oldest first (empty for a row made before the
    table or inserted without one, e.g. the demo's bulk seed: its ``name`` stands)."""
    rows = session.execute(
        sa.select(division_names.c.version, division_names.c.name,
                  division_names.c.valid_from, division_names.c.valid_to)
        .where(division_names.c.code == code).order_by(division_names.c.version)).all()
    return [NameVersion(r.version, r.name, r.valid_from, r.valid_to) for r in rows]


def _recorded_versions(session: Session, level: str, place) -> list[NameVersion]:
    """The versions of ``place``, its current name recorded as version 1 first when it has
    none (a row seeded in bulk, e.g. by the demo), so every change has a version to close."""
    found = versions(session, place.code)
    if found:
        return found
    session.execute(division_names.insert().values(
        code=place.code, version=1, level=level, name=place.name,
        valid_from=place.valid_from, reason="recorded at its first change"))
    return [NameVersion(1, place.name, place.valid_from)]


def _announce(session: Session, level: str, code: str, action: str, version: NameVersion,
              reason: str) -> None:
    emit(session, CHANGED, {
        "level": level, "code": code, "name": version.name, "name_version": version.version,
        "action": action, "valid_from": version.valid_from.isoformat(),
        "valid_to": version.valid_to.isoformat() if version.valid_to else None,
        "reason": reason,
    })


def create(session: Session, level: str, row: dict[str, Any], valid_from: date | None,
           actor: str | None = None, parent: str | None = None) -> dict[str, Any]:
    """Insert a division with its first name version and announce it.

    ``parent``, when the caller named one, must be the parent the code implies (a town's
    code starts with its district's, a community's with its town's).  The parent must
    exist and not be retired on ``valid_from``; the code must never have been used, not
    even by a retired division (the code would then name two places in old files).
    """
    code, name = row["code"], row["name"]
    parent_field = f"{PARENT_LEVEL[level]}_code" if level in PARENT_LEVEL else "code"
    try:
        codes.validate_division_code(level, code)
        codes.validate_under(code, parent, parent_field)
    except codes.CodeError as exc:
        raise Unprocessable(str(exc), fields={exc.field: [str(exc)]}) from None
    valid_from = valid_from or date.today()
    table = TABLES[level]
    if level in PARENT_LEVEL:
        above = _row(session, PARENT_LEVEL[level], codes.parent_code(code), lock=True)
        if not parent_open_on(above.valid_to, valid_from):
            raise Conflict(f"{PARENT_LEVEL[level]} {above.code} was retired on "
                           f"{above.valid_to}; nothing new starts under it",
                           fields={parent_field: [f"retired on {above.valid_to}"]},
                           code="parent_retired")
    taken = session.execute(sa.select(table.c.valid_to, table.c.retired_reason)
                            .where(table.c.code == code)).first()
    if taken is not None:
        if taken.valid_to is not None:
            raise Conflict(f"{level} code {code} was retired on {taken.valid_to} "
                           f"({taken.retired_reason}); a code is never reused for another "
                           "place", fields={"code": ["retired, never reused"]},
                           code="division_code_retired")
        raise Conflict(f"{level} {code} already exists", fields={"code": ["exists"]},
                       code="division_exists")
    session.execute(table.insert().values(**row, valid_from=valid_from))
    first = NameVersion(1, name, valid_from)
    session.execute(division_names.insert().values(
        code=code, version=1, level=level, name=name, valid_from=valid_from,
        recorded_by=actor))
    _announce(session, level, code, "created", first, "")
    return {**row, "valid_from": valid_from, "valid_to": None}


def rename(session: Session, level: str, code: str, name: str, valid_from: date,
           reason: str = "", actor: str | None = None) -> dict[str, Any]:
    """Give a division a new name from ``valid_from`` on; the old name stays valid for
    the days before (the code does not change)."""
    place = _row(session, level, code, lock=True)
    history = _recorded_versions(session, level, place)
    try:
        check_rename(history, place.valid_to, name, valid_from)
    except DivisionRefused as exc:
        raise _refused(exc, f"{level} {code}") from None
    current = history[-1]
    session.execute(division_names.update().where(
        division_names.c.code == code, division_names.c.version == current.version)
        .values(valid_to=valid_from))
    new = NameVersion(current.version + 1, name.strip(), valid_from)
    session.execute(division_names.insert().values(
        code=code, version=new.version, level=level, name=new.name, valid_from=valid_from,
        reason=reason, recorded_by=actor))
    table = TABLES[level]
    session.execute(table.update().where(table.c.code == code)
                    .values(name=new.name, changed_at=sa.func.now()))
    _announce(session, level, code, "renamed", new, reason)
    return history_of(session, level, code)


def retire(session: Session, level: str, code: str, valid_to: date, reason: str,
           actor: str | None = None) -> dict[str, Any]:
    """End a division's validity (administrative-division adjustment).

    Refused while a community (of a town) or a grid (of a community) is still valid on
    that day: they are moved or retired first, so no place is left under a division that
    no longer exists (P3.1).  The row, its names and its code stay.
    """
    place = _row(session, level, code, lock=True)
    history = _recorded_versions(session, level, place)
    try:
        check_retire(place.valid_from, place.valid_to, history, valid_to)
    except DivisionRefused as exc:
        raise _refused(exc, f"{level} {code}") from None
    child_code, child_parent, child_valid_to, what = _children(level)
    children = session.execute(sa.select(child_code, child_valid_to)
                               .where(child_parent == code)).all()
    blocking = still_valid(children, valid_to)
    if blocking:
        raise _refused(DivisionRefused(
            f"{len(blocking)} {what} are still valid on {valid_to}: move or retire them "
            "first", code="division_has_children", conflict=True, detail=blocking),
            f"{level} {code}")
    table = TABLES[level]
    session.execute(table.update().where(table.c.code == code).values(
        valid_to=valid_to, retired_reason=reason, changed_at=sa.func.now()))
    last = history[-1]
    session.execute(division_names.update().where(
        division_names.c.code == code, division_names.c.version == last.version)
        .values(valid_to=valid_to))
    ended = NameVersion(last.version, last.name, last.valid_from, valid_to)
    _announce(session, level, code, "retired", ended, reason)
    return history_of(session, level, code)


def history_of(session: Session, level: str, code: str,
               on: date | None = None) -> dict[str, Any]:
    """A division's validity and every name it has had, oldest first, with the name
    valid on ``on`` (default today)."""
    place = _row(session, level, code)
    rows = session.execute(
        sa.select(division_names).where(division_names.c.code == code)
        .order_by(division_names.c.version)).all()
    listed = [NameVersion(r.version, r.name, r.valid_from, r.valid_to) for r in rows]
    return {
        "level": level, "code": code, "parent_code": codes.parent_code(code),
        "name": name_on(listed, on or date.today()) or place.name,
        "valid_from": place.valid_from, "valid_to": place.valid_to,
        "retired_reason": place.retired_reason,
        "versions": [{"version": r.version, "name": r.name, "valid_from": r.valid_from,
                      "valid_to": r.valid_to, "reason": r.reason,
                      "recorded_at": r.recorded_at} for r in rows],
    }


def dated_names(level: str, on: date, prefix: str = "") -> sa.Subquery:
    """(code, name) of the name version of each division of ``level`` valid on ``on``
    (rule of :func:`~services.registry.domain.divisions.name_on`, in SQL), to join to
    the division's table and ``coalesce`` with its ``name`` (rows without versions)."""
    dn = division_names
    stmt = (sa.select(dn.c.code, dn.c.name).distinct(dn.c.code)
            .where(dn.c.level == level)
            .order_by(dn.c.code, (dn.c.valid_from > on).asc(),
                      sa.case((dn.c.valid_from <= on, dn.c.valid_from)).desc().nulls_last(),
                      dn.c.valid_from.asc()))
    if prefix:
        stmt = stmt.where(dn.c.code.startswith(prefix, autoescape=True))
    return stmt.subquery(f"{level}_names")


def names(session: Session, level: str, prefix: str, on: date | None = None,
          exact: bool = False) -> dict[str, str]:
    """``{code: name}`` of the divisions of ``level`` whose code starts with ``prefix``
    (equals it with ``exact``), each by the name valid on ``on`` (default today).
    Retired divisions are included: documents made before still name them."""
    table = TABLES[level]
    named = dated_names(level, on or date.today(), prefix)
    where = table.c.code == prefix if exact else table.c.code.startswith(prefix,
                                                                        autoescape=True)
    return dict(session.execute(
        sa.select(table.c.code, sa.func.coalesce(named.c.name, table.c.name))
        .select_from(table.outerjoin(named, named.c.code == table.c.code))
        .where(where)).all())

"""The department register (P4.2), owned by the registry: a district admin adds, renames,
changes and retires departments; every change, and the whole register at start and every
hour, is announced as ``registry.department.changed`` (outbox, same transaction), so that
dispatch, notify and the dashboard learn a department without a restart or a hand-kept
list.  The ten P4.2 units are seeded by the migrations.

A department's code is its identity on the bus (its routing keys, broker user
``dept.<code>``, queues): it is never reused, and a department is retired, never deleted
(cases and assignments name it).  Adding one here does not create its broker user and
queues: the bus administrator provisions them (``bus_users create <code>``,
docs/BUS-SECURITY.md "Adding a department"); until then dispatch escalates assignments to
it as unroutable.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from gridgov_common.kernel.errors import Conflict, NotFound
from services.registry.emit import emit
from services.registry.models import departments

CHANGED = "registry.department.changed"
SHOWN = ("code", "name_zh", "name_en", "unit", "work_categories", "contact_phone",
         "contact_email", "active", "updated_at")


def list_departments(session: Session, include_retired: bool = True) -> list[dict]:
    query = sa.select(*(departments.c[name] for name in SHOWN)).order_by(departments.c.code)
    if not include_retired:
        query = query.where(departments.c.active)
    return [_plain(dict(row._mapping)) for row in session.execute(query)]


def add_department(session: Session, data: dict[str, Any]) -> dict[str, Any]:
    """A new department (409 if the code was ever used), announced as created."""
    values = {**data, "active": True, "updated_at": datetime.now(UTC)}
    inserted = session.execute(insert(departments).values(**values)
                               .on_conflict_do_nothing(index_elements=["code"])
                               .returning(*(departments.c[name] for name in SHOWN))).first()
    if inserted is None:
        raise Conflict(f"department {data['code']} exists (codes are never reused)",
                       fields={"code": ["already used"]}, code="department_exists")
    row = dict(inserted._mapping)
    _announce(session, row, "created")
    return _plain(row)


def change_department(session: Session, code: str, changes: dict[str, Any]) -> dict[str, Any]:
    """Rename, new contacts or work categories, retire (``active`` false) or restore."""
    row = session.execute(sa.update(departments).where(departments.c.code == code)
                          .values(**changes, updated_at=datetime.now(UTC))
                          .returning(*(departments.c[name] for name in SHOWN))).first()
    if row is None:
        raise NotFound(f"no department {code}", code="unknown_department")
    found = dict(row._mapping)
    _announce(session, found, "updated")
    return _plain(found)


def announce_register(session: Session) -> int:
    """Announce every department as it stands (at start and hourly): a consumer whose
    database is new, or who missed a message, converges without a replay."""
    rows = [dict(row._mapping) for row in session.execute(
        sa.select(*(departments.c[name] for name in SHOWN)).order_by(departments.c.code))]
    for row in rows:
        _announce(session, row, "announced")
    return len(rows)


def _announce(session: Session, row: dict[str, Any], action: str) -> None:
    emit(session, CHANGED, {
        "code": row["code"], "action": action, "name_zh": row["name_zh"],
        "name_en": row["name_en"], "unit": row["unit"],
        "work_categories": list(row["work_categories"]), "active": row["active"],
        "updated_at": row["updated_at"].astimezone(UTC).isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")})


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    """JSON-ready (also for RPC callers): the time as ISO 8601."""
    return {**row, "updated_at": row["updated_at"].isoformat()}

"""Grid staff and their grids as the registry publishes them (``registry.staff.changed``
v1), kept in dispatch so that KPIs per grid worker are one SQL statement (docs/KPIS.md
``by=grid_worker``; P5.4.6 assessment of grid workers).

Each message carries a staff record's whole state: the newest one applied wins (an older
message arriving late changes nothing), and a re-delivered one is claimed once.
"""

from __future__ import annotations

from sqlalchemy.dialects.postgresql import insert

from gridgov_common.platform.messaging import claim_message
from services.dispatch.models import grid_worker_grids, grid_workers

CONSUMER = "dispatch.registry_staff"
MESSAGE_TYPE = "registry.staff.changed"


def apply_staff_changed(session, envelope) -> bool:
    """Store one staff state; False for a duplicate or a message older than the stored."""
    if not claim_message(session, envelope.message_id, CONSUMER):
        return False
    p = envelope.payload
    values = {"subject": p["subject"], "role": p["role"],
              "scope_code": p["scope"].partition(":")[2], "active": p["active"],
              "registry_at": envelope.occurred_at}
    stmt = insert(grid_workers).values(staff_id=p["staff_id"], **values)
    applied = session.execute(stmt.on_conflict_do_update(
        index_elements=["staff_id"], set_=values,
        where=grid_workers.c.registry_at <= envelope.occurred_at)
        .returning(grid_workers.c.staff_id)).first()
    if applied is None:
        return False  # stale
    session.execute(grid_worker_grids.delete().where(
        grid_worker_grids.c.staff_id == p["staff_id"]))
    if p["grid_codes"]:
        session.execute(grid_worker_grids.insert(), [
            {"staff_id": p["staff_id"], "grid_code": code} for code in p["grid_codes"]])
    return True


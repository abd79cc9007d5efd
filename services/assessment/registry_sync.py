"""The registry's grids and staff, kept current in the assessment service (P5.4.3, P5.4.5;
P6.2 "collect once, share many times").

- ``registry.grid.changed`` v1 names a grid; its outline is fetched from the registry's RPC
  ``get_grid_geometry`` and replaces the grid's rings, with its validity (a retired grid
  counts for the days before its ``valid_to``).
  Fetch-on-notify always yields the current outline, so a late or re-delivered message
  cannot bring an old one back (docs/FIELD-WORK.md "Grid polygons").
- ``registry.staff.changed`` v1 carries a staff record's whole state: the row keyed by its
  token subject is upserted (role, scope, grids, active) unless a newer message was applied
  already; a subject taken away or given to someone else deactivates the old row. People
  without a subject cannot be joined to their patrols and are left out.

Each message is claimed in ``processed_messages`` in the same transaction (idempotent).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert

from gridgov_common.kernel.roles import GRID_ROLES
from gridgov_common.platform.messaging import claim_message
from services.assessment.models import field_staff, grid_rings
from services.assessment.patrols import replace_grids

GRIDS_QUEUE = "assessment.registry_grids"
STAFF_QUEUE = "assessment.registry_staff"
FIELD_ROLES = frozenset(str(r) for r in GRID_ROLES)  # P5.4.3: those who patrol


def apply_grid_changed(db, envelope, fetch_features) -> int:
    """Refresh one grid's rings; ``fetch_features(codes)`` is the registry RPC. Returns the
    number of grids whose rings were replaced (0 for a duplicate or a retired grid)."""
    if not claim_message(db, envelope.message_id, GRIDS_QUEUE):
        return 0
    code = envelope.payload["grid_code"]
    current = [f for f in fetch_features([code]) if f["properties"]["grid_code"] == code]
    if not current:  # unknown to the registry: nothing to patrol
        db.execute(grid_rings.delete().where(grid_rings.c.grid_code == code))
        return 0
    # a retired grid keeps its rings with valid_to: past days are still judged with it
    return replace_grids(db, current)


def apply_staff_changed(db, envelope) -> str:
    """Apply one staff state; returns what was done (for logs and tests)."""
    if not claim_message(db, envelope.message_id, STAFF_QUEUE):
        return "duplicate"
    p: dict[str, Any] = envelope.payload
    at = envelope.occurred_at
    newer = db.execute(sa.select(field_staff.c.staff_sub).where(
        field_staff.c.staff_id == p["staff_id"], field_staff.c.registry_at > at)).first()
    if newer is not None:
        return "stale"
    # the subject moved away from this record, or this person lost theirs
    db.execute(field_staff.update().where(
        field_staff.c.staff_id == p["staff_id"],
        field_staff.c.staff_sub != (p["subject"] or ""))
        .values(active=False, registry_at=at))
    if p["subject"] is None or p["role"] not in FIELD_ROLES:
        return "skipped"
    values = {"staff_id": p["staff_id"], "role": p["role"],
              "scope_code": p["scope"].partition(":")[2], "active": p["active"],
              "grid_codes": p["grid_codes"], "registry_at": at}
    stmt = insert(field_staff).values(staff_sub=p["subject"], **values)
    db.execute(stmt.on_conflict_do_update(
        index_elements=["staff_sub"], set_=values,
        where=sa.or_(field_staff.c.registry_at.is_(None), field_staff.c.registry_at <= at)))
    return "applied"

"""Patrols and their GPS tracks (P5.4.3, P5.1.2): start/stop, batched late uploads, scoped
and audited reads, retention, and the local copy of grid polygons.

Location data is sensitive (P5.4.4): a worker reads only their own tracks, supervisors the
tracks inside their scope, and every read leaves a row in ``track_audit``.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert

from gridgov_common.kernel import scoping
from gridgov_common.kernel.errors import Conflict, Forbidden, NotFound
from gridgov_common.kernel.roles import Role
from gridgov_common.platform import audit_retention
from services.assessment.models import (
    field_staff,
    grid_rings,
    patrols,
    track_audit,
    track_points,
)

# P5.1.3/P5.1.2/P5.1.1: those who supervise patrols read the tracks in their scope
SUPERVISORS = frozenset({Role.COMMUNITY_GRID_CHIEF, Role.GRID_INSTRUCTOR,
                         Role.TOWN_GRID_CHIEF, Role.DISTRICT_ADMIN})
DEFAULT_MAX_AGE_DAYS = 7
DEFAULT_RETENTION_DAYS = 180


def remember_staff(db, principal) -> None:
    """The people rules apply to are the people who use the app (the registry publishes no
    staff events yet, see docs/FIELD-WORK.md)."""
    stmt = insert(field_staff).values(staff_sub=principal.sub, role=str(principal.role),
                                      scope_code=principal.scope_code, last_seen_at=sa.func.now())
    db.execute(stmt.on_conflict_do_update(
        index_elements=["staff_sub"],
        set_={"role": stmt.excluded.role, "scope_code": stmt.excluded.scope_code,
              "last_seen_at": stmt.excluded.last_seen_at}))


def start(db, principal, started_at: datetime) -> dict[str, Any]:
    """P5.4.3: every grid staff member patrols the grids of their scope."""
    remember_staff(db, principal)
    row = {"patrol_id": str(uuid.uuid4()), "staff_sub": principal.sub,
           "role": str(principal.role), "scope_code": principal.scope_code,
           "started_at": started_at, "stopped_at": None}
    db.execute(patrols.insert().values(**row))
    return row


def valid_id(value: str, what: str) -> str:
    """Path ids are UUIDs; anything else is simply not found."""
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise NotFound(f"no {what} {value}") from None


def _own_patrol(db, principal, patrol_id: str) -> dict[str, Any]:
    patrol_id = valid_id(patrol_id, "patrol")
    row = db.execute(sa.select(patrols).where(patrols.c.patrol_id == patrol_id)).mappings().first()
    if row is None or row["staff_sub"] != principal.sub:
        raise NotFound(f"no patrol {patrol_id} of yours")
    return dict(row)


def stop(db, principal, patrol_id: str, stopped_at: datetime) -> dict[str, Any]:
    row = _own_patrol(db, principal, patrol_id)
    patrol_id = row["patrol_id"]
    if row["stopped_at"] is not None:
        raise Conflict(f"patrol {patrol_id} was stopped at {row['stopped_at'].isoformat()}")
    if stopped_at < row["started_at"]:
        raise Conflict("a patrol stops after it starts", {"stopped_at": ["before started_at"]})
    db.execute(patrols.update().where(patrols.c.patrol_id == patrol_id)
               .values(stopped_at=stopped_at))
    return {**row, "stopped_at": stopped_at}


def upload(db, principal, patrol_id: str, points: list[dict], now: datetime,
           max_age_days: int = DEFAULT_MAX_AGE_DAYS) -> dict[str, int]:
    """Offline devices send late, out of order and twice: points older than the limit are
    refused, the others stored once per (patrol, client_point_id)."""
    row = _own_patrol(db, principal, patrol_id)
    patrol_id = row["patrol_id"]
    oldest = now - timedelta(days=max_age_days)
    fresh = [p for p in points if oldest <= p["recorded_at"] <= now + timedelta(minutes=5)]
    values = [{"patrol_id": patrol_id, "client_point_id": p["id"], "staff_sub": row["staff_sub"],
               "recorded_at": p["recorded_at"], "lon": p["lon"], "lat": p["lat"]}
              for p in fresh]
    stored = 0
    if values:
        result = db.execute(insert(track_points).values(values).on_conflict_do_nothing()
                            .returning(track_points.c.client_point_id))
        stored = len(result.all())
    return {"received": len(points), "stored": stored,
            "duplicates": len(values) - stored, "refused_out_of_window": len(points) - len(values)}


def _audit(db, principal, action: str, subject: str, detail: dict) -> None:
    """One row; ``detail.actor_scope`` keeps the reader's scope, so each district's admin
    reads the rows of its own district only (issue 10)."""
    db.execute(track_audit.insert().values(actor_sub=principal.sub,
                                           actor_role=str(principal.role),
                                           action=action, subject=subject,
                                           detail={**detail, "actor_scope": principal.scope}))


def may_read(principal, patrol: dict[str, Any]) -> bool:
    if patrol["staff_sub"] == principal.sub:
        return True
    return principal.role in SUPERVISORS and principal.covers(patrol["scope_code"])


def read_track(db, principal, patrol_id: str) -> dict[str, Any]:
    """The track ordered by the device's clock, not by arrival; the read is audited."""
    patrol_id = valid_id(patrol_id, "patrol")
    patrol = db.execute(sa.select(patrols).where(patrols.c.patrol_id == patrol_id)
                        ).mappings().first()
    if patrol is None:
        raise NotFound(f"no patrol {patrol_id}")
    if not may_read(principal, patrol):
        raise Forbidden("this track is outside your scope")
    points = db.execute(sa.select(track_points.c.client_point_id.label("id"),
                                  track_points.c.recorded_at, track_points.c.lon,
                                  track_points.c.lat)
                        .where(track_points.c.patrol_id == patrol_id)
                        .order_by(track_points.c.recorded_at, track_points.c.client_point_id)
                        ).mappings().all()
    _audit(db, principal, "read_track", patrol_id,
           {"staff_sub": patrol["staff_sub"], "points": len(points)})
    return {**dict(patrol), "points": [dict(p) for p in points]}


def read_audit(db, principal, limit: int) -> list[dict[str, Any]]:
    """Who read which tracks, newest first; reading the log is itself a row of it.

    Issue 10: the rows of the reader's district — reads of its patrols' tracks and rows
    written by actors whose scope lies in it — never another district's."""
    in_scope_patrols = sa.select(sa.cast(patrols.c.patrol_id, sa.Text)).where(
        scoping.where_scope(principal, patrols.c.scope_code))
    actor_code = sa.func.split_part(track_audit.c.detail["actor_scope"].astext, ":", 2)
    rows = [dict(r) for r in db.execute(
        sa.select(track_audit).where(sa.or_(
            track_audit.c.subject.in_(in_scope_patrols),
            scoping.where_district(principal, actor_code)))
        .order_by(track_audit.c.id.desc()).limit(limit)).mappings()]
    _audit(db, principal, "read_audit", "track_audit", {"limit": limit})
    return rows


def purge_audit(db, days: int) -> int:
    """P5.4.4: audit rows older than ``days`` (≥ 183), through migration 0005's function."""
    return audit_retention.purge(db, "assessment.purge_track_audit", days)


def purge(db, now: datetime, retention_days: int = DEFAULT_RETENTION_DAYS) -> int:
    """Retention (P5.4.4): track points older than the limit are deleted; patrols (who and
    when, without locations) stay for the assessment."""
    cutoff = now - timedelta(days=retention_days)
    result = db.execute(track_points.delete().where(track_points.c.recorded_at < cutoff))
    return result.rowcount or 0


# -- grid polygons ----------------------------------------------------------------------------

def _ring_text(ring: list[list[float]]) -> str:
    return "(" + ",".join(f"({float(x)!r},{float(y)!r})" for x, y, *_ in ring) + ")"


def _polygons(geometry: dict) -> list[list[list[list[float]]]]:
    if geometry["type"] == "Polygon":
        return [geometry["coordinates"]]
    return list(geometry["coordinates"])  # MultiPolygon


def replace_grids(db, features: list[dict]) -> int:
    """Replace the rings of each grid given (GeoJSON features with ``grid_code``)."""
    rows = []
    for feature in features:
        props = feature["properties"]
        code = props["grid_code"]
        # P4.1: the registry's validity (registry_sync); an operator's PUT has none
        valid = {k: date.fromisoformat(props[k]) if props.get(k) else None
                 for k in ("valid_from", "valid_to")}
        for part, polygon in enumerate(_polygons(feature["geometry"])):
            rows += [{"grid_code": code, "part": part, "ring": n, "area": _ring_text(ring),
                      **valid} for n, ring in enumerate(polygon)]
    codes = sorted({f["properties"]["grid_code"] for f in features})
    db.execute(grid_rings.delete().where(grid_rings.c.grid_code.in_(codes)))
    if rows:
        db.execute(grid_rings.insert(), rows)
    return len(codes)

"""Places: district → towns → communities → grids → neighbourhoods → buildings → households.

Grid codes are issued here and nowhere else (P4.1); grids never overlap and a
community's coverage gaps are reported (P3.1); base grids far from ~250 households are
flagged, not rejected (P4.1).
"""

from __future__ import annotations

from datetime import date
from typing import Any

import sqlalchemy as sa
from shapely.geometry import mapping, shape
from sqlalchemy.orm import Session

from gridgov_common.kernel.errors import Conflict, NotFound, Unprocessable
from services.registry import divisions
from services.registry.domain import codes, geometry
from services.registry.emit import emit
from services.registry.models import (
    buildings,
    communities,
    departments,
    grids,
    households,
    neighbourhoods,
    residents,
    towns,
)


def create_district(session: Session, code: str, name: str, valid_from: date | None = None,
                    actor: str | None = None) -> dict[str, Any]:
    """A district row (GB/T 2260 county code), valid from ``valid_from`` (default today)."""
    return divisions.create(session, "district", {"code": code, "name": name}, valid_from,
                            actor)


def create_town(session: Session, code: str, name: str, valid_from: date | None = None,
                district_code: str | None = None, actor: str | None = None
                ) -> dict[str, Any]:
    """A town (GB/T 10114 township) under the district its code starts with."""
    row = {"code": code, "district_code": code[:6], "name": name,
           "kind": codes.town_kind(code)}
    return divisions.create(session, "town", row, valid_from, actor, parent=district_code)


def create_community(session: Session, code: str, name: str,
                     boundary: dict | None = None, valid_from: date | None = None,
                     town_code: str | None = None, actor: str | None = None
                     ) -> dict[str, Any]:
    """A community (12-digit statistical code) under the town its code starts with."""
    if boundary is not None:
        _valid_polygon(boundary)
    row = {"code": code, "town_code": code[:9], "name": name, "boundary": boundary}
    return divisions.create(session, "community", row, valid_from, actor, parent=town_code)


def _require(session: Session, column: sa.Column, value: Any, what: str) -> None:
    if session.execute(sa.select(column).where(column == value)).first() is None:
        raise NotFound(f"{what} {value} not found")


def _valid_polygon(geojson: dict):
    try:
        return geometry.validate_grid_polygon(geojson)
    except geometry.GeometryError as exc:
        raise Unprocessable(str(exc), fields={"geometry": [str(exc)]},
                            code=getattr(exc, "code", "invalid_geometry")) from None


def issue_grid(session: Session, command: dict[str, Any]) -> dict[str, Any]:
    """Draw a grid and issue its code (P4.1).

    The community row is locked so two concurrent issues cannot take the same sequence
    number; a code once issued is never issued again, even after the grid is retired.
    """
    community_code = command["community_code"]
    community = session.execute(
        sa.select(communities).where(communities.c.code == community_code).with_for_update()
    ).first()
    if community is None:
        raise NotFound(f"community {community_code} not found")
    geom = _valid_polygon(command["geometry"])
    _require_inside_community(community, geom)
    valid_from = command.get("valid_from") or date.today()
    if community.valid_to is not None and community.valid_to <= valid_from:
        # P3.1: no grid under a community that no longer exists on the grid's first day
        raise Conflict(f"community {community_code} was retired on {community.valid_to}",
                       fields={"community_code": [f"retired on {community.valid_to}"]},
                       code="parent_retired")
    overlapping = _overlapping_grids(session, geom, valid_from)
    if overlapping:
        # P3.1/P4.1: every square metre lies in exactly one grid
        raise Conflict("grid overlaps existing grids", fields={"geometry": overlapping},
                       code="grid_overlap")
    issued = session.execute(
        sa.select(grids.c.grid_code).where(grids.c.community_code == community_code)
    ).scalars().all()
    try:
        grid_code = codes.next_grid_code(community_code, issued)
    except codes.CodeError as exc:
        raise Conflict(str(exc), code="grid_codes_exhausted") from None
    min_lon, min_lat, max_lon, max_lat = geom.bounds
    row = {
        "grid_code": grid_code, "community_code": community_code, "name": command["name"],
        "kind": command.get("kind", "base"), "owner_org": command.get("owner_org"),
        "geometry": command["geometry"], "min_lon": min_lon, "min_lat": min_lat,
        "max_lon": max_lon, "max_lat": max_lat, "valid_from": valid_from,
        "supervision_phone": command.get("supervision_phone"),
    }
    if row["kind"] == "exclusive" and not row["owner_org"]:
        raise Unprocessable("an exclusive grid names its owning organisation (P4.1)",
                            fields={"owner_org": ["required for exclusive grids"]})
    session.execute(grids.insert().values(**row))
    emit(session, "registry.grid.changed", {
        "grid_code": grid_code, "community_code": community_code, "action": "created",
        "valid_from": valid_from.isoformat(), "valid_to": None,
    })
    result = get_grid(session, grid_code)
    result["coverage_gaps"] = coverage_gaps(session, community_code) if community.boundary else []
    return result


def _require_inside_community(community, geom) -> None:
    """P3.1: a grid divides its community, so it lies within the community's boundary
    (once one is drawn); the area outside would belong to another community."""
    if community.boundary is None:
        return
    outside = geometry.area_outside_m2(shape(community.boundary), geom)
    if outside > geometry.DEFAULT_OVERLAP_TOLERANCE_M2:
        message = (f"the grid lies {outside:,.0f} m² outside community {community.code} "
                   "(P3.1: a grid divides its community)")
        raise Unprocessable(message, fields={"geometry": [message]},
                            code="grid_outside_community")


def _overlapping_grids(session: Session, geom, on: date) -> list[str]:
    """Active grids whose bounding box meets ``geom``'s, then an exact shapely test."""
    min_lon, min_lat, max_lon, max_lat = geom.bounds
    candidates = session.execute(
        sa.select(grids.c.grid_code, grids.c.geometry).where(
            grids.c.min_lon <= max_lon, grids.c.max_lon >= min_lon,
            grids.c.min_lat <= max_lat, grids.c.max_lat >= min_lat,
            active_on(on))
    ).all()
    existing = [(c.grid_code, shape(c.geometry)) for c in candidates]
    return geometry.find_overlaps(geom, existing)


def active_on(on: date):
    return sa.and_(grids.c.valid_from <= on,
                   sa.or_(grids.c.valid_to.is_(None), grids.c.valid_to > on))


def retire_grid(session: Session, grid_code: str, valid_to: date) -> dict[str, Any]:
    """End a grid's validity (redivision keeps history: the row and its code remain)."""
    grid = _grid_row(session, grid_code)
    if grid.valid_to is not None:
        raise Conflict(f"grid {grid_code} was already retired on {grid.valid_to}")
    if valid_to <= grid.valid_from:
        raise Unprocessable("valid_to must be after valid_from",
                            fields={"valid_to": ["before the grid began"]})
    session.execute(grids.update().where(grids.c.grid_code == grid_code)
                    .values(valid_to=valid_to, changed_at=sa.func.now()))
    emit(session, "registry.grid.changed", {
        "grid_code": grid_code, "community_code": grid.community_code, "action": "retired",
        "valid_from": grid.valid_from.isoformat(), "valid_to": valid_to.isoformat(),
    })
    return get_grid(session, grid_code)


def _grid_row(session: Session, grid_code: str):
    row = session.execute(sa.select(grids).where(grids.c.grid_code == grid_code)).first()
    if row is None:
        raise NotFound(f"grid {grid_code} not found", code="unknown_grid_code")
    return row


def get_grid(session: Session, grid_code: str) -> dict[str, Any]:
    grid = _grid_row(session, grid_code)
    counts = grid_counts(session, [grid_code]).get(grid_code, (0, 0))
    result = {
        "grid_code": grid.grid_code, "community_code": grid.community_code,
        "town_code": grid.community_code[:9], "name": grid.name, "kind": grid.kind,
        "owner_org": grid.owner_org, "geometry": grid.geometry,
        "valid_from": grid.valid_from, "valid_to": grid.valid_to,
        "supervision_phone": grid.supervision_phone,
        "households": counts[0], "people": counts[1],
    }
    # P4.1: base grids of about 200–300 households or ~1,000 people; flagged, not rejected
    result["flags"] = (geometry.household_size_flags(*counts) if grid.kind == "base" else [])
    return result


def grid_counts(session: Session, grid_codes: list[str]) -> dict[str, tuple[int, int]]:
    """Households and active residents per grid, one SQL aggregate."""
    hh = dict(session.execute(
        sa.select(households.c.grid_code, sa.func.count()).where(
            households.c.grid_code.in_(grid_codes)).group_by(households.c.grid_code)).all())
    people = dict(session.execute(
        sa.select(residents.c.grid_code, sa.func.count()).where(
            residents.c.grid_code.in_(grid_codes), residents.c.status == "active"
        ).group_by(residents.c.grid_code)).all())
    return {code: (hh.get(code, 0), people.get(code, 0)) for code in grid_codes}


def list_grids(session: Session, prefix: str = "", on: date | None = None) -> list[dict]:
    """Grids valid on ``on`` (default today) whose code starts with ``prefix``.

    Grid names, codes and outlines are not personal data: any signed-in role may list
    them (departments need them to route cases).
    """
    stmt = sa.select(grids.c.grid_code, grids.c.community_code, grids.c.name, grids.c.kind,
                     grids.c.owner_org, grids.c.valid_from, grids.c.valid_to).where(
        active_on(on or date.today())).order_by(grids.c.grid_code)
    if prefix:
        stmt = stmt.where(grids.c.grid_code.startswith(prefix))
    return [dict(r._mapping) for r in session.execute(stmt)]


def grids_feature_collection(session: Session, on: date | None = None,
                             prefix: str = "") -> dict[str, Any]:
    """Grids valid on ``on`` (default today; whose code starts with ``prefix``: the
    caller's district) as GeoJSON, for the operations map (no personal data), with the
    names their community and town had that day (operators read names, not codes)."""
    on = on or date.today()
    community_names = divisions.dated_names("community", on, prefix[:12])
    town_names = divisions.dated_names("town", on, prefix[:9])
    rows = session.execute(
        sa.select(grids.c.grid_code, grids.c.community_code, grids.c.name, grids.c.kind,
                  grids.c.geometry,
                  sa.func.coalesce(community_names.c.name, communities.c.name)
                  .label("community_name"),
                  communities.c.town_code,
                  sa.func.coalesce(town_names.c.name, towns.c.name).label("town_name"))
        .select_from(grids.join(communities, communities.c.code == grids.c.community_code)
                     .join(towns, towns.c.code == communities.c.town_code)
                     .outerjoin(community_names, community_names.c.code == communities.c.code)
                     .outerjoin(town_names, town_names.c.code == towns.c.code))
        .where(active_on(on), grids.c.grid_code.startswith(prefix, autoescape=True))
        .order_by(grids.c.grid_code)).all()
    return {"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": r.geometry, "properties": {
            "grid_code": r.grid_code, "community_code": r.community_code,
            "town_code": r.town_code, "name": r.name, "kind": r.kind,
            "community_name": r.community_name, "town_name": r.town_name}}
        for r in rows]}


def place_names(session: Session, prefix: str, with_grids: bool = False,
                on: date | None = None) -> dict[str, dict[str, str]]:
    """Names of the towns and communities whose code starts with ``prefix`` (a district,
    town or community code), for documents people read: circulars, reports.  Each is the
    name valid on ``on`` (default today): a document about a day before a renaming prints
    the old name.  Retired towns and communities are included (documents made before
    still name them).  ``with_grids`` adds the grids' names (retired ones too); off by
    default, as a district has thousands and most callers want towns."""
    found = {
        "districts": divisions.names(session, "district", prefix[:6], on, exact=True),
        "towns": divisions.names(session, "town", prefix, on),
        "communities": divisions.names(session, "community", prefix, on),
    }
    if with_grids:
        found["grids"] = dict(session.execute(
            sa.select(grids.c.grid_code, grids.c.name)
            .where(grids.c.grid_code.startswith(prefix, autoescape=True))).all())
    return found


def grid_features(session: Session, grid_codes: list[str]) -> list[dict[str, Any]]:
    """The named grids as GeoJSON features, retired ones included with their
    ``valid_to`` (the assessment drops them from its patrol checks); unknown codes are
    left out. No personal data."""
    rows = session.execute(
        sa.select(grids.c.grid_code, grids.c.community_code, grids.c.geometry,
                  grids.c.valid_from, grids.c.valid_to)
        .where(grids.c.grid_code.in_(grid_codes)).order_by(grids.c.grid_code)).all()
    return [{"type": "Feature", "geometry": r.geometry, "properties": {
        "grid_code": r.grid_code, "community_code": r.community_code,
        "valid_from": r.valid_from.isoformat(),
        "valid_to": r.valid_to.isoformat() if r.valid_to else None}} for r in rows]


OUTLINE_TOLERANCE = 0.00005  # degrees, about 5 m: enough for a pin map, far fewer vertices
OUTLINE_DIGITS = 6  # about 0.1 m


def _rounded(coordinates: Any) -> Any:
    if isinstance(coordinates, (list, tuple)) and coordinates and \
            isinstance(coordinates[0], (int, float)):
        return [round(float(c), OUTLINE_DIGITS) for c in coordinates[:2]]
    return [_rounded(c) for c in coordinates]


def grid_outlines(session: Session) -> list[dict[str, Any]]:
    """Every grid valid today as ``{grid_code, name, geometry}``, the geometry simplified
    (topology kept) and rounded, lon/lat WGS84/CGCS2000: what the residents' report page
    draws (issue 12). Grid names and outlines are public (the notice board posts them,
    P5.4.2); no staff, no phone, no household."""
    rows = session.execute(
        sa.select(grids.c.grid_code, grids.c.name, grids.c.geometry)
        .where(active_on(date.today())).order_by(grids.c.grid_code)).all()
    out = []
    for row in rows:
        simple = shape(row.geometry).simplify(OUTLINE_TOLERANCE, preserve_topology=True)
        found = mapping(simple)
        out.append({"grid_code": row.grid_code, "name": row.name,
                    "geometry": {"type": found["type"],
                                 "coordinates": _rounded(found["coordinates"])}})
    return out


def coverage_gaps(session: Session, community_code: str) -> list[dict[str, Any]]:
    """P3.1 full coverage: parts of the community's boundary no valid grid covers."""
    community = session.execute(
        sa.select(communities).where(communities.c.code == community_code)).first()
    if community is None:
        raise NotFound(f"community {community_code} not found")
    if community.boundary is None:
        raise Unprocessable(f"community {community_code} has no boundary drawn yet",
                            code="no_boundary")
    geoms = [shape(g) for g in session.execute(
        sa.select(grids.c.geometry).where(grids.c.community_code == community_code,
                                          active_on(date.today()))).scalars()]
    return geometry.coverage_gaps(shape(community.boundary), geoms)


def active_grid_shapes(session: Session) -> list[tuple[str, Any]]:
    """(grid_code, shapely geometry) of every grid valid today, for the spatial index."""
    rows = session.execute(
        sa.select(grids.c.grid_code, grids.c.geometry).where(active_on(date.today()))).all()
    return [(r.grid_code, shape(r.geometry)) for r in rows]


def grid_version(session: Session) -> tuple:
    """Cheap fingerprint of the grid table: replicas rebuild their index when it changes.

    Today's date is part of it: a grid drawn or retired with a future date enters or
    leaves the index on that day, with no other change to the table."""
    return (date.today(), *session.execute(
        sa.select(sa.func.count(), sa.func.max(grids.c.changed_at))).one())


def create_neighbourhood(session: Session, grid_code: str, name: str) -> dict[str, Any]:
    _grid_row(session, grid_code)
    new_id = session.execute(neighbourhoods.insert().values(grid_code=grid_code, name=name)
                             .returning(neighbourhoods.c.id)).scalar_one()
    return {"id": new_id, "grid_code": grid_code, "name": name}


BUILDING_TOLERANCE_M = 10.0  # a surveyed point on a grid's edge may fall a few metres out


def create_building(session: Session, grid_code: str, address: str, lon: float, lat: float,
                    neighbourhood_id: int | None = None) -> dict[str, Any]:
    grid = _grid_row(session, grid_code)
    outside = geometry.distance_outside_m(shape(grid.geometry), lon, lat)
    if outside > BUILDING_TOLERANCE_M:  # P3.1: one building, one grid: the one it stands in
        message = (f"the building stands {outside:,.0f} m outside grid {grid_code}; file it "
                   "under the grid that contains it (GET /lookup/point)")
        raise Unprocessable(message, fields={"lon": [message], "lat": [message]},
                            code="building_outside_grid")
    new_id = session.execute(buildings.insert().values(
        grid_code=grid_code, address=address, lon=lon, lat=lat,
        neighbourhood_id=neighbourhood_id).returning(buildings.c.id)).scalar_one()
    return {"id": new_id, "grid_code": grid_code, "address": address, "lon": lon, "lat": lat,
            "neighbourhood_id": neighbourhood_id}


def create_household(session: Session, building_id: int, unit: str) -> dict[str, Any]:
    building = session.execute(
        sa.select(buildings).where(buildings.c.id == building_id)).first()
    if building is None:
        raise NotFound(f"building {building_id} not found")
    taken = session.execute(sa.select(households.c.id).where(
        households.c.building_id == building_id, households.c.unit == unit)).first()
    if taken:
        raise Conflict(f"unit {unit} already registered in building {building_id}")
    new_id = session.execute(households.insert().values(
        building_id=building_id, grid_code=building.grid_code, unit=unit)
        .returning(households.c.id)).scalar_one()
    return {"id": new_id, "building_id": building_id, "grid_code": building.grid_code,
            "unit": unit, "address": f"{building.address} {unit}"}


def find_buildings(session: Session, text: str, prefix: str, limit: int = 20) -> list[dict]:
    """Address → building → grid, by trigram similarity on the address."""
    stmt = (sa.select(buildings.c.id, buildings.c.address, buildings.c.grid_code,
                      buildings.c.lon, buildings.c.lat)
            .where(buildings.c.address.ilike(f"%{_escape_like(text)}%", escape="\\"))
            .order_by(buildings.c.address).limit(limit))
    if prefix:
        stmt = stmt.where(buildings.c.grid_code.startswith(prefix))
    return [dict(r._mapping) for r in session.execute(stmt)]


def building_location(session: Session, building_id: int) -> dict[str, Any] | None:
    row = session.execute(sa.select(buildings.c.id, buildings.c.address, buildings.c.grid_code,
                                    buildings.c.lon, buildings.c.lat)
                          .where(buildings.c.id == building_id)).first()
    return None if row is None else dict(row._mapping)


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def scope_name(session: Session, level: str, code: str, lang: str = "zh-CN") -> str | None:
    """The name people read for a token's scope (``GET /auth/me``): the division's or
    grid's name today, the department's in ``lang``; None when the registry has none."""
    if level == "department":
        row = session.execute(sa.select(departments.c.name_zh, departments.c.name_en)
                              .where(departments.c.code == code)).first()
        return None if row is None else (row.name_en if lang == "en" else row.name_zh)
    if level == "grid":
        return session.execute(sa.select(grids.c.name)
                               .where(grids.c.grid_code == code)).scalar_one_or_none()
    return divisions.names(session, level, code, exact=True).get(code)

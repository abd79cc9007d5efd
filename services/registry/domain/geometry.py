"""Grid polygons: validation, overlap and coverage checks, and grid size flags.

P3.1 full coverage: every square metre of the urban area lies in exactly one grid, so a new
grid must not overlap a valid one (``find_overlaps``) and a community's uncovered parts are
reported (``coverage_gaps``).  P4.1: grids are drawn on the map (GIS) and a base grid covers
about 200–300 households or about 1,000 people (``household_size_flags``).

Coordinates are WGS84 longitude/latitude in degrees (GeoJSON, RFC 7946).  Areas in m² use a
local equirectangular projection at the geometry's own latitude:
``area_m² ≈ area_deg² × (πR/180)² × cos(latitude)`` with R the mean Earth radius.  For a
grid a few kilometres across the error is far below 0.1 %, which is ample for tolerances
of a square metre; a district-wide geometry should not be measured this way.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from typing import Any

import shapely
import shapely.ops
from shapely.errors import GEOSException
from shapely.geometry.base import BaseGeometry
from shapely.prepared import prep
from shapely.validation import explain_validity

EARTH_RADIUS_M = 6_371_008.8
METRES_PER_DEGREE = math.pi * EARTH_RADIUS_M / 180.0
# P3.1: an intersection smaller than this is digitising noise, not an overlap.
DEFAULT_OVERLAP_TOLERANCE_M2 = 1.0
# Gaps smaller than this are slivers between hand-drawn edges, not blind spots.
DEFAULT_SLIVER_M2 = 10.0
# A grid is a neighbourhood-sized polygon; a huge vertex count is an upload mistake or abuse.
MAX_VERTICES = 10_000
# P4.1 base-grid size: "about 200–300 households or about 1,000 people".
HOUSEHOLDS_MIN, HOUSEHOLDS_MAX, PEOPLE_TARGET = 200, 300, 1000
DEFAULT_SIZE_TOLERANCE = 0.1


class GeometryError(ValueError):
    """A grid outline is unusable; ``code`` is a stable machine-readable reason."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _position(pos: object) -> tuple[float, float]:
    """One [lon, lat] (altitude ignored), finite and inside WGS84 ranges."""
    if not isinstance(pos, list | tuple) or len(pos) not in (2, 3) \
            or not all(_is_number(v) for v in pos):
        raise GeometryError("invalid_geojson", f"a position is [lon, lat], got {pos!r}")
    lon, lat = float(pos[0]), float(pos[1])
    if not (math.isfinite(lon) and math.isfinite(lat)):
        raise GeometryError("invalid_geojson", "coordinates must be finite numbers")
    if not (-180.0 <= lon <= 180.0 and -90.0 <= lat <= 90.0):
        raise GeometryError("out_of_range",
                            f"[{lon}, {lat}] is outside WGS84 (lon ±180, lat ±90); "
                            "coordinates are [longitude, latitude]")
    return lon, lat


def _ring(ring: object) -> list[tuple[float, float]]:
    """A closed linear ring of at least 4 positions (GeoJSON RFC 7946 §3.1.6)."""
    if not isinstance(ring, list | tuple) or len(ring) < 4:
        raise GeometryError("invalid_geojson", "a polygon ring needs at least 4 positions")
    points = [_position(p) for p in ring]
    if points[0] != points[-1]:
        raise GeometryError("ring_not_closed",
                            "a polygon ring must end at its first position (closed ring)")
    return points


def _polygon(rings: object) -> shapely.Polygon:
    if not isinstance(rings, list | tuple) or not rings:
        raise GeometryError("invalid_geojson", "a Polygon has a list of rings, the first "
                                               "being the exterior")
    shell, *holes = [_ring(r) for r in rings]
    return shapely.Polygon(shell, holes)


def parse_geojson(obj: Any) -> BaseGeometry:
    """Parse a GeoJSON Polygon or MultiPolygon (a Feature or JSON text is unwrapped).

    Raises ``GeometryError`` with code ``invalid_geojson``, ``ring_not_closed`` or
    ``out_of_range``.  Validity (self-intersection) is checked by ``validate_grid_polygon``.
    """
    if isinstance(obj, str | bytes):
        try:
            obj = json.loads(obj)
        except ValueError:
            raise GeometryError("invalid_geojson", "geometry is not valid JSON") from None
    if isinstance(obj, dict) and obj.get("type") == "Feature":
        obj = obj.get("geometry")
    if not isinstance(obj, dict):
        raise GeometryError("invalid_geojson", "geometry must be a GeoJSON object")
    kind, coords = obj.get("type"), obj.get("coordinates")
    if kind == "Polygon":
        geom: BaseGeometry = _polygon(coords)
    elif kind == "MultiPolygon":
        if not isinstance(coords, list | tuple) or not coords:
            raise GeometryError("invalid_geojson", "a MultiPolygon needs at least one polygon")
        geom = shapely.MultiPolygon([_polygon(p) for p in coords])
    else:
        raise GeometryError("invalid_geojson",
                            f"a grid is a Polygon or MultiPolygon, not {kind!r}")
    if shapely.get_num_coordinates(geom) > MAX_VERTICES:
        raise GeometryError("invalid_geojson", f"more than {MAX_VERTICES} vertices")
    return geom


def validate_grid_polygon(geojson: Any) -> BaseGeometry:
    """Parse and check a grid outline (P4.1: drawn precisely on the map).

    Raises ``GeometryError`` with code ``invalid_geojson``, ``ring_not_closed``,
    ``out_of_range``, ``empty`` (no area), ``self_intersection`` or ``invalid_polygon``
    (other OGC invalidity such as a hole outside its shell), with shapely's explanation.
    """
    geom = parse_geojson(geojson)
    # A bow-tie's signed areas cancel out, so emptiness is judged on the repaired shape:
    # only an outline with no area even after repair (all points on a line) is "empty".
    if geom.is_empty or shapely.make_valid(geom).area == 0.0:
        raise GeometryError("empty", "the grid outline encloses no area")
    if not geom.is_valid:
        reason = explain_validity(geom)
        code = "self_intersection" if "self-intersection" in reason.lower() else "invalid_polygon"
        raise GeometryError(code, f"the grid outline is not a valid polygon: {reason}")
    return geom


def to_geojson(geom: BaseGeometry) -> dict[str, Any]:
    """A geometry as a GeoJSON dict with lists (JSON/JSONB-ready)."""
    return json.loads(shapely.to_geojson(geom))


def area_m2(geom: BaseGeometry) -> float:
    """Approximate area in m² (local equirectangular projection, see module docstring)."""
    if geom.is_empty:
        return 0.0
    latitude = geom.centroid.y
    scale = METRES_PER_DEGREE * METRES_PER_DEGREE * math.cos(math.radians(latitude))
    return geom.area * scale


def _intersection(a: BaseGeometry, b: BaseGeometry) -> BaseGeometry:
    """Intersection that survives a slightly invalid stored geometry (repaired first)."""
    try:
        return a.intersection(b)
    except GEOSException:
        return shapely.make_valid(a).intersection(shapely.make_valid(b))


def find_overlaps(new_geom: BaseGeometry, existing: Iterable[tuple[str, BaseGeometry]],
                  tolerance_m2: float = DEFAULT_OVERLAP_TOLERANCE_M2) -> list[str]:
    """Codes of existing grids the new outline overlaps by more than ``tolerance_m2`` (P3.1).

    Grids that only touch (share an edge or a corner) do not overlap: their intersection
    has no area.  The result is sorted, so error messages are stable.
    """
    prepared = prep(new_geom)
    hits = []
    for grid_code, geom in existing:
        if not prepared.intersects(geom):
            continue
        # P3.1: each square metre in exactly one grid; a shared edge has no area
        if area_m2(_intersection(new_geom, geom)) > tolerance_m2:
            hits.append(grid_code)
    return sorted(hits)


def coverage_gaps(community_geom: BaseGeometry, grid_geoms: Sequence[BaseGeometry],
                  min_area_m2: float = DEFAULT_SLIVER_M2) -> list[dict[str, Any]]:
    """Parts of a community no grid covers (P3.1 无盲点), largest first.

    Each gap is a GeoJSON Feature whose geometry is a Polygon and whose properties carry
    ``area_m2``; gaps under ``min_area_m2`` are slivers and left out.
    """
    # P3.1: full coverage, no blind spots (无盲点)
    covered = shapely.union_all(list(grid_geoms)) if grid_geoms else shapely.Polygon()
    uncovered = _difference(community_geom, covered)
    gaps = []
    for part in shapely.get_parts(uncovered):
        if not isinstance(part, shapely.Polygon):
            continue  # lines and points left by the difference have no area
        area = area_m2(part)
        if area >= min_area_m2:
            gaps.append({"type": "Feature", "geometry": to_geojson(part),
                         "properties": {"area_m2": round(area, 1)}})
    gaps.sort(key=lambda g: -g["properties"]["area_m2"])
    return gaps


def _difference(a: BaseGeometry, b: BaseGeometry) -> BaseGeometry:
    try:
        return a.difference(b)
    except GEOSException:
        return shapely.make_valid(a).difference(shapely.make_valid(b))


def area_outside_m2(container: BaseGeometry, geom: BaseGeometry) -> float:
    """Area of ``geom`` that lies outside ``container`` (a grid spilling out of its
    community, which P3.1 forbids because that area would belong to two communities)."""
    return area_m2(_difference(geom, container))


def distance_outside_m(geom: BaseGeometry, lon: float, lat: float) -> float:
    """How far the point (lon, lat) lies outside ``geom``, in metres (0 inside or on the
    edge): a building filed under a grid must stand in it (P3.1 "one building, one grid")."""
    point = shapely.Point(lon, lat)
    if geom.covers(point):
        return 0.0
    nearest = shapely.ops.nearest_points(geom, point)[0]
    dx = (lon - nearest.x) * METRES_PER_DEGREE * math.cos(math.radians(lat))
    dy = (lat - nearest.y) * METRES_PER_DEGREE
    return math.hypot(dx, dy)


def household_size_flags(households: int, people: int,
                         tolerance: float = DEFAULT_SIZE_TOLERANCE) -> list[str]:
    """Advisory flags for a base grid's size (P4.1); flagged, never rejected.

    P4.1 sizes a base grid by households *or* people: 200–300 households or about 1,000
    people.  A grid fitting either measure gets no size flag.  ``tolerance`` (default 10 %)
    widens the bands before flagging — 180–330 households, 900–1,100 people — while the
    flag names keep the policy's round numbers:

    * ``no_households``: nothing registered yet (a new grid or a data gap, P2.3);
    * ``households_below_200`` / ``households_above_300``;
    * ``people_below_1000`` / ``people_above_1000`` (only alongside a households flag).
    """
    if households < 0 or people < 0 or tolerance < 0:
        raise ValueError("households, people and tolerance must not be negative")
    if households == 0:
        return ["no_households"]
    low, high = HOUSEHOLDS_MIN * (1 - tolerance), HOUSEHOLDS_MAX * (1 + tolerance)
    people_low, people_high = PEOPLE_TARGET * (1 - tolerance), PEOPLE_TARGET * (1 + tolerance)
    # P4.1: "about 200–300 households or about 1,000 people": either measure suffices
    households_ok = low <= households <= high
    people_ok = people_low <= people <= people_high
    if households_ok or people_ok:
        return []
    flags = ["households_below_200" if households < low else "households_above_300"]
    flags.append("people_below_1000" if people < people_low else "people_above_1000")
    return flags

"""Grid polygons: validation (P4.1), overlaps and coverage (P3.1), size flags (P4.1)."""

import json
import math

import pytest
import shapely

from services.registry.domain import geometry
from services.registry.domain.geometry import GeometryError

LAT = 31.3
# about 100 m in degrees at latitude 31.3
D_LAT = 100 / geometry.METRES_PER_DEGREE
D_LON = 100 / (geometry.METRES_PER_DEGREE * math.cos(math.radians(LAT)))


def square(x0: float, y0: float, size: float = 0.001) -> dict:
    return {"type": "Polygon", "coordinates": [[
        [x0, y0], [x0 + size, y0], [x0 + size, y0 + size], [x0, y0 + size], [x0, y0]]]}


def _error(obj) -> GeometryError:
    with pytest.raises(GeometryError) as err:
        geometry.validate_grid_polygon(obj)
    return err.value


def test_valid_polygon_and_multipolygon():
    poly = geometry.validate_grid_polygon(square(120.5, LAT))
    assert poly.geom_type == "Polygon" and poly.is_valid
    multi = geometry.validate_grid_polygon({"type": "MultiPolygon", "coordinates": [
        square(120.5, LAT)["coordinates"], square(120.51, LAT)["coordinates"]]})
    assert multi.geom_type == "MultiPolygon" and len(multi.geoms) == 2


def test_feature_json_text_and_altitude_are_accepted():
    feature = {"type": "Feature", "properties": {}, "geometry": square(120.5, LAT)}
    assert geometry.validate_grid_polygon(feature).area > 0
    assert geometry.validate_grid_polygon(json.dumps(square(120.5, LAT))).area > 0
    with_altitude = {"type": "Polygon", "coordinates": [[
        [120.5, LAT, 5], [120.501, LAT, 5], [120.501, LAT + 0.001, 5], [120.5, LAT, 5]]]}
    assert geometry.validate_grid_polygon(with_altitude).area > 0


def test_polygon_with_hole_is_valid():
    outer = square(120.5, LAT, 0.01)["coordinates"][0]
    hole = square(120.504, LAT + 0.004, 0.001)["coordinates"][0]
    poly = geometry.validate_grid_polygon({"type": "Polygon", "coordinates": [outer, hole]})
    assert len(poly.interiors) == 1


@pytest.mark.parametrize("obj", [
    None, 42, "not json", {"type": "Point", "coordinates": [120.5, LAT]},
    {"type": "LineString", "coordinates": [[0, 0], [1, 1]]},
    {"type": "Polygon"}, {"type": "Polygon", "coordinates": []},
    {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [0, 0]]]},  # too few positions
    {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], ["a", 1], [0, 0]]]},
    {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1], [0, 0]]]},
    {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [True, 1], [0, 0]]]},
    {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [float("nan"), 1], [0, 0]]]},
    {"type": "MultiPolygon", "coordinates": []},
])
def test_invalid_geojson(obj):
    assert _error(obj).code == "invalid_geojson"


def test_ring_must_be_closed():
    ring = square(120.5, LAT)["coordinates"][0][:-1] + [[120.5, LAT + 0.0005]]
    err = _error({"type": "Polygon", "coordinates": [ring]})
    assert err.code == "ring_not_closed"
    assert "closed" in err.message


@pytest.mark.parametrize("lon, lat", [(181, 31), (-181, 31), (120, 91), (120, -90.5)])
def test_out_of_range(lon, lat):
    err = _error(square(lon, lat) if abs(lon) > 180 else {"type": "Polygon", "coordinates": [
        [[lon - 1, 30], [lon, lat], [lon - 1, lat], [lon - 1, 30]]]})
    assert err.code == "out_of_range"


def test_swapped_lat_lon_is_caught_as_out_of_range():
    swapped = {"type": "Polygon", "coordinates": [[
        [31.3, 120.5], [31.31, 120.5], [31.31, 120.51], [31.3, 120.5]]]}
    assert _error(swapped).code == "out_of_range"


def test_self_intersection_explained():
    bowtie = {"type": "Polygon", "coordinates": [[
        [120.5, LAT], [120.501, LAT + 0.001], [120.501, LAT], [120.5, LAT + 0.001],
        [120.5, LAT]]]}
    err = _error(bowtie)
    assert err.code == "self_intersection"
    assert "Self-intersection" in err.message


def test_other_invalidity():
    outer = square(120.5, LAT, 0.001)["coordinates"][0]
    hole_outside = square(120.6, LAT, 0.001)["coordinates"][0]
    err = _error({"type": "Polygon", "coordinates": [outer, hole_outside]})
    assert err.code == "invalid_polygon"


def test_empty_degenerate_polygon():
    flat = {"type": "Polygon", "coordinates": [[
        [120.5, LAT], [120.501, LAT], [120.502, LAT], [120.5, LAT]]]}
    assert _error(flat).code == "empty"


def test_too_many_vertices():
    n = geometry.MAX_VERTICES + 10
    ring = [[120.5 + 0.01 * math.cos(2 * math.pi * i / n), LAT + 0.01 * math.sin(
        2 * math.pi * i / n)] for i in range(n)]
    ring.append(ring[0])
    assert _error({"type": "Polygon", "coordinates": [ring]}).code == "invalid_geojson"


def test_to_geojson_round_trip():
    poly = geometry.validate_grid_polygon(square(120.5, LAT))
    out = geometry.to_geojson(poly)
    assert out["type"] == "Polygon"
    assert isinstance(out["coordinates"][0][0], list)
    assert geometry.validate_grid_polygon(out).equals(poly)


def test_area_m2_uses_local_scale():
    box = shapely.box(120.5, LAT, 120.5 + D_LON, LAT + D_LAT)
    assert geometry.area_m2(box) == pytest.approx(10_000, rel=1e-3)
    # the same box in degrees near the equator is larger in metres
    equator = shapely.box(120.5, 0, 120.5 + D_LON, D_LAT)
    assert geometry.area_m2(equator) > geometry.area_m2(box)
    assert geometry.area_m2(shapely.Polygon()) == 0.0


def test_touching_grids_do_not_overlap():
    a = shapely.box(120.5, LAT, 120.501, LAT + 0.001)
    right = shapely.box(120.501, LAT, 120.502, LAT + 0.001)  # shared edge
    corner = shapely.box(120.501, LAT + 0.001, 120.502, LAT + 0.002)  # shared corner
    far = shapely.box(120.6, LAT, 120.601, LAT + 0.001)
    assert geometry.find_overlaps(a, [("002", right), ("003", corner), ("004", far)]) == []


def test_real_overlaps_are_found_sorted():
    a = shapely.box(120.5, LAT, 120.501, LAT + 0.001)
    half = shapely.box(120.5005, LAT, 120.5015, LAT + 0.001)
    inside = shapely.box(120.5002, LAT + 0.0002, 120.5004, LAT + 0.0004)
    assert geometry.find_overlaps(a, [("009", half), ("003", inside)]) == ["003", "009"]


def test_overlap_tolerance_in_square_metres():
    a = shapely.box(120.5, LAT, 120.5 + D_LON, LAT + D_LAT)
    # a 10 cm wide strip along a 100 m edge: about 10 m² of overlap
    strip = shapely.box(120.5 + D_LON - D_LON / 1000, LAT, 120.5 + 2 * D_LON, LAT + D_LAT)
    assert geometry.find_overlaps(a, [("001", strip)]) == ["001"]
    assert geometry.find_overlaps(a, [("001", strip)], tolerance_m2=20.0) == []
    # a 1 mm sliver (0.1 m²) is digitising noise under the default 1 m²
    sliver = shapely.box(120.5 + D_LON - D_LON / 100_000, LAT, 120.5 + 2 * D_LON, LAT + D_LAT)
    assert geometry.find_overlaps(a, [("001", sliver)]) == []


def test_overlap_with_invalid_stored_geometry_does_not_crash():
    a = shapely.box(120.5, LAT, 120.501, LAT + 0.001)
    bowtie = shapely.Polygon([(120.5, LAT), (120.501, LAT + 0.001), (120.501, LAT),
                              (120.5, LAT + 0.001)])
    assert geometry.find_overlaps(a, [("007", bowtie)]) == ["007"]


def test_coverage_gaps_none_when_tiled():
    community = shapely.box(120.5, LAT, 120.502, LAT + 0.001)
    grids = [shapely.box(120.5, LAT, 120.501, LAT + 0.001),
             shapely.box(120.501, LAT, 120.502, LAT + 0.001)]
    assert geometry.coverage_gaps(community, grids) == []


def test_coverage_gaps_reports_missing_area_in_m2():
    community = shapely.box(120.5, LAT, 120.5 + 3 * D_LON, LAT + D_LAT)
    grids = [shapely.box(120.5, LAT, 120.5 + D_LON, LAT + D_LAT)]
    gaps = geometry.coverage_gaps(community, grids)
    assert len(gaps) == 1
    gap = gaps[0]
    assert gap["type"] == "Feature" and gap["geometry"]["type"] == "Polygon"
    assert gap["properties"]["area_m2"] == pytest.approx(20_000, rel=1e-3)


def test_coverage_gaps_sorted_and_slivers_ignored():
    community = shapely.box(120.5, LAT, 120.5 + 4 * D_LON, LAT + D_LAT)
    grids = [shapely.box(120.5 + D_LON, LAT, 120.5 + 2 * D_LON, LAT + D_LAT),
             # leaves a 2 cm strip before the last tenth: a sliver, not a blind spot
             shapely.box(120.5 + 2 * D_LON + D_LON / 5000, LAT, 120.5 + 3.5 * D_LON,
                         LAT + D_LAT)]
    gaps = geometry.coverage_gaps(community, grids)
    areas = [g["properties"]["area_m2"] for g in gaps]
    assert areas == sorted(areas, reverse=True)
    assert areas == [pytest.approx(10_000, rel=1e-3), pytest.approx(5_000, rel=1e-3)]
    assert len(geometry.coverage_gaps(community, grids, min_area_m2=0.5)) == 3


def test_coverage_gaps_with_no_grids_is_whole_community():
    community = shapely.box(120.5, LAT, 120.5 + D_LON, LAT + D_LAT)
    gaps = geometry.coverage_gaps(community, [])
    assert gaps[0]["properties"]["area_m2"] == pytest.approx(10_000, rel=1e-3)


def test_area_outside_container():
    community = shapely.box(120.5, LAT, 120.5 + D_LON, LAT + D_LAT)
    spill = shapely.box(120.5 + D_LON / 2, LAT, 120.5 + 1.5 * D_LON, LAT + D_LAT)
    assert geometry.area_outside_m2(community, spill) == pytest.approx(5_000, rel=1e-3)
    assert geometry.area_outside_m2(community, community) == 0.0


@pytest.mark.parametrize("households, people, flags", [
    (250, 700, []),
    (200, 560, []),
    (300, 840, []),
    (185, 520, []),  # within the 10 % tolerance
    (150, 1000, []),  # P4.1 "or about 1,000 people": the people measure fits
    (350, 1050, []),
    (0, 0, ["no_households"]),
    (120, 330, ["households_below_200", "people_below_1000"]),
    (400, 1400, ["households_above_300", "people_above_1000"]),
    (400, 800, ["households_above_300", "people_below_1000"]),
])
def test_household_size_flags(households, people, flags):
    assert geometry.household_size_flags(households, people) == flags


def test_household_size_flags_tolerance_is_configurable():
    assert geometry.household_size_flags(185, 520, tolerance=0.0) == [
        "households_below_200", "people_below_1000"]
    assert geometry.household_size_flags(120, 330, tolerance=0.5) == []
    with pytest.raises(ValueError):
        geometry.household_size_flags(-1, 0)


def test_the_edges_of_wgs84_are_inside_it():
    west_south = {"type": "Polygon", "coordinates": [[[-180, -90], [-179, -90], [-179, -89],
                                                      [-180, -89], [-180, -90]]]}
    east_north = {"type": "Polygon", "coordinates": [[[179, 89], [180, 89], [180, 90],
                                                      [179, 90], [179, 89]]]}
    assert geometry.parse_geojson(west_south).bounds == (-180, -90, -179, -89)
    assert geometry.parse_geojson(east_north).bounds == (179, 89, 180, 90)
    beyond = {"type": "Polygon", "coordinates": [[[180, 0], [180.5, 0], [180.5, 1],
                                                  [180, 1], [180, 0]]]}
    with pytest.raises(GeometryError):
        geometry.parse_geojson(beyond)


@pytest.mark.parametrize("households, people", [(200, 0), (300, 0), (180, 0), (330, 0),
                                                (10, 900), (10, 1100)])
def test_the_edges_of_the_size_bands_need_no_flag(households, people):
    # P4.1: 200-300 households or about 1,000 people, widened by 10 %: 180-330 / 900-1,100
    assert geometry.household_size_flags(households, people) == []
    if households in (200, 300):
        assert geometry.household_size_flags(households, people, tolerance=0) == []


def test_just_outside_the_bands_is_flagged_on_the_right_side():
    assert geometry.household_size_flags(180, 1000, tolerance=0) == []  # people suffice
    assert geometry.household_size_flags(100, 1000, tolerance=0) == []
    assert geometry.household_size_flags(199, 999, tolerance=0) == [
        "households_below_200", "people_below_1000"]
    assert geometry.household_size_flags(301, 1001, tolerance=0) == [
        "households_above_300", "people_above_1000"]


@pytest.mark.parametrize("households, people, tolerance", [(-1, 0, 0.1), (1, -1, 0.1),
                                                           (1, 1, -0.1)])
def test_negative_sizes_are_refused(households, people, tolerance):
    with pytest.raises(ValueError):
        geometry.household_size_flags(households, people, tolerance)


def test_distance_outside_is_zero_inside_and_on_the_edge_and_metres_beyond():
    """P3.1: a building filed under a grid stands in it (a few metres of survey error)."""
    grid = shapely.box(120.00, 31.00, 120.01, 31.01)
    assert geometry.distance_outside_m(grid, 120.005, 31.005) == 0.0
    assert geometry.distance_outside_m(grid, 120.01, 31.005) == 0.0  # on the edge
    east = geometry.distance_outside_m(grid, 120.0101, 31.005)  # 0.0001° of longitude
    assert east == pytest.approx(0.0001 * geometry.METRES_PER_DEGREE
                                 * math.cos(math.radians(31.005)), rel=1e-6)
    north = geometry.distance_outside_m(grid, 120.005, 31.0101)
    assert north == pytest.approx(0.0001 * geometry.METRES_PER_DEGREE, rel=1e-6)
    corner = geometry.distance_outside_m(grid, 120.0103, 31.0104)
    assert corner == pytest.approx(math.hypot(
        0.0003 * geometry.METRES_PER_DEGREE * math.cos(math.radians(31.0104)),
        0.0004 * geometry.METRES_PER_DEGREE), rel=1e-6)

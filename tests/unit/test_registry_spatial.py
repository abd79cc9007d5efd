"""Point → grid lookup over an immutable STRtree snapshot (P3.1)."""

import random
from decimal import Decimal

import numpy as np
import pytest
import shapely

from services.registry.domain import generator
from services.registry.domain.spatial import GridIndex

A, B, C, D = "320505001001001", "320505001001002", "320505001001003", "320505001001004"


@pytest.fixture
def four():
    """Four unit squares meeting at (1, 1): A bottom-left, B bottom-right, C top-left,
    D top-right (deliberately given out of order)."""
    return GridIndex.build([
        (D, shapely.box(1, 1, 2, 2)), (B, shapely.box(1, 0, 2, 1)),
        (C, shapely.box(0, 1, 1, 2)), (A, shapely.box(0, 0, 1, 1)),
    ])


def test_inside_outside_and_len(four):
    assert len(four) == 4
    assert four.lookup(0.5, 0.5) == A
    assert four.lookup(1.5, 0.5) == B
    assert four.lookup(0.5, 1.5) == C
    assert four.lookup(1.5, 1.5) == D
    assert four.lookup(3, 3) is None
    assert four.lookup(-0.0001, 0.5) is None
    assert four.codes == (A, B, C, D)
    assert A in four and "320505001001009" not in four and 5 not in four


def test_shared_edges_and_corners_resolve_to_lowest_code(four):
    assert four.lookup(1, 0.5) == A  # edge A|B
    assert four.lookup(1, 1.5) == C  # edge C|D
    assert four.lookup(1.5, 1) == B  # edge B|D
    assert four.lookup(1, 1) == A  # corner of all four
    assert four.lookup(2, 2) == D  # outer corner belongs to its only grid
    assert four.lookup(0, 0) == A


def test_lookup_many_matches_single(four):
    points = [(0.5, 0.5), (1, 1), (1.5, 1), (3, 3), (1, 1.5), (2, 0)]
    assert four.lookup_many(points) == [four.lookup(x, y) for x, y in points]
    assert four.lookup_many(points) == [A, A, B, None, C, B]
    assert four.lookup_many(np.array(points)) == [A, A, B, None, C, B]
    assert four.lookup_many([]) == []


def test_holes_are_respected():
    outer = shapely.Polygon([(0, 0), (4, 0), (4, 4), (0, 4)], [[(1, 1), (3, 1), (3, 3), (1, 3)]])
    index = GridIndex.build([(B, outer), (A, shapely.box(1, 1, 3, 3))])
    assert index.lookup(2, 2) == A
    assert index.lookup(0.5, 0.5) == B
    assert index.lookup(1, 2) == A  # the hole's edge: shared, lowest code


def test_build_accepts_geojson_and_generators():
    items = ((code, {"type": "Polygon", "coordinates": [[[i, 0], [i + 1, 0], [i + 1, 1],
                                                          [i, 1], [i, 0]]]})
             for i, code in enumerate((A, B)))
    index = GridIndex.build(items)
    assert index.lookup(1.5, 0.5) == B


def test_duplicate_codes_rejected():
    with pytest.raises(ValueError, match="duplicate"):
        GridIndex.build([(A, shapely.box(0, 0, 1, 1)), (A, shapely.box(1, 0, 2, 1))])


def test_empty_index():
    index = GridIndex.build([])
    assert len(index) == 0
    assert index.lookup(1, 1) is None
    assert index.lookup_many([(1, 1), (2, 2)]) == [None, None]


def test_snapshot_is_immutable_and_rebuild_does_not_disturb_readers(four):
    reader_view = four
    rebuilt = GridIndex.build([(A, shapely.box(0, 0, 2, 2))])
    # a holder swaps its reference; the old snapshot answers exactly as before
    assert reader_view.lookup(1.5, 1.5) == D
    assert rebuilt.lookup(1.5, 1.5) == A
    with pytest.raises(AttributeError):
        four.extra = 1  # type: ignore[attr-defined]
    with pytest.raises(AttributeError, match="immutable"):
        four._codes = ()  # type: ignore[misc]
    assert len(four) == 4


def test_callers_geometries_are_not_modified():
    geom = shapely.box(0, 0, 1, 1)
    GridIndex.build([(A, geom)])
    assert not shapely.is_prepared(geom)


def test_generated_district_every_point_in_exactly_its_grid():
    district = generator.generate_district(5, 2, 3, 7)
    grids = list(district.iter_grids())
    index = GridIndex.build((g.code, g.geometry) for g in grids)
    assert len(index) == len(grids) == 42
    rng = random.Random(3)
    points, expected = [], []
    for grid in grids:
        lon0, lat0, lon1, lat1 = grid.bbox
        for _ in range(5):
            points.append((rng.uniform(lon0, lon1), rng.uniform(lat0, lat1)))
            expected.append(grid.code)
    # strictly interior points belong to one grid only
    assert index.lookup_many(points) == expected
    assert [index.lookup(x, y) for x, y in points] == expected
    lon0, lat0, lon1, lat1 = district.bbox
    assert index.lookup(lon1 + 0.01, lat0) is None


def test_a_batch_of_one_point_is_located(four):
    assert four.lookup_many([(1.5, 1.5)]) == [D]


def test_an_index_of_a_single_grid_locates_points():
    index = GridIndex.build([(A, shapely.box(0, 0, 1, 1))])
    assert index.lookup_many([(0.5, 0.5), (3, 3)]) == [A, None]


def test_a_point_in_a_grids_bounding_box_but_outside_the_grid_is_in_no_grid():
    triangle = shapely.Polygon([(0, 0), (2, 0), (0, 2)])  # bounding box (0, 0)-(2, 2)
    index = GridIndex.build([(A, triangle)])
    assert index.lookup_many([(1.5, 1.5), (0.5, 0.5)]) == [None, A]
    assert index.lookup(1.5, 1.5) is None


def test_a_batch_takes_any_real_numbers_as_coordinates(four):
    points = [(Decimal("1.5"), Decimal("0.5")), (0, 1)]  # numeric columns give Decimal
    assert four.lookup_many(points) == [B, A]

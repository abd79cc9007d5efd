"""Point → grid lookups per second over 20,000 grids, in one process.

Why: cases, patrol check-ins and addresses are located in their grid many thousands of
times a second (P3.1), and the registry answers that from ``GridIndex`` (an in-memory
STRtree snapshot) without touching the database.  The target from the issue is
≥ 20,000 single lookups/s in one process with a district of 20,000 grids.

What is timed:

* ``GridIndex.build`` of the generator's 20,000 grids (10 towns × 20 communities × 100
  grids), from shapely geometries and from GeoJSON dicts (the stored form, what a service
  replica rebuilds from after a grid change);
* ``lookup(lon, lat)`` one point at a time for uniformly random points in the district's
  bounding box (the RPC/HTTP path does exactly one such call per request);
* ``lookup(lon, lat)`` for points exactly on shared grid edges and corners (several
  candidates, P3.1 lowest-code rule: the slow path);
* ``lookup_many`` in batches of 1,000 and 10,000 points (the batch endpoints).

Answers are checked against a brute-force bounding-box scan, so a fast wrong index shows.
No database, broker or service is used; nothing needs cleaning up.

``--quick``: 50,000 random points and one timing round instead of 200,000 and three.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import os  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
from shapely.geometry import mapping  # noqa: E402

from bench import _common  # noqa: E402
from services.registry.domain import generator  # noqa: E402
from services.registry.domain.spatial import GridIndex  # noqa: E402

SEED = 2026
TOWNS, COMMUNITIES_PER_TOWN, GRIDS_PER_COMMUNITY = 10, 20, 100  # 20,000 grids
TARGET_LOOKUPS_PER_S = 20_000
CHECKED_POINTS = 5_000


def time_single(index: GridIndex, points: list[tuple[float, float]]) -> tuple[float, list]:
    """Seconds for one ``lookup`` per point, and the answers."""
    lookup = index.lookup
    started = time.perf_counter()
    answers = [lookup(lon, lat) for lon, lat in points]
    return time.perf_counter() - started, answers


def time_many(index: GridIndex, coords: np.ndarray, batch: int) -> tuple[float, list]:
    """Seconds for ``lookup_many`` over ``coords`` in batches of ``batch`` points."""
    answers: list = []
    started = time.perf_counter()
    for start in range(0, len(coords), batch):
        answers.extend(index.lookup_many(coords[start:start + batch]))
    return time.perf_counter() - started, answers


def brute_force(bboxes: np.ndarray, codes: list[str], coords: np.ndarray) -> list[str | None]:
    """The expected grid of each point: lowest code whose rectangle holds it (edges count).

    The generator's grids are axis-aligned rectangles sorted by code, so this needs no
    spatial index at all: an independent check of ``GridIndex``.
    """
    expected: list[str | None] = []
    for lon, lat in coords:
        inside = np.flatnonzero((bboxes[:, 0] <= lon) & (lon <= bboxes[:, 2])
                                & (bboxes[:, 1] <= lat) & (lat <= bboxes[:, 3]))
        expected.append(codes[inside[0]] if len(inside) else None)
    return expected


def edge_points(district: generator.District, n: int, rng: np.random.Generator) -> np.ndarray:
    """Points on grid corners and edge midpoints: each lies in 2–4 grids (slow path)."""
    grids = list(district.iter_grids())
    picks = rng.integers(0, len(grids), n)
    out = np.empty((n, 2))
    for k, i in enumerate(picks):
        lon0, lat0, lon1, lat1 = grids[i].bbox
        out[k] = (lon1, lat1) if k % 2 else (lon1, (lat0 + lat1) / 2)
    return out


def main(args) -> int:
    rounds = 1 if args.quick else 3
    n_points = 50_000 if args.quick else 200_000
    report = _common.Report(f"bench_01 point → grid lookup ({'quick' if args.quick else 'full'})")

    _common.progress("generating the district")
    district = generator.generate_district(SEED, TOWNS, COMMUNITIES_PER_TOWN,
                                           GRIDS_PER_COMMUNITY)
    grids = sorted(district.iter_grids(), key=lambda g: g.code)
    pairs = [(g.code, g.geometry) for g in grids]
    geojson_pairs = [(code, mapping(geom)) for code, geom in pairs]

    rss_before = _common.proc_status_kb(os.getpid(), "VmRSS") or 0
    builds = []
    for n in range(rounds):
        started = time.perf_counter()
        index = GridIndex.build(pairs)
        builds.append(time.perf_counter() - started)
        if n == 0:  # before later rounds leave garbage behind
            rss_after = _common.proc_status_kb(os.getpid(), "VmRSS") or 0
    started = time.perf_counter()
    GridIndex.build(geojson_pairs)
    build_geojson = time.perf_counter() - started

    rng = np.random.default_rng(SEED)
    lon0, lat0, lon1, lat1 = district.bbox
    coords = np.column_stack([rng.uniform(lon0, lon1, n_points),
                              rng.uniform(lat0, lat1, n_points)])
    points = [(float(lon), float(lat)) for lon, lat in coords]

    _common.progress(f"timing {rounds} round(s) of {n_points:,} single lookups")
    single_times = []
    for _ in range(rounds):
        seconds, single_answers = time_single(index, points)
        single_times.append(seconds)
    single_rate = n_points / statistics.median(single_times)

    edges = edge_points(district, n_points // 10, rng)
    edge_list = [(float(lon), float(lat)) for lon, lat in edges]
    edge_seconds, edge_answers = time_single(index, edge_list)

    _common.progress("timing lookup_many")
    many = {}
    for batch in (1_000, 10_000):
        seconds = []
        for _ in range(rounds):
            elapsed, many_answers = time_many(index, coords, batch)
            seconds.append(elapsed)
        many[batch] = (n_points / statistics.median(seconds), many_answers)

    _common.progress("checking answers against a brute-force scan")
    bboxes = np.array([g.bbox for g in grids])
    codes = [g.code for g in grids]
    check = min(CHECKED_POINTS, n_points)
    expected = brute_force(bboxes, codes, coords[:check])
    expected_edges = brute_force(bboxes, codes, edges[:check])
    wrong_single = sum(a != b for a, b in zip(single_answers[:check], expected, strict=True))
    wrong_edges = sum(a != b for a, b in zip(edge_answers[:check], expected_edges, strict=True))
    disagreements = sum(a != b for b in many
                        for a, b in zip(single_answers, many[b][1], strict=True))
    misses = sum(a is None for a in single_answers)

    report.add("grids in the index", len(index), "grids")
    report.add("index build (shapely geometries, median)", statistics.median(builds) * 1000,
               "ms")
    report.add("index build from GeoJSON dicts (as stored)", build_geojson * 1000, "ms")
    report.add("index memory (process RSS growth, approx.)",
               max(0, rss_after - rss_before) / 1024, "MB")
    report.add(f"single lookup(), {n_points:,} random points", single_rate, "lookups/s",
               at_least=TARGET_LOOKUPS_PER_S)
    report.add("  time per single lookup", 1e6 / single_rate, "µs")
    report.add(f"single lookup() on shared edges/corners ({len(edge_list):,})",
               len(edge_list) / edge_seconds, "lookups/s", at_least=TARGET_LOOKUPS_PER_S)
    for batch, (rate, _) in many.items():
        report.add(f"lookup_many(), batches of {batch:,}", rate, "points/s")
    report.add(f"wrong answers (first {check:,} random points vs brute force)", wrong_single,
               "points", at_most=0)
    report.add(f"wrong answers (first {check:,} edge points vs brute force)", wrong_edges,
               "points", at_most=0)
    report.add("lookup() vs lookup_many() disagreements", disagreements, "points", at_most=0)
    report.note(f"points outside every grid: {misses} (the grids tile the bounding box, "
                "so 0 is expected)")
    report.note(f"single-lookup rounds: {', '.join(f'{n_points / s:,.0f}/s' for s in single_times)}"
                f" (median reported); one Python thread, shared 2-core machine")
    report.print()
    # a missed speed target is a figure, not a failure; wrong answers are a failure
    return 1 if wrong_single or wrong_edges or disagreements else 0


if __name__ == "__main__":
    _common.run(main, __doc__.splitlines()[0])

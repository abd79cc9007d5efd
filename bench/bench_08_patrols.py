"""Patrol compliance (P5.4.3) for 20,000 staff × 1 day of GPS tracks, computed in
PostgreSQL: seconds per person/day per ``lead(recorded_at)`` window and point-in-polygon
with the built-in ``polygon @> point`` (PostGIS is not installed).

Why: the town reads the day's patrol compliance of every grid staff member of the
district; it must come from the tracks stored, in one query, not from a Python loop.

Data: 4,000 square grids (40 communities × 100 grids) and 20,000 neighbourhood grid
workers, 5 per grid, each with one patrol of 100 fixes every 5 minutes from 09:00 on a
working day (2.0 M track points, loaded with COPY). Worker ``k`` spends the first
``m_k = k % 101`` fixes in their own grid and the rest in the next grid, so the expected
inside seconds are ``300 × m_k`` (the last fix of a track counts nothing): every person's
answer is checked. ``--quick``: 2,000 staff.

Timed: ``compliance.patrol_day`` over the whole district (3 runs, median), then for one
community (100 grids, 500 staff) — the scope a community grid chief asks for.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import statistics  # noqa: E402
import time  # noqa: E402
from datetime import date, datetime, timedelta  # noqa: E402

import sqlalchemy as sa  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from bench import _common  # noqa: E402
from services.assessment import compliance  # noqa: E402

DAY = date(2026, 11, 26)  # a Thursday, a working day
TOWN = "320505001"
SIDE = 0.002  # degrees
FIXES, STEP = 100, 300
PER_GRID = 5


def grid_code(i: int) -> str:
    return f"{TOWN}{i // 100 + 1:03d}{i % 100 + 1:03d}"


def grid_origin(i: int) -> tuple[float, float]:
    return 120.0 + (i % 100) * SIDE, 31.0 + (i // 100) * SIDE


def load(raw, n_staff: int) -> None:
    """Grids, staff, patrols and track points with COPY (the loading is not timed)."""
    n_grids = n_staff // PER_GRID
    start = datetime.combine(DAY, compliance.WORK_START, compliance.TZ) + timedelta(minutes=30)
    with raw.cursor() as cur:
        with cur.copy("COPY assessment.grid_rings (grid_code, part, ring, area) FROM STDIN") as cp:
            for i in range(n_grids):
                x, y = grid_origin(i)
                cp.write_row((grid_code(i), 0, 0, f"(({x},{y}),({x + SIDE},{y}),"
                              f"({x + SIDE},{y + SIDE}),({x},{y + SIDE}))"))
        with cur.copy("COPY assessment.field_staff (staff_sub, role, scope_code) FROM STDIN") as cp:
            for k in range(n_staff):
                cp.write_row((f"s{k}", "neighbourhood_grid_worker", grid_code(k // PER_GRID)))
        with cur.copy("COPY assessment.patrols (patrol_id, staff_sub, role, scope_code, "
                      "started_at) FROM STDIN") as cp:
            for k in range(n_staff):
                cp.write_row((f"00000000-0000-4000-8000-{k:012d}", f"s{k}",
                              "neighbourhood_grid_worker", grid_code(k // PER_GRID), start))
        _common.progress(f"loading {n_staff * FIXES:,} track points")
        with cur.copy("COPY assessment.track_points (patrol_id, client_point_id, staff_sub, "
                      "recorded_at, lon, lat) FROM STDIN") as cp:
            for k in range(n_staff):
                write_track(cp, k, start)
    raw.commit()
    with raw.cursor() as cur:
        cur.execute("ANALYZE")
    raw.commit()


def write_track(cp, k: int, start: datetime) -> None:
    x, y = grid_origin(k // PER_GRID)
    inside = k % (FIXES + 1)
    for j in range(FIXES):
        # own grid first, then the neighbouring grid to the east (or west at the edge)
        shift = 0.0 if j < inside else (SIDE if (k // PER_GRID) % 100 < 99 else -SIDE)
        lon = x + shift + SIDE * (0.2 + 0.6 * ((j * 7) % 10) / 10)
        lat = y + SIDE * (0.2 + 0.6 * ((j * 3) % 10) / 10)
        cp.write_row((f"00000000-0000-4000-8000-{k:012d}", str(j), f"s{k}",
                      start + timedelta(seconds=STEP * j), lon, lat))


def expected_inside(k: int) -> float:
    return float(STEP * min(k % (FIXES + 1), FIXES - 1))


def timed(engine, scope: str) -> tuple[float, list[dict]]:
    with Session(engine) as db:
        began = time.perf_counter()
        rows = compliance.patrol_day(db, DAY, scope, True)
        return time.perf_counter() - began, rows


def main(args) -> int:
    n_staff = 2_000 if args.quick else 20_000
    report = _common.Report(f"bench_08 patrol compliance ({n_staff:,} staff × 1 day)")
    with _common.fresh_database("patrols", ("assessment",)) as url:
        engine = sa.create_engine(url)
        raw = engine.raw_connection()
        began = time.perf_counter()
        load(raw.driver_connection, n_staff)
        load_seconds = time.perf_counter() - began
        raw.close()
        runs = [timed(engine, "320505") for _ in range(3)]
        seconds = statistics.median(r[0] for r in runs)
        rows = runs[0][1]
        community_seconds, community_rows = timed(engine, TOWN + "001")
        engine.dispose()
    wrong = sum(1 for r in rows
                if abs(r["inside_seconds"] - expected_inside(int(r["staff_sub"][1:]))) > 1e-6)
    met = sum(1 for r in rows if r["inside_rule_met"])
    expected_met = sum(1 for k in range(n_staff) if expected_inside(k) >= 10800)
    report.add("track points loaded with COPY", n_staff * FIXES, "points")
    report.add("  load rate (COPY + ANALYZE)", n_staff * FIXES / load_seconds, "points/s")
    report.add("district compliance query (median of 3)", seconds, "s")
    report.add("  people judged", len(rows), "people")
    report.add("  points judged per second", n_staff * FIXES / seconds, "points/s")
    report.add("one community (≈500 staff) compliance query", community_seconds * 1000, "ms")
    report.add("  people in the community", len(community_rows), "people")
    report.add("people with inside seconds ≠ expected", wrong, "people", at_most=0)
    report.note(f"inside ≥ 1/3 of working time: {met:,} of {len(rows):,} "
                f"(by construction {expected_met:,})")
    report.note("runs: " + ", ".join(f"{r[0]:.2f} s" for r in runs)
                + "; PostgreSQL 15 built-in polygon @> point, no PostGIS; shared 2-core machine")
    report.print()
    return 1 if wrong else 0


if __name__ == "__main__":
    _common.run(main, __doc__.splitlines()[0])

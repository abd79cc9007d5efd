"""The duplicate search of located reports, for one report or a batch, in one statement.

Why (P5.3.1, collect and archive by class): one matter reported by several people or
several times is one case to hand on, and its result goes back to each of them (P5.3.3).
A report's duplicate is *suggested*, never decided here (DOMAIN-REFERENCES §4; a grid
worker confirms or undoes it): the open, non-duplicate case of the same subcategory
within ``duplicate_distance_m`` and ``duplicate_window_hours`` of it, nearest first (ties:
the earlier reported, then the smaller id), chosen among at most
:data:`MAX_DUPLICATE_CANDIDATES` candidates, the earliest reported.

Why three statements for one rule (issue 16): which index finds the candidates fastest
depends on where the report is. Across a district, the open cases near a report are few
and the place index (``ix_cases_open_place``, GiST on ``point(lon, lat)``) finds them at
once, where reading the subcategory's window in time order (``ix_cases_duplicate_search``)
reads every open case of the last days (20,000 open cases spread over 5 km × 5 km: 0.34 s
per batch of 50 in time order, 5 ms by place). At one spot with hundreds of open cases (a
corridor reported again and again) it is the other way round: time order stops at the
cap (13 ms for 50 reports whatever the backlog), by place reads all of them. So each
report is searched by place, with its box's open cases counted up to :data:`DENSE_BOX`;
a report whose box holds more is searched again in time order (16–22 ms in all). The
planner cannot make that choice itself: inside the per-report LATERAL it guesses a window
of a few rows. The third statement searches among given case numbers (what other
replicas filed meanwhile, batch_filing). All three give the same result; tests hold them
to it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.orm import Session

from services.events.dependencies import Settings
from services.events.domain import geo
from services.events.models import cases

if TYPE_CHECKING:
    from services.events.cases import Report

MAX_DUPLICATE_CANDIDATES = 200
DENSE_BOX = MAX_DUPLICATE_CANDIDATES  # more open cases in a box: time order is faster


@dataclass(frozen=True)
class Candidate:
    """A case a new report may duplicate: what the suggestion is chosen on."""

    distance: float
    reported_at: datetime
    case_id: str
    case_number: str


@dataclass(frozen=True)
class Searched:
    """A report's search: the best candidate within the distance (if any) and the extent
    of the set it was chosen from (``count`` cases in the box and the window, reported
    from ``first`` to ``last``; the earliest :data:`MAX_DUPLICATE_CANDIDATES` at most),
    which says whether cases found later can be merged in (:func:`merged`)."""

    best: Candidate | None
    count: int
    first: datetime | None
    last: datetime | None


def order(candidate: Candidate) -> tuple[float, datetime, str]:
    return candidate.distance, candidate.reported_at, candidate.case_id


def search(session: Session, settings: Settings, reports: Sequence[Report],
           among: Sequence[str] | None = None) -> dict[int, Searched]:
    """Per located report (by index), its search among the stored cases (with ``among``:
    among the cases of those numbers). A report with no candidate at all is absent."""
    located = [i for i, r in enumerate(reports) if r.lon is not None and r.lat is not None]
    if not located:
        return {}
    if among is not None:
        found = _run(session, settings, reports, located, _AMONG, among=list(among))
    else:
        found = _run(session, settings, reports, located, _BY_PLACE, dense=DENSE_BOX)
        dense = [i for i, one in found.items() if one is _DENSE]
        if dense:
            found.update(_run(session, settings, reports, dense, _BY_TIME))
    return {i: one for i, one in found.items() if one.count > 0}


def merged(before: Searched | None, late: Searched) -> Searched | None:
    """One search's result over the cases of both searches, or None where the cap (the
    earliest reported :data:`MAX_DUPLICATE_CANDIDATES`) makes that unknowable here."""
    cap = MAX_DUPLICATE_CANDIDATES
    if late.count == 0:
        return before
    if before is None or before.count == 0:
        return late if late.count < cap else None
    if before.count + late.count <= cap:  # under the cap, both sets count whole
        best = min((c for c in (before.best, late.best) if c is not None), key=order,
                   default=None)
        return Searched(best, before.count + late.count, min(before.first, late.first),
                        max(before.last, late.last))
    if before.count >= cap and late.first > before.last:  # all reported after the cap
        return before
    return None


_DENSE = Searched(None, -1, None, None)  # more than DENSE_BOX open cases in the box


def _run(session: Session, settings: Settings, reports: Sequence[Report],
         indexes: list[int], statement: sa.TextClause, **extra) -> dict[int, Searched]:
    window = timedelta(hours=settings.duplicate_window_hours)
    chosen = [reports[i] for i in indexes]
    boxes = [geo.box_around(r.lon, r.lat, settings.duplicate_distance_m) for r in chosen]
    params = {
        "i": indexes, "sub": [r.subcategory for r in chosen],
        "lon": [r.lon for r in chosen], "lat": [r.lat for r in chosen],
        "min_lon": [b.min_lon for b in boxes], "max_lon": [b.max_lon for b in boxes],
        "min_lat": [b.min_lat for b in boxes], "max_lat": [b.max_lat for b in boxes],
        "t0": [r.reported_at - window for r in chosen],
        "t1": [r.reported_at + window for r in chosen],
        "radius": geo.EARTH_RADIUS_M, "metres": settings.duplicate_distance_m,
        "cap": MAX_DUPLICATE_CANDIDATES, **extra,
    }
    found = {}
    for row in session.execute(statement, params):
        if extra.get("dense") is not None and row.boxed > extra["dense"]:
            found[row.i] = _DENSE
        elif row.case_id is None:
            found[row.i] = Searched(None, 0, None, None)
        else:
            best = (Candidate(row.distance, row.reported_at, str(row.case_id), row.case_number)
                    if row.distance <= settings.duplicate_distance_m else None)
            found[row.i] = Searched(best, row.n, row.first, row.last)
    return found


# The distance as geo.haversine_m computes it.
_HAVERSINE = """2 * :radius * asin(least(1.0, sqrt(
    power(sin((radians(c.lat) - radians(r.lat)) / 2), 2)
    + cos(radians(r.lat)) * cos(radians(c.lat)) * power(sin(radians(c.lon - r.lon) / 2), 2))))"""
_REPORTS = """unnest(CAST(:i AS int[]), CAST(:sub AS text[]), CAST(:lon AS float8[]),
            CAST(:lat AS float8[]), CAST(:min_lon AS float8[]), CAST(:max_lon AS float8[]),
            CAST(:min_lat AS float8[]), CAST(:max_lat AS float8[]),
            CAST(:t0 AS timestamptz[]), CAST(:t1 AS timestamptz[]))
     AS r(i, sub, lon, lat, min_lon, max_lon, min_lat, max_lat, t0, t1)"""
_IN_BOX = "point(lon, lat) <@ box(point(r.min_lon, r.min_lat), point(r.max_lon, r.max_lat))"
_COLUMNS = "case_id, case_number, reported_at, lon, lat, subcategory, duplicate_status"


def _best_of(pool: str, condition: str = "") -> str:
    """The best candidate of ``pool`` (a row source named ``pool``) and the capped set's
    extent; a distance beyond the limit means none within it."""
    return f"""(
    SELECT near.* FROM (
        SELECT c.case_id, c.case_number, c.reported_at, {_HAVERSINE} AS distance,
               count(*) OVER () AS n, min(c.reported_at) OVER () AS first,
               max(c.reported_at) OVER () AS last
        FROM (SELECT pool.case_id, pool.case_number, pool.reported_at, pool.lon, pool.lat
              FROM {pool}
              WHERE {condition}pool.subcategory = r.sub
                AND (pool.duplicate_status IS NULL OR pool.duplicate_status = 'undone')
                AND pool.reported_at BETWEEN r.t0 AND r.t1
                AND pool.lon BETWEEN r.min_lon AND r.max_lon
                AND pool.lat BETWEEN r.min_lat AND r.max_lat
              ORDER BY pool.reported_at LIMIT :cap) c
    ) near
    ORDER BY near.distance > :metres, near.distance, near.reported_at, near.case_id
    LIMIT 1)"""


_PLACE_POOL = f"""(SELECT {_COLUMNS} FROM {cases.fullname}
                     WHERE status = 'open' AND {_IN_BOX} AND dense.boxed <= :dense
                     LIMIT :dense + 1) pool"""

# By place: the box's open cases from the place index alone (LIMIT fences the window off
# it), counted up to DENSE_BOX + 1; a dense box is not searched here (the gate) but again
# by time.
_BY_PLACE = sa.text(f"""
SELECT r.i, dense.boxed, best.*
FROM {_REPORTS}
CROSS JOIN LATERAL (
    SELECT count(*) AS boxed FROM (
        SELECT 1 FROM {cases.fullname} WHERE status = 'open' AND {_IN_BOX}
        LIMIT :dense + 1) b) dense
LEFT JOIN LATERAL {_best_of(_PLACE_POOL)} best ON true
""")
# By time: the subcategory's open cases of the window in time order (its partial index,
# ix_cases_duplicate_search), read until the cap is full.
_BY_TIME = sa.text(f"""
SELECT r.i, best.*
FROM {_REPORTS}
LEFT JOIN LATERAL {_best_of(f"{cases.fullname} AS pool", "pool.status = 'open' AND ")} best
ON true
""")
# Among given numbers: those cases read once (their unique index; inside the LATERAL they
# were read again for every report), then the same rule.
_AMONG = sa.text(f"""
WITH filed AS MATERIALIZED (
    SELECT {_COLUMNS} FROM {cases.fullname}
    WHERE case_number = ANY(CAST(:among AS text[])) AND status = 'open')
SELECT r.i, best.*
FROM {_REPORTS}
LEFT JOIN LATERAL {_best_of("filed AS pool")} best ON true
""")

"""Filing a batch of reports in a fixed number of statements, whatever its size (issue 16).

Why: filed one by one (:func:`services.events.cases.file_case`), a report costs five
statements (the counter locked, its external reference looked up, the duplicate search,
the counter updated, the row inserted and read back); on the hot intake path those round
trips and their SQLAlchemy compilation were most of events' CPU per case. A batch of 50
now takes six: the photos checked, the counter locked, every external reference looked up,
every report's duplicate search, the counter updated, the rows inserted with ``RETURNING``.

The outcome is that of ``file_case`` applied to the reports one after the other, in the
batch's order (a test holds the two to it):

- gapless numbers from the day's counter row, locked once for the batch (P5.3.1; the lock
  also keeps the duplicate search and the reference check complete across replicas);
- one case per (source system, external reference): a reference filed before, or earlier
  in the same batch, returns that case, not created;
- the duplicate suggestion: the nearest open, non-duplicate case of the same subcategory
  within the distance and the time window, the cases filed earlier in the batch included,
  as the sequential filing would have seen them. The cap of
  :data:`~services.events.cases.MAX_DUPLICATE_CANDIDATES` candidates (the earliest reported)
  applies to the stored cases;
- each case's events in the outbox in the batch's order (the major-event alert before its
  case, P5.2.7).

A report without a location (a building's grid) takes the one-by-one duplicate search: the
hotline and department intake always carry a location.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from gridgov_common.platform import bulk
from services.events import cases as filing
from services.events.dependencies import Settings
from services.events.domain import catalogue, geo
from services.events.domain.numbers import format_case_number, local_day, now_utc
from services.events.models import case_number_counters, cases

Item = tuple[filing.Report, filing.Placement, catalogue.Subcategory]


class BatchConflict(RuntimeError):
    """A row the batch meant to insert was there already: a reference filed at the same
    instant on both sides of midnight (two counter rows, two locks). The batch is rolled
    back and replayed one message at a time (gridgov_common.platform.batching), where
    ``file_case`` settles it."""


@dataclass(frozen=True)
class Candidate:
    """A case a new report may duplicate: what the suggestion is chosen on."""

    distance: float
    reported_at: datetime
    case_id: str
    case_number: str


def file_many(session: Session, settings: Settings,
              batch: Sequence[Item]) -> list[tuple[dict[str, Any], bool]]:
    """(case, created) per report, as ``file_case`` one after the other would return."""
    if len(batch) <= 1:  # alone (a failed batch replayed message by message): file_case
        return [filing.file_case(session, settings, *item) for item in batch]
    filing.check_photos(session, [h for report, _, _ in batch for h in report.photos])
    day = local_day(now_utc())
    last = filing.lock_counter(session, day)
    known = _by_external_refs(session, [report for report, _, _ in batch])
    stored = _stored_candidates(session, settings, [report for report, _, _ in batch])
    results: list[Any] = [None] * len(batch)
    rows: list[tuple[int, dict[str, Any]]] = []
    earlier: list[tuple[filing.Report, dict[str, Any]]] = []  # filed before, this batch
    for index, (report, placement, _sub) in enumerate(batch):
        ref = _ref(report)
        if ref is not None and ref in known:
            results[index] = known[ref]  # a case, or the index of one filed in this batch
            continue
        best = _best(settings, report, stored.get(index), earlier, session)
        last += 1
        row = filing.case_row(report, placement,
                              format_case_number(settings.case_number_prefix, day, last),
                              best.case_id if best else None)
        row["duplicate_of_number"] = best.case_number if best else None
        rows.append((index, row))
        earlier.append((report, row))
        if ref is not None:
            known[ref] = index
    if rows:
        session.execute(sa.update(case_number_counters)
                        .where(case_number_counters.c.day == day)
                        .values(last_value=last))
        filed = _insert(session, [row for _, row in rows])
        for index, row in rows:
            results[index] = (filed[row["case_id"]], True)
    for index, found in enumerate(results):
        if isinstance(found, int):  # the same reference earlier in this batch
            results[index] = (results[found][0], False)
        elif isinstance(found, dict):
            results[index] = (found, False)
    for (report, _placement, sub), (case, created) in zip(batch, results, strict=True):
        if created:
            filing.announce(session, case, sub, report.correlation_id)
    return results


def _ref(report: filing.Report) -> tuple[str, str] | None:
    if report.external_ref is None:
        return None
    return report.source_system, report.external_ref


def _by_external_refs(session: Session,
                      reports: Sequence[filing.Report]) -> dict[tuple[str, str], Any]:
    """The stored cases of the batch's (source system, external reference) pairs."""
    refs = sorted({ref for ref in map(_ref, reports) if ref is not None})
    if not refs:
        return {}
    rows = session.execute(filing.case_query().where(
        sa.tuple_(cases.c.source_system, cases.c.external_ref).in_(refs))).all()
    found = (filing.view(row) for row in rows)
    return {(case["source_system"], case["external_ref"]): case for case in found}


def _stored_candidates(session: Session, settings: Settings,
                       reports: Sequence[filing.Report]) -> dict[int, Candidate]:
    """Per located report (by index), its best duplicate among the stored cases, all in
    one statement: a LATERAL join runs ``find_duplicate``'s search once per report."""
    located = [(i, r) for i, r in enumerate(reports) if r.lon is not None and r.lat is not None]
    if not located:
        return {}
    window = timedelta(hours=settings.duplicate_window_hours)
    boxes = [geo.box_around(r.lon, r.lat, settings.duplicate_distance_m) for _, r in located]
    params = {
        "i": [i for i, _ in located], "sub": [r.subcategory for _, r in located],
        "lon": [r.lon for _, r in located], "lat": [r.lat for _, r in located],
        "min_lon": [b.min_lon for b in boxes], "max_lon": [b.max_lon for b in boxes],
        "min_lat": [b.min_lat for b in boxes], "max_lat": [b.max_lat for b in boxes],
        "t0": [r.reported_at - window for _, r in located],
        "t1": [r.reported_at + window for _, r in located],
        "radius": geo.EARTH_RADIUS_M, "metres": settings.duplicate_distance_m,
        "cap": filing.MAX_DUPLICATE_CANDIDATES,
    }
    found = session.execute(_CANDIDATES, params).all()
    return {row.i: Candidate(row.distance, row.reported_at, str(row.case_id), row.case_number)
            for row in found}


# find_duplicate's search (services/events/cases.py) per report; the distance as
# geo.haversine_m computes it
_HAVERSINE = """2 * :radius * asin(least(1.0, sqrt(
    power(sin((radians(c.lat) - radians(r.lat)) / 2), 2)
    + cos(radians(r.lat)) * cos(radians(c.lat)) * power(sin(radians(c.lon - r.lon) / 2), 2))))"""
_CANDIDATES = sa.text(f"""
SELECT r.i, best.case_id, best.case_number, best.reported_at, best.distance
FROM unnest(CAST(:i AS int[]), CAST(:sub AS text[]), CAST(:lon AS float8[]),
            CAST(:lat AS float8[]), CAST(:min_lon AS float8[]), CAST(:max_lon AS float8[]),
            CAST(:min_lat AS float8[]), CAST(:max_lat AS float8[]),
            CAST(:t0 AS timestamptz[]), CAST(:t1 AS timestamptz[]))
     AS r(i, sub, lon, lat, min_lon, max_lon, min_lat, max_lat, t0, t1)
CROSS JOIN LATERAL (
    SELECT near.* FROM (
        SELECT c.case_id, c.case_number, c.reported_at, {_HAVERSINE} AS distance
        FROM (SELECT case_id, case_number, reported_at, lon, lat FROM {cases.fullname}
              WHERE subcategory = r.sub AND status = 'open'
                AND (duplicate_status IS NULL OR duplicate_status = 'undone')
                AND reported_at BETWEEN r.t0 AND r.t1
                AND lon BETWEEN r.min_lon AND r.max_lon
                AND lat BETWEEN r.min_lat AND r.max_lat
              ORDER BY reported_at LIMIT :cap) c
    ) near
    WHERE near.distance <= :metres
    ORDER BY near.distance, near.reported_at, near.case_id
    LIMIT 1) best
""")


def _best(settings: Settings, report: filing.Report, stored: Candidate | None,
          earlier: list[tuple[filing.Report, dict[str, Any]]],
          session: Session) -> Candidate | None:
    """The suggestion for ``report``: the nearest of the stored best and the cases filed
    earlier in this batch (ties: the earlier reported, then the smaller id)."""
    if report.lon is None or report.lat is None:
        case_id = filing.find_duplicate(session, settings, report)  # by building, one by one
        if case_id is not None:
            found = session.execute(sa.select(cases.c.case_number, cases.c.reported_at)
                                    .where(cases.c.case_id == case_id)).one()
            stored = Candidate(0.0, found.reported_at, case_id, found.case_number)
    return _nearest(settings, report, stored, earlier)


def _nearest(settings: Settings, report: filing.Report, stored: Candidate | None,
             earlier: list[tuple[filing.Report, dict[str, Any]]]) -> Candidate | None:
    best = stored
    window = timedelta(hours=settings.duplicate_window_hours)
    for other, row in earlier:
        if (row["subcategory"] != report.subcategory or row["status"] != "open"
                or row["duplicate_status"] is not None
                or abs(row["reported_at"] - report.reported_at) > window):
            continue
        if report.lon is not None and report.lat is not None:
            if other.lon is None or other.lat is None:
                continue
            distance = geo.haversine_m(report.lon, report.lat, other.lon, other.lat)
            if distance > settings.duplicate_distance_m:
                continue
        elif report.building_id is None or report.building_id != other.building_id:
            continue
        else:
            distance = 0.0
        candidate = Candidate(distance, row["reported_at"], row["case_id"], row["case_number"])
        if best is None or _order(candidate) < _order(best):
            best = candidate
    return best


def _order(candidate: Candidate) -> tuple[float, datetime, str]:
    return candidate.distance, candidate.reported_at, candidate.case_id


def _insert(session: Session, rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The rows in one INSERT … RETURNING; each as ``view`` shows a case, by case id."""
    numbers = {row["case_id"]: row.pop("duplicate_of_number") for row in rows}
    inserted = []
    for group in bulk.by_columns(rows):
        inserted += bulk.insert_rows(
            session, cases, group, returning=[column.name for column in cases.c],
            on_conflict="(source_system, external_ref) WHERE external_ref IS NOT NULL "
                        "DO NOTHING").all()
    if len(inserted) != len(rows):
        raise BatchConflict(f"{len(rows) - len(inserted)} of {len(rows)} cases were filed "
                            "meanwhile under another counter row")
    filed = {}
    for row in inserted:
        case = filing.view(row)
        case["duplicate_of_number"] = numbers[case["case_id"]]
        filed[case["case_id"]] = case
    return filed

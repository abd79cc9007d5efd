"""Filing a batch of reports in a fixed number of statements, whatever its size (issue 16).

Why: filed one by one (:func:`services.events.cases.file_case`), a report costs five
statements (the counter locked, its external reference looked up, the duplicate search,
the counter updated, the row inserted and read back); on the hot intake path those round
trips and their SQLAlchemy compilation were most of events' CPU per case. A batch of 50
now takes six: the photos checked, the counter read, every external reference looked up,
every report's duplicate search (:mod:`services.events.duplicate_search`; a second one
for reports in a crowded spot), the counter locked and moved on, the rows inserted with
``RETURNING``; two more when other replicas filed meanwhile.

The outcome is that of ``file_case`` applied to the reports one after the other, in the
batch's order (a test holds the two to it):

- gapless numbers from the day's counter row, locked once for the batch (P5.3.1) and held
  only for the writes: the reference check and the duplicate search run before the lock,
  against what was stored when the counter read ``seen``; once the lock is held, the cases
  other replicas numbered meanwhile (``seen`` + 1 up to the locked value) are searched too
  (:func:`_meanwhile`), so both stay as complete across replicas as under the lock. Why:
  held across the searches, the lock made two events replicas file at half the rate of
  one (bench_14: the lock waits, not the work, were the time);
- one case per (source system, external reference): a reference filed before, or earlier
  in the same batch, returns that case, not created;
- the duplicate suggestion: the nearest open, non-duplicate case of the same subcategory
  within the distance and the time window, the cases filed earlier in the batch included,
  as the sequential filing would have seen them. The cap of
  :data:`~services.events.duplicate_search.MAX_DUPLICATE_CANDIDATES` candidates (the
  earliest reported) applies to the stored cases;
- each case's events in the outbox in the batch's order (the major-event alert before its
  case, P5.2.7).

A report without a location (a building's grid) takes the one-by-one duplicate search: the
hotline and department intake always carry a location.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.orm import Session

from gridgov_common.platform import bulk
from services.events import cases as filing
from services.events import duplicate_search
from services.events.dependencies import Settings
from services.events.domain import catalogue, geo
from services.events.domain.numbers import format_case_number, local_day, now_utc
from services.events.duplicate_search import Candidate, Searched, order
from services.events.models import case_number_counters, cases

Item = tuple[filing.Report, filing.Placement, catalogue.Subcategory]


class BatchConflict(RuntimeError):
    """A row the batch meant to insert was there already: a reference filed at the same
    instant on both sides of midnight (two counter rows, two locks). The batch is rolled
    back and replayed one message at a time (gridgov_common.platform.batching), where a
    batch of one settles it (:func:`_lost_race`)."""


def file_many(session: Session, settings: Settings,
              batch: Sequence[Item]) -> list[tuple[dict[str, Any], bool]]:
    """(case, created) per report, as ``file_case`` one after the other would return.

    A batch of one takes this way too (issue 16: at a few cases a second most batches are
    one report, and ``file_case``'s statements cost it a third more CPU per case); where
    its one row was filed meanwhile under another counter row, it settles that as
    ``file_case`` does (:func:`_lost_race`) rather than failing."""
    if not batch:
        return []
    reports = [report for report, _, _ in batch]
    filing.check_photos(session, [h for report in reports for h in report.photos])
    day = local_day(now_utc())
    seen = _filed_so_far(session, day)  # before the searches: what they surely see
    known = _by_external_refs(session, reports)
    searched = duplicate_search.search(session, settings, reports)
    reserved = _new_cases(reports, known)
    last = filing.lock_counter(session, day, advance=reserved)  # the lock, held until the commit
    if last > seen:  # numbered by another replica since ``seen``: not in the searches
        numbers = [format_case_number(settings.case_number_prefix, day, n)
                   for n in range(seen + 1, last + 1)]
        known.update(_by_external_refs(session, reports, numbers))
        searched = _meanwhile(session, settings, reports, searched, numbers)
    results: list[Any] = [None] * len(batch)
    rows: list[tuple[int, dict[str, Any]]] = []
    earlier: list[tuple[filing.Report, dict[str, Any]]] = []  # filed before, this batch
    for index, report in enumerate(reports):
        ref = _ref(report)
        if ref is not None and ref in known:
            results[index] = known[ref]  # a case, or the index of one filed in this batch
            continue
        found = searched.get(index)
        best = _best(settings, report, found.best if found else None, earlier, session)
        last += 1
        row = filing.case_row(report, batch[index][1],
                              format_case_number(settings.case_number_prefix, day, last),
                              best.case_id if best else None)
        row["duplicate_of_number"] = best.case_number if best else None
        rows.append((index, row))
        earlier.append((report, row))
        if ref is not None:
            known[ref] = index
    if len(rows) != reserved:  # a reference filed meanwhile: give its number back
        session.execute(sa.update(case_number_counters)
                        .where(case_number_counters.c.day == day).values(last_value=last))
    if rows:
        try:
            filed = _insert(session, [row for _, row in rows])
        except BatchConflict:
            if len(batch) > 1:
                raise  # replayed message by message, each settled below
            return [_lost_race(session, day, last, reports[0])]
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


def _lost_race(session: Session, day, last: int, report: filing.Report
               ) -> tuple[dict[str, Any], bool]:
    """The one report's reference was filed meanwhile under another counter row (the same
    instant on both sides of midnight): the other filing won. Its number goes back (P5.3.1,
    no gaps; we hold the lock) and the stored case is the answer, as in ``file_case``."""
    session.execute(sa.update(case_number_counters)
                    .where(case_number_counters.c.day == day).values(last_value=last - 1))
    return filing._by_external_ref(session, report.source_system, report.external_ref), False


def _filed_so_far(session: Session, day) -> int:
    """The day's counter as committed now, without locking it (0 before the first case)."""
    value = session.execute(sa.select(case_number_counters.c.last_value)
                            .where(case_number_counters.c.day == day)).scalar()
    return value or 0


def _new_cases(reports: Sequence[filing.Report], known: dict) -> int:
    """How many of the reports become cases, by the references known so far."""
    refs: set[tuple[str, str]] = set()
    count = 0
    for ref in map(_ref, reports):
        if ref is None:
            count += 1
        elif ref not in known and ref not in refs:
            refs.add(ref)
            count += 1
    return count


def _ref(report: filing.Report) -> tuple[str, str] | None:
    if report.external_ref is None:
        return None
    return report.source_system, report.external_ref


# The batch's (source system, reference) pairs as two arrays: one statement whatever the
# batch's size, built once and prepared once by psycopg (an expanding IN of tuples was
# built, rendered and sent anew for every batch: 8 % of events' CPU in bench_05).
_PAIRS = sa.text("""SELECT s, r FROM unnest(CAST(:ref_systems AS text[]),
                                          CAST(:ref_values AS text[])) AS p(s, r)""")
_BY_REFS = filing.case_query().where(
    cases.c.external_ref.isnot(None),  # the reference index is partial: say it here
    sa.tuple_(cases.c.source_system, cases.c.external_ref).in_(
        _PAIRS.columns(sa.column("s", sa.Text), sa.column("r", sa.Text))))
_BY_REFS_AMONG = _BY_REFS.where(cases.c.case_number == sa.any_(
    sa.bindparam("among", type_=pg.ARRAY(sa.String))))


def _by_external_refs(session: Session, reports: Sequence[filing.Report],
                      among: Sequence[str] | None = None) -> dict[tuple[str, str], Any]:
    """The stored cases of the batch's (source system, external reference) pairs; with
    ``among``, only the cases of those numbers."""
    refs = sorted({ref for ref in map(_ref, reports) if ref is not None})
    if not refs:
        return {}
    values: dict[str, Any] = {"ref_systems": [s for s, _ in refs],
                              "ref_values": [r for _, r in refs]}
    if among is not None:
        values["among"] = list(among)
    rows = session.execute(_BY_REFS if among is None else _BY_REFS_AMONG, values).all()
    found = (filing.view(row) for row in rows)
    return {(case["source_system"], case["external_ref"]): case for case in found}


def _meanwhile(session: Session, settings: Settings, reports: Sequence[filing.Report],
               searched: dict[int, Searched], numbers: Sequence[str]) -> dict[int, Searched]:
    """``searched`` with the cases of ``numbers`` (filed by other replicas after it ran)
    taken into account, as one search over both would have found."""
    fresh = duplicate_search.search(session, settings, reports, among=numbers)
    result = dict(searched)
    again = []
    for index, late in fresh.items():
        merged = duplicate_search.merged(searched.get(index), late)
        if merged is None:
            again.append(index)
        else:
            result[index] = merged
    if again:  # the cap decides which cases count: the whole search again, for these
        redone = duplicate_search.search(session, settings, [reports[i] for i in again])
        for position, index in enumerate(again):
            result.pop(index, None)
            if position in redone:
                result[index] = redone[position]
    return result


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
        if best is None or order(candidate) < order(best):
            best = candidate
    return best


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

"""Case intake (P5.3.1 "collect and archive by class"): validate, place, number, link
duplicates, file, and announce — the same path for the app, the hotline and Open311.

Filing is one transaction: the case row, its ``events.case.reported`` event and, for a
major event (P5.2.7), its ``alert.major_event`` alert are written together (transactional
outbox), so a case is never announced without being stored, nor stored without being
announced.  The alert is written first: outbox rows are published in id order, so a
subscriber to both exchanges sees the alert before the case (P5.2.7 "reported at once").

Concurrency: the day's counter row is locked before the duplicate search and the insert.
Every filing of the day queues on that one row for a few milliseconds, which buys three
things across any number of replicas: unique, gapless case numbers; a duplicate search that
sees every earlier case; and at most one case per (source system, external reference).
The registry is asked *before* the lock, so a slow RPC never holds it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.orm import Session

from gridgov_common.contract import ALERTS_EXCHANGE, alert_key, make_envelope
from gridgov_common.kernel.area import town_of
from gridgov_common.kernel.auth import Principal
from gridgov_common.kernel.errors import Conflict, Forbidden, NotFound, Unprocessable
from gridgov_common.kernel.roles import GRID_ROLES, ScopeLevel
from gridgov_common.platform.db import fixed
from gridgov_common.platform.outbox import add_event, add_to_outbox
from services.events import catalogue_store, duplicate_search, visibility
from services.events.dependencies import RegistryClient, Settings
from services.events.domain import catalogue, status_notes
from services.events.domain.cap import alert_headline
from services.events.domain.catalogue_version import Catalogue
from services.events.domain.numbers import format_case_number, local_day, now_utc
from services.events.models import case_number_counters, cases, photos

PRODUCER = "events"
CASE_REPORTED = "events.case.reported"
DUPLICATE_DECIDED = "events.case.duplicate_decided"
STAFF_REPORTERS = frozenset(str(role) for role in GRID_ROLES)  # P5.0 grid staff
MAJOR_EVENT_ALERT = "alert.major_event"
MAX_CLOCK_SKEW = timedelta(minutes=5)


@dataclass
class Report:
    """A case as a reporter describes it, whatever the channel."""

    source: str  # app | hotline | open311 | department
    source_system: str  # "app", "open311", or the sending system's code
    reporter_sub: str
    reporter_role: str
    work_category: str
    subcategory: str
    description: str
    info_class: str | None = None
    severity: str | None = None
    lon: float | None = None
    lat: float | None = None
    building_id: int | None = None
    grid_code: str | None = None  # only with building_id and no location
    photos: list[str] = field(default_factory=list)
    attributes: dict[str, Any] = field(default_factory=dict)
    resident_id: int | None = None
    handled_on_spot: bool = False
    private: bool = False
    reported_at: datetime | None = None
    external_ref: str | None = None
    correlation_id: str | None = None  # the intake message that caused it
    media_url: str | None = None  # Open311: the reporter's own picture link, never fetched
    address: str | None = None  # Open311: the address the reporter gave


@dataclass(frozen=True)
class Placement:
    grid_code: str
    town_code: str


# --- validation -------------------------------------------------------------------------

def _invalid(field_name: str, message: str, code: str = "validation_failed") -> Unprocessable:
    return Unprocessable(message, fields={field_name: [message]}, code=code)


def complete(report: Report, current: Catalogue) -> catalogue.Subcategory:
    """Check the report against the current catalogue version and fill in the
    subcategory's defaults."""
    try:
        sub = current.subcategory(report.subcategory, report.work_category)
        report.attributes = catalogue.check_attributes(sub, report.attributes or {})
    except catalogue.CatalogueError as exc:
        raise _invalid(exc.field, str(exc)) from None
    report.info_class = report.info_class or sub.info_class.value
    report.severity = report.severity or sub.severity.value
    now = now_utc()
    if report.reported_at is None:
        report.reported_at = now
    elif report.reported_at > now + MAX_CLOCK_SKEW:
        raise _invalid("reported_at", "reported_at is in the future")
    if report.handled_on_spot and catalogue.is_major(report.work_category, report.severity):
        # P5.2.7 vs P5.1.5: a major event is reported at once, never closed in the grid
        raise _invalid("handled_on_spot", "a major event or critical case cannot be "
                                          "handled on the spot (P5.2.7)")
    if len(set(report.photos)) != len(report.photos):
        raise _invalid("photos", "a photo is listed twice")
    return sub


def place(registry: RegistryClient, report: Report) -> Placement:
    """The grid of the case: from the location (registry point lookup), else the given
    grid_code of a building (checked to exist and be valid today)."""
    if report.lon is not None and report.lat is not None:
        found = registry.lookup_point(report.lon, report.lat)
        if found is None:
            raise _invalid("location", "the location lies outside every grid",
                           code="outside_grids")
        return Placement(found["grid_code"], found["town_code"])
    grid = registry.grid(report.grid_code) if report.grid_code else None
    if grid is None:
        raise _invalid("grid_code", f"no grid {report.grid_code}", code="unknown_grid")
    valid_to = grid.get("valid_to")
    if valid_to and str(valid_to) < local_day(now_utc()).isoformat():
        raise _invalid("grid_code", f"grid {report.grid_code} was retired on {valid_to}",
                       code="retired_grid")
    # the registry offers no building → grid lookup yet: building_id is stored as given
    return Placement(report.grid_code, town_of(report.grid_code))


def check_resident(registry: RegistryClient, principal: Principal, report: Report) -> None:
    """The resident a case is about must exist and live in the reporter's scope (P5.4.4):
    one answer, ``unknown_resident``, for both, so a reporter cannot probe other scopes'
    residents.  A registry that does not answer in time is a 503 ``registry_unavailable``."""
    if report.resident_id is None:
        return
    grid = registry.resident_grids([report.resident_id]).get(report.resident_id)
    if not principal.covers(grid):
        raise _invalid("resident_id", f"no resident {report.resident_id} in your scope "
                                      f"{principal.scope}", code="unknown_resident")


def place_many(registry: RegistryClient, reports: list[Report]) -> list[Placement]:
    """:func:`place` for a batch: the located reports in one registry call."""
    located = [i for i, r in enumerate(reports) if r.lon is not None and r.lat is not None]
    points = [(reports[i].lon, reports[i].lat) for i in located]
    grid_codes = registry.lookup_points(points) if points else []
    found = dict(zip(located, grid_codes, strict=True))
    placements = []
    for index, report in enumerate(reports):
        if index not in found:
            placements.append(place(registry, report))
            continue
        if found[index] is None:
            raise _invalid("location", "the location lies outside every grid",
                           code="outside_grids")
        placements.append(Placement(found[index], town_of(found[index])))  # P4.1 nesting
    return placements


def check_photos(session: Session, hashes: list[str]) -> None:
    if not hashes:
        return
    found = set(session.execute(  # FOR SHARE: the purge timer skips them until we commit
        sa.select(photos.c.sha256).where(photos.c.sha256.in_(hashes))
        .with_for_update(read=True)).scalars())
    missing = [h for h in hashes if h not in found]
    if missing:
        raise Unprocessable("photos must be uploaded first with POST /photos",
                            fields={"photos": [f"unknown photo {h}" for h in missing]},
                            code="unknown_photo")


# --- filing -----------------------------------------------------------------------------

def file_case(session: Session, settings: Settings, report: Report, placement: Placement,
              sub: catalogue.Subcategory) -> tuple[dict[str, Any], bool]:
    """File the case and put its event(s) in the outbox; (case, True).

    A report whose (source_system, external_ref) was filed before returns (that case, False)
    and changes nothing.
    """
    check_photos(session, report.photos)
    day = local_day(now_utc())
    last = lock_counter(session, day)
    if report.external_ref is not None:
        existing = _by_external_ref(session, report.source_system, report.external_ref)
        if existing is not None:
            return existing, False
    duplicate_of = find_duplicate(session, settings, report)
    case_number = format_case_number(settings.case_number_prefix, day, last + 1)
    session.execute(sa.update(case_number_counters)
                    .where(case_number_counters.c.day == day).values(last_value=last + 1))
    row = case_row(report, placement, case_number, duplicate_of)
    inserted = session.execute(
        pg.insert(cases).values(**row)
        .on_conflict_do_nothing(index_elements=["source_system", "external_ref"],
                                index_where=cases.c.external_ref.isnot(None))
        .returning(cases.c.case_id)).first()
    if inserted is None:
        # the same reference filed at the same instant on both sides of midnight (two counter
        # rows, two locks): the other filing won; give the number back (we hold the lock)
        session.execute(sa.update(case_number_counters)
                        .where(case_number_counters.c.day == day).values(last_value=last))
        return _by_external_ref(session, report.source_system, report.external_ref), False
    case = get_by_id(session, row["case_id"])
    announce(session, case, sub, report.correlation_id)
    return case, True


def lock_counter(session: Session, day, advance: int = 0) -> int:
    """Lock the day's counter row (creating it), move it on by ``advance`` in the same
    statement and return its value before: the ``advance`` numbers after it are the
    caller's (a batch reserves its numbers so, one round trip; P5.3.1 gapless numbers)."""
    table = case_number_counters
    statement = (pg.insert(table).values(day=day, last_value=advance)
                 .on_conflict_do_update(index_elements=[table.c.day],
                                        set_={"last_value": table.c.last_value + advance})
                 .returning(table.c.last_value))
    return session.execute(statement).scalar_one() - advance


def case_row(report: Report, placement: Placement, case_number: str,
         duplicate_of: str | None) -> dict[str, Any]:
    closed = report.handled_on_spot  # P5.1.5: filed and closed at grid level, still counted
    return {
        "case_id": str(uuid.uuid4()),
        "case_number": case_number,
        "reported_at": report.reported_at,
        "source": report.source,
        "source_system": report.source_system,
        "external_ref": report.external_ref,
        "grid_code": placement.grid_code,
        "town_code": placement.town_code,
        "lon": report.lon,
        "lat": report.lat,
        "building_id": report.building_id,
        "work_category": report.work_category,
        "info_class": report.info_class,
        "subcategory": report.subcategory,
        "severity": report.severity,
        "description": report.description,
        "photos": list(report.photos),
        "attributes": dict(report.attributes),
        "resident_id": report.resident_id,
        "handled_on_spot": report.handled_on_spot,
        "duplicate_of": duplicate_of,
        "duplicate_status": "suggested" if duplicate_of else None,
        "private": report.private,
        "reporter_sub": report.reporter_sub,
        "reporter_role": report.reporter_role,
        "status": "closed" if closed else "open",
        "status_notes": status_notes.note(None, True) if closed else None,  # P5.1.5
        "media_url": report.media_url,
        "address": report.address,
    }


SENSITIVE_HEADLINE = "特殊人群紧急情况 / Urgent special-group matter"


def alert_content(case: dict[str, Any], sub: catalogue.Subcategory) -> dict[str, Any]:
    """Headline, description and location of a major-event alert on ``gridgov.alerts``.

    Every department bound for the town's alerts (and notify's recipients) gets it, so a
    sensitive case (P5.2.5) is announced without what or where: no subcategory name, no
    description, no location; the assigned departments and the special-group readers read
    the details in the case (and its CAP page)."""
    if sub.sensitive:
        return {"headline": SENSITIVE_HEADLINE, "location": None,
                "description": f"案件 {case['case_number']}：详情仅限授权人员查看 (P5.2.5) / "
                               "details for authorised staff only"}
    return {"headline": alert_headline(sub, case["description"]),
            "description": case["description"], "location": case["location"]}


def announce(session: Session, case: dict[str, Any], sub: catalogue.Subcategory,
             correlation_id: str | None) -> None:
    """Outbox: the major-event alert first (P5.2.7 "at once"), then the filed case."""
    location = case["location"]
    if case["major"]:
        alert = make_envelope(MAJOR_EVENT_ALERT, {
            "case_id": case["case_id"], "case_number": case["case_number"],
            "msg_type": "alert", "town_code": case["town_code"],
            "grid_code": case["grid_code"], "severity": case["severity"],
            "category": sub.alert_category, **alert_content(case, sub),
            "reported_at": case["reported_at"],
        }, PRODUCER, correlation_id=correlation_id)
        add_to_outbox(session, ALERTS_EXCHANGE,
                      alert_key(case["town_code"], case["severity"], sub.alert_category), alert)
    add_event(session, CASE_REPORTED, {
        "case_id": case["case_id"], "case_number": case["case_number"],
        "reported_at": case["reported_at"], "source": case["source"],
        "grid_code": case["grid_code"], "town_code": case["town_code"],
        "location": location, "building_id": case["building_id"],
        "work_category": case["work_category"], "info_class": case["info_class"],
        "subcategory": case["subcategory"], "severity": case["severity"],
        "description": case["description"], "photos": case["photos"],
        "resident_id": case["resident_id"], "handled_on_spot": case["handled_on_spot"],
        "duplicate_of": case["duplicate_of"], "private": case["private"],
        # v2: who of the grid staff reported it (per-grid-worker KPIs, docs/KPIS.md)
        "reporter_sub": (case["reporter_sub"] if case["reporter_role"] in STAFF_REPORTERS
                         else None),
        # v3: P5.2.5, the subcategory reveals special-group membership (the catalogue's flag)
        "sensitive": sub.sensitive,
    }, PRODUCER, correlation_id=correlation_id)


# --- duplicates -------------------------------------------------------------------------

def find_duplicate(session: Session, settings: Settings, report: Report) -> str | None:
    """The open, non-duplicate case of the same subcategory within the distance and the
    time window (or at the same building), nearest first; None if there is none.

    A match is only *suggested*: the new case is still filed and announced, and a grid
    worker confirms or undoes the link (never dropped, DOMAIN-REFERENCES §4).
    """
    if report.lon is not None and report.lat is not None:
        found = duplicate_search.search(session, settings, [report]).get(0)
        return found.best.case_id if found and found.best else None
    if report.building_id is None:
        return None
    window = timedelta(hours=settings.duplicate_window_hours)
    earliest = session.execute(  # at the same building: the earliest reported
        sa.select(cases.c.case_id)
        .where(cases.c.subcategory == report.subcategory, cases.c.status == fixed("open"),
               cases.c.building_id == report.building_id,
               sa.or_(cases.c.duplicate_status.is_(None),
                      cases.c.duplicate_status == "undone"),
               cases.c.reported_at.between(report.reported_at - window,
                                           report.reported_at + window))
        .order_by(cases.c.reported_at, cases.c.case_id).limit(1)
    ).scalar()
    return str(earliest) if earliest is not None else None


def set_duplicate(session: Session, principal: Principal, case_number: str,
                  action: str) -> dict[str, Any]:
    """A grid worker confirms a suggested duplicate link, or undoes it (kept, marked
    undone, so the case counts again as a case of its own).

    A decision that changes the link is announced as ``events.case.duplicate_decided`` in
    the same transaction (outbox): dispatch merges a confirmed duplicate into its
    original's flow and returns an undone one to its own (P5.3.1, P5.3.3).  A closed case
    was finished on its own or with its original: its link no longer changes (409)."""
    case = get_case(session, case_number, lock=True)
    require_can_see(principal, case, catalogue_store.current(session))
    if case["duplicate_of"] is None:
        raise Conflict(f"case {case_number} is not linked to another case",
                       code="not_a_duplicate")
    target = {"confirm": "confirmed", "undo": "undone"}[action]
    if case["duplicate_status"] == target:
        return case  # nothing changes, nothing is announced
    if case["status"] == "closed":
        # P5.3.3: its result went back to the reporter; a merge or its undo comes too late
        raise Conflict(f"case {case_number} is closed: its duplicate link no longer changes",
                       code="case_closed")
    session.execute(sa.update(cases).where(cases.c.case_id == case["case_id"])
                    .values(duplicate_status=target, updated_at=sa.func.now()))
    add_event(session, DUPLICATE_DECIDED, {
        "case_id": case["case_id"], "case_number": case["case_number"],
        "original_case_id": case["duplicate_of"],
        "original_case_number": case["duplicate_of_number"],
        "decision": target, "decided_by_role": principal.role.value,
        "decided_by_sub": principal.sub, "decided_at": now_utc(),
    }, PRODUCER)
    return get_case(session, case_number)


# --- reading ----------------------------------------------------------------------------

_original = cases.alias("original")


def _select():
    return (sa.select(cases, _original.c.case_number.label("duplicate_of_number"))
            .select_from(cases.outerjoin(_original, cases.c.duplicate_of == _original.c.case_id)))


def case_query() -> sa.Select:
    """Cases with the number of the case each duplicates (``duplicate_of_number``)."""
    return _select()


def view(row) -> dict[str, Any]:
    """A case row as the API shows it to staff in scope."""
    data = dict(row._mapping)
    lon, lat = data.pop("lon"), data.pop("lat")
    data["location"] = None if lon is None else {"lon": lon, "lat": lat}
    data["case_id"] = str(data["case_id"])
    data["duplicate_of"] = None if data["duplicate_of"] is None else str(data["duplicate_of"])
    data["major"] = catalogue.is_major(data["work_category"], data["severity"])
    data.setdefault("duplicate_of_number", None)
    return data


def get_by_id(session: Session, case_id: str) -> dict[str, Any]:
    return view(session.execute(_select().where(cases.c.case_id == case_id)).one())


def get_case(session: Session, case_number: str, lock: bool = False) -> dict[str, Any]:
    statement = _select().where(cases.c.case_number == case_number)
    if lock:
        statement = statement.with_for_update(of=cases)
    row = session.execute(statement).first()
    if row is None:
        raise NotFound(f"no case {case_number}")
    return view(row)


def _by_external_ref(session: Session, source_system: str, ref: str) -> dict[str, Any] | None:
    row = session.execute(_select().where(cases.c.source_system == source_system,
                                          cases.c.external_ref == ref)).first()
    return None if row is None else view(row)


def require_can_see(principal: Principal, case: dict[str, Any], current: Catalogue) -> None:
    """Grid staff see their scope's cases; district-wide roles their district's.  A
    sensitive case (P5.2.5) is unknown (404) to whoever may not see special groups."""
    _require_sensitive_reader(principal, case, current)
    principal.require_covers(case["grid_code"], f"case {case['case_number']}")


def _require_sensitive_reader(principal: Principal, case: dict[str, Any],
                              current: Catalogue) -> None:
    if not visibility.may_see_case(principal, case, current):
        raise NotFound(f"no case {case['case_number']}")  # as for a number never filed


def require_can_read_alert(principal: Principal, case: dict[str, Any],
                           current: Catalogue) -> None:
    """CAP's restricted audience: the departments concerned read every major event
    (P2.2 "departments report in"); everyone else within their scope.  A sensitive
    case's alert only its assigned departments and the special-group readers (P5.2.5)."""
    if principal.scope_level != ScopeLevel.DEPARTMENT:
        require_can_see(principal, case, current)
    else:
        _require_sensitive_reader(principal, case, current)


def as_answered_to(principal: Principal, case: dict[str, Any], current: Catalogue,
                   ) -> dict[str, Any]:
    """The filing answer: a reporter who may not see special groups is not told which
    other sensitive case theirs was linked to (P5.2.5)."""
    if case["duplicate_of"] is None or visibility.may_see_case(principal, case, current):
        return case
    return {**case, "duplicate_of": None, "duplicate_of_number": None,
            "duplicate_status": None}


def list_cases(session: Session, principal: Principal, params: dict[str, Any],
               ) -> list[dict[str, Any]]:
    prefix = principal.scope_code
    wanted = params.get("grid_code")
    if wanted:
        if wanted.startswith(prefix):
            prefix = wanted
        elif not prefix.startswith(wanted):
            raise Forbidden(f"{wanted} is outside your scope {principal.scope}")
    conditions = [cases.c.grid_code.startswith(prefix, autoescape=True),
                  *visibility.staff_conditions(principal, catalogue_store.current(session))]
    for key in ("status", "work_category", "subcategory", "duplicate_status"):
        if params.get(key):
            conditions.append(cases.c[key] == params[key])
    if params.get("since"):
        conditions.append(cases.c.reported_at >= params["since"])
    if params.get("until"):
        conditions.append(cases.c.reported_at < params["until"])
    rows = session.execute(_select().where(*conditions)
                           .order_by(cases.c.reported_at.desc(), cases.c.case_number.desc())
                           .limit(params["limit"]).offset(params["offset"])).all()
    return [view(row) for row in rows]


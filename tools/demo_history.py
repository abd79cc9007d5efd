"""The demo district's history (issue 11, M21): what happened in it before today.

A fresh ``make up`` loads the demo district (``services/registry/demo.py``) and, with this
plan, about six months of its past: cases reported by its grid workers, patrols, meetings
and spot checks. Each service loads its own part into its own schema
(``services/<svc>/demo_history.py``); this module is the plan they share — pure, no
database — so that events and dispatch agree on every case id and number without talking
to each other, and the same seed always gives the same history.

Everything the history writes is marked (docs/DEMO.md): ids begin ``de30de30-``, case
numbers ``DEMO``, texts people read begin ``【演示】``, case-file entries carry
``demo_history`` in their data. What dispatch does with a case (triage, deadlines, who
reports when) is decided by dispatch's own rules at load time; the plan only says what was
reported and gives each case its own random stream (:func:`fate`).
"""

from __future__ import annotations

import argparse
import hashlib
import math
import os
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from gridgov_common.contract import InfoClass, WorkCategory
from gridgov_common.kernel.roles import Role

SEED = 2026  # the registry's demo seed too (services/registry/cli.py load-demo)
DAYS = 183  # at least six months, and the whole current half-year (P5.4.6)
ID_PREFIX = "de30de30"  # "demo": every id the history writes begins with it
CASE_PREFIX = "DEMO"  # case numbers DEMO20260610-000001 (the live ones are GS…)
SOURCE_SYSTEM = "demo_history"  # events.cases.source_system of every demo case
MARK = "【演示】"  # the first word of every text a person reads (descriptions, minutes, notes)
TZ = ZoneInfo("Asia/Shanghai")

# Reports a grid sends a day (P5.4.3 patrol findings): a few a week, fewer on rest days.
CASES_PER_WORKDAY = 0.55
CASES_PER_REST_DAY = 0.2
ON_SPOT_SHARE = 0.15  # P5.1.5 small problems handled on the spot, where that is possible
ON_SPOT_CATEGORIES = frozenset({WorkCategory.PUBLIC_OPINION.value,
                                WorkCategory.POLICY_PUBLICITY.value})

# A city district's mix (subcategory → weight): streets, sanitation and fire safety first,
# disputes and livelihood help next, a trickle of special-group work. No major events (P5.2.7):
# their alerts would go out again to every subscriber on every start.
MIX: dict[str, float] = {
    "public_facility_damage": 14, "environmental_sanitation": 14, "resident_suggestion": 8,
    "illegal_construction": 4, "neighbour_dispute": 7, "property_dispute": 5,
    "family_dispute": 2, "wage_arrears_dispute": 1, "petition": 1,
    "fire_hazard_corridor": 6, "electric_bike_charging": 6, "gas_safety_hazard": 2,
    "public_order_hazard": 2, "safety_hazard": 2, "special_group_follow_up": 2,
    "mental_illness_risk": 0.5, "drug_user": 0.5, "policy_publicity_session": 2,
    "anti_fraud_publicity": 3, "elderly_care_need": 4, "subsistence_allowance": 2,
    "low_income_allowance": 1, "hardship_relief": 1, "social_insurance": 2,
    "unemployment_registration": 1, "veterans_care": 1, "public_housing": 1,
    "environment_pollution": 4, "public_health_concern": 1, "superior_task": 1,
    "other_issue": 2, "party_organisation": 0.5,
}
DETAILS = ("巡查发现", "居民反映", "入户走访时发现", "楼长报告", "例行检查发现")
FACILITIES = ("street_light", "manhole_cover", "road_surface", "fitness_equipment", "other")


def demo_uuid(seed: int, kind: str, key: object) -> str:
    """A UUID beginning with :data:`ID_PREFIX`, the same for the same (seed, kind, key)."""
    h = hashlib.sha256(f"{seed}:{kind}:{key}".encode()).hexdigest()
    return f"{ID_PREFIX}-{h[:4]}-{h[4:8]}-{h[8:12]}-{h[12:24]}"


def is_demo_id(value: object) -> bool:
    return str(value).startswith(ID_PREFIX + "-")


def rng(seed: int, *key: object) -> random.Random:
    """A random stream of its own per purpose, so one part of the history can change
    without reshuffling every other part."""
    return random.Random(":".join(str(k) for k in (seed, *key)))


# --- the district (the registry's demo generator) -------------------------------------------

@dataclass(frozen=True)
class Grid:
    code: str
    bbox: tuple[float, float, float, float]  # min_lon, min_lat, max_lon, max_lat (a box)

    @property
    def town_code(self) -> str:
        return self.code[:9]

    @property
    def community_code(self) -> str:
        return self.code[:12]

    def point(self, r: random.Random, margin: float = 0.1) -> tuple[float, float]:
        """A point well inside the grid (its polygon is its box)."""
        min_lon, min_lat, max_lon, max_lat = self.bbox
        dx, dy = (max_lon - min_lon) * margin, (max_lat - min_lat) * margin
        return (round(r.uniform(min_lon + dx, max_lon - dx), 6),
                round(r.uniform(min_lat + dy, max_lat - dy), 6))


@dataclass(frozen=True)
class Person:
    """A grid staff member as the services know them: token subject, role, scope, grids."""

    subject: str
    role: str
    scope_code: str
    grid_codes: tuple[str, ...] = ()


@dataclass(frozen=True)
class District:
    grids: tuple[Grid, ...]
    staff: tuple[Person, ...]
    by_code: dict[str, Grid] = field(default_factory=dict, compare=False)

    def grids_under(self, scope_code: str) -> list[Grid]:
        return [g for g in self.grids if g.code.startswith(scope_code)]

    def people(self, role: Role, scope_code: str) -> list[Person]:
        """People of ``role`` whose scope holds ``scope_code`` (or lies under it)."""
        return [p for p in self.staff if p.role == role.value
                and (scope_code.startswith(p.scope_code) or p.scope_code.startswith(scope_code))]


def demo_district(seed: int = SEED, towns: int = 2, communities_per_town: int = 3,
                  grids_per_community: int = 4, households_per_grid: int = 40) -> District:
    """The demo district exactly as ``load-demo`` puts it in the registry (same generator,
    same seed and sizes, same token subjects), without asking the registry: every service
    plans the same history from it."""
    from services.registry.demo import demo_subject
    from services.registry.domain import generator

    d = generator.generate_district(seed, towns, communities_per_town, grids_per_community,
                                    households_per_grid=households_per_grid)
    grids = tuple(Grid(g.code, tuple(g.bbox)) for g in d.iter_grids())
    seen: dict[tuple[str, str], int] = {}
    staff = []
    for s in d.iter_staff():  # numbered as services/registry/demo.py _staff numbers them
        nth = seen[(s.role, s.scope_code)] = seen.get((s.role, s.scope_code), 0) + 1
        staff.append(Person(demo_subject(s.role, s.scope_code, nth), s.role, s.scope_code,
                            tuple(s.grid_codes)))
    return District(grids, tuple(staff), {g.code: g for g in grids})


# --- the period -----------------------------------------------------------------------------

def half_year_start(day: date) -> date:
    return date(day.year, 1 if day.month <= 6 else 7, 1)


def window(until: date, days: int = DAYS) -> tuple[date, date]:
    """(first, last) day of the history: it ends yesterday (the half-year assessment counts
    up to yesterday, P5.4.6) and reaches back ``days`` days and at least to the current
    half-year's first day."""
    last = until - timedelta(days=1)
    return min(last - timedelta(days=days - 1), half_year_start(last)), last


def local(day: date, at: time) -> datetime:
    return datetime.combine(day, at, TZ).astimezone(UTC)


def end_of(last: date) -> datetime:
    """The instant the history stops: midnight after its last day (district time)."""
    return local(last + timedelta(days=1), time())


def days(first: date, last: date) -> Iterator[date]:
    for n in range((last - first).days + 1):
        yield first + timedelta(days=n)


# --- the cases reported ------------------------------------------------------------------

@dataclass(frozen=True)
class Report:
    """One case as its reporter sent it (``events.case.reported``)."""

    case_id: str
    case_number: str
    reported_at: datetime
    grid_code: str
    subcategory: str
    work_category: str
    info_class: str
    severity: str
    sensitive: bool
    description: str
    lon: float
    lat: float
    reporter_sub: str
    reporter_role: str
    handled_on_spot: bool
    attributes: dict[str, Any]

    @property
    def town_code(self) -> str:
        return self.grid_code[:9]


def _poisson(r: random.Random, lam: float) -> int:
    threshold, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= r.random()
        if p <= threshold:
            return k
        k += 1


def _reporter(district: District, grid: Grid, r: random.Random) -> Person:
    """P5.1.5: mostly the grid's own neighbourhood grid worker; sometimes the community grid
    worker leading the grid (P5.1.4)."""
    own = [p for p in district.staff if p.role == Role.NEIGHBOURHOOD_GRID_WORKER.value
           and grid.code in p.grid_codes]
    leads = [p for p in district.staff if p.role == Role.COMMUNITY_GRID_WORKER.value
             and grid.code in p.grid_codes]
    pool = leads if leads and (not own or r.random() < 0.2) else own
    return r.choice(pool)


def reports(district: District, first: date, last: date, seed: int = SEED) -> list[Report]:
    """Every case reported in [first, last], numbered per district day in time order."""
    from services.events.domain import catalogue, numbers

    codes, weights = list(MIX), list(MIX.values())
    drafts: list[tuple[datetime, str, dict[str, Any]]] = []
    for grid in district.grids:
        for day in days(first, last):
            r = rng(seed, "reports", grid.code, day)
            workday = day.weekday() < 5
            for _ in range(_poisson(r, CASES_PER_WORKDAY if workday else CASES_PER_REST_DAY)):
                minute = r.randint(8 * 60 + 30, 17 * 60 + 30) if workday else r.randint(
                    9 * 60, 17 * 60)
                at = local(day, time(minute // 60, minute % 60, r.randint(0, 59)))
                drafts.append((at, grid.code, _draft(district, grid, r, codes, weights,
                                                     catalogue.BY_CODE)))
    drafts.sort(key=lambda d: (d[0], d[1]))
    out, per_day = [], {}
    for at, grid_code, d in drafts:
        day = numbers.local_day(at)
        per_day[day] = per_day.get(day, 0) + 1
        number = numbers.format_case_number(CASE_PREFIX, day, per_day[day])
        out.append(Report(case_id=demo_uuid(seed, "case", number), case_number=number,
                          reported_at=at, grid_code=grid_code, **d))
    return out


def _draft(district: District, grid: Grid, r: random.Random, codes: list[str],
           weights: list[float], by_code: dict) -> dict[str, Any]:
    sub = by_code[r.choices(codes, weights)[0]]
    person = _reporter(district, grid, r)
    lon, lat = grid.point(r)
    attributes: dict[str, Any] = {}
    if sub.code == "public_facility_damage":
        attributes["facility_type"] = r.choice(FACILITIES)
    on_spot = sub.work_category.value in ON_SPOT_CATEGORIES and r.random() < ON_SPOT_SHARE
    return {"subcategory": sub.code, "work_category": sub.work_category.value,
            "info_class": InfoClass(sub.info_class).value, "severity": sub.severity.value,
            "sensitive": sub.sensitive,
            "description": f"{MARK}{sub.name_zh}：{r.choice(DETAILS)}，已拍照定位。",
            "lon": lon, "lat": lat, "reporter_sub": person.subject,
            "reporter_role": person.role, "handled_on_spot": on_spot,
            "attributes": attributes}


def fate(seed: int, case_number: str) -> random.Random:
    """The case's own stream for what happens to it after filing (dispatch draws from it)."""
    return rng(seed, "fate", case_number)


# --- the command line each service's loader shares ------------------------------------------

def parser(prog: str, what: str) -> argparse.ArgumentParser:
    """``python -m services.<svc>.demo_history [--if-empty] [--seed] [--until] …``."""
    p = argparse.ArgumentParser(prog=prog, description=f"Load the demo district's {what} "
                                "(docs/DEMO.md).")
    p.add_argument("--if-empty", action="store_true",
                   help="load only if the service holds none of this kind of data yet")
    p.add_argument("--seed", type=int, default=SEED)
    p.add_argument("--until", type=date.fromisoformat, default=None,
                   help="the day the history ends before (default: today, Asia/Shanghai)")
    p.add_argument("--days", type=int, default=DAYS)
    p.add_argument("--towns", type=int, default=2)
    p.add_argument("--communities-per-town", type=int, default=3)
    p.add_argument("--grids-per-community", type=int, default=4)
    p.add_argument("--households-per-grid", type=int, default=40)
    return p


def district_of(args: argparse.Namespace) -> District:
    return demo_district(args.seed, args.towns, args.communities_per_town,
                         args.grids_per_community, args.households_per_grid)


def today() -> date:
    return datetime.now(TZ).date()


def database_url(service: str) -> str:
    """The service's own role (``GRIDGOV_<SVC>_DB_URL``, else the migration URL with the
    role ``gridgov_<svc>``, db_roles): a loader writes what its service may write, no more."""
    from gridgov_common.platform import db_roles
    from gridgov_common.platform.migrate import DEFAULT_URL
    return db_roles.service_url(os.environ.get("GRIDGOV_DB_URL", DEFAULT_URL), service)


def run(service: str, what: str, argv: list[str] | None,
        load: Callable[..., dict[str, Any]]) -> int:
    """Parse, connect as the service's role, load in one transaction, print the counts."""
    import json
    import time as clock

    from gridgov_common.platform.db import make_engine, transaction

    args = parser(f"python -m services.{service}.demo_history", what).parse_args(argv)
    started = clock.monotonic()
    engine = make_engine(database_url(service))
    try:
        with transaction(engine) as session:
            summary = load(session, district_of(args), seed=args.seed,
                           until=args.until or today(), days=args.days,
                           if_empty=args.if_empty)
    finally:
        engine.dispose()
    summary["seconds"] = round(clock.monotonic() - started, 2)
    print(json.dumps({"service": service, **summary}, ensure_ascii=False))
    return 0

"""The half-year assessment (P5.4.6): each subject's indicators, points, score and grade.

"By the town every half year, of the grid leads at every level; inputs: platform operating
records, case closure rate, closure timeliness, base-data accuracy, phone spot checks,
democratic appraisal, quantified points." Everything but democratic appraisal and
quantified points is computed from records here (docs/ASSESSMENT.md):

- case KPIs from dispatch's ``kpis`` RPC (docs/KPIS.md), by town, community, grid and
  department, over the cases filed from the half-year's first day to ``as_of``;
- base-data accuracy from spot checks (``spotchecks``);
- patrol compliance = working days with a patrol fix / working days (P5.4.3);
- meeting compliance = meeting periods met / periods ended (P5.4.5, ``meetings.RULES``);
- democratic appraisal and quantified points from ``appraisal_inputs`` (typed by the town).

Subjects: towns, communities, grid staff of every level (``field_staff``) and departments.
A person's case figures and base-data accuracy are those of the grids the registry says they
answer for (dispatch's ``kpis`` by ``grid_worker``, from ``registry.staff.changed``) when
dispatch knows them, else of the area of their scope code — a neighbourhood grid worker's
grid, the community's for community-level staff, the town's for the town grid chief.
A value is ``ok``, ``missing`` (no data: no cases, no check, nothing typed) or ``n/a`` (the
indicator does not apply, e.g. meetings for a neighbourhood grid worker); see ``score``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa
from nameko.exceptions import RemoteError

from gridgov_common import area
from gridgov_common.area import Level, parent_or_none
from gridgov_common.errors import Unprocessable
from gridgov_common.roles import GRID_ROLES
from services.assessment import appraisal_scheme, meetings, spotchecks
from services.assessment.models import appraisal_inputs, field_staff

# figures dispatch computes over the grids a person answers for (its by=grid_worker)
RESPONSIBLE_KPIS = ("closure_rate", "on_time_closure_rate", "first_contact_rate",
                    "rework_rate")
HALF_YEAR = re.compile(r"^((?:19|2\d)\d{2})H([12])$")
LEVELS = {9: "town", 12: "community", 15: "grid"}

PATROL_SQL = sa.text(f"""
SELECT staff_sub, count(DISTINCT (recorded_at AT TIME ZONE '{area.TZ_NAME}')::date)
         FILTER (WHERE (recorded_at AT TIME ZONE '{area.TZ_NAME}')::date = ANY(:workdays))
         AS patrolled_days
  FROM assessment.track_points
 WHERE recorded_at >= :start AND recorded_at < :end AND staff_sub = ANY(:subs)
 GROUP BY staff_sub
""")


def half_year_bounds(half_year: str) -> tuple[date, date]:
    match = HALF_YEAR.match(half_year)
    if match is None:
        raise Unprocessable("a half-year is YYYYH1 or YYYYH2",
                            fields={"half_year": ["YYYYH1 or YYYYH2"]})
    year, half = int(match[1]), int(match[2])
    return (date(year, 1, 1), date(year, 6, 30)) if half == 1 else (date(year, 7, 1),
                                                                       date(year, 12, 31))


def as_of(first: date, last: date, today: date) -> date:
    """The last complete day counted: the half-year's last day, or yesterday while it runs."""
    day = min(last, today - timedelta(days=1))
    if day < first:
        raise Unprocessable(f"the half-year starting {first} has no complete day yet",
                            fields={"half_year": ["not started"]})
    return day


@dataclass
class Inputs:
    """Everything a run reads, gathered once (the only I/O of a run)."""

    area: dict[str, dict[str, dict]] = field(default_factory=dict)  # level → code → KPI row
    departments: dict[str, dict] = field(default_factory=dict)
    accuracy: dict[str, dict[str, dict]] = field(default_factory=dict)  # by → key → row
    staff: list[dict] = field(default_factory=list)
    patrol: dict[str, tuple[int, int]] = field(default_factory=dict)  # sub → (days, workdays)
    meeting: dict[str, tuple[int, int]] = field(default_factory=dict)  # sub → (met, judged)
    typed: dict[tuple[str, str], dict] = field(default_factory=dict)  # (kind, code) → row
    workers: dict[str, dict] = field(default_factory=dict)  # sub → dispatch by=grid_worker


def gather(db, kpis_client, scope: str, first: date, last: date, workdays: list[date],
           half_year: str) -> Inputs:
    code = scope.partition(":")[2]
    out = Inputs()
    for level in ("town", "community", "grid"):
        reply = kpis_client.kpis(scope, first.isoformat(), last.isoformat(), level)
        out.area[level] = {row["code"]: row for row in reply["rows"]}
    reply = kpis_client.kpis(scope, first.isoformat(), last.isoformat(), "department")
    out.departments = {row["code"]: row for row in reply["rows"]}
    try:  # the registry's staff ↔ grid assignments, as dispatch knows them
        reply = kpis_client.kpis(scope, first.isoformat(), last.isoformat(), "grid_worker")
        out.workers = {row["code"]: row for row in reply["rows"] if row["grid_codes"]}
    except RemoteError:  # a dispatch without by=grid_worker: the scope rule alone
        out.workers = {}
    start, end = spotchecks.period_of(first, last)
    for by in ("town", "community", "grid", "grid_worker"):
        rows = spotchecks.accuracy(db, code, start, end, by)
        out.accuracy[by] = {r["staff_sub"] if by == "grid_worker" else r["code"]: r
                            for r in rows}
    out.staff = [dict(r) for r in db.execute(
        sa.select(field_staff.c.staff_sub, field_staff.c.role, field_staff.c.scope_code)
        .where(field_staff.c.role.in_([r.value for r in GRID_ROLES]),
               field_staff.c.scope_code.startswith(code, autoescape=True))
        .order_by(field_staff.c.staff_sub)).mappings()]
    subs = [s["staff_sub"] for s in out.staff]
    done = {r.staff_sub: r.patrolled_days for r in db.execute(PATROL_SQL, {
        "workdays": workdays, "start": start, "end": end, "subs": subs})}
    out.patrol = {sub: (done.get(sub, 0), len(workdays)) for sub in subs}
    out.meeting = meeting_periods(db, code, first, last)
    out.typed = {(r.subject_kind, r.subject_code): dict(r._mapping) for r in db.execute(
        sa.select(appraisal_inputs).where(appraisal_inputs.c.half_year == half_year))}
    return out


def meeting_periods(db, code: str, first: date, last: date) -> dict[str, tuple[int, int]]:
    """Per person a meeting rule applies to: (periods met, periods ended by ``last``)."""
    out: dict[str, list[int]] = {}
    month = first
    while month <= last:
        nxt = date(month.year + (month.month == 12), month.month % 12 + 1, 1)
        month_end = nxt - timedelta(days=1)
        if month_end <= last:
            for row in meetings.standing(db, code, month_end):
                if row["period_end"] == month_end:  # a quarter is judged at its last month
                    tally = out.setdefault(row["staff_sub"], [0, 0])
                    tally[0] += row["met"]
                    tally[1] += 1
        month = nxt
    return {sub: (met, judged) for sub, (met, judged) in out.items()}


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _pooled(tallies: list[tuple[int, int]]) -> float | None:
    return _ratio(sum(t[0] for t in tallies), sum(t[1] for t in tallies))


def raw_values(inputs: Inputs, kind: str, code: str, person: dict | None = None
               ) -> dict[str, tuple[str, float | None]]:
    """indicator key → (status, raw value) for one subject."""
    values: dict[str, tuple[str, float | None]] = {}

    def put(key: str, value, applies: bool = True) -> None:
        values[key] = ("n/a", None) if not applies else (
            ("missing", None) if value is None else ("ok", float(value)))

    typed = inputs.typed.get(("staff" if kind == "grid_worker" else kind, code), {})
    for key in appraisal_scheme.TYPED:
        put(key, typed.get(key))
    if kind == "department":
        row = inputs.departments.get(code, {})
        for key in appraisal_scheme.DEPARTMENT_KPIS:
            put(key, row.get(key))
        return values
    area_code = person["scope_code"] if person else code
    row = dict(inputs.area[LEVELS[len(area_code)]].get(area_code, {}))
    if person and code in inputs.workers:  # the grids the registry says they answer for
        row.update({k: inputs.workers[code]["responsible"][k] for k in RESPONSIBLE_KPIS})
    for key in appraisal_scheme.AREA_KPIS:
        put(key, row.get(key))
    if person:
        checks = inputs.accuracy["grid_worker"].get(code)
        if code in inputs.workers:  # the checks of the registry's grids of the person
            grids = [inputs.accuracy["grid"][g] for g in inputs.workers[code]["grid_codes"]
                     if g in inputs.accuracy["grid"]]
            # no check in any of them is "missing", like a person never checked at all
            checks = {"accuracy": _pooled([(g["correct"], g["checked"]) for g in grids])
                      } if grids else None
        put("base_data_accuracy", checks["accuracy"] if checks else None)
        days = inputs.patrol.get(code, (0, 0))
        put("patrol_compliance", _ratio(*days))
        tally = inputs.meeting.get(code)
        applies = any(rule.role.value == person["role"] for rule in meetings.RULES)
        put("meeting_compliance", _ratio(*tally) if tally else None, applies)
        return values
    checks = inputs.accuracy[kind].get(code)
    put("base_data_accuracy", checks["accuracy"] if checks else None)
    inside = [s["staff_sub"] for s in inputs.staff if s["scope_code"].startswith(code)]
    put("patrol_compliance", _pooled([inputs.patrol[s] for s in inside]))
    put("meeting_compliance", _pooled([inputs.meeting[s] for s in inside
                                       if s in inputs.meeting]))
    return values


def score(scheme: dict[str, Any], kind: str, values: dict[str, tuple[str, float | None]]
          ) -> dict[str, Any]:
    """Points per indicator, the weighted score and the grade.

    ``n/a`` indicators never count: their weight is shared among the others. A ``missing``
    one scores 0 under the ``zero`` policy; under ``reweight`` (default) its weight too is
    shared among the indicators with a value. When the weight with a value (``coverage``)
    is below ``min_coverage`` the subject is ``incomplete``: no score, no grade, no flag.
    """
    rows, counted = [], 0.0
    for ind in scheme["kinds"][kind]:
        status, raw = values.get(ind["key"], ("n/a", None))
        pts = (appraisal_scheme.points(ind, raw) if status == "ok"
               else 0.0 if status == "missing" and scheme["missing"] == "zero" else None)
        counted += ind["weight"] if pts is not None else 0.0
        rows.append({"key": ind["key"], "status": status, "raw": raw, "points": pts,
                     "weight": ind["weight"]})
    applicable = sum(r["weight"] for r in rows if r["status"] != "n/a")
    with_value = sum(r["weight"] for r in rows if r["status"] == "ok")
    coverage = round(with_value / applicable, 4) if applicable else 0.0
    for r in rows:
        r["weighted"] = (round(r["points"] * r["weight"] / counted, 2)
                         if r["points"] is not None and counted else None)
    missing = [r["key"] for r in rows if r["status"] == "missing"]
    if not counted or coverage < scheme["min_coverage"]:
        return {"indicators": rows, "coverage": coverage, "score": None, "grade": None,
                "missing": missing, "complete": False}
    total = round(sum(r["points"] * r["weight"] for r in rows if r["points"] is not None)
                  / counted, 2)
    return {"indicators": rows, "coverage": coverage, "score": total,
            "grade": appraisal_scheme.grade(scheme, total), "missing": missing,
            "complete": True}


def subjects(inputs: Inputs, scope_code: str) -> list[tuple[str, str, dict | None]]:
    """(kind, code, person) of every subject under ``scope_code``, in report order."""
    found: dict[str, set[str]] = {"town": set(), "community": set()}
    for level, digits in (("town", 9), ("community", 12)):
        found[level] |= set(inputs.area[level]) | set(inputs.accuracy[level])
        found[level] |= {s["scope_code"][:digits] for s in inputs.staff
                         if len(s["scope_code"]) >= digits}
        found[level] |= {c for (k, c) in inputs.typed if k == level}
        found[level] = {c for c in found[level] if c.startswith(scope_code)
                        and len(c) == digits}
    out: list[tuple[str, str, dict | None]] = [("town", c, None) for c in sorted(found["town"])]
    out += [("community", c, None) for c in sorted(found["community"])]
    out += [("grid_worker", s["staff_sub"], s) for s in inputs.staff]
    departments = set(inputs.departments) | {c for (k, c) in inputs.typed if k == "department"}
    return out + [("department", c, None) for c in sorted(departments)]


def _case_grids(inputs: Inputs, kind: str, code: str, person: dict | None) -> list[str] | None:
    """Whose cases a grid worker's case KPIs count: the registry's grids, or their scope."""
    if kind != "grid_worker":
        return None
    worker = inputs.workers.get(code)
    return list(worker["grid_codes"]) if worker else [person["scope_code"]]


def evaluate(scheme: dict[str, Any], inputs: Inputs, scope_code: str) -> list[dict[str, Any]]:
    rows = []
    flag_grades = set(scheme.get("flag_grades", []))
    for kind, code, person in subjects(inputs, scope_code):
        result = score(scheme, kind, raw_values(inputs, kind, code, person))
        area = person["scope_code"] if person else code
        row = {"subject_kind": kind, "code": code,
               "role": person["role"] if person else None,
               "scope_code": person["scope_code"] if person else None,
               "town_code": None if kind == "department" else parent_or_none(area, Level.TOWN),
               "case_grids": _case_grids(inputs, kind, code, person),
               **result}
        # P5.4.1: failing staff go to the adjustment flow (community proposes, town approves)
        row["flagged"] = kind == "grid_worker" and row["grade"] in flag_grades
        rows.append(row)
    return rows

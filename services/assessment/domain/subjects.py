"""Who an appraisal run scores and on what raw values (P5.4.6): towns, communities, grid
workers and departments under a scope, each indicator's raw value with its status
(``ok``, ``missing``, ``n/a``), and the rows of a run. ``Inputs`` is everything a run
read, gathered once by ``appraisal.gather`` (its only I/O)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from gridgov_common.kernel.area import Level, parent_or_none
from gridgov_common.kernel.errors import Unprocessable
from services.assessment.domain import meeting_rules, scoring

# figures dispatch computes over the grids a person answers for (its by=grid_worker)
RESPONSIBLE_KPIS = ("closure_rate", "on_time_closure_rate", "first_contact_rate",
                    "rework_rate")

HALF_YEAR = re.compile(r"^((?:19|2\d)\d{2})H([12])$")
LEVELS = {9: "town", 12: "community", 15: "grid"}


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
    for key in scoring.TYPED:
        put(key, typed.get(key))
    if kind == "department":
        row = inputs.departments.get(code, {})
        for key in scoring.DEPARTMENT_KPIS:
            put(key, row.get(key))
        return values
    area_code = person["scope_code"] if person else code
    row = dict(inputs.area[LEVELS[len(area_code)]].get(area_code, {}))
    if person and code in inputs.workers:  # the grids the registry says they answer for
        row.update({k: inputs.workers[code]["responsible"][k] for k in RESPONSIBLE_KPIS})
    for key in scoring.AREA_KPIS:
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
        applies = any(rule.role.value == person["role"] for rule in meeting_rules.RULES)
        put("meeting_compliance", _ratio(*tally) if tally else None, applies)
        return values
    checks = inputs.accuracy[kind].get(code)
    put("base_data_accuracy", checks["accuracy"] if checks else None)
    inside = [s["staff_sub"] for s in inputs.staff if s["scope_code"].startswith(code)]
    put("patrol_compliance", _pooled([inputs.patrol[s] for s in inside]))
    put("meeting_compliance", _pooled([inputs.meeting[s] for s in inside
                                       if s in inputs.meeting]))
    return values


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
        result = scoring.score(scheme, kind, raw_values(inputs, kind, code, person))
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

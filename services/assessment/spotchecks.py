"""Base-data accuracy (基础信息准确率, P5.4.6) from phone and field spot checks of the
registry's records (P5.4.4 "one grid, one ledger").

A check names the record by kind and id and the class of fields checked, and says whether
the ledger was right. Nothing of the record is copied here (P5.4.4: personal privacy must
never leak): no name, phone or address; the note is free text the checker is told to keep
free of personal data.

accuracy = correct checks / checks, over the checks made in a period, grouped by grid,
community, town or grid worker; computed in PostgreSQL. ``None`` when nothing was checked
(missing, never 0). A grid worker answers for the grids under their scope code (the
responsibility rule of docs/FIELD-WORK.md: a neighbourhood grid worker's one grid, the
community's grids for community-level staff, the town's for the town grid chief).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa

from gridgov_common.kernel.errors import Unprocessable
from gridgov_common.kernel.roles import GRID_ROLES, Role
from services.assessment.compliance import TZ
from services.assessment.models import field_staff, spot_checks

# P5.4.4 information classes, plus the record's basic identity/contact/address facts
FIELD_CLASSES = ("basic", "party_mass", "economy_finance", "stability_governance",
                 "social_affairs", "population_family_planning", "labour_social_security",
                 "urban_management", "culture_education_sport")
RECORD_KINDS = ("resident", "household", "building", "unit", "key_site")
METHODS = ("phone", "field")
AREAS = {"town": 9, "community": 12, "grid": 15}
BY = (*AREAS, "grid_worker")
# P5.4.6: the town assesses; checks are made by the town, the instructor or the chief
CHECKERS = frozenset({Role.DISTRICT_ADMIN, Role.TOWN_GRID_CHIEF, Role.GRID_INSTRUCTOR,
                      Role.COMMUNITY_GRID_CHIEF})
RATE_DIGITS = 4
FUTURE_SLACK = timedelta(minutes=5)  # device clocks drift


def record(db, principal, data: dict[str, Any], now: datetime) -> dict[str, Any]:
    """Store one check of a grid in the checker's scope (403 outside it)."""
    principal.require_covers(data["grid_code"], f"grid {data['grid_code']}")
    if data["checked_at"] and data["checked_at"] > now + FUTURE_SLACK:
        raise Unprocessable("a check cannot be in the future",
                            fields={"checked_at": ["in the future"]})
    row = {"check_id": str(uuid.uuid4()), "grid_code": data["grid_code"],
           "record_kind": data["record_kind"], "record_id": data["record_id"],
           "field_class": data["field_class"], "method": data["method"],
           "correct": data["correct"], "note": data["note"],
           "checked_by": principal.sub, "checker_role": str(principal.role),
           "checked_at": data["checked_at"] or now}
    db.execute(spot_checks.insert().values(**row))
    return row


def listing(db, scope_code: str, start: datetime, end: datetime, limit: int) -> list[dict]:
    query = (sa.select(spot_checks)
             .where(spot_checks.c.grid_code.startswith(scope_code, autoescape=True),
                    spot_checks.c.checked_at >= start, spot_checks.c.checked_at < end)
             .order_by(spot_checks.c.checked_at.desc()).limit(limit))
    return [dict(r) for r in db.execute(query).mappings()]


def _rate(correct: int, checked: int) -> float | None:
    return round(correct / checked, RATE_DIGITS) if checked else None


def accuracy(db, scope_code: str, start: datetime, end: datetime, by: str
             ) -> list[dict[str, Any]]:
    """One row per area (``code``) or grid worker (``staff_sub``) with ``checked``,
    ``correct`` and ``accuracy``; only areas/people with at least one check."""
    sc = spot_checks.c
    window = [sc.grid_code.startswith(scope_code, autoescape=True),
              sc.checked_at >= start, sc.checked_at < end]
    checked, correct = sa.func.count(), sa.func.count().filter(sc.correct)
    if by == "grid_worker":
        fs = field_staff.c
        responsible = sc.grid_code.startswith(fs.scope_code)  # codes are digits only
        query = (sa.select(fs.staff_sub, fs.role, fs.scope_code, checked.label("checked"),
                           correct.label("correct"))
                 .select_from(field_staff.join(spot_checks, responsible))
                 .where(fs.role.in_([r.value for r in GRID_ROLES]),
                        fs.scope_code.startswith(scope_code, autoescape=True)
                        | sa.literal(scope_code).startswith(fs.scope_code), *window)
                 .group_by(fs.staff_sub, fs.role, fs.scope_code).order_by(fs.staff_sub))
    else:
        code = sa.func.substr(sc.grid_code, 1, AREAS[by]).label("code")
        query = (sa.select(code, checked.label("checked"), correct.label("correct"))
                 .where(*window).group_by(code).order_by(code))
    return [{**dict(r), "accuracy": _rate(r.correct, r.checked)}
            for r in db.execute(query).mappings()]


def period_of(first: date, last: date) -> tuple[datetime, datetime]:
    """[first 00:00, day after last 00:00) in Asia/Shanghai: the days of dispatch's KPIs."""
    return (datetime.combine(first, time(), TZ),
            datetime.combine(last + timedelta(days=1), time(), TZ))

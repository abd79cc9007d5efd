"""The demo district's past cases as events received them (issue 11, M21; docs/DEMO.md).

``python -m services.events.demo_history [--if-empty] [--seed N] [--until YYYY-MM-DD]``
(run by ``make up`` after the demo district, before dispatch's history).

Writes only ``events.cases``: one row per case of the shared plan
(``tools/demo_history.py``), as the app intake files it (P5.3.1: reporter, grid,
class, place), numbered ``DEMO<day>-<n>`` so that live numbers (``GS…``, the daily counters)
never meet them. Where each case stands afterwards is dispatch's to say: dispatch's history
announces every case's last change (``dispatch.case.changed``) and ``following.py`` applies
it as it applies any other. No ``events.case.reported`` is sent: dispatch files the same
plan itself, and a replayed report of last June would be filed again as new.
"""

from __future__ import annotations

import sys
from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from gridgov_common.contract.cases import Source
from services.events.domain import status_notes
from services.events.models import cases
from tools import demo_history as plan

FILING_SECONDS = 3  # the app's upload reaches events a few seconds after the report


def demo_cases(session: Session) -> int:
    """How many demo cases events holds (the marker: source_system, docs/DEMO.md)."""
    return session.execute(sa.select(sa.func.count()).select_from(cases).where(
        cases.c.source_system == plan.SOURCE_SYSTEM)).scalar_one()


def load(session: Session, district: plan.District, *, seed: int = plan.SEED,
         until: date, days: int = plan.DAYS, if_empty: bool = False) -> dict[str, Any]:
    """Insert the plan's cases once: loading again finds them and adds nothing."""
    if demo_cases(session):
        return {"loaded": False, "reason": "demo history already loaded", "cases": 0}
    if if_empty and session.execute(sa.select(sa.func.count()).select_from(cases)).scalar():
        return {"loaded": False, "reason": "events already holds cases", "cases": 0}
    first, last = plan.window(until, days)
    rows = [row(report, seed) for report in plan.reports(district, first, last, seed)]
    if rows:
        session.execute(cases.insert(), rows)
    return {"loaded": True, "first_day": first.isoformat(), "last_day": last.isoformat(),
            "cases": len(rows)}


def row(report: plan.Report, seed: int) -> dict[str, Any]:
    """The ``events.cases`` row the app intake would have written (cases._row)."""
    filed = report.reported_at + timedelta(seconds=FILING_SECONDS)
    closed = report.handled_on_spot  # P5.1.5: filed closed, still counted
    return {
        "case_id": report.case_id, "case_number": report.case_number,
        "reported_at": report.reported_at, "created_at": filed, "updated_at": filed,
        "source": Source.APP.value, "source_system": plan.SOURCE_SYSTEM,
        "external_ref": f"demo:{seed}:{report.case_number}",
        "grid_code": report.grid_code, "town_code": report.town_code,
        "lon": report.lon, "lat": report.lat, "building_id": None,
        "work_category": report.work_category, "info_class": report.info_class,
        "subcategory": report.subcategory, "severity": report.severity,
        "description": report.description, "photos": [], "attributes": report.attributes,
        "resident_id": None, "handled_on_spot": report.handled_on_spot,
        "duplicate_of": None, "duplicate_status": None, "private": False,
        "reporter_sub": report.reporter_sub, "reporter_role": report.reporter_role,
        "status": "closed" if closed else "open",
        "status_notes": status_notes.note(None, True) if closed else None,
    }


def main(argv: list[str] | None = None) -> int:
    return plan.run("events", "past cases (events' side)", argv, load)


if __name__ == "__main__":
    sys.exit(main())

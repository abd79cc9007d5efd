"""The demo district's past field work (issue 11, M21; docs/DEMO.md): patrols with their
tracks (P5.4.3), meetings (P5.4.5) and base-data spot checks (P5.4.6).

``python -m services.assessment.demo_history [--if-empty] [--seed N] [--until YYYY-MM-DD]``
(run by ``make up`` after the demo district).

Writes only the assessment schema. The people are the demo district's grid staff as the
registry announces them (``registry.staff.changed`` fills ``field_staff``; the plan names
the same token subjects). Shapes: grid workers patrol most working days (P5.4.3, at least
once a day, a third of the working window inside their grids), instructors and town grid
chiefs less often; each person has their own diligence, so the half-year grades differ;
meetings at the policy's frequencies with some missed (P5.4.5); a few phone or field checks
per grid a month, mostly right (P5.4.6 base-data accuracy). Working days are the libraries'
calendar (what ``dispatch_client.calendar`` falls back to; a fresh dispatch has no overrides).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from gridgov_common.kernel.roles import Role
from gridgov_common.kernel.work_calendar import WorkCalendar
from services.assessment import meetings as meeting_rules
from services.assessment import spotchecks
from services.assessment.models import meetings, patrols, spot_checks
from tools import demo_history as plan

FIX_MINUTES = 10  # below PATROL_MAX_GAP_SECONDS (15 min): every fix counts
FIXES = (20, 27)  # 3 h 10 – 4 h 20 in the grid: over a third of the 9-hour window (P5.4.3)
# Share of working days a person patrols (P5.4.3 daily), before their own diligence
PATROL_SHARE = {Role.NEIGHBOURHOOD_GRID_WORKER.value: 0.93,
                Role.COMMUNITY_GRID_WORKER.value: 0.9, Role.COMMUNITY_GRID_CHIEF.value: 0.85,
                Role.GRID_INSTRUCTOR.value: 0.6, Role.TOWN_GRID_CHIEF.value: 0.5}
MEETING_HELD = 0.88  # P5.4.5: each required meeting held, else the period may be missed
CHECKS_PER_GRID_MONTH = (3, 7)
CHECK_KINDS = ("resident", "household", "building", "unit")
WRONG_NOTES = ("联系电话已变更", "人员已迁出未登记", "户籍信息与实际不符", "房屋用途已变化")


def demo_rows(session: Session) -> int:
    """How many demo patrols, meetings and checks the schema holds (ids, docs/DEMO.md)."""
    prefix = plan.ID_PREFIX + "-%"
    return sum(session.execute(sa.select(sa.func.count()).select_from(t).where(
        sa.cast(column, sa.Text).like(prefix))).scalar_one() for t, column in (
        (patrols, patrols.c.patrol_id), (meetings, meetings.c.meeting_id),
        (spot_checks, spot_checks.c.check_id)))


def load(session: Session, district: plan.District, *, seed: int = plan.SEED,
         until: date, days: int = plan.DAYS, if_empty: bool = False) -> dict[str, Any]:
    """Insert the field work once: loading again finds it and adds nothing."""
    if demo_rows(session):
        return {"loaded": False, "reason": "demo history already loaded", "patrols": 0}
    if if_empty and session.execute(sa.select(sa.func.count()).select_from(patrols)).scalar():
        return {"loaded": False, "reason": "assessment already holds patrols", "patrols": 0}
    first, last = plan.window(until, days)
    calendar = WorkCalendar()
    workdays = [d for d in plan.days(first, last) if calendar.is_workday(d)]
    patrol_rows, points = patrol_history(district, workdays, seed)
    meeting_rows = meeting_history(district, first, last, calendar, seed)
    check_rows = check_history(district, first, last, seed)
    for table, rows in ((patrols, patrol_rows), (meetings, meeting_rows),
                        (spot_checks, check_rows)):
        if rows:
            session.execute(table.insert(), rows)
    copied = _copy_points(session, points)
    return {"loaded": True, "first_day": first.isoformat(), "last_day": last.isoformat(),
            "working_days": len(workdays), "staff": len(district.staff),
            "patrols": len(patrol_rows), "track_points": copied,
            "meetings": len(meeting_rows), "spot_checks": len(check_rows)}


# --- patrols (P5.4.3) ----------------------------------------------------------------------

def patrol_history(district: plan.District, workdays: list[date], seed: int
                   ) -> tuple[list[dict[str, Any]], list[tuple]]:
    """(patrol rows, track point tuples) of every person on the days they patrolled."""
    rows: list[dict[str, Any]] = []
    points: list[tuple] = []
    for person in district.staff:
        r = plan.rng(seed, "patrols", person.subject)
        share = PATROL_SHARE[person.role] * r.uniform(0.85, 1.07)  # their own diligence
        grids = _patrol_grids(district, person)
        for day in workdays:
            if r.random() >= share:
                continue  # a gap: that day is not patrolled
            patrol_id = plan.demo_uuid(seed, "patrol", f"{person.subject}:{day}")
            fixes = list(_track(r, r.choice(grids), day))
            rows.append({"patrol_id": patrol_id, "staff_sub": person.subject,
                         "role": person.role, "scope_code": person.scope_code,
                         "started_at": fixes[0][0] - timedelta(minutes=2),
                         "stopped_at": fixes[-1][0] + timedelta(minutes=2)})
            points += [(patrol_id, str(n), person.subject, at, lon, lat,
                        at + timedelta(seconds=30)) for n, (at, lon, lat) in enumerate(fixes)]
    return rows, points


def _patrol_grids(district: plan.District, person: plan.Person) -> list[plan.Grid]:
    """The grids a person patrols: those they answer for, else those of their scope."""
    own = [district.by_code[code] for code in person.grid_codes if code in district.by_code]
    return own or district.grids_under(person.scope_code)


def _track(r, grid: plan.Grid, day: date) -> Iterator[tuple[datetime, float, float]]:
    """A walk inside the grid, one fix every ten minutes from mid-morning."""
    start = plan.local(day, time(9, r.randint(0, 59)))
    for n in range(r.randint(*FIXES)):
        lon, lat = grid.point(r)
        yield start + timedelta(minutes=FIX_MINUTES * n, seconds=r.randint(0, 20)), lon, lat


def _copy_points(session: Session, points: list[tuple]) -> int:
    """COPY: the bulk of the history (a hundred thousand fixes or so)."""
    cursor = session.connection().connection.cursor()
    columns = "patrol_id, client_point_id, staff_sub, recorded_at, lon, lat, received_at"
    with cursor.copy(f"COPY assessment.track_points ({columns}) FROM STDIN") as copy:
        for row in points:
            copy.write_row(row)
    return len(points)


# --- meetings (P5.4.5) ---------------------------------------------------------------------

def meeting_history(district: plan.District, first: date, last: date,
                    calendar: WorkCalendar, seed: int) -> list[dict[str, Any]]:
    """Each rule's meetings per period (month, quarter), the minimum mostly held."""
    rows = []
    for rule in meeting_rules.RULES:
        for person in (p for p in district.staff if p.role == rule.role.value):
            r = plan.rng(seed, "meetings", person.subject)
            for start, end in _periods(rule, first, last):
                days = [d for d in plan.days(start, end) if calendar.is_workday(d)]
                for n in range(rule.minimum):
                    if days and r.random() < MEETING_HELD:
                        rows.append(_meeting(district, person, rule, r.choice(days), n, seed))
    return rows


def _periods(rule: meeting_rules.Rule, first: date, last: date) -> Iterator[tuple[date, date]]:
    """The rule's periods overlapping [first, last], cut to it."""
    day = first
    while day <= last:
        start, end = meeting_rules.period_of(rule, day)
        yield max(start, first), min(end, last)
        day = end + timedelta(days=1)


def _meeting(district: plan.District, person: plan.Person, rule: meeting_rules.Rule,
             day: date, n: int, seed: int) -> dict[str, Any]:
    """Attendees normally the next level down (P5.4.5), by token subject."""
    below = {Role.GRID_INSTRUCTOR.value: Role.COMMUNITY_GRID_CHIEF,
             Role.COMMUNITY_GRID_CHIEF.value: Role.COMMUNITY_GRID_WORKER,
             Role.COMMUNITY_GRID_WORKER.value: Role.NEIGHBOURHOOD_GRID_WORKER}[person.role]
    attendees = [p.subject for p in district.staff if p.role == below.value
                 and p.scope_code.startswith(person.scope_code)]
    return {"meeting_id": plan.demo_uuid(seed, "meeting", f"{person.subject}:{day}:{n}"),
            "kind": rule.kind, "convener_sub": person.subject, "convener_role": person.role,
            "scope_code": person.scope_code, "held_on": day, "attendees": attendees,
            "minutes": f"{plan.MARK}例会：通报本期案件办理、巡查情况，布置下阶段工作。",
            "created_at": plan.local(day, time(17, 0))}


# --- spot checks (P5.4.6 base-data accuracy) -------------------------------------------

def check_history(district: plan.District, first: date, last: date, seed: int
                  ) -> list[dict[str, Any]]:
    """A few checks a grid a month by the community grid chief, each grid with its own
    accuracy (most ledgers are right; some grids lag)."""
    rows = []
    for grid in district.grids:
        r = plan.rng(seed, "checks", grid.code)
        accuracy = r.uniform(0.82, 0.99)
        chief = district.people(Role.COMMUNITY_GRID_CHIEF, grid.community_code)[0]
        day = first
        while day <= last:
            month_end = min(date(day.year + day.month // 12, day.month % 12 + 1, 1)
                            - timedelta(days=1), last)
            for n in range(r.randint(*CHECKS_PER_GRID_MONTH)):
                when = day + timedelta(days=r.randint(0, (month_end - day).days))
                rows.append(_check(grid, chief, r, when, accuracy, f"{day:%Y%m}-{n}", seed))
            day = month_end + timedelta(days=1)
    return rows


def _check(grid: plan.Grid, chief: plan.Person, r, day: date, accuracy: float, key: str,
           seed: int) -> dict[str, Any]:
    correct = r.random() < accuracy
    kind = r.choice(CHECK_KINDS)
    at = plan.local(day, time(r.randint(9, 16), r.randint(0, 59)))
    return {"check_id": plan.demo_uuid(seed, "check", f"{grid.code}:{key}"),
            "grid_code": grid.code, "record_kind": kind,
            "record_id": f"demo:{grid.code}:{kind}:{r.randint(1, 400)}",
            "field_class": "basic" if r.random() < 0.6 else r.choice(
                spotchecks.FIELD_CLASSES[1:]),
            "method": "phone" if r.random() < 0.7 else "field", "correct": correct,
            "note": plan.MARK + ("" if correct else r.choice(WRONG_NOTES)),
            "checked_by": chief.subject, "checker_role": chief.role, "checked_at": at,
            "created_at": at}


def main(argv: list[str] | None = None) -> int:
    return plan.run("assessment", "past field work", argv, load)


if __name__ == "__main__":
    sys.exit(main())

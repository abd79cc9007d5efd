"""The State Council's holiday notice for a year, entered as calendar data (M12).

Each autumn the State Council publishes next year's arrangement (国务院办公厅关于 20XX 年部分
节假日安排的通知): every day off and every make-up working day (调休).  Until a district
enters it, deadlines in that year are computed on an estimate that errs late
(``kernel.holiday_estimates``).  A district admin enters the whole notice at once: its days
become calendar overrides and the year is marked complete, so no library or estimate is
asked about it any more.  From 1 November until next year's notice is entered, the district
admins are reminded once a day (a ``notify.request``) and ``GET /config/calendar/years``
says so.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg

from gridgov_common.kernel.errors import Unprocessable
from gridgov_common.kernel.roles import Role
from services.dispatch import config_store, notices
from services.dispatch.models import (
    calendar_overrides,
    calendar_reminders,
    calendar_years,
    cases,
)

WARN_FROM_MONTH = 11  # notices usually appear in October/November
TEMPLATE = "calendar_notice_missing"
_SATURDAY = 5


def enter_notice(session, year: int, body: dict[str, Any], by: str) -> dict[str, Any]:
    """Replace ``year``'s overrides with the notice's days and mark the year complete."""
    days_off = {item["day"]: item["name"] for item in body["days_off"]}
    workdays = {item["day"]: item["name"] for item in body["workdays"]}
    _check(year, days_off, workdays)
    first, last = date(year, 1, 1), date(year, 12, 31)
    session.execute(sa.delete(calendar_overrides)
                    .where(calendar_overrides.c.day.between(first, last)))
    rows = ([{"day": d, "is_workday": False, "note": n} for d, n in days_off.items()]
            + [{"day": d, "is_workday": True, "note": f"调休上班 make-up working day ({n})"}
               for d, n in workdays.items()])
    session.execute(sa.insert(calendar_overrides), rows)
    values = {"notice": body["notice"], "entered_by": by, "entered_at": sa.func.now()}
    session.execute(pg.insert(calendar_years).values(year=year, **values)
                    .on_conflict_do_update(index_elements=["year"], set_=values))
    config_store.drop_current("calendar")
    return {"year": year, "notice": body["notice"], "days_off": len(days_off),
            "workdays": len(workdays)}


def _check(year: int, days_off: dict[date, str], workdays: dict[date, str]) -> None:
    problems: dict[str, list[str]] = {}
    for field, days in (("days_off", days_off), ("workdays", workdays)):
        outside = sorted(d.isoformat() for d in days if d.year != year)
        if outside:
            problems.setdefault(field, []).append(f"not in {year}: {', '.join(outside)}")
    both = sorted(d.isoformat() for d in set(days_off) & set(workdays))
    if both:
        problems.setdefault("workdays", []).append(f"also a day off: {', '.join(both)}")
    weekdays = sorted(d.isoformat() for d in workdays if d.weekday() < _SATURDAY)
    if weekdays:  # a make-up working day (调休) is a Saturday or a Sunday
        problems.setdefault("workdays", []).append(
            f"a make-up working day is a Saturday or Sunday: {', '.join(weekdays)}")
    if problems:
        raise Unprocessable(f"the {year} notice does not hold together", problems,
                            code="invalid_calendar_notice")


def years(session, today: date) -> list[dict[str, Any]]:
    """This year and next: whether the notice was entered, and a warning where it is
    missing for next year from November (deadlines there are estimates that err late)."""
    entered = {row.year: row for row in session.execute(sa.select(calendar_years))}
    calendar = config_store.work_calendar(session)
    found = []
    for year in (today.year, today.year + 1):
        row = entered.get(year)
        source = ("notice" if row is not None
                  else "estimate" if calendar.is_estimated_year(year) else "library")
        found.append({
            "year": year, "source": source, "notice": row.notice if row else None,
            "entered_by": row.entered_by if row else None,
            "entered_at": row.entered_at if row else None,
            "warning": _warning(year, today, source)})
    return found


def _warning(year: int, today: date, source: str) -> str | None:
    if source != "estimate":
        return None
    if year == today.year + 1 and today.month < WARN_FROM_MONTH:
        return None
    return (f"{year} 年节假日安排尚未录入：期限按通常安排估算（宁晚勿早）。请录入国务院办公厅通知。"
            f" / The {year} holiday notice is not entered: deadlines use an estimate of the "
            "usual arrangement (erring late). Enter the State Council's notice.")


def warn_due(session, now: datetime) -> int:
    """Once a day, from November, remind each district's admins while next year's notice
    is missing; how many reminders were requested."""
    calendar = config_store.work_calendar(session)
    today = now.astimezone(calendar.tz).date()
    status = {item["year"]: item for item in years(session, today)}
    warning = status[today.year + 1]["warning"] or status[today.year]["warning"]
    if warning is None:
        return 0
    sent = 0
    for district in _districts(session):
        claimed = session.execute(pg.insert(calendar_reminders)
                                  .values(district=district, day=today)
                                  .on_conflict_do_nothing()
                                  .returning(calendar_reminders.c.district)).first()
        if claimed is None:
            continue  # today's was requested already (or by another replica)
        year = today.year + 1 if status[today.year + 1]["warning"] else today.year
        notices.request_notification(
            session, cause_id=f"dispatch:{TEMPLATE}:{district}:{today.isoformat()}",
            case_id=None, kind="daily_digest", template=TEMPLATE,
            recipients=[{"role": Role.DISTRICT_ADMIN.value, "scope": f"district:{district}"}],
            params={"year": year})
        sent += 1
    return sent


def _districts(session) -> list[str]:
    """The districts dispatch has cases of (the first six digits of their towns)."""
    district = sa.func.left(cases.c.town_code, 6).label("district")
    return list(session.execute(sa.select(district).distinct().order_by(district)).scalars())

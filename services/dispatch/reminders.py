"""Deadline reminders (P5.3.3 办理时限): a department still handling a case is reminded at
50 % and 80 % of its handling time, before the supervision ladder (P6.2) starts at 100 %.

Run by the supervision timer with the case locked (``escalating``): the shares are measured
in working time from the assignment's dispatch to its due time (natural time when the span
holds no working time, as for urgent limits in minutes at night). Each reminder is a
``notify.request`` to the department's officers, once per (assignment, share, due time):
a delay that moves the due time re-arms them. Returns the next reminder instant so the
timer knows when to look at the case again.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg

from gridgov_common.kernel.work_calendar import WorkCalendar
from services.dispatch import notices
from services.dispatch.domain.states import AssignmentState
from services.dispatch.models import assignments, deadline_reminders

SHARES = (50, 80)  # per cent of the handling time used
HANDLING = (AssignmentState.SENT.value, AssignmentState.ACKED.value)


def remind_due(session, case: dict[str, Any], calendar: WorkCalendar,
               now: datetime) -> datetime | None:
    """Send the reminders of ``case`` due at ``now``; the next one ahead (or None)."""
    rows = session.execute(sa.select(
        assignments.c.assignment_id, assignments.c.department, assignments.c.sent_at,
        assignments.c.handle_due_at).where(assignments.c.case_id == case["case_id"],
                                           assignments.c.state.in_(HANDLING))).all()
    if not rows:
        return None
    sent = _sent(session, [row.assignment_id for row in rows])
    upcoming = []
    for row in rows:
        for percent in SHARES:
            if (row.assignment_id, percent, row.handle_due_at) in sent:
                continue
            at = reminder_at(calendar, row.sent_at, row.handle_due_at, percent)
            if at > now:
                upcoming.append(at)
            elif now < row.handle_due_at:  # past the due time the ladder speaks instead
                _send(session, case, row, percent, calendar)
    return min(upcoming, default=None)


def reminder_at(calendar: WorkCalendar, start: datetime, due: datetime, percent: int
                ) -> datetime:
    """The instant ``percent`` % of the time from ``start`` to ``due`` is used."""
    span = calendar.working_time_between(start, due)
    if span.total_seconds() <= 0:
        return start + (due - start) * percent / 100
    hours = span.total_seconds() / 3600 * percent / 100
    return calendar.add_working_time(start, hours, "working_hours")


def _sent(session, assignment_ids: list[str]) -> set[tuple[str, int, datetime]]:
    found = session.execute(sa.select(
        deadline_reminders.c.assignment_id, deadline_reminders.c.percent,
        deadline_reminders.c.due_at).where(
        deadline_reminders.c.assignment_id.in_(assignment_ids)))
    return {(r.assignment_id, r.percent, r.due_at) for r in found}


def _send(session, case: dict[str, Any], row, percent: int, calendar: WorkCalendar) -> None:
    inserted = session.execute(pg.insert(deadline_reminders).values(
        assignment_id=row.assignment_id, percent=percent, due_at=row.handle_due_at,
        case_id=case["case_id"]).on_conflict_do_nothing().returning(
        deadline_reminders.c.percent)).first()
    if inserted is None:
        return  # another replica sent it
    notices.request_notification(
        session, cause_id=f"dispatch:deadline_reminder:{row.assignment_id}:{percent}:"
                          f"{row.handle_due_at.isoformat()}",
        case_id=case["case_id"], kind="deadline_reminder",
        recipients=[{"role": "department_officer", "scope": f"department:{row.department}"}],
        params={"case_number": case["case_number"], "percent": percent,
                "due_at": row.handle_due_at.astimezone(calendar.tz).strftime("%Y-%m-%d %H:%M")})

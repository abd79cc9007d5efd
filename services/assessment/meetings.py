"""Meetings (P5.4.5): records, frequency rules as data, and reminders before a period ends.

Rules: a grid instructor holds at least one meeting a quarter, a community grid chief at
least one a month, a community grid worker at least two a month; emergency meetings may be
held any time by any grid role and count towards no rule.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert

from gridgov_common.kernel.errors import Forbidden
from gridgov_common.platform.outbox import add_event
from services.assessment.domain.meeting_rules import (
    RULE_BY_KIND,
    RULES,
    period_of,
)
from services.assessment.models import field_staff, meeting_reminders, meetings
from services.assessment.patrols import remember_staff

PRODUCER = "assessment"
REMINDER_TYPE = "assessment.meeting.reminder"


def record(db, principal, data: dict[str, Any]) -> dict[str, Any]:
    """A rule meeting is convened by the rule's role; emergency meetings by anyone."""
    rule = RULE_BY_KIND.get(data["kind"])
    if rule is not None and principal.role != rule.role:
        raise Forbidden(f"a {rule.kind} meeting is convened by a {rule.role}")
    remember_staff(db, principal)
    row = {"meeting_id": str(uuid.uuid4()), "kind": data["kind"],
           "convener_sub": principal.sub, "convener_role": str(principal.role),
           "scope_code": principal.scope_code, "held_on": data["held_on"],
           "attendees": data["attendees"], "minutes": data["minutes"]}
    db.execute(meetings.insert().values(**row))
    return row


def list_meetings(db, principal, since: date | None, until: date | None) -> list[dict]:
    query = sa.select(meetings).where(meetings.c.scope_code.startswith(principal.scope_code))
    if since:
        query = query.where(meetings.c.held_on >= since)
    if until:
        query = query.where(meetings.c.held_on <= until)
    rows = db.execute(query.order_by(meetings.c.held_on.desc(), meetings.c.created_at.desc()))
    return [dict(r) for r in rows.mappings()]


def standing(db, scope_code: str, day: date) -> list[dict[str, Any]]:
    """For each known person a rule applies to: meetings held in the period holding ``day``."""
    out = []
    for rule in RULES:
        start, end = period_of(rule, day)
        held = sa.func.count(meetings.c.meeting_id)
        query = (sa.select(field_staff.c.staff_sub, field_staff.c.scope_code, held.label("held"))
                 .select_from(field_staff.outerjoin(meetings, sa.and_(
                     meetings.c.convener_sub == field_staff.c.staff_sub,
                     meetings.c.kind == rule.kind, meetings.c.held_on.between(start, end))))
                 .where(field_staff.c.role == rule.role.value, field_staff.c.active,
                        field_staff.c.scope_code.startswith(scope_code))
                 .group_by(field_staff.c.staff_sub, field_staff.c.scope_code))
        for row in db.execute(query).mappings():
            out.append({**dict(row), "role": rule.role.value, "rule": rule.kind,
                        "clause": rule.clause, "required": rule.minimum,
                        "period_start": start, "period_end": end,
                        "met": row["held"] >= rule.minimum})
    return sorted(out, key=lambda r: (r["staff_sub"], r["rule"]))


def remind(db, today: date, days_before: int) -> int:
    """Publish one reminder per (person, rule, period) whose period ends within
    ``days_before`` days without enough meetings (through the outbox)."""
    sent = 0
    for row in standing(db, "", today):
        if row["met"] or (row["period_end"] - today).days > days_before:
            continue
        claimed = db.execute(insert(meeting_reminders).values(
            convener_sub=row["staff_sub"], kind=row["rule"], period_start=row["period_start"])
            .on_conflict_do_nothing().returning(meeting_reminders.c.kind)).first()
        if claimed is None:
            continue
        add_event(db, REMINDER_TYPE, _reminder_payload(row), PRODUCER)
        sent += 1
    return sent


def _reminder_payload(row: dict[str, Any]) -> dict[str, Any]:
    # every role with a meeting rule holds a community scope (gridgov_common.kernel.roles)
    return {"staff_sub": row["staff_sub"], "role": row["role"],
            "scope": f"community:{row['scope_code']}", "rule": row["rule"],
            "clause": row["clause"], "period_start": row["period_start"].isoformat(),
            "period_end": row["period_end"].isoformat(), "required": row["required"],
            "held": row["held"]}

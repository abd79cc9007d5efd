"""How dispatched items were handled in a period: the figures of a circular (P5.3.5 通报).

Read-only; served to the assessment service by the ``handling_figures`` RPC, so a circular
is computed from the case records and never typed in. One *item* is one assignment row
(one department, one round; withdrawn ones left out) **sent** in ``[start, end)`` and
under the scope. The same items are counted twice: by ``department`` and by the town of
their case (``town_code``: the town that whistled, P2.2). Per group:

- ``dispatched``: items; ``acked_on_time``: acknowledged by the ack deadline (P2.2);
- ``closed``: the department reported its result and the case is closed
  (``statistics.by_department``'s definition); ``closed_on_time``: of those, the result's
  frozen ``handle_on_time`` is true (P5.3.3);
- ``overdue_open``: still active (sent or acked) past ``handle_due_at`` at ``as_of``.

Rates are left to the circular (docs/CIRCULARS.md). ``overdue``: every active item past
its due time at ``as_of`` under the scope, **whenever it was sent** (an item dispatched
long ago and still open is the one a circular must name), most overdue first; a sensitive
case (P5.2.5: it reveals special-group membership) is never named there, only counted in
``overdue_open``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from services.dispatch.models import assignments, cases
from services.dispatch.statistics import ACTIVE, CLOSED, REPORTED, count_where, in_scope

OVERDUE_LIMIT = 500
DAY_SECONDS = 86400


class HandlingQuerySchema(Schema):
    """The RPC's arguments: a geographic scope and an aware ``[start, end)``."""

    scope = fields.String(required=True, validate=validate.Regexp(
        r"^(district|town|community|grid):\d{6,15}$",
        error="must be district:, town:, community: or grid:<digits>"))
    start = fields.AwareDateTime(required=True)
    end = fields.AwareDateTime(required=True)

    @validates_schema
    def _order(self, data, **_):
        if data["end"] <= data["start"]:
            raise ValidationError("end must be after start", "end")


def _counts(a) -> list[sa.ColumnElement]:
    closed = sa.and_(a.state == REPORTED, cases.c.state == CLOSED)
    return [sa.func.count().label("dispatched"),
            count_where(a.ack_on_time.is_(True)).label("acked_on_time"),
            count_where(closed).label("closed"),
            count_where(closed & a.handle_on_time.is_(True)).label("closed_on_time")]


def _grouped(session, key, scope_codes, start, end, now) -> list[dict[str, Any]]:
    a = assignments.c
    overdue = count_where(a.state.in_(ACTIVE) & (a.handle_due_at < now)).label("overdue_open")
    query = (sa.select(key.label("code"), *_counts(a), overdue)
             .select_from(assignments.join(cases, cases.c.case_id == a.case_id))
             .where(a.sent_at >= start, a.sent_at < end, a.state != "withdrawn",
                    in_scope(scope_codes))
             .group_by(key).order_by(key))
    return [dict(row) for row in session.execute(query).mappings()]


def overdue_items(session, scope_codes, now: datetime) -> list[dict[str, Any]]:
    a = assignments.c
    query = (sa.select(cases.c.case_number, a.department, cases.c.town_code, a.sent_at,
                       a.handle_due_at)
             .select_from(assignments.join(cases, cases.c.case_id == a.case_id))
             .where(a.state.in_(ACTIVE), a.handle_due_at < now, in_scope(scope_codes),
                    cases.c.sensitive.is_(False))  # P5.2.5: counted, never named
             .order_by(a.handle_due_at, cases.c.case_number, a.department)
             .limit(OVERDUE_LIMIT))
    return [{"case_number": r.case_number, "department": r.department,
             "town_code": r.town_code, "due_at": r.handle_due_at.astimezone(UTC).isoformat(),
             "days_overdue": int((now - r.handle_due_at).total_seconds() // DAY_SECONDS)}
            for r in session.execute(query)]


def handling_figures(session, scope_codes: list[str] | None, start: datetime, end: datetime,
                     now: datetime | None = None) -> dict[str, Any]:
    """{"as_of", "start", "end", "departments", "towns", "overdue"} (see the module doc)."""
    now = now or datetime.now(UTC)
    return {
        "as_of": now.astimezone(UTC).isoformat(),
        "start": start.astimezone(UTC).isoformat(), "end": end.astimezone(UTC).isoformat(),
        "departments": _grouped(session, assignments.c.department, scope_codes, start, end,
                                now),
        "towns": _grouped(session, cases.c.town_code, scope_codes, start, end, now),
        "overdue": overdue_items(session, scope_codes, now),
    }

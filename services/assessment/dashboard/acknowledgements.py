"""Major events acknowledged on the operations wall (P5.2.7, P6.2; issue 14).

A wall pins a major event until someone watching acknowledges it.  The acknowledgement is
a fact of the platform, not of one screen: stored once per case (who, by name, and when),
and every open wall — whichever replica serves it — learns it on its next tick
(``wall.Hub.take_acknowledgements`` reads the rows newer than the last it saw), removes the
pin and says who acknowledged it.  The first acknowledgement stands; a second is refused
with the first one's author (409).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg

from gridgov_common.kernel.errors import Conflict
from services.assessment.models import major_acknowledgements as acks

WINDOW_DAYS = 7  # as dispatch's major-event window (statistics.MAJOR_WINDOW_DAYS)
COLUMNS = (acks.c.id, acks.c.case_id, acks.c.case_number, acks.c.grid_code,
           acks.c.acknowledged_by, acks.c.acknowledged_name, acks.c.acknowledged_role,
           acks.c.note, acks.c.acknowledged_at)


def _plain(row) -> dict[str, Any]:
    found = dict(row)
    found["acknowledged_at"] = found["acknowledged_at"].astimezone(UTC).isoformat()
    return found


def acknowledge(session, principal, case: dict[str, Any], note: str | None) -> dict[str, Any]:
    """Store the caller's acknowledgement of ``case`` (a major event it may see)."""
    row = session.execute(pg.insert(acks).values(
        case_id=str(case["case_id"]), case_number=case["case_number"],
        grid_code=case["grid_code"], acknowledged_by=principal.sub,
        acknowledged_name=principal.name or "", acknowledged_role=str(principal.role),
        note=note).on_conflict_do_nothing().returning(*COLUMNS)).mappings().first()
    if row is not None:
        return _plain(row)
    first = for_cases(session, [str(case["case_id"])])[str(case["case_id"])]
    raise Conflict(f"{case['case_number']} was acknowledged already by "
                   f"{first['acknowledged_name'] or first['acknowledged_by']}",
                   code="already_acknowledged", fields={"acknowledgement": first})


def for_cases(session, case_ids: list[str]) -> dict[str, dict[str, Any]]:
    """The acknowledgements of these cases, by case id."""
    if not case_ids:
        return {}
    rows = session.execute(sa.select(*COLUMNS).where(acks.c.case_id.in_(case_ids)))
    return {str(row["case_id"]): _plain(row) for row in rows.mappings()}


def since(session, after_id: int, now: datetime | None = None) -> list[dict[str, Any]]:
    """Acknowledgements stored after ``after_id`` (of the last ``WINDOW_DAYS``), oldest
    first: what the walls have not been told yet."""
    now = now or datetime.now(UTC)
    rows = session.execute(sa.select(*COLUMNS).where(
        acks.c.id > after_id, acks.c.acknowledged_at >= now - timedelta(days=WINDOW_DAYS))
        .order_by(acks.c.id))
    return [_plain(row) for row in rows.mappings()]

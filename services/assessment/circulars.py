"""Circulars (P5.3.5 通报): how dispatched items were handled, by department and by town,
with rankings, red/yellow cards and the overdue list — counted in the annual assessment.

The figures come from dispatch (``handling_figures`` RPC over the case records; never typed
in). This module turns them into the circular's content, stores it (immutable, one version
per (kind, period, scope) each time it is generated) and publishes
``assessment.circular.published`` through the outbox in the same transaction.

The rules (periods, rates, cards, rankings) are plain Python in
``domain/circular_rules.py``; this module reads and stores.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert

from gridgov_common.platform.db import fixed
from gridgov_common.platform.outbox import add_event
from services.assessment.compliance import TZ
from services.assessment.domain.circular_rules import period_bounds
from services.assessment.models import circulars

PRODUCER = "assessment"
EVENT_TYPE = "assessment.circular.published"
VERSION_ATTEMPTS = 5
# the issuing body and the prefix of its document numbers (文号); set per deployment
# (CIRCULAR_ISSUER, CIRCULAR_NUMBER_PREFIX)
DEFAULT_ISSUER = "区网格化服务管理中心"
DEFAULT_NUMBER_PREFIX = "网格通"


def instants(first: date, last: date) -> tuple[datetime, datetime]:
    """[first 00:00, the day after last 00:00) in the district's time zone, in UTC."""
    return (datetime.combine(first, time(), TZ).astimezone(UTC),
            datetime.combine(last + timedelta(days=1), time(), TZ).astimezone(UTC))


# -- storing and publishing ----------------------------------------------------------------

def scheduled_exists(db, kind: str, period: str, scope: str) -> bool:
    return db.execute(sa.select(circulars.c.circular_id).where(
        circulars.c.kind == kind, circulars.c.period == period, circulars.c.scope == scope,
        circulars.c.origin == fixed("schedule"))).first() is not None


def store(db, *, kind: str, period: str, scope: str, origin: str, generated_by: str,
          content: dict[str, Any], html_url: str, issuer: str = DEFAULT_ISSUER,
          number_prefix: str = DEFAULT_NUMBER_PREFIX,
          now: datetime | None = None) -> dict[str, Any] | None:
    """Insert the next version and put its event in the outbox, in the caller's
    transaction. None when a scheduled circular of that period exists already (another
    replica made it): the unique index decides, so the event goes out once. Each stored
    circular gets the next document number of its year (a unique column: two at once
    retry, never share one)."""
    first, last = period_bounds(kind, period)
    year = (now or datetime.now(UTC)).astimezone(TZ).year
    for _ in range(VERSION_ATTEMPTS):
        next_version = (sa.select(sa.func.coalesce(sa.func.max(circulars.c.version), 0) + 1)
                        .where(circulars.c.kind == kind, circulars.c.period == period,
                               circulars.c.scope == scope).scalar_subquery())
        circular_id = str(uuid.uuid4())
        row = db.execute(insert(circulars).values(
            circular_id=circular_id, kind=kind, period=period, scope=scope,
            version=next_version, origin=origin, period_start=first, period_end=last,
            generated_by=generated_by, content=content, issuer=issuer,
            document_number=_next_number(number_prefix, year)).on_conflict_do_nothing()
            .returning(*circulars.c)).mappings().first()
        if row is not None:
            row = dict(row)
            add_event(db, EVENT_TYPE, event_payload(row, html_url), PRODUCER)
            return row
        if origin == "schedule" and scheduled_exists(db, kind, period, scope):
            return None
    raise RuntimeError(f"no free version for circular {kind} {period} {scope}")


def _next_number(prefix: str, year: int):
    """The year's next number for ``prefix``, computed in the INSERT itself."""
    pattern = f"{prefix}〔{year}〕%号"
    taken = (sa.select(sa.func.count()).where(circulars.c.document_number.like(pattern))
             .scalar_subquery())
    return sa.func.concat(f"{prefix}〔{year}〕", taken + 1, "号")


def event_payload(row: dict[str, Any], html_url: str) -> dict[str, Any]:
    """Ids and summary only: the content is read over HTTP (the link)."""
    content = row["content"]
    total = content["summary"]
    return {
        "circular_id": row["circular_id"], "kind": row["kind"], "period": row["period"],
        "version": row["version"], "origin": row["origin"], "scope": row["scope"],
        "period_start": row["period_start"].isoformat(),
        "period_end": row["period_end"].isoformat(), "as_of": content["as_of"],
        "html_url": html_url.format(circular_id=row["circular_id"]),
        "departments": [r["code"] for r in content["departments"]],
        "towns": [r["code"] for r in content["towns"]],
        "summary": {k: total[k] for k in ("dispatched", "closed", "overdue_open",
                                          "red_cards", "yellow_cards")},
    }


def listing(db, visible, kind: str | None, limit: int) -> list[dict[str, Any]]:
    query = sa.select(*(c for c in circulars.c if c.name != "content")).where(visible)
    if kind:
        query = query.where(circulars.c.kind == kind)
    rows = db.execute(query.order_by(circulars.c.created_at.desc(),
                                     circulars.c.circular_id).limit(limit)).mappings()
    return [dict(r) for r in rows]


def one(db, visible, circular_id: str) -> dict[str, Any] | None:
    row = db.execute(sa.select(circulars).where(
        circulars.c.circular_id == circular_id, visible)).mappings().first()
    return dict(row) if row else None

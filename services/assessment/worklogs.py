"""Work logs (P5.1.4 a community grid worker keeps a work log; P5.1.3 the community grid
chief checks them; P5.4.4 work logs are part of the grid's ledger)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from gridgov_common.kernel.errors import Conflict, Forbidden, NotFound
from gridgov_common.kernel.roles import Role
from services.assessment.models import work_logs
from services.assessment.patrols import valid_id

AUTHORS = frozenset({Role.COMMUNITY_GRID_WORKER, Role.NEIGHBOURHOOD_GRID_WORKER})
READERS = AUTHORS | {Role.COMMUNITY_GRID_CHIEF, Role.GRID_INSTRUCTOR, Role.TOWN_GRID_CHIEF,
                     Role.DISTRICT_ADMIN}
REVIEW_STATES = ("approved", "returned")


def write(db, principal, data: dict[str, Any]) -> dict[str, Any]:
    """One entry per author, grid and day, in a grid of the author's scope."""
    principal.require_covers(data["grid_code"], "this grid")
    row = {"log_id": str(uuid.uuid4()), "author_sub": principal.sub,
           "author_role": str(principal.role), "grid_code": data["grid_code"],
           "day": data["day"], "content": data["content"], "review_state": "pending"}
    try:
        with db.begin_nested():
            db.execute(work_logs.insert().values(**row))
    except IntegrityError:
        raise Conflict(f"you wrote the log of {data['grid_code']} for {data['day']} already"
                       ) from None
    return row


def visible(db, principal, filters: dict[str, Any]) -> list[dict[str, Any]]:
    """Workers read their own entries; chiefs and above the entries in their scope."""
    query = sa.select(work_logs)
    if principal.role in AUTHORS:
        query = query.where(work_logs.c.author_sub == principal.sub)
    else:
        query = query.where(work_logs.c.grid_code.startswith(principal.scope_code))
    if filters.get("day"):
        query = query.where(work_logs.c.day == filters["day"])
    if filters.get("review_state"):
        query = query.where(work_logs.c.review_state == filters["review_state"])
    query = query.order_by(work_logs.c.day.desc(), work_logs.c.created_at).limit(
        filters.get("limit", 100))
    return [dict(r) for r in db.execute(query).mappings()]


def review(db, principal, log_id: str, data: dict[str, Any], now: datetime) -> dict[str, Any]:
    """P5.1.3: the community grid chief of the log's community reviews it, once."""
    log_id = valid_id(log_id, "work log")
    row = db.execute(sa.select(work_logs).where(work_logs.c.log_id == log_id)
                     .with_for_update()).mappings().first()
    if row is None:
        raise NotFound(f"no work log {log_id}")
    if principal.role != Role.COMMUNITY_GRID_CHIEF or not principal.covers(row["grid_code"]):
        raise Forbidden("only the community grid chief of this grid reviews its logs")
    if row["review_state"] != "pending":
        raise Conflict(f"work log {log_id} is {row['review_state']} already")
    changes = {"review_state": data["state"], "reviewer_sub": principal.sub,
               "review_comment": data["comment"], "reviewed_at": now}
    db.execute(work_logs.update().where(work_logs.c.log_id == log_id).values(**changes))
    return {**dict(row), **changes}

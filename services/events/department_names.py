"""The department register's names, as the registry announces them
(``registry.department.changed``), for what people read: Open311's ``agency_responsible``
says 消防 / Fire and Rescue, not ``fire``.  The newest state per code wins; a department
events has not heard of yet is shown by its code (better a code than nothing)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from gridgov_common.messaging import claim_message
from services.events.models import departments

QUEUE = "events.departments"
CONSUMER = QUEUE
MESSAGE_TYPE = "registry.department.changed"


def apply(session: Session, envelope) -> bool:
    """Store one department state; False for a duplicate or an older state."""
    if not claim_message(session, envelope.message_id, CONSUMER):
        return False
    p = envelope.payload
    values = {"name_zh": p["name_zh"], "name_en": p["name_en"], "active": p["active"],
              "updated_at": p["updated_at"]}
    applied = session.execute(
        insert(departments).values(code=p["code"], **values)
        .on_conflict_do_update(index_elements=["code"], set_=values,
                               where=departments.c.updated_at <= p["updated_at"])
        .returning(departments.c.code)).first()
    return applied is not None


def name_map(session: Session, lang: str) -> dict[str, str]:
    """Every known department's name in ``lang``: one query for a whole list of requests."""
    column = departments.c.name_en if lang == "en" else departments.c.name_zh
    return dict(session.execute(sa.select(departments.c.code, column)).all())

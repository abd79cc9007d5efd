"""The departments brought into grid management (P4.2), seeded by the migration."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from services.registry.models import departments


def list_departments(session: Session) -> list[dict]:
    rows = session.execute(sa.select(departments).order_by(departments.c.code))
    return [dict(r._mapping) for r in rows]

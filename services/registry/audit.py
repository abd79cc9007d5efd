"""The sensitive-data audit log (P5.4.4 "personal privacy must never leak").

Every read of a personal field — an unmasked ID number or phone, special-group tags,
a one-query search by person — writes one row: who, in which role and scope, when,
what, about whom and why.  Rows are written in the same transaction as the read, and the
response is sent only after that transaction commits, so no read goes unrecorded.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from gridgov_common.auth import Principal
from services.registry.models import audit_log


def record(session: Session, principal: Principal, action: str, subject_type: str,
           subject_id: str | int, fields: Iterable[str], reason: str) -> None:
    session.execute(audit_log.insert().values(
        actor_sub=principal.sub, actor_role=str(principal.role), actor_scope=principal.scope,
        action=action, subject_type=subject_type, subject_id=str(subject_id),
        fields=sorted(fields), reason=reason,
    ))


def query(session: Session, principal: Principal, *, actor_sub: str | None = None,
          subject_type: str | None = None, subject_id: str | None = None,
          since: datetime | None = None, until: datetime | None = None,
          limit: int = 100, offset: int = 0) -> list[dict[str, Any]]:
    """Audit rows, newest first; reading the audit log is itself audited."""
    stmt = sa.select(audit_log).order_by(audit_log.c.id.desc()).limit(limit).offset(offset)
    filters = {
        audit_log.c.actor_sub: actor_sub,
        audit_log.c.subject_type: subject_type,
        audit_log.c.subject_id: subject_id,
    }
    for column, value in filters.items():
        if value is not None:
            stmt = stmt.where(column == value)
    if since is not None:
        stmt = stmt.where(audit_log.c.at >= since)
    if until is not None:
        stmt = stmt.where(audit_log.c.at < until)
    rows = [dict(r._mapping) for r in session.execute(stmt)]
    record(session, principal, "read_audit_log", "audit_log", "query",
           [k.name for k, v in filters.items() if v is not None], "audit review")
    return rows

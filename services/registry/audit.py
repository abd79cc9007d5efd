"""The sensitive-data audit log (P5.4.4 "personal privacy must never leak").

Every read of a personal field — an unmasked ID number or phone, special-group tags,
a one-query search by person — writes one row: who, in which role and scope, when,
what, about whom and why.  Rows are written in the same transaction as the read, and the
response is sent only after that transaction commits, so no read goes unrecorded.

Retention: rows are kept at least six months (Cybersecurity Law Art. 21; ``AUDIT_RETENTION_DAYS``,
a value under 183 stops the service at start) and then purged by a timer through the one
path the database allows, ``registry.purge_audit_log(days)`` (migration 0004), which itself
refuses fewer than 183 days.  UPDATE, TRUNCATE and any other DELETE are refused by triggers.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from gridgov_common.kernel import scoping
from gridgov_common.kernel.auth import Principal
from gridgov_common.platform import audit_retention
from services.registry.models import audit_log

# the floor (183 days, also in migration 0004's trigger) and the start-up check, shared
# with assessment's track audit
MIN_RETENTION_DAYS = audit_retention.MIN_RETENTION_DAYS
DEFAULT_RETENTION_DAYS = audit_retention.DEFAULT_RETENTION_DAYS
AuditRetention = audit_retention.AuditRetention
retention_days = audit_retention.retention_days


def record(session: Session, principal: Principal, action: str, subject_type: str,
           subject_id: str | int, fields: Iterable[str], reason: str) -> None:
    session.execute(audit_log.insert().values(
        actor_sub=principal.sub, actor_role=str(principal.role), actor_scope=principal.scope,
        action=action, subject_type=subject_type, subject_id=str(subject_id),
        fields=sorted(fields), reason=reason,
    ))


def record_refusal(session: Session, principal: Principal, action: str, subject_type: str,
                   subject_id: str | int, fields: Iterable[str], reason: str | None,
                   refusal: Exception) -> None:
    """A refused attempt to read personal data (an ``unmask`` the role may not make, a
    resident or export outside the caller's scope) is recorded too (P5.4.4; issue 10
    item 6): ``<action>_refused``, with the stated reason and why it was refused.

    The refusal answers an error, which rolls the worker's transaction back, so the row
    is written and committed here, on its own (nothing else was written before the check).
    """
    session.rollback()
    why = getattr(refusal, "message", str(refusal))
    record(session, principal, f"{action}_refused", subject_type, subject_id, fields,
           f"{(reason or '').strip()} | refused: {why}"[:500])
    session.commit()


def query(session: Session, principal: Principal, *, actor_sub: str | None = None,
          action: str | None = None, subject_type: str | None = None, subject_id: str | None = None,
          since: datetime | None = None, until: datetime | None = None,
          limit: int = 100, offset: int = 0) -> list[dict[str, Any]]:
    """Audit rows of the reader's district (rows of actors whose scope lies in it; issue
    10), newest first; reading the audit log is itself audited."""
    actor_code = sa.func.split_part(audit_log.c.actor_scope, ":", 2)
    stmt = (sa.select(audit_log).where(scoping.where_district(principal, actor_code))
            .order_by(audit_log.c.id.desc()).limit(limit).offset(offset))
    filters = {
        audit_log.c.actor_sub: actor_sub,
        audit_log.c.action: action,
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
    # who read the log (actor, at), and with which filter (names in fields, values in reason)
    asked = {k.name: v for k, v in filters.items() if v is not None}
    asked.update({k: v.isoformat() for k, v in (("since", since), ("until", until)) if v})
    record(session, principal, "read_audit_log", "audit_log", "query", asked,
           "audit review: " + json.dumps({**asked, "limit": limit, "offset": offset},
                                         ensure_ascii=False, sort_keys=True))
    return rows


def purge(session: Session, days: int) -> int:
    """Delete rows older than ``days`` through the database's one allowed path."""
    return audit_retention.purge(session, "registry.purge_audit_log", days)

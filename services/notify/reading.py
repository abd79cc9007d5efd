"""Reads over HTTP: the app inbox (read/unread per user) and the deliveries operators
watch (failed and dead-lettered ones, with an operator retry).

Inbox visibility: a message addressed to (role, scope) is seen by every user whose token
has that role and a scope covering it (a town grid chief of 320505001 sees what was sent to
town grid chiefs of that town; a department officer only their department's).  Read marks
are per user (``sub``): one reading it does not mark it read for a colleague.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg

from gridgov_common.kernel import scoping
from gridgov_common.kernel.auth import Principal
from gridgov_common.kernel.errors import Conflict, NotFound
from gridgov_common.kernel.roles import ScopeLevel
from gridgov_common.platform.db import fixed
from services.notify import contacts
from services.notify.models import (
    deliveries,
    inbox,
    inbox_reads,
    notifications,
    subscriptions,
)


def _visible(principal: Principal):
    condition = inbox.c.role == str(principal.role)
    if principal.scope_level == ScopeLevel.DEPARTMENT:
        return sa.and_(condition, inbox.c.scope_level == ScopeLevel.DEPARTMENT.value,
                       inbox.c.scope_code == principal.scope_code)
    return sa.and_(condition, inbox.c.scope_level != ScopeLevel.DEPARTMENT.value,
                   inbox.c.scope_code.startswith(principal.scope_code, autoescape=True))


def _columns(principal: Principal):
    read = (sa.select(inbox_reads.c.read_at).where(
        inbox_reads.c.message_id == inbox.c.message_id, inbox_reads.c.sub == principal.sub)
        .scalar_subquery())
    return [inbox, read.label("read_at")]


def _public(row: Any) -> dict[str, Any]:
    return {"message_id": row.message_id, "notification_id": row.notification_id,
            "case_id": row.case_id, "kind": row.kind, "role": row.role,
            "scope": f"{row.scope_level}:{row.scope_code}", "priority": row.priority,
            "title": row.title, "body": row.body, "created_at": row.created_at.isoformat(),
            "read": row.read_at is not None,
            "read_at": row.read_at.isoformat() if row.read_at else None}


def list_inbox(session, principal: Principal, params: dict[str, Any]) -> dict[str, Any]:
    """Alerts (priority 0) first, then newest first; ``unread=true`` hides read ones."""
    query = sa.select(*_columns(principal)).where(_visible(principal))
    if params.get("unread"):
        query = query.where(~sa.exists().where(inbox_reads.c.message_id == inbox.c.message_id,
                                               inbox_reads.c.sub == principal.sub))
    if params.get("before"):
        query = query.where(inbox.c.message_id < params["before"])
    rows = session.execute(query.order_by(inbox.c.priority, inbox.c.message_id.desc())
                           .limit(params["limit"]))
    return {"items": [_public(row) for row in rows]}


def mark_read(session, principal: Principal, message_id: int) -> dict[str, Any]:
    """Idempotent: reading twice keeps the first read time. 404 if not the caller's."""
    exists = session.execute(sa.select(inbox.c.message_id).where(
        inbox.c.message_id == message_id, _visible(principal))).first()
    if exists is None:
        raise NotFound(f"no inbox message {message_id} for you")
    session.execute(pg.insert(inbox_reads).values(message_id=message_id, sub=principal.sub)
                    .on_conflict_do_nothing())
    row = session.execute(sa.select(*_columns(principal)).where(
        inbox.c.message_id == message_id)).one()
    return _public(row)


def _addressee(row: Any) -> tuple[str | None, str | None, str | None]:
    """(role, scope, masked address) of whom a delivery is for, so that an operator reads
    "the fire department's officer, w***@…" rather than ``subscription:17``: a contact
    point's own, or those in an inbox recipient ``inbox:<role>@<level>:<code>``."""
    if row.sub_role is not None:
        return row.sub_role, f"{row.sub_scope_level}:{row.sub_scope_code}", row.address_masked
    kind, _, rest = row.recipient.partition(":")
    role, _, scope = rest.partition("@")
    if kind != "inbox" or not role or not scope:
        return None, None, None
    return role, scope, None


def _delivery(row: Any) -> dict[str, Any]:
    role, scope, address = _addressee(row)
    return {"delivery_id": row.delivery_id, "notification_id": row.notification_id,
            "cause_id": row.cause_id, "case_id": row.case_id, "kind": row.kind,
            "channel": row.channel, "recipient": row.recipient, "recipient_role": role,
            "recipient_scope": scope, "address_masked": address, "state": row.state,
            "attempts": row.attempts, "last_error": row.last_error,
            "next_attempt_at": row.next_attempt_at.isoformat(),
            "created_at": row.created_at.isoformat(),
            "sent_at": row.sent_at.isoformat() if row.sent_at else None}


def _delivery_query():
    # an alias: the visibility rule's own subquery over subscriptions must not correlate
    addressee = subscriptions.alias("addressee")
    return (sa.select(deliveries, notifications.c.case_id, notifications.c.kind,
                      addressee.c.role.label("sub_role"),
                      addressee.c.scope_level.label("sub_scope_level"),
                      addressee.c.scope_code.label("sub_scope_code"),
                      addressee.c.address_masked)
            .join(notifications, notifications.c.notification_id == deliveries.c.notification_id)
            .outerjoin(addressee, addressee.c.subscription_id == deliveries.c.subscription_id))


def _deliveries_visible(principal: Principal | None):
    """SQL: deliveries to places of the caller's scope (issue 10: a district's operators see
    their district's), to the contact points it manages, or to departments (deployment-wide).
    ``None``: the operator's own tools, everything."""
    if principal is None:
        return sa.true()
    inbox_scope = sa.func.split_part(deliveries.c.recipient, "@", 2)  # inbox:<role>@<scope>
    return sa.or_(
        deliveries.c.subscription_id.in_(
            sa.select(subscriptions.c.subscription_id).where(contacts.visible(principal))),
        sa.and_(deliveries.c.subscription_id.is_(None), sa.or_(
            inbox_scope.startswith(f"{ScopeLevel.DEPARTMENT.value}:"),
            scoping.where_scope(principal, sa.func.split_part(inbox_scope, ":", 2)))))


def list_deliveries(session, params: dict[str, Any],
                    principal: Principal | None = None) -> dict[str, Any]:
    """Default ``state=dead``: the dead-lettered deliveries, newest first; ``failing``:
    pending ones that have failed at least once (retrying)."""
    query = _delivery_query().where(_deliveries_visible(principal))
    state = params["state"]
    if state == "failing":
        query = query.where(deliveries.c.state == fixed("pending"),
                            deliveries.c.last_error.is_not(None))
    else:
        query = query.where(deliveries.c.state == fixed(state))
    if params.get("cause_id"):
        query = query.where(deliveries.c.cause_id == params["cause_id"])
    rows = session.execute(query.order_by(deliveries.c.delivery_id.desc())
                           .limit(params["limit"]))
    return {"items": [_delivery(row) for row in rows]}


def retry(session, delivery_id: int, principal: Principal | None = None) -> dict[str, Any]:
    """An operator sends a dead delivery again (after fixing the endpoint): it becomes
    pending with a fresh attempt count."""
    visible = _deliveries_visible(principal)
    updated = session.execute(sa.update(deliveries).where(
        deliveries.c.delivery_id == delivery_id, deliveries.c.state == fixed("dead"), visible)
        .values(state="pending", attempts=0, next_attempt_at=sa.func.now())
        .returning(deliveries.c.delivery_id)).first()
    if updated is None:
        found = session.execute(sa.select(deliveries.c.state).where(
            deliveries.c.delivery_id == delivery_id, visible)).scalar()
        if found is None:
            raise NotFound(f"no delivery {delivery_id}")
        raise Conflict(f"delivery {delivery_id} is {found}, not dead", code="not_dead")
    return _delivery(session.execute(_delivery_query().where(
        deliveries.c.delivery_id == delivery_id)).one())

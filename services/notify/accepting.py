"""Turning a request into stored deliveries, in the consumer's transaction.

A ``notify.request`` (or a ``dispatch.escalation`` / ``alert.major_event`` translated into
one by ``causes``) becomes: one ``notifications`` row per cause, one ``deliveries`` row per
(cause, recipient, channel) — inserted with ``ON CONFLICT DO NOTHING``, so the same cause
requested again adds nothing and sends nothing — and, for people addressed by (role,
scope), an inbox message stored at once (the inbox delivery is "sent" when it commits, and
``notify.sent`` goes into the outbox with it).  Webhook, e-mail and SMS deliveries stay
``pending``: the sender (``sending``) picks them up after this transaction committed.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from marshmallow import ValidationError
from sqlalchemy.dialects import postgresql as pg

from gridgov_common.contract import (
    EVENTS_EXCHANGE,
    INVALID_PAYLOAD,
    ContractError,
    ValidatedEnvelope,
    format_timestamp,
    latest_version,
    schema_for,
)
from gridgov_common.kernel import storable
from gridgov_common.platform import department_register
from gridgov_common.platform.bulk import insert_rows
from gridgov_common.platform.outbox import add_to_outbox
from services.notify.domain import templates
from services.notify.domain.requests import Plan, Request, plan, reached
from services.notify.models import (
    SCHEMA,
    deliveries,
    departments,
    inbox,
    notifications,
    subscriptions,
)

PRODUCER = "notify"
SENT_EVENT = "notify.sent"
SENT_VERSION = latest_version(SENT_EVENT)
def accept(session, requests: list[Request], now: datetime | None = None) -> int:
    """Store ``requests`` (one consumer batch) in a few multi-row statements; the number
    of new deliveries (0 when every cause was seen before).  Everything is checked before
    anything is written: a Refused request fails the whole batch, which the batch consumer
    then replays message by message, so only the refused one is dead-lettered."""
    now = now or datetime.now(UTC)
    requests = with_names(session, requests)
    plans = [plan(request) for request in requests]
    note_ids = _notifications(session, requests)
    reached = _reached(session, plans)
    new = _inbox(session, plans, note_ids, now)
    new += _queue(session, plans, note_ids, reached)
    return new


def with_names(session, requests: list[Request]) -> list[Request]:
    """Each request with the register's names of the departments its parameters name
    (``params["names"]``: {param: {locale: name}}), so people read 消防, not ``fire``; a
    code the register does not know stays a code (templates._with_labels)."""
    codes = {str(r.params[name]) for r in requests for name in templates.NAMED
             if r.params.get(name)}
    if not codes:
        return requests
    known = department_register.names_both(session, departments, codes)
    named = []
    for request in requests:
        names = {name: {"zh-CN": known[code][0], "en": known[code][1]}
                 for name in templates.NAMED
                 if (code := str(request.params.get(name) or "")) in known}
        named.append(replace(request, params={**request.params, "names": names})
                     if names else request)
    return named


_NOTE_IDS = (sa.select(notifications.c.cause_id, notifications.c.notification_id)
             .where(notifications.c.cause_id == sa.func.any(
                 sa.bindparam("causes", type_=pg.ARRAY(sa.Text)))))


def _notifications(session, requests: list[Request]) -> dict[str, str]:
    """cause_id → notification_id, the existing one for a cause seen before."""
    insert_rows(session, notifications, [
        {"notification_id": str(uuid.uuid4()), "cause_id": r.cause_id, "case_id": r.case_id,
         "kind": r.kind, "template": r.template, "locale": r.locale, "params": r.params,
         "priority": r.priority, "producer": r.producer} for r in requests],
        on_conflict="(cause_id) DO NOTHING")
    rows = session.execute(_NOTE_IDS, {"causes": list({r.cause_id for r in requests})})
    return {row.cause_id: row.notification_id for row in rows}


def _reached(session, plans: list[Plan]) -> list[list[sa.Row]]:
    """Per plan, the active subscriptions it reaches (``domain.requests.reached``), read
    in one query for the whole batch."""
    roles = sorted({g.role for plan in plans for g in plan.groups})
    ids = sorted({i for plan in plans for i in plan.subscriber_ids})
    condition = sa.or_(subscriptions.c.role.in_(roles),
                       subscriptions.c.subscription_id.in_(ids))
    rows = list(session.execute(sa.select(subscriptions).where(subscriptions.c.active,
                                                               condition)))
    return [reached(plan, rows) for plan in plans]


def _insert_deliveries(session, values: list[dict[str, Any]],
                       returning: tuple[str, ...] = ()) -> sa.CursorResult | None:
    """One INSERT over arrays (gridgov_common.platform.bulk); a delivery already there is kept."""
    if not values:
        return None
    return insert_rows(session, deliveries, values, returning=returning,
                       on_conflict="ON CONSTRAINT deliveries_once DO NOTHING")


def _base(request: Request, notification_id: str) -> dict[str, Any]:
    return {"notification_id": notification_id, "cause_id": request.cause_id,
            "priority": request.priority}


def _inbox(session, plans: list[Plan], note_ids: dict[str, str], now: datetime) -> int:
    """Inbox messages: stored now, so "sent" now (once per cause and group)."""
    created = _insert_deliveries(session, [
        {**_base(p.request, note_ids[p.request.cause_id]), "channel": "inbox",
         "recipient": g.key, "state": "sent", "attempts": 1, "sent_at": now}
        for p in plans for g in p.groups], ("delivery_id", "cause_id", "recipient"))
    created = list(created or ())
    if not created:
        return 0
    targets = {(p.request.cause_id, g.key): (p.request, g) for p in plans for g in p.groups}
    messages = []
    for row in created:
        request, group = targets[(row.cause_id, row.recipient)]
        title, body = templates.render(request.template, request.locale, request.params)
        note = note_ids[request.cause_id]
        messages.append({"notification_id": note, "case_id": request.case_id,
                         "kind": request.kind, "role": group.role,
                         "scope_level": group.level, "scope_code": group.code,
                         "priority": request.priority, "title": title, "body": body,
                         "created_at": now})
        announce(session, row.delivery_id, note, request.cause_id, request.case_id,
                 request.kind, "inbox", row.recipient, 1, now)
    insert_rows(session, inbox, messages)
    return len(created)


def _queue(session, plans: list[Plan], note_ids: dict[str, str],
           reached: list[list[sa.Row]]) -> int:
    created = _insert_deliveries(session, [
        {**_base(p.request, note_ids[p.request.cause_id]), "channel": row.channel,
         "recipient": f"subscription:{row.subscription_id}",
         "subscription_id": row.subscription_id, "state": "pending"}
        for p, rows in zip(plans, reached, strict=True) for row in rows])
    return 0 if created is None else created.rowcount


def announce(session, delivery_id: int, notification_id: str, cause_id: str,
             case_id: str | None, kind: str, channel: str, recipient: str, attempts: int,
             sent_at: datetime) -> None:
    """``notify.sent`` into the outbox, in the transaction that marks the delivery sent."""
    add_to_outbox(session, EVENTS_EXCHANGE, SENT_EVENT, sent_envelope({
        "delivery_id": delivery_id, "notification_id": str(notification_id),
        "cause_id": cause_id, "case_id": str(case_id) if case_id else None, "kind": kind,
        "channel": channel, "recipient": recipient[:120], "attempts": attempts,
        "sent_at": format_timestamp(sent_at)}), schema=SCHEMA)


def sent_envelope(payload: dict[str, Any]) -> ValidatedEnvelope:
    """The ``notify.sent`` envelope, as ``make_envelope`` builds it: the payload (plain
    JSON values already) is checked against its schema and for storable values; the
    envelope's own fields are fresh ids and this module's constants, so the envelope schema
    is not run again for each of them (thousands a second: bench_07 measured it at a
    twentieth of notify's CPU).  Raises ContractError like ``make_envelope``."""
    try:
        loaded = schema_for(SENT_EVENT, SENT_VERSION).load(payload)
    except ValidationError as exc:
        raise ContractError(INVALID_PAYLOAD, f"payload does not match {SENT_EVENT} "
                            f"v{SENT_VERSION}", {"errors": exc.messages}) from None
    unstorable = storable.problems(loaded)
    if unstorable:
        raise ContractError(INVALID_PAYLOAD, "payload holds values that cannot be stored",
                            unstorable)
    return ValidatedEnvelope({
        "message_id": str(uuid.uuid4()), "type": SENT_EVENT, "version": SENT_VERSION,
        "occurred_at": format_timestamp(datetime.now(UTC)), "producer": PRODUCER,
        "correlation_id": None, "payload": payload})

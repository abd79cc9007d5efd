"""Subscriptions: where a role over a scope (or a department system) is reached outside the
app — an e-mail address, a mobile number or a webhook URL with its signing secret.

Addresses and secrets are personal or secret data: stored encrypted with the platform's
PII cipher (AES-256-GCM, keys from the environment; gridgov_common/kernel/pii.py),
shown masked (P5.4.4; GB/T 35273 §6.3 encryption, §7.2 display masking).  A webhook secret
is shown once, in the answer that created it.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa

from gridgov_common.kernel import scoping
from gridgov_common.kernel.errors import NotFound, Unprocessable
from gridgov_common.kernel.pii import PiiCipher, mask_phone
from gridgov_common.kernel.roles import Role, ScopeLevel
from services.notify.domain.requests import Refused, people
from services.notify.models import subscriptions

FIELDS = {"email": "notify.email", "sms": "notify.phone", "webhook": "notify.webhook_url"}
SECRET_FIELD = "notify.webhook_secret"


def mask_email(address: str) -> str:
    """'zhang.san@example.cn' → 'z***@example.cn' (the domain says which office)."""
    local, _, domain = address.partition("@")
    return f"{local[:1]}***@{domain}"


def mask_url(url: str) -> str:
    """Scheme, host and port only: paths and queries often carry tokens."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}/***"


def mask(channel: str, address: str) -> str:
    if channel == "email":
        return mask_email(address)
    if channel == "sms":
        return mask_phone(address)  # P5.4.4: '138****1234'
    return mask_url(address)


def public(row: Any) -> dict[str, Any]:
    return {"subscription_id": row.subscription_id, "role": row.role,
            "scope": f"{row.scope_level}:{row.scope_code}", "channel": row.channel,
            "address": row.address_masked, "locale": row.locale, "kinds": row.kinds,
            "label": row.label, "active": row.active, "created_by": row.created_by,
            "created_at": row.created_at.isoformat(),
            "previous_secret_until": row.previous_secret_until.isoformat()
            if row.previous_secret_until else None}


def visible(principal):
    """SQL: the contact points ``principal`` manages — those over places of its scope
    (issue 10: a district admin, its own district's); a department's contact points are
    deployment-wide (a department scope names no district)."""
    return sa.or_(subscriptions.c.scope_level == ScopeLevel.DEPARTMENT.value,
                  scoping.where_scope(principal, subscriptions.c.scope_code))


def create(session, cipher: PiiCipher, body: dict[str, Any], principal) -> dict[str, Any]:
    """Store a subscription; a webhook without a secret gets a generated one, returned
    here only."""
    try:  # P5.0: the scope level must be the role's
        who = people({"role": body["role"], "scope": body["scope"]})
    except Refused as exc:
        raise Unprocessable(exc.message, fields={"scope": [exc.message]}) from None
    if who.level != ScopeLevel.DEPARTMENT.value:
        scoping.require(principal, who.code, f"scope {body['scope']}")
    sub = principal.sub
    channel, address = body["channel"], body["address"]
    if channel == "webhook" and urlsplit(address).scheme not in ("http", "https"):
        raise Unprocessable("a webhook address is an http(s) URL",
                            fields={"address": ["not an http(s) URL"]})
    secret = body.get("secret") or (secrets.token_urlsafe(32) if channel == "webhook" else None)
    row = session.execute(sa.insert(subscriptions).values(
        role=who.role, scope_level=who.level, scope_code=who.code, channel=channel,
        address_enc=cipher.encrypt(address, FIELDS[channel]),
        address_masked=mask(channel, address),
        secret_enc=cipher.encrypt(secret, SECRET_FIELD) if secret else None,
        locale=body["locale"], kinds=body.get("kinds"), label=body.get("label", ""),
        created_by=sub).returning(subscriptions)).one()
    result = public(row)
    if secret:
        result["secret"] = secret
    return result


def listing(session, principal, role: Role | None,
            active: bool | None) -> list[dict[str, Any]]:
    query = (sa.select(subscriptions).where(visible(principal))
             .order_by(subscriptions.c.subscription_id))
    if role is not None:
        query = query.where(subscriptions.c.role == role)
    if active is not None:
        query = query.where(subscriptions.c.active == active)
    return [public(row) for row in session.execute(query)]


def get(session, principal, subscription_id: int) -> dict[str, Any]:
    row = session.execute(sa.select(subscriptions).where(
        subscriptions.c.subscription_id == subscription_id, visible(principal))).first()
    if row is None:
        raise NotFound(f"no subscription {subscription_id}")
    return public(row)


def deactivate(session, principal, subscription_id: int) -> dict[str, Any]:
    """Kept (its deliveries refer to it), no longer matched; pending deliveries to it are
    dead-lettered by the sender with the reason."""
    row = session.execute(sa.update(subscriptions).where(
        subscriptions.c.subscription_id == subscription_id, visible(principal))
        .values(active=False)
        .returning(subscriptions)).first()
    if row is None:
        raise NotFound(f"no subscription {subscription_id}")
    return public(row)


def addresses(cipher: PiiCipher, rows: list[Any], now: datetime | None = None
              ) -> dict[int, tuple[str, str | None, str | None]]:
    """subscription id → (address, secret, previous secret while it overlaps), decrypted
    for sending only."""
    now = now or datetime.now(UTC)
    return {row.subscription_id: (
        cipher.decrypt(row.address_enc, FIELDS[row.channel]),
        cipher.decrypt(row.secret_enc, SECRET_FIELD) if row.secret_enc else None,
        cipher.decrypt(row.previous_secret_enc, SECRET_FIELD)
        if row.previous_secret_enc is not None and row.previous_secret_until is not None
        and row.previous_secret_until > now else None)
        for row in rows}


def rotate_secret(session, cipher: PiiCipher, subscription_id: int, overlap: timedelta,
                  secret: str | None = None, principal=None) -> dict[str, Any]:
    """Give a webhook a new signing secret (returned here only); the old one keeps signing
    as a second signature for ``overlap``, so the receiver switches without refusing a
    delivery.  Rotating again within the overlap drops the oldest secret."""
    # ``principal`` None: the operator's CLI (services/notify/cli.py), any contact point
    mine = sa.true() if principal is None else visible(principal)
    row = session.execute(sa.select(subscriptions).where(
        subscriptions.c.subscription_id == subscription_id, mine).with_for_update()).first()
    if row is None:
        raise NotFound(f"no subscription {subscription_id}")
    if row.channel != "webhook":
        raise Unprocessable("only webhooks have a signing secret",
                            fields={"subscription_id": ["not a webhook"]})
    if secret is not None and len(secret) < 16:
        raise Unprocessable("a webhook secret has at least 16 characters",
                            fields={"secret": ["shorter than 16 characters"]})
    secret = secret or secrets.token_urlsafe(32)
    until = datetime.now(UTC) + overlap
    keep = row.secret_enc is not None and overlap > timedelta(0)
    updated = session.execute(sa.update(subscriptions).where(
        subscriptions.c.subscription_id == subscription_id).values(
        secret_enc=cipher.encrypt(secret, SECRET_FIELD),
        previous_secret_enc=row.secret_enc if keep else None,
        previous_secret_until=until if keep else None).returning(subscriptions)).one()
    result = public(updated)
    result["secret"] = secret
    return result

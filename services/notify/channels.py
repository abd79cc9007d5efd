"""The outside channels: webhooks (HMAC-signed), e-mail (SMTP) and SMS (an HTTP gateway).

Each ``send`` either returns (the other side accepted the message: a 2xx answer, an SMTP
``250``) or raises :class:`SendFailed`; the sender decides about retries.  HTTP goes over
kept-alive connections (a pool per host, ``webclient``): a webhook round trip is a few
hundred microseconds of CPU instead of the milliseconds of a new connection, which is what
makes ≥ 1,000 webhook deliveries/s possible on two cores.

Webhook signature (docs/NOTIFY.md shows a receiver): ``X-Gridgov-Signature:
sha256=<hex HMAC-SHA256(secret, raw body)>``, and while a rotated secret overlaps,
``sha256=<new>,sha256=<previous>`` (as Stripe does: a receiver accepts the request when any
listed signature matches its secret); ``X-Gridgov-Timestamp`` repeats the body's
``sent_at`` (the body is signed, so the timestamp is too) and ``X-Gridgov-Delivery`` the
delivery id (a receiver deduplicates by it: delivery is at-least-once).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import smtplib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any

from services.notify import settings as declared
from services.notify.webclient import HttpError, HttpPool

SIGNATURE_HEADER = "X-Gridgov-Signature"
TIMESTAMP_HEADER = "X-Gridgov-Timestamp"
DELIVERY_HEADER = "X-Gridgov-Delivery"
ERROR_TEXT_MAX = 300


class SendFailed(Exception):
    """The channel did not accept the message (retried later, then dead-lettered)."""


@dataclass(frozen=True)
class Outgoing:
    """One rendered message for one address."""

    delivery_id: int
    address: str
    secret: str | None
    title: str
    body: str
    document: dict[str, Any]  # the webhook JSON body
    previous_secret: str | None = None  # a rotated secret still in its overlap period


def sign(secret: str, raw_body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), raw_body, hashlib.sha256).hexdigest()


def signature_header(raw_body: bytes, secret: str, previous: str | None = None) -> str:
    """The current secret's signature first, then the previous one's during an overlap."""
    signatures = [sign(secret, raw_body)]
    if previous and previous != secret:
        signatures.append(sign(previous, raw_body))
    return ",".join(signatures)


def verify(secret: str, raw_body: bytes, header: str) -> bool:
    """What a receiver does: any listed signature may match (constant-time comparisons)."""
    expected = sign(secret, raw_body)
    found = [hmac.compare_digest(expected, part.strip())
             for part in (header or "").split(",")]
    return any(found)


def _post(pool: HttpPool, url: str, raw: bytes, headers: Mapping[str, str],
          what: str) -> None:
    """Accepted on a 2xx answer; anything else (or no answer) raises SendFailed."""
    try:
        status = pool.post(url, raw, headers)
    except HttpError as exc:
        raise SendFailed(str(exc)[:ERROR_TEXT_MAX]) from None
    if not 200 <= status < 300:
        raise SendFailed(f"{what} answered HTTP {status}")


class Webhook:
    def __init__(self, pool: HttpPool) -> None:
        self.pool = pool

    def send(self, message: Outgoing) -> None:
        raw = json.dumps(message.document, ensure_ascii=False, separators=(",", ":")).encode()
        headers = {TIMESTAMP_HEADER: message.document["sent_at"],
                   DELIVERY_HEADER: str(message.delivery_id)}
        if message.secret:
            headers[SIGNATURE_HEADER] = signature_header(raw, message.secret,
                                                         message.previous_secret)
        _post(self.pool, message.address, raw, headers, "the webhook")


class Email:
    """Plain-text mail over SMTP (STARTTLS and login when configured)."""

    def __init__(self, config: Mapping[str, Any]) -> None:
        self.host = declared.SMTP_HOST.read(config)
        self.port = declared.SMTP_PORT.read(config)
        self.sender = declared.SMTP_FROM.read(config)
        self.user = declared.SMTP_USER.read(config)
        self.password = declared.SMTP_PASSWORD.read(config)
        self.starttls = declared.SMTP_STARTTLS.read(config)
        self.timeout = declared.SMTP_TIMEOUT.read(config)

    def send(self, message: Outgoing) -> None:
        mail = EmailMessage()
        mail["From"], mail["To"], mail["Subject"] = self.sender, message.address, message.title
        mail["Message-ID"] = make_msgid(idstring=f"delivery-{message.delivery_id}")
        mail.set_content(message.body)
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
                if self.starttls:
                    smtp.starttls()
                if self.user:
                    smtp.login(self.user, self.password)
                smtp.send_message(mail)
        except (OSError, smtplib.SMTPException) as exc:
            raise SendFailed(f"SMTP: {type(exc).__name__}: {exc}"[:ERROR_TEXT_MAX]) from None


class HttpJsonSmsGateway:
    """The default SMS gateway: ``POST SMS_GATEWAY_URL`` with ``{"to", "text", "sign",
    "ref"}`` and ``Authorization: Bearer SMS_GATEWAY_TOKEN``; 2xx means accepted.  Another
    provider is another class in ``SMS_GATEWAYS`` chosen by ``SMS_GATEWAY``."""

    def __init__(self, config: Mapping[str, Any], pool: HttpPool) -> None:
        self.url = declared.SMS_GATEWAY_URL.read(config)
        self.token = declared.SMS_GATEWAY_TOKEN.read(config)
        self.sign = declared.SMS_SIGN.read(config)
        self.pool = pool

    def send(self, message: Outgoing) -> None:
        if not self.url:
            raise SendFailed("SMS_GATEWAY_URL is not configured")
        raw = json.dumps({"to": message.address, "text": f"{message.title} {message.body}",
                          "sign": self.sign, "ref": str(message.delivery_id)},
                         ensure_ascii=False).encode()
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        _post(self.pool, self.url, raw, headers, "the SMS gateway")


SMS_GATEWAYS: dict[str, Callable[[Mapping[str, Any], HttpPool], Any]] = {
    "http_json": HttpJsonSmsGateway,
}


def build(config: Mapping[str, Any]) -> tuple[dict[str, Any], HttpPool]:
    """The channel senders by name, from the container config."""
    pool = HttpPool(declared.HTTP_SEND_TIMEOUT.read(config))
    gateway = SMS_GATEWAYS[declared.SMS_GATEWAY.read(config)]
    return {"webhook": Webhook(pool), "email": Email(config),
            "sms": gateway(config, pool)}, pool

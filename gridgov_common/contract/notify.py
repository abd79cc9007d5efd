"""Payload schemas of the notify service: ``notify.request`` (any gridgov service asks for a
message to people or department systems) and ``notify.sent`` (one delivery went out).

Both travel on ``gridgov.events`` with the type as routing key (``event_key``: producer
word ``notify``). A ``notify.request`` is sent by other services (envelope ``producer`` is
the sender, e.g. ``dispatch``); ``cause_id`` is the idempotency key: one cause is notified
once per recipient and channel, however often it is requested. No personal data travels
here (P5.4.4): recipients are (role, scope) pairs or subscription ids, never addresses.
"""

from __future__ import annotations

from enum import StrEnum

from marshmallow import ValidationError, fields, validate, validates_schema

from gridgov_common.contract.envelope import Payload, UtcTimestamp, message_type
from gridgov_common.contract.messages import code_field, enum_field

SCOPE_RE = r"^(district|town|community|grid|department):[a-z0-9_]{1,40}$"
CAUSE_ID_MAX = 200
MAX_RECIPIENTS = 100
MAX_PARAMS = 40
PARAM_TEXT_MAX = 2000


class NotifyKind(StrEnum):
    """What a notification is about (the issue's list of messages)."""

    ASSIGNMENT = "assignment"
    ESCALATION = "escalation"
    DEADLINE_REMINDER = "deadline_reminder"
    MAJOR_EVENT = "major_event"
    RETURN_VISIT = "return_visit"
    MEETING_REMINDER = "meeting_reminder"
    CIRCULAR = "circular"
    DAILY_DIGEST = "daily_digest"


class Locale(StrEnum):
    ZH_CN = "zh-CN"
    EN = "en"


class Channel(StrEnum):
    INBOX = "inbox"
    WEBHOOK = "webhook"
    EMAIL = "email"
    SMS = "sms"


def scope_field(**kwargs) -> fields.String:
    """``<level>:<code>`` as in a token's scope (``community:320505001001``)."""
    return fields.String(validate=validate.Regexp(SCOPE_RE, error="Not a scope level:code."),
                         **kwargs)


class Recipient(Payload):
    """Either people by (role, scope) — their app inbox and every subscription of that role
    whose scope covers it — or one subscription by id (a department system, a mailbox)."""

    role = code_field()
    scope = scope_field()
    subscriber = fields.Integer(strict=True, validate=validate.Range(min=1))

    @validates_schema
    def _one_kind(self, data, **kwargs):
        people = "role" in data or "scope" in data
        if people and not ("role" in data and "scope" in data):
            raise ValidationError("role and scope go together", "scope")
        if people == ("subscriber" in data):
            raise ValidationError("give either role and scope, or subscriber", "subscriber")


@message_type("notify.request", 1)
class NotifyRequestV1(Payload):
    """Ask notify to tell people or systems something, rendered from a template."""

    cause_id = fields.String(required=True, validate=validate.Length(1, CAUSE_ID_MAX))
    case_id = fields.UUID(required=True, allow_none=True)
    kind = enum_field(NotifyKind, required=True)
    template = code_field(required=True)
    locale = enum_field(Locale, required=True)
    recipients = fields.List(fields.Nested(Recipient), required=True,
                             validate=validate.Length(1, MAX_RECIPIENTS))
    # template parameters: up to 40, each a string (≤ 2000 characters), number or boolean
    params = fields.Dict(keys=fields.String(validate=validate.Regexp(r"^[a-z][a-z0-9_]{0,39}$")),
                         required=True)

    @validates_schema
    def _param_values(self, data, **kwargs):
        params = data.get("params") or {}
        if len(params) > MAX_PARAMS:
            raise ValidationError(f"at most {MAX_PARAMS} parameters", "params")
        for name, value in params.items():
            plain = isinstance(value, bool | int | float) or (
                isinstance(value, str) and len(value) <= PARAM_TEXT_MAX)
            if not plain:
                raise ValidationError({name: ["a string (≤ 2000 characters), a number or a "
                                              "boolean"]}, "params")


@message_type("notify.sent", 1)
class NotifySentV1(Payload):
    """One delivery of a notification went out (an inbox message stored, a webhook
    answered 2xx, an e-mail accepted by the SMTP server, an SMS accepted by the gateway);
    dispatch records it in the case file when ``case_id`` is set (P5.3.4)."""

    delivery_id = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
    notification_id = fields.UUID(required=True)
    cause_id = fields.String(required=True, validate=validate.Length(1, CAUSE_ID_MAX))
    case_id = fields.UUID(required=True, allow_none=True)
    kind = enum_field(NotifyKind, required=True)
    channel = enum_field(Channel, required=True)
    recipient = fields.String(required=True, validate=validate.Length(1, 120))
    attempts = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
    sent_at = UtcTimestamp(required=True)


__all__ = ["Channel", "Locale", "NotifyKind", "NotifyRequestV1", "NotifySentV1", "Recipient"]

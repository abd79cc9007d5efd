"""marshmallow schemas of notify's HTTP inputs and outputs (unknown fields are refused)."""

from __future__ import annotations

import re

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from gridgov_common.contract.notify import Channel, Locale, NotifyKind, scope_field
from gridgov_common.kernel.roles import Role

EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")
MOBILE_RE = re.compile(r"^(?:\+?86)?1\d{10}$")
OUTSIDE = [c.value for c in Channel if c != Channel.INBOX]
KINDS = [k.value for k in NotifyKind]


class InboxQuerySchema(Schema):
    unread = fields.Boolean(load_default=False)
    before = fields.Integer(load_default=None, validate=validate.Range(min=1))
    limit = fields.Integer(load_default=50, validate=validate.Range(1, 200))


class InboxMessageSchema(Schema):
    message_id = fields.Integer()
    notification_id = fields.String()
    case_id = fields.String(allow_none=True)
    kind = fields.String()
    role = fields.String()
    scope = fields.String()
    priority = fields.Integer(metadata={"description": "0: major-event alert (listed first)"})
    title = fields.String()
    body = fields.String()
    created_at = fields.String()
    read = fields.Boolean()
    read_at = fields.String(allow_none=True)


class InboxListSchema(Schema):
    items = fields.List(fields.Nested(InboxMessageSchema))


class SubscriptionBodySchema(Schema):
    """A contact point: ``address`` is an e-mail address, a mobile number or a webhook
    URL; a webhook ``secret`` (≥ 16 characters) is generated when not given."""

    role = fields.String(required=True, validate=validate.OneOf([r.value for r in Role]))
    scope = scope_field(required=True)
    channel = fields.String(required=True, validate=validate.OneOf(OUTSIDE))
    address = fields.String(required=True, validate=validate.Length(3, 500))
    secret = fields.String(load_default=None, validate=validate.Length(16, 200))
    locale = fields.String(load_default=Locale.ZH_CN.value,
                           validate=validate.OneOf([loc.value for loc in Locale]))
    kinds = fields.List(fields.String(validate=validate.OneOf(KINDS)), load_default=None,
                        validate=validate.Length(min=1))
    label = fields.String(load_default="", validate=validate.Length(max=200))

    @validates_schema
    def _address(self, data, **kwargs):
        channel, address = data["channel"], data["address"]
        if channel == "email" and not EMAIL_RE.match(address):
            raise ValidationError("not an e-mail address", "address")
        if channel == "sms" and not MOBILE_RE.match(address):
            raise ValidationError("not a mobile number", "address")
        if channel != "webhook" and data.get("secret"):
            raise ValidationError("only webhooks have a secret", "secret")


class SubscriptionSchema(Schema):
    subscription_id = fields.Integer()
    role = fields.String()
    scope = fields.String()
    channel = fields.String()
    address = fields.String(metadata={"description": "masked"})
    secret = fields.String(metadata={"description": "webhooks, only when created or rotated"})
    previous_secret_until = fields.String(allow_none=True, metadata={
        "description": "webhooks: the previous secret signs too until then (rotation)"})
    locale = fields.String()
    kinds = fields.List(fields.String(), allow_none=True)
    label = fields.String()
    active = fields.Boolean()
    created_by = fields.String()
    created_at = fields.String()


class SecretRotationBodySchema(Schema):
    """A webhook's new signing secret (generated when not given) and how long the previous
    one keeps signing beside it (default WEBHOOK_SECRET_OVERLAP_HOURS; 0: not at all)."""

    secret = fields.String(load_default=None, validate=validate.Length(16, 200))
    overlap_hours = fields.Integer(load_default=None, validate=validate.Range(0, 720))


class SubscriptionQuerySchema(Schema):
    role = fields.String(load_default=None, validate=validate.OneOf([r.value for r in Role]))
    active = fields.Boolean(load_default=None)


class DeliveryQuerySchema(Schema):
    state = fields.String(load_default="dead",
                          validate=validate.OneOf(["dead", "failing", "pending", "sent"]))
    cause_id = fields.String(load_default=None, validate=validate.Length(1, 200))
    limit = fields.Integer(load_default=100, validate=validate.Range(1, 500))


class DeliverySchema(Schema):
    delivery_id = fields.Integer()
    notification_id = fields.String()
    cause_id = fields.String()
    case_id = fields.String(allow_none=True)
    kind = fields.String()
    channel = fields.String()
    recipient = fields.String()
    # whom it is for, in words a person can be shown (the codes are labelled by the reader)
    recipient_role = fields.String(allow_none=True)
    recipient_scope = fields.String(allow_none=True)
    address_masked = fields.String(allow_none=True)  # a contact point's, masked (P5.4.4)
    state = fields.String()
    attempts = fields.Integer()
    last_error = fields.String(allow_none=True)
    next_attempt_at = fields.String()
    created_at = fields.String()
    sent_at = fields.String(allow_none=True)


class DeliveryListSchema(Schema):
    items = fields.List(fields.Nested(DeliverySchema))

"""marshmallow schemas of the dispatch service's HTTP inputs and outputs.

Unknown fields are rejected (marshmallow's default RAISE), so a typo in a field name is
an error, not silently ignored data.
"""

from __future__ import annotations

from marshmallow import Schema, fields, validate

# --- delay requests, configuration admin, case file export (P5.3.3, P5.3.2, P6.2, P5.3.4) --

DELAY_STATES = ("pending", "approved", "denied")
NOTE = validate.Length(max=2000)


class DelayRequestQuerySchema(Schema):
    state = fields.String(load_default=None, validate=validate.OneOf(DELAY_STATES))


class DelayDecisionBodySchema(Schema):
    approve = fields.Boolean(required=True)
    note = fields.String(load_default=None, allow_none=True, validate=NOTE)


class DelayRequestSchema(Schema):
    request_id = fields.UUID()
    case_id = fields.UUID()
    case_number = fields.String()
    grid_code = fields.String()
    town_code = fields.String()
    assignment_id = fields.UUID()
    department = fields.String()
    reason = fields.String()
    requested_due_at = fields.DateTime()
    current_due_at = fields.DateTime()
    handle_due_at = fields.DateTime()
    requested_at = fields.DateTime()
    state = fields.String(validate=validate.OneOf(DELAY_STATES))
    decided_by = fields.String(allow_none=True)
    decided_role = fields.String(allow_none=True)
    decided_at = fields.DateTime(allow_none=True)
    decision_note = fields.String(allow_none=True)
    message_id = fields.String(allow_none=True)


class ConfigVersionSchema(Schema):
    version = fields.Integer()
    created_by = fields.String()
    created_at = fields.DateTime()
    description = fields.String(allow_none=True)


class RuleSetBodySchema(Schema):
    """A whole triage rule set (domain.triage.RuleSet); ``version`` may be left out, else it
    must be the next one."""

    version = fields.Integer(load_default=None, allow_none=True)
    description = fields.String(load_default="")
    rules = fields.List(fields.Dict(), required=True)


class RuleSetSchema(Schema):
    version = fields.Integer()
    created_by = fields.String()
    created_at = fields.DateTime()
    rules = fields.Dict()


class EscalationPolicyBodySchema(Schema):
    """A whole escalation policy (domain.escalation.EscalationPolicy); ``version`` as for
    rule sets."""

    version = fields.Integer(load_default=None, allow_none=True)
    description = fields.String(load_default="")
    ladder = fields.List(fields.Dict(), required=True)
    ack_timeout = fields.Dict(required=True)
    overdue = fields.Dict(required=True)


class EscalationPolicySchema(Schema):
    version = fields.Integer()
    created_by = fields.String()
    created_at = fields.DateTime()
    policy = fields.Dict()


class DateRangeQuerySchema(Schema):
    from_ = fields.Date(data_key="from", load_default=None)
    to = fields.Date(load_default=None)


class CalendarOverrideBodySchema(Schema):
    is_workday = fields.Boolean(required=True)
    note = fields.String(load_default="", validate=validate.Length(max=200))


class CalendarOverrideSchema(Schema):
    day = fields.Date()
    is_workday = fields.Boolean()
    note = fields.String()


class CalendarDaySchema(Schema):
    day = fields.Date()
    is_workday = fields.Boolean()
    source = fields.String(validate=validate.OneOf(
        ["override", "operator_schedule", "chinese_calendar", "holidays", "fallback"]))
    note = fields.String()


class CaseFileHtmlQuerySchema(Schema):
    lang = fields.String(load_default="zh-CN", validate=validate.OneOf(["zh-CN", "en"]))

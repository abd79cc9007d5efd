"""Payload schemas of the assessment service: ``assessment.meeting.reminder`` (P5.4.5).

On ``gridgov.events`` with the type as routing key (producer word ``assessment``). Sent
once per person, rule and period when the period ends within a few days and fewer
meetings than the rule asks for were recorded. No personal data travels here (P5.4.4):
the person is their staff id (``staff_sub``, a token subject) with role and scope; notify
or an app resolves it to an inbox.
"""

from __future__ import annotations

from marshmallow import fields, validate

from gridgov_common.contract.envelope import Payload, message_type
from gridgov_common.roles import Role

MEETING_RULES = ("instructor", "community_chief", "community_worker")


@message_type("assessment.meeting.reminder", 1)
class MeetingReminderV1(Payload):
    """A person's meeting period (P5.4.5) ends soon without enough meetings."""

    staff_sub = fields.String(required=True, validate=validate.Length(1, 120))
    role = fields.String(required=True, validate=validate.OneOf([r.value for r in Role]))
    scope = fields.String(required=True, validate=validate.Regexp(
        r"^community:\d{12}$", error="Not a community scope."))
    rule = fields.String(required=True, validate=validate.OneOf(MEETING_RULES))
    clause = fields.String(required=True, validate=validate.OneOf(["P5.4.5"]))
    period_start = fields.Date(required=True)
    period_end = fields.Date(required=True)
    required = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
    held = fields.Integer(required=True, strict=True, validate=validate.Range(min=0))

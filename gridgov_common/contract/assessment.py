"""Payload schemas of the assessment service: ``assessment.meeting.reminder`` (P5.4.5),
``assessment.staff.flagged`` (P5.4.6 → P5.4.1) and
``assessment.circular.published`` (P5.3.5).

On ``gridgov.events`` with the type as routing key (producer word ``assessment``). Sent
once per person, rule and period when the period ends within a few days and fewer
meetings than the rule asks for were recorded. No personal data travels here (P5.4.4):
the person is their staff id (``staff_sub``, a token subject) with role and scope; notify
or an app resolves it to an inbox.
"""

from __future__ import annotations

from marshmallow import fields, validate

from gridgov_common.contract.envelope import Payload, message_type
from gridgov_common.kernel.area import Level, code_pattern, scope_pattern
from gridgov_common.kernel.roles import Role

MEETING_RULES = ("instructor", "community_chief", "community_worker")


@message_type("assessment.meeting.reminder", 1)
class MeetingReminderV1(Payload):
    """A person's meeting period (P5.4.5) ends soon without enough meetings."""

    staff_sub = fields.String(required=True, validate=validate.Length(1, 120))
    role = fields.String(required=True, validate=validate.OneOf([r.value for r in Role]))
    scope = fields.String(required=True, validate=validate.Regexp(
        scope_pattern(Level.COMMUNITY), error="Not a community scope."))
    rule = fields.String(required=True, validate=validate.OneOf(MEETING_RULES))
    clause = fields.String(required=True, validate=validate.OneOf(["P5.4.5"]))
    period_start = fields.Date(required=True)
    period_end = fields.Date(required=True)
    required = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
    held = fields.Integer(required=True, strict=True, validate=validate.Range(min=0))


CIRCULAR_KINDS = ("weekly", "monthly", "custom")
_CODE_LIST = {"validate": validate.Length(max=500)}


class CircularSummary(Payload):
    dispatched = fields.Integer(required=True, strict=True, validate=validate.Range(min=0))
    closed = fields.Integer(required=True, strict=True, validate=validate.Range(min=0))
    overdue_open = fields.Integer(required=True, strict=True, validate=validate.Range(min=0))
    red_cards = fields.Integer(required=True, strict=True, validate=validate.Range(min=0))
    yellow_cards = fields.Integer(required=True, strict=True, validate=validate.Range(min=0))


@message_type("assessment.circular.published", 1)
class CircularPublishedV1(Payload):
    """A circular (P5.3.5 通报) was stored: ids, period and summary only; the content is
    read at ``html_url`` (or the JSON/CSV/XLSX routes beside it)."""

    circular_id = fields.UUID(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(CIRCULAR_KINDS))
    period = fields.String(required=True, validate=validate.Length(1, 40))
    version = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
    origin = fields.String(required=True, validate=validate.OneOf(["schedule", "demand"]))
    scope = fields.String(required=True, validate=validate.Regexp(
        scope_pattern(Level.DISTRICT, Level.TOWN), error="Not a district or town scope."))
    period_start = fields.Date(required=True)
    period_end = fields.Date(required=True)
    as_of = fields.String(required=True, validate=validate.Length(1, 40))
    html_url = fields.String(required=True, validate=validate.Regexp(
        r"^https?://[^\s]{1,500}$", error="Not an http(s) URL."))
    departments = fields.List(fields.String(validate=validate.Regexp(r"^[a-z0-9_]{1,40}$")),
                              required=True, **_CODE_LIST)
    towns = fields.List(fields.String(validate=validate.Regexp(code_pattern(Level.TOWN))),
                        required=True, **_CODE_LIST)
    summary = fields.Nested(CircularSummary, required=True)


@message_type("assessment.staff.flagged", 1)
class StaffFlaggedV1(Payload):
    """A published half-year assessment (P5.4.6) graded a grid staff member in a flagged
    grade: the registry's adjustment flow may start (P5.4.1: community proposes, town
    approves). Ids, codes and figures only (P5.4.4)."""

    report_id = fields.UUID(required=True)
    half_year = fields.String(required=True, validate=validate.Regexp(
        r"^(19|2\d)\d{2}H[12]$", error="Not a half-year (YYYYH1|YYYYH2)."))
    report_version = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
    staff_sub = fields.String(required=True, validate=validate.Length(1, 120))
    role = fields.String(required=True, validate=validate.OneOf([r.value for r in Role]))
    scope = fields.String(required=True, validate=validate.Regexp(
        scope_pattern(Level.TOWN, Level.COMMUNITY, Level.GRID), error="Not a grid staff scope."))
    town_code = fields.String(required=True, validate=validate.Regexp(code_pattern(Level.TOWN)))
    score = fields.Float(required=True, validate=validate.Range(0, 100))
    grade = fields.String(required=True, validate=validate.Regexp(r"^[A-Z][+-]?$"))
    flag_grades = fields.List(fields.String(validate=validate.Regexp(r"^[A-Z][+-]?$")),
                              required=True, validate=validate.Length(1, 10))
    clause = fields.String(required=True, validate=validate.OneOf(["P5.4.1"]))
    proposer = fields.String(required=True, validate=validate.OneOf(["community"]))
    approver = fields.String(required=True, validate=validate.OneOf(["town"]))

"""HTTP schemas of the staff adjustment flow (P5.4.1; services/registry/adjustments.py)."""

from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate

from gridgov_common.kernel.area import Level, code_pattern
from services.registry.domain.adjustment import Measure, State


def _not_blank(value: str) -> None:
    if not value.strip():
        raise ValidationError("must not be blank")


REASON = [validate.Length(min=1, max=500), _not_blank]


class AdjustmentListQuerySchema(Schema):
    state = fields.String(load_default=None, validate=validate.OneOf([s.value for s in State]))
    half_year = fields.String(load_default=None, validate=validate.Regexp(
        r"^(19|2\d)\d{2}H[12]$", error="Not a half-year (YYYYH1|YYYYH2)."))


class ProposalSchema(Schema):
    """P5.4.1 the community proposes: a measure and why (grids for a reassignment)."""

    measure = fields.String(required=True, validate=validate.OneOf([m.value for m in Measure]))
    reason = fields.String(required=True, validate=REASON)
    grid_codes = fields.List(fields.String(validate=validate.Regexp(code_pattern(Level.GRID))),
                             load_default=None, validate=validate.Length(max=50),
                             metadata={"description": "the new grids (reassign only)"})


class ApprovalSchema(Schema):
    reason = fields.String(load_default="", validate=validate.Length(max=500))


class RejectionSchema(Schema):
    """A rejection always says why (the community proposes again knowing it)."""

    reason = fields.String(required=True, validate=REASON)


class AdjustmentStepSchema(Schema):
    id = fields.Integer()
    action = fields.String()
    from_state = fields.String(allow_none=True)
    to_state = fields.String()
    actor_sub = fields.String()
    actor_role = fields.String()
    measure = fields.String(allow_none=True)
    reason = fields.String()
    detail = fields.Dict()
    at = fields.DateTime()


class AdjustmentSchema(Schema):
    id = fields.Integer()
    staff_sub = fields.String()
    staff_id = fields.Integer(allow_none=True, metadata={"description": "null: unmatched"})
    half_year = fields.String()
    report_id = fields.String()
    report_version = fields.Integer()
    grade = fields.String()
    score = fields.Float()
    flag_grades = fields.List(fields.String())
    role = fields.String()
    scope_code = fields.String()
    town_code = fields.String()
    state = fields.String(metadata={"enum": [s.value for s in State]})
    measure = fields.String(allow_none=True)
    grid_codes = fields.List(fields.String(), allow_none=True)
    reason = fields.String(allow_none=True)
    decision_reason = fields.String(allow_none=True)
    created_at = fields.DateTime()
    changed_at = fields.DateTime()
    steps = fields.List(fields.Nested(AdjustmentStepSchema))

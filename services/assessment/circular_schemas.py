"""marshmallow schemas of the circular entrypoints (P5.3.5; docs/CIRCULARS.md)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from gridgov_common.kernel.area import Level, scope_pattern
from services.assessment.circular_doc import LANGS
from services.assessment.domain import circular_rules


class CircularCreateSchema(Schema):
    kind = fields.String(required=True, validate=validate.OneOf(circular_rules.KINDS))
    period = fields.String(required=True, validate=validate.Length(1, 40), metadata={
        "description": "weekly YYYY-Www, monthly YYYY-MM, custom YYYY-MM-DD..YYYY-MM-DD",
        "example": "2026-11"})
    scope = fields.String(load_default=None, validate=validate.Regexp(
        scope_pattern(Level.DISTRICT, Level.TOWN), error="district:<6 digits> or town:<9 digits>"),
        metadata={"description": "default: the caller's scope"})


class CircularListQuerySchema(Schema):
    kind = fields.String(load_default=None, validate=validate.OneOf(circular_rules.KINDS))
    limit = fields.Integer(load_default=50, validate=validate.Range(1, 500))


class CircularRenderQuerySchema(Schema):
    lang = fields.String(load_default="zh-CN", validate=validate.OneOf(LANGS))


class CircularSummarySchema(Schema):
    dispatched = fields.Integer()
    acked_on_time = fields.Integer()
    closed = fields.Integer()
    closed_on_time = fields.Integer()
    overdue_open = fields.Integer()
    closure_rate = fields.Float(allow_none=True)
    on_time_rate = fields.Float(allow_none=True)
    red_cards = fields.Integer()
    yellow_cards = fields.Integer()


class CircularSchema(Schema):
    circular_id = fields.String()
    kind = fields.String()
    period = fields.String()
    scope = fields.String()
    version = fields.Integer()
    origin = fields.String(metadata={"description": "schedule | demand"})
    period_start = fields.String()
    period_end = fields.String()
    generated_by = fields.String()
    created_at = fields.String()
    issuer = fields.String(metadata={"description": "the issuing body (发文单位)"})
    document_number = fields.String(allow_none=True, metadata={
        "description": "文号, e.g. 网格通〔2026〕12号 (null for circulars made before)"})
    content = fields.Dict(metadata={"description": "summary, departments, towns, overdue, "
                                                   "card_rules (one circular only)"})


class CircularPreviewSchema(Schema):
    """A circular as it would be generated now, never stored (no id, version or number)."""

    kind = fields.String()
    period = fields.String()
    scope = fields.String()
    period_start = fields.String()
    period_end = fields.String()
    issuer = fields.String()
    content = fields.Dict(metadata={"description": "as a stored circular's content"})

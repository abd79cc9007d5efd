"""marshmallow schemas of the field-work entrypoints (patrols, compliance, meetings, logs)."""

from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates

from gridgov_common.kernel.area import Level, code_pattern
from services.assessment import worklogs
from services.assessment.domain import meeting_rules

MAX_POINTS = 2000
CODE = validate.Regexp(code_pattern(Level.GRID), error="A grid code has 15 digits.")


class PatrolStartSchema(Schema):
    started_at = fields.AwareDateTime(load_default=None)


class PatrolStopSchema(Schema):
    stopped_at = fields.AwareDateTime(load_default=None)


class PatrolSchema(Schema):
    patrol_id = fields.String()
    staff_sub = fields.String()
    role = fields.String()
    scope_code = fields.String()
    started_at = fields.String()
    stopped_at = fields.String(allow_none=True)


class TrackPointSchema(Schema):
    id = fields.String(required=True, validate=validate.Length(min=1, max=64),
                       metadata={"description": "client-side id; a re-sent point is ignored"})
    recorded_at = fields.AwareDateTime(required=True)
    lon = fields.Float(required=True, validate=validate.Range(-180, 180))
    lat = fields.Float(required=True, validate=validate.Range(-90, 90))


class TrackBatchSchema(Schema):
    points = fields.List(fields.Nested(TrackPointSchema), required=True,
                         validate=validate.Length(min=1, max=MAX_POINTS))


class UploadResultSchema(Schema):
    received = fields.Integer()
    stored = fields.Integer()
    duplicates = fields.Integer()
    refused_out_of_window = fields.Integer()


class GridFeatureSchema(Schema):
    type = fields.String(validate=validate.Equal("Feature"))
    properties = fields.Dict(required=True)
    geometry = fields.Dict(required=True)

    @validates("properties")
    def _code(self, value, **_):
        CODE(value.get("grid_code", ""))

    @validates("geometry")
    def _geometry(self, value, **_):
        if value.get("type") not in ("Polygon", "MultiPolygon"):
            raise ValidationError("Polygon or MultiPolygon expected.")
        if not isinstance(value.get("coordinates"), list) or not value["coordinates"]:
            raise ValidationError("coordinates missing.")


class GridCollectionSchema(Schema):
    type = fields.String(validate=validate.Equal("FeatureCollection"))
    features = fields.List(fields.Nested(GridFeatureSchema), required=True,
                           validate=validate.Length(min=1, max=5000))


class PatrolComplianceQuerySchema(Schema):
    date = fields.Date(required=True)
    scope = fields.String(load_default=None, validate=validate.Regexp(r"^\d{6,15}$"))


class AuditQuerySchema(Schema):
    limit = fields.Integer(load_default=100, validate=validate.Range(1, 1000))


class MeetingCreateSchema(Schema):
    kind = fields.String(required=True, validate=validate.OneOf(meeting_rules.KINDS))
    held_on = fields.Date(required=True)
    attendees = fields.List(fields.String(validate=validate.Length(min=1, max=64)),
                            required=True, validate=validate.Length(min=1, max=500),
                            metadata={"description": "staff ids (sub), no personal data"})
    minutes = fields.String(required=True, validate=validate.Length(min=1, max=20000))


class MeetingListQuerySchema(Schema):
    since = fields.Date(load_default=None)
    until = fields.Date(load_default=None)


class MeetingComplianceQuerySchema(Schema):
    # years 1900-2999: the fuzzer's "0000-01" reached date() and answered 500
    period = fields.String(required=True,
                           validate=validate.Regexp(r"^(19|2\d)\d{2}-(0[1-9]|1[0-2])$"),
                           metadata={"example": "2026-11"})
    scope = fields.String(load_default=None, validate=validate.Regexp(r"^\d{6,15}$"))


class WorkLogCreateSchema(Schema):
    grid_code = fields.String(required=True, validate=CODE)
    day = fields.Date(required=True)
    content = fields.String(required=True, validate=validate.Length(min=1, max=10000))


class WorkLogQuerySchema(Schema):
    day = fields.Date(load_default=None)
    review_state = fields.String(load_default=None,
                                 validate=validate.OneOf(("pending",) + worklogs.REVIEW_STATES))
    limit = fields.Integer(load_default=100, validate=validate.Range(1, 1000))


class WorkLogReviewSchema(Schema):
    state = fields.String(required=True, validate=validate.OneOf(worklogs.REVIEW_STATES))
    comment = fields.String(load_default="", validate=validate.Length(max=2000))

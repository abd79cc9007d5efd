"""marshmallow schemas of the half-year assessment and spot-check entrypoints (P5.4.6)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from gridgov_common.kernel.area import Level, code_pattern, scope_pattern
from gridgov_common.kernel.periods import DayPeriodSchema
from services.assessment import appraisal_doc, appraisal_scheme, spotchecks

HALF_YEAR = validate.Regexp(r"^(19|2\d)\d{2}H[12]$", error="YYYYH1 or YYYYH2.")


class SpotCheckCreateSchema(Schema):
    grid_code = fields.String(required=True, validate=validate.Regexp(code_pattern(Level.GRID)))
    record_kind = fields.String(required=True, validate=validate.OneOf(spotchecks.RECORD_KINDS))
    record_id = fields.String(required=True, validate=validate.Regexp(
        r"^[A-Za-z0-9_.:-]{1,64}$", error="the registry's record id (no personal data)"))
    field_class = fields.String(required=True,
                                validate=validate.OneOf(spotchecks.FIELD_CLASSES))
    method = fields.String(required=True, validate=validate.OneOf(spotchecks.METHODS))
    correct = fields.Boolean(required=True)
    checked_at = fields.AwareDateTime(load_default=None)
    note = fields.String(load_default="", validate=validate.Length(max=500),
                         metadata={"description": "what was wrong; no personal data"})


class SpotCheckSchema(Schema):
    check_id = fields.String()
    grid_code = fields.String()
    record_kind = fields.String()
    record_id = fields.String()
    field_class = fields.String()
    method = fields.String()
    correct = fields.Boolean()
    note = fields.String()
    checked_by = fields.String()
    checker_role = fields.String()
    checked_at = fields.String()


class _PeriodSchema(DayPeriodSchema):
    scope = fields.String(load_default=None, validate=validate.Regexp(r"^\d{6,15}$"))


class SpotCheckListQuerySchema(_PeriodSchema):
    limit = fields.Integer(load_default=100, validate=validate.Range(1, 1000))


class AccuracyQuerySchema(_PeriodSchema):
    by = fields.String(load_default="grid", validate=validate.OneOf(spotchecks.BY))


class SchemeCreateSchema(Schema):
    body = fields.Dict(required=True, metadata={"description": "docs/ASSESSMENT.md"})
    note = fields.String(load_default="", validate=validate.Length(max=500))


class InputSchema(Schema):
    subject_kind = fields.String(required=True, validate=validate.OneOf(
        ("town", "community", "staff", "department")))
    subject_code = fields.String(required=True, validate=validate.Length(1, 120))
    democratic_appraisal = fields.Float(required=True, allow_none=True,
                                        validate=validate.Range(0, 100))
    quantified_points = fields.Float(required=True, allow_none=True,
                                     validate=validate.Range(-10000, 10000))


class InputsPutSchema(Schema):
    inputs = fields.List(fields.Nested(InputSchema), required=True,
                         validate=validate.Length(1, 2000))


class RunSchema(Schema):
    half_year = fields.String(required=True, validate=HALF_YEAR,
                              metadata={"example": "2026H2"})
    scope = fields.String(load_default=None, validate=validate.Regexp(
        scope_pattern(Level.TOWN, Level.DISTRICT)),
        metadata={"description": "default: the caller's"})
    scheme_version = fields.Integer(load_default=None, validate=validate.Range(1, 2**31 - 1))


class ReportListQuerySchema(Schema):
    half_year = fields.String(load_default=None, validate=HALF_YEAR)
    limit = fields.Integer(load_default=50, validate=validate.Range(1, 500))


class ReportPageQuerySchema(Schema):
    """``GET /appraisals/<id>.html``. Without ``lang`` the browser's Accept-Language
    decides (gridgov_common.kernel.languages), zh-CN when it names neither language."""

    lang = fields.String(load_default=None, validate=validate.OneOf(appraisal_doc.LANGS),
                         metadata={"description": "zh-CN (default) or en; without it, "
                                                  "Accept-Language"})


class ReportFileQuerySchema(ReportPageQuerySchema):
    """``GET /appraisals/<id>.csv|.xlsx``: the readable table by default; ``long`` is the
    machine format of the first exports (one row per subject × indicator, English codes)."""

    layout = fields.String(load_default="wide", validate=validate.OneOf(appraisal_doc.LAYOUTS),
                           metadata={"description": "wide: one row per subject, names, "
                                                    "headers in lang; long: one row per "
                                                    "subject and indicator, codes"})


def check_scheme(body: dict) -> dict:
    return appraisal_scheme.check(body)

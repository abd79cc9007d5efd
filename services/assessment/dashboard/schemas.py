"""marshmallow schemas of the dashboard's query parameters and of the dispatch statistics
it reads (checked, so a change of that RPC's shape shows as a clear error on the page)."""

from __future__ import annotations

from marshmallow import EXCLUDE, Schema, fields, validate

LANGUAGES = ("zh-CN", "en")
STATIC_NAME = r"^[a-z0-9_-]+\.(js|css)$"


class PageQuerySchema(Schema):
    """``/dashboard?lang=en&refresh=10``: the page reads these itself. No ``token``: a
    credential in the URL is refused (400 ``credential_in_url``, gridgov_common.platform.web); the
    page signs in with its form or a ``#token=`` fragment (docs/DASHBOARD.md)."""

    lang = fields.String(load_default="zh-CN", validate=validate.OneOf(LANGUAGES))
    refresh = fields.Integer(load_default=10, validate=validate.Range(min=2, max=600))


class DataQuerySchema(Schema):
    """``/dashboard/data`` takes no parameters (the token's scope decides what it shows)."""


class _Loose(Schema):
    class Meta:
        unknown = EXCLUDE


class GridCountSchema(_Loose):
    grid_code = fields.String(required=True)
    open = fields.Integer(required=True)
    overdue = fields.Integer(required=True)


class DepartmentRowSchema(_Loose):
    department = fields.String(required=True)
    assigned = fields.Integer(required=True)
    acked = fields.Integer(required=True)
    acked_on_time = fields.Integer(required=True)
    overdue = fields.Integer(required=True)
    closed = fields.Integer(required=True)
    closure_rate = fields.Float(required=True, allow_none=True)


class TownRowSchema(_Loose):
    town_code = fields.String(required=True)
    total = fields.Integer(required=True)
    open = fields.Integer(required=True)
    overdue = fields.Integer(required=True)
    closed = fields.Integer(required=True)
    closure_rate = fields.Float(required=True, allow_none=True)
    on_time_rate = fields.Float(required=True, allow_none=True)


class RecentCaseSchema(_Loose):
    case_id = fields.String(required=True)
    case_number = fields.String(required=True)
    state = fields.String(required=True)
    town_code = fields.String(allow_none=True, load_default=None)
    grid_code = fields.String(allow_none=True, load_default=None)
    work_category = fields.String(allow_none=True, load_default=None)
    subcategory = fields.String(allow_none=True, load_default=None)
    # {"zh-CN", "en"} from the catalogue dispatch follows (the feed names what it is about)
    subcategory_name = fields.Dict(keys=fields.String(), values=fields.String(),
                                   allow_none=True, load_default=None)
    severity = fields.String(allow_none=True, load_default=None)
    updated_at = fields.String(required=True)


class EscalationSchema(_Loose):
    case_id = fields.String(allow_none=True, load_default=None)  # the wall links the case
    case_number = fields.String(required=True)
    kind = fields.String(required=True)
    card = fields.String(allow_none=True, load_default=None)
    level = fields.Raw(allow_none=True, load_default=None)
    department = fields.String(allow_none=True, load_default=None)
    target_role = fields.String(allow_none=True, load_default=None)
    at = fields.String(required=True)


class CaseStatisticsSchema(_Loose):
    """The reply of ``dispatch.case_statistics(scope)``."""

    generated_at = fields.String(required=True)
    by_grid = fields.List(fields.Nested(GridCountSchema), required=True)
    by_department = fields.List(fields.Nested(DepartmentRowSchema), required=True)
    by_town = fields.List(fields.Nested(TownRowSchema), required=True)
    recent = fields.List(fields.Nested(RecentCaseSchema), required=True)
    escalations = fields.List(fields.Nested(EscalationSchema), required=True)
    # the major events of the last days (P5.2.7), the wall's pins; absent from an older
    # dispatch (the wall then pins those among the latest changes)
    majors = fields.List(fields.Nested(RecentCaseSchema))


class AcknowledgeBodySchema(Schema):
    """A major event acknowledged on the wall (P5.2.7): the case number the pin showed (the
    person acknowledges what they saw: a number that is not the case's is refused) and an
    optional note (what was done)."""

    case_number = fields.String(required=True, validate=validate.Length(1, 40))
    note = fields.String(load_default=None, allow_none=True,
                         validate=validate.Length(1, 500))


class AcknowledgementSchema(Schema):
    id = fields.Integer()
    case_id = fields.String()
    case_number = fields.String()
    grid_code = fields.String()
    acknowledged_by = fields.String(metadata={"description": "the subject"})
    acknowledged_name = fields.String(metadata={"description": "the person's name"})
    acknowledged_role = fields.String()
    note = fields.String(allow_none=True)
    acknowledged_at = fields.String(metadata={"description": "ISO 8601, UTC"})


class EventsQuerySchema(Schema):
    """``/dashboard/events?geometry=false``: a page that already drew the grids (it
    reconnects) does not need their outlines again."""

    geometry = fields.Boolean(load_default=True)

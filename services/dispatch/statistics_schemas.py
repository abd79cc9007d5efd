"""marshmallow schemas of ``GET /statistics`` and the ``case_statistics`` RPC.

The shape is a contract with the operations dashboard; every figure is defined in
``services/dispatch/statistics.py`` and docs/METRICS.md.
"""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from gridgov_common.kernel.periods import DayPeriodSchema
from services.dispatch.domain.states import CaseState

COUNT = {"validate": validate.Range(min=0)}


def _rate(description: str) -> fields.Float:
    return fields.Float(allow_none=True, validate=validate.Range(0, 1),
                        metadata={"description": description})


class StatisticsScopeSchema(Schema):
    """The RPC's argument: a geographic scope as in a token ("town:320505001")."""

    scope = fields.String(required=True, validate=validate.Regexp(
        r"^(district|town|community|grid):\d{6,15}$",
        error="must be district:, town:, community: or grid:<digits>"))


class GridFiguresSchema(Schema):
    grid_code = fields.String()
    open = fields.Integer(**COUNT)
    overdue = fields.Integer(**COUNT)


class DepartmentFiguresSchema(Schema):
    department = fields.String()
    assigned = fields.Integer(**COUNT)
    acked = fields.Integer(**COUNT)
    acked_on_time = fields.Integer(**COUNT)
    overdue = fields.Integer(**COUNT)
    closed = fields.Integer(**COUNT)
    closure_rate = _rate("closed / assigned; null when nothing was assigned")


class TownFiguresSchema(Schema):
    town_code = fields.String()
    total = fields.Integer(**COUNT)
    open = fields.Integer(**COUNT)
    overdue = fields.Integer(**COUNT)
    closed = fields.Integer(**COUNT)
    closure_rate = _rate("closed / total; null when total is 0")
    on_time_rate = _rate("closed on time / closed; null when none is closed")


class RecentCaseSchema(Schema):
    case_id = fields.UUID()
    case_number = fields.String()
    state = fields.String(validate=validate.OneOf([s.value for s in CaseState]))
    town_code = fields.String()
    grid_code = fields.String()
    work_category = fields.String()
    subcategory = fields.String()
    subcategory_name = fields.Dict(keys=fields.String(), values=fields.String(),
                                   allow_none=True, metadata={
                                       "description": "zh-CN and en names (the catalogue)"})
    severity = fields.String()
    updated_at = fields.DateTime()


class MajorCaseSchema(RecentCaseSchema):
    reported_at = fields.DateTime()


class RecentEscalationSchema(Schema):
    case_id = fields.String()  # the operations wall opens the case (issue 14)
    case_number = fields.String()
    kind = fields.String()
    card = fields.String(allow_none=True)
    level = fields.Integer()
    department = fields.String(allow_none=True)
    target_role = fields.String()
    at = fields.DateTime()


class CaseStatisticsSchema(Schema):
    """Figures of the cases in the caller's scope (definitions: docs/METRICS.md)."""

    generated_at = fields.DateTime()
    by_grid = fields.List(fields.Nested(GridFiguresSchema))
    by_department = fields.List(fields.Nested(DepartmentFiguresSchema))
    by_town = fields.List(fields.Nested(TownFiguresSchema))
    recent = fields.List(fields.Nested(RecentCaseSchema),
                         metadata={"description": "the 20 cases updated last"})
    escalations = fields.List(fields.Nested(RecentEscalationSchema),
                              metadata={"description": "the 20 latest escalations"})
    majors = fields.List(fields.Nested(MajorCaseSchema), metadata={
        "description": "major events (P5.2.7) reported in the last 7 days, newest first "
                       "(at most 50)"})


class KpiQuerySchema(DayPeriodSchema):
    """``GET /kpis``: a period of local days (Asia/Shanghai), ``to`` included, and the rows."""

    by = fields.String(load_default="town",
                       validate=validate.OneOf(["town", "community", "grid", "department",
                                                "grid_worker"]))


class WorkerFiguresSchema(Schema):
    """Cases a grid worker reported, or cases in their grids (docs/KPIS.md)."""

    due = fields.Integer(**COUNT)
    closed = fields.Integer(**COUNT)
    closure_rate = fields.Float(allow_none=True)
    on_time_closure_rate = fields.Float(allow_none=True)
    first_contact_rate = fields.Float(allow_none=True)
    rework_rate = fields.Float(allow_none=True)


class KpiRowSchema(Schema):
    """One area (town, community, grid), department or grid worker (``code`` = token
    subject); the fields of its kind only (definitions: docs/KPIS.md)."""

    code = fields.String(required=True)
    due = fields.Integer(**COUNT)
    closed = fields.Integer(**COUNT)
    closure_rate = fields.Float(allow_none=True)
    on_time_closure_rate = fields.Float(allow_none=True)
    rework_rate = fields.Float(allow_none=True)
    forwarding_rate = fields.Float(allow_none=True)
    first_contact_rate = fields.Float(allow_none=True)
    satisfaction = fields.Float(allow_none=True)
    satisfied_rate = fields.Float(allow_none=True)
    avg_hours_to_close = fields.Float(allow_none=True)
    avg_hours_to_resolve = fields.Float(allow_none=True)
    avg_hours_to_return_visit = fields.Float(allow_none=True)
    assigned = fields.Integer(**COUNT)
    ack_on_time_rate = fields.Float(allow_none=True)
    handling_rate = fields.Float(allow_none=True)
    on_time_handling_rate = fields.Float(allow_none=True)
    return_rate = fields.Float(allow_none=True)
    avg_ack_hours = fields.Float(allow_none=True)
    avg_handle_hours = fields.Float(allow_none=True)
    staff_id = fields.Integer()
    role = fields.String()
    scope_code = fields.String()
    grid_codes = fields.List(fields.String())
    reported = fields.Nested(WorkerFiguresSchema)
    responsible = fields.Nested(WorkerFiguresSchema)


class KpiReportSchema(Schema):
    by = fields.String(required=True)
    start = fields.String(required=True, metadata={"description": "first instant (UTC)"})
    end = fields.String(required=True, metadata={"description": "first instant after"})
    rows = fields.List(fields.Nested(KpiRowSchema), required=True)

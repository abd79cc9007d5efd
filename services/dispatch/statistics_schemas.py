"""marshmallow schemas of ``GET /statistics`` and the ``case_statistics`` RPC.

The shape is a contract with the operations dashboard; every figure is defined in
``services/dispatch/statistics.py`` and docs/METRICS.md.
"""

from __future__ import annotations

from marshmallow import Schema, fields, validate

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
    severity = fields.String()
    updated_at = fields.DateTime()


class RecentEscalationSchema(Schema):
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

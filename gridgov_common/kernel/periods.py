"""A period of local days in a query: ``from`` and ``to`` (both included), at most a year.

KPIs, spot-check accuracy and the half-year assessment all read "any period" (P5.3.5,
P5.4.6); one definition of what a valid period is, so every service refuses the same ones.
"""

from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validates_schema

MAX_PERIOD_DAYS = 366  # a half-year assessment (P5.4.6) or a year


class DayPeriodSchema(Schema):
    """Base of query schemas with ``from``/``to`` dates (``to`` included)."""

    from_ = fields.Date(required=True, data_key="from")
    to = fields.Date(required=True)

    @validates_schema
    def _period(self, data, **kwargs):
        if data["to"] < data["from_"]:
            raise ValidationError("must not be before from", "to")
        if (data["to"] - data["from_"]).days > MAX_PERIOD_DAYS:
            raise ValidationError(f"at most {MAX_PERIOD_DAYS} days", "to")

"""The half-year assessment scheme (P5.4.6) as data: which indicators count for each kind of
subject, with what weight, how each raw value maps to 0–100 points, the grade bands and
which grades are flagged for adjustment (P5.4.1). docs/ASSESSMENT.md.

Schemes are versioned rows (``assessment.appraisal_schemes``, immutable, like dispatch's
rule sets): a report names the version it used, so editing the scheme never changes a
report already made. The packaged default is stored as version 1 when the table is empty.
"""

from __future__ import annotations

import copy
from typing import Any

import sqlalchemy as sa
from marshmallow import Schema, ValidationError, fields, validate, validates_schema
from sqlalchemy.dialects.postgresql import insert

from gridgov_common.kernel.errors import Conflict, NotFound
from services.assessment.domain import scoring
from services.assessment.models import appraisal_schemes

SEEDED_BY = "system:default"


class IndicatorSchema(Schema):
    key = fields.String(required=True, validate=validate.Length(1, 40))
    weight = fields.Float(required=True, validate=validate.Range(min=0, min_inclusive=False,
                                                                 max=1))
    zero_at = fields.Float(required=True, metadata={"description": "raw value worth 0 points"})
    full_at = fields.Float(required=True,
                           metadata={"description": "raw value worth 100 points"})


class BandSchema(Schema):
    grade = fields.String(required=True, validate=validate.Regexp(r"^[A-Z][+-]?$"))
    min = fields.Float(required=True, validate=validate.Range(0, 100))
    max = fields.Float(required=True, validate=validate.Range(0, 100))
    # the grade in words on the printed report (优秀…); without them A–E get the usual
    # words (DOMAIN-REFERENCES §3), other letters show as they are
    name_zh = fields.String(validate=validate.Length(1, 20))
    name_en = fields.String(validate=validate.Length(1, 40))


class SchemeSchema(Schema):
    """A scheme body; the checks that need the whole body are in ``_whole``."""

    kinds = fields.Dict(keys=fields.String(validate=validate.OneOf(scoring.KINDS)),
                        values=fields.List(fields.Nested(IndicatorSchema),
                                           validate=validate.Length(1, 30)),
                        required=True)
    grades = fields.List(fields.Nested(BandSchema), required=True,
                         validate=validate.Length(1, 10))
    missing = fields.String(load_default="reweight",
                            validate=validate.OneOf(scoring.MISSING_POLICIES))
    min_coverage = fields.Float(load_default=0.6, validate=validate.Range(0, 1))
    flag_grades = fields.List(fields.String(), load_default=list)

    @validates_schema
    def _whole(self, data, **kwargs):
        errors: dict[str, list[str]] = {}
        for kind in scoring.KINDS:
            if kind not in data["kinds"]:
                errors.setdefault("kinds", []).append(f"{kind}: missing")
        for kind, indicators in data["kinds"].items():
            errors.update(scoring.indicator_errors(kind, indicators))
        errors.update(scoring.band_errors(data["grades"]))
        names = {band["grade"] for band in data["grades"]}
        unknown = [g for g in data["flag_grades"] if g not in names]
        if unknown:
            errors["flag_grades"] = [f"not a grade of this scheme: {', '.join(unknown)}"]
        if errors:
            raise ValidationError(errors)


def check(body: dict[str, Any]) -> dict[str, Any]:
    """The validated body (``ValidationError`` with field paths otherwise)."""
    return SchemeSchema().load(body)


# -- storage -------------------------------------------------------------------------------

def current(db) -> tuple[int, dict[str, Any]]:
    """The highest version; the packaged default becomes version 1 on first use."""
    row = db.execute(sa.select(appraisal_schemes.c.version, appraisal_schemes.c.body)
                     .order_by(appraisal_schemes.c.version.desc()).limit(1)).first()
    if row is not None:
        return row.version, row.body
    db.execute(insert(appraisal_schemes).values(
        version=1, body=copy.deepcopy(scoring.DEFAULT_SCHEME), note="packaged default",
        created_by=SEEDED_BY).on_conflict_do_nothing(index_elements=["version"]))
    return get(db, 1)


def get(db, version: int) -> tuple[int, dict[str, Any]]:
    body = db.execute(sa.select(appraisal_schemes.c.body)
                      .where(appraisal_schemes.c.version == version)).scalar()
    if body is None:
        raise NotFound(f"no assessment scheme version {version}")
    return version, body


def listing(db) -> list[dict[str, Any]]:
    current(db)  # so that the default is listed
    rows = db.execute(sa.select(appraisal_schemes).order_by(appraisal_schemes.c.version))
    return [dict(r) for r in rows.mappings()]


def add(db, body: dict[str, Any], note: str, by: str) -> dict[str, Any]:
    """Store a validated body as the next version (409 if another writer took it)."""
    latest, _ = current(db)
    row = db.execute(insert(appraisal_schemes).values(
        version=latest + 1, body=body, note=note, created_by=by)
        .on_conflict_do_nothing(index_elements=["version"])
        .returning(*appraisal_schemes.c)).mappings().first()
    if row is None:
        raise Conflict(f"scheme version {latest + 1} was just added by someone else; retry")
    return dict(row)

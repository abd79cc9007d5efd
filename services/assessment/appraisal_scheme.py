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

from gridgov_common.errors import Conflict, NotFound
from services.assessment.models import appraisal_schemes

SEEDED_BY = "system:default"
# where each indicator comes from (docs/ASSESSMENT.md "Sources")
AREA_KPIS = ("closure_rate", "on_time_closure_rate", "rework_rate", "forwarding_rate",
             "first_contact_rate", "satisfaction", "satisfied_rate")  # dispatch, by area
DEPARTMENT_KPIS = ("ack_on_time_rate", "handling_rate", "on_time_handling_rate",
                   "return_rate", "rework_rate")  # dispatch, by department
RECORDED = ("base_data_accuracy", "patrol_compliance", "meeting_compliance")  # assessment
TYPED = ("democratic_appraisal", "quantified_points")  # typed in by the town
_AREA = AREA_KPIS + RECORDED + TYPED
INDICATORS: dict[str, tuple[str, ...]] = {
    "town": _AREA, "community": _AREA, "grid_worker": _AREA,
    "department": DEPARTMENT_KPIS + TYPED,
}
KINDS = tuple(INDICATORS)
MISSING_POLICIES = ("reweight", "zero")
WEIGHT_TOLERANCE = 1e-6


def _ind(key: str, weight: float, zero_at: float, full_at: float) -> dict[str, Any]:
    return {"key": key, "weight": weight, "zero_at": zero_at, "full_at": full_at}


_AREA_DEFAULT = [
    _ind("closure_rate", 0.2, 0.5, 1.0),  # P5.4.6 办结率
    _ind("on_time_closure_rate", 0.2, 0.5, 1.0),  # P5.4.6 办结时效
    _ind("base_data_accuracy", 0.15, 0.8, 1.0),  # P5.4.6 基础信息准确率, phone spot checks
    _ind("patrol_compliance", 0.1, 0.5, 1.0),  # P5.4.6 content: patrols (P5.4.3)
    _ind("meeting_compliance", 0.05, 0.0, 1.0),  # P5.4.5
    _ind("satisfaction", 0.05, 1.0, 5.0),  # P5.4.6 content: feedback (return visits)
    _ind("democratic_appraisal", 0.15, 0.0, 100.0),  # P5.4.6 民主测评
    _ind("quantified_points", 0.1, 0.0, 100.0),  # P5.4.6 量化积分
]
DEFAULT_SCHEME: dict[str, Any] = {
    "kinds": {
        "town": _AREA_DEFAULT, "community": _AREA_DEFAULT, "grid_worker": _AREA_DEFAULT,
        "department": [
            _ind("on_time_handling_rate", 0.3, 0.5, 1.0),
            _ind("handling_rate", 0.2, 0.5, 1.0),
            _ind("ack_on_time_rate", 0.1, 0.5, 1.0),
            _ind("rework_rate", 0.1, 0.2, 0.0),  # lower is better: 20 % → 0, 0 % → 100
            _ind("democratic_appraisal", 0.2, 0.0, 100.0),
            _ind("quantified_points", 0.1, 0.0, 100.0),
        ],
    },
    # DOMAIN-REFERENCES §3: A ≥ 90, B ≥ 75, C ≥ 60, D ≥ 40, E < 40
    "grades": [{"grade": "A", "min": 90, "max": 100}, {"grade": "B", "min": 75, "max": 90},
               {"grade": "C", "min": 60, "max": 75}, {"grade": "D", "min": 40, "max": 60},
               {"grade": "E", "min": 0, "max": 40}],
    "missing": "reweight",
    "min_coverage": 0.6,
    "flag_grades": ["E"],  # P5.4.1: failing staff are proposed for adjustment
}


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

    kinds = fields.Dict(keys=fields.String(validate=validate.OneOf(KINDS)),
                        values=fields.List(fields.Nested(IndicatorSchema),
                                           validate=validate.Length(1, 30)),
                        required=True)
    grades = fields.List(fields.Nested(BandSchema), required=True,
                         validate=validate.Length(1, 10))
    missing = fields.String(load_default="reweight", validate=validate.OneOf(MISSING_POLICIES))
    min_coverage = fields.Float(load_default=0.6, validate=validate.Range(0, 1))
    flag_grades = fields.List(fields.String(), load_default=list)

    @validates_schema
    def _whole(self, data, **kwargs):
        errors: dict[str, list[str]] = {}
        for kind in KINDS:
            if kind not in data["kinds"]:
                errors.setdefault("kinds", []).append(f"{kind}: missing")
        for kind, indicators in data["kinds"].items():
            errors.update(_indicator_errors(kind, indicators))
        errors.update(_band_errors(data["grades"]))
        names = {band["grade"] for band in data["grades"]}
        unknown = [g for g in data["flag_grades"] if g not in names]
        if unknown:
            errors["flag_grades"] = [f"not a grade of this scheme: {', '.join(unknown)}"]
        if errors:
            raise ValidationError(errors)


def _indicator_errors(kind: str, indicators: list[dict]) -> dict[str, list[str]]:
    problems = []
    keys = [i["key"] for i in indicators]
    if len(set(keys)) != len(keys):
        problems.append("an indicator appears twice")
    for key in keys:
        if key not in INDICATORS[kind]:
            problems.append(f"{key}: not an indicator of a {kind} "
                            f"(one of {', '.join(INDICATORS[kind])})")
    total = sum(i["weight"] for i in indicators)
    if abs(total - 1.0) > WEIGHT_TOLERANCE:
        problems.append(f"weights sum to {total:.6g}, not 1")
    problems += [f"{i['key']}: zero_at equals full_at" for i in indicators
                 if i["zero_at"] == i["full_at"]]
    return {f"kinds.{kind}": problems} if problems else {}


def _band_errors(bands: list[dict]) -> dict[str, list[str]]:
    """Bands [min, max) sorted by min must run 0 → 100 with no gap and no overlap."""
    problems = []
    if len({b["grade"] for b in bands}) != len(bands):
        problems.append("a grade appears twice")
    edge = 0.0
    for band in sorted(bands, key=lambda b: b["min"]):
        if band["min"] >= band["max"]:
            problems.append(f"{band['grade']}: min must be below max")
        if band["min"] > edge:
            problems.append(f"gap between {edge:g} and {band['min']:g}")
        elif band["min"] < edge:
            problems.append(f"{band['grade']}: overlaps below {edge:g}")
        edge = max(edge, band["max"])
    if edge != 100:
        problems.append(f"bands end at {edge:g}, not 100")
    return {"grades": problems} if problems else {}


def check(body: dict[str, Any]) -> dict[str, Any]:
    """The validated body (``ValidationError`` with field paths otherwise)."""
    return SchemeSchema().load(body)


def points(indicator: dict[str, Any], raw: float) -> float:
    """Linear from ``zero_at`` (0) to ``full_at`` (100), clamped; reversed when
    ``zero_at > full_at`` (rates where lower is better)."""
    share = (raw - indicator["zero_at"]) / (indicator["full_at"] - indicator["zero_at"])
    return round(100.0 * min(1.0, max(0.0, share)), 2)


def grade(scheme: dict[str, Any], score: float) -> str:
    for band in sorted(scheme["grades"], key=lambda b: b["min"], reverse=True):
        if score >= band["min"]:
            return band["grade"]
    return sorted(scheme["grades"], key=lambda b: b["min"])[0]["grade"]


# -- storage -------------------------------------------------------------------------------

def current(db) -> tuple[int, dict[str, Any]]:
    """The highest version; the packaged default becomes version 1 on first use."""
    row = db.execute(sa.select(appraisal_schemes.c.version, appraisal_schemes.c.body)
                     .order_by(appraisal_schemes.c.version.desc()).limit(1)).first()
    if row is not None:
        return row.version, row.body
    db.execute(insert(appraisal_schemes).values(
        version=1, body=copy.deepcopy(DEFAULT_SCHEME), note="packaged default",
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

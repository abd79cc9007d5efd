"""Appraisal scoring (P5.4.6): the indicators each kind of subject is scored on, the
default scheme, points per indicator, the weighted score and the grade.

A scheme is data (versioned in the database, checked at its HTTP entrypoint by
``appraisal_scheme.SchemeSchema``, whose whole-body checks are ``indicator_errors`` and
``band_errors`` here)."""

from __future__ import annotations

from typing import Any

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


def indicator_errors(kind: str, indicators: list[dict]) -> dict[str, list[str]]:
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


def band_errors(bands: list[dict]) -> dict[str, list[str]]:
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


def score(scheme: dict[str, Any], kind: str, values: dict[str, tuple[str, float | None]]
          ) -> dict[str, Any]:
    """Points per indicator, the weighted score and the grade.

    ``n/a`` indicators never count: their weight is shared among the others. A ``missing``
    one scores 0 under the ``zero`` policy; under ``reweight`` (default) its weight too is
    shared among the indicators with a value. When the weight with a value (``coverage``)
    is below ``min_coverage`` the subject is ``incomplete``: no score, no grade, no flag.
    """
    rows, counted = [], 0.0
    for ind in scheme["kinds"][kind]:
        status, raw = values.get(ind["key"], ("n/a", None))
        pts = (points(ind, raw) if status == "ok"
               else 0.0 if status == "missing" and scheme["missing"] == "zero" else None)
        counted += ind["weight"] if pts is not None else 0.0
        rows.append({"key": ind["key"], "status": status, "raw": raw, "points": pts,
                     "weight": ind["weight"]})
    applicable = sum(r["weight"] for r in rows if r["status"] != "n/a")
    with_value = sum(r["weight"] for r in rows if r["status"] == "ok")
    coverage = round(with_value / applicable, 4) if applicable else 0.0
    for r in rows:
        r["weighted"] = (round(r["points"] * r["weight"] / counted, 2)
                         if r["points"] is not None and counted else None)
    missing = [r["key"] for r in rows if r["status"] == "missing"]
    if not counted or coverage < scheme["min_coverage"]:
        return {"indicators": rows, "coverage": coverage, "score": None, "grade": None,
                "missing": missing, "complete": False}
    total = round(sum(r["points"] * r["weight"] for r in rows if r["points"] is not None)
                  / counted, 2)
    return {"indicators": rows, "coverage": coverage, "score": total,
            "grade": grade(scheme, total), "missing": missing,
            "complete": True}

"""Assessment's domain alone (issue 13): circular periods and card rules, appraisal scoring
and raw values, without services, database or broker. These tests moved here from
tests/assessment unchanged in what they assert."""

from __future__ import annotations

from datetime import date

import pytest

from services.assessment.domain import circular_rules, scoring, subjects
from tests.unit.appraisal_sample import SCHEME


def test_periods():
    assert circular_rules.period_bounds("weekly", "2026-W48") == (date(2026, 11, 23),
                                                                   date(2026, 11, 29))
    assert circular_rules.period_bounds("monthly", "2026-12") == (date(2026, 12, 1),
                                                                   date(2026, 12, 31))
    assert circular_rules.last_complete("weekly", date(2026, 12, 2)) == "2026-W48"
    assert circular_rules.last_complete("monthly", date(2027, 1, 1)) == "2026-12"
    with pytest.raises(ValueError):
        circular_rules.check_rules([{"card": "blue", "overdue_at_least": 1}])


def test_missing_scores_zero_under_the_zero_policy_and_reversed_maps():
    """No services: the scoring rules alone. The chief's figures (the module doc of
    tests/assessment/test_appraisal.py) under ``missing: zero``: democratic and quantified
    count 0 with their weight →
    (15+12.5+11.428+5+5+0+0)/1.0 = 48.93 → D; coverage stays 0.9."""
    values = {"closure_rate": ("ok", 0.75), "on_time_closure_rate": ("ok", 0.625),
              "base_data_accuracy": ("ok", 0.7857), "patrol_compliance": ("ok", 0.5),
              "meeting_compliance": ("ok", 0.5), "democratic_appraisal": ("missing", None),
              "quantified_points": ("missing", None)}
    result = scoring.score({**SCHEME, "missing": "zero"}, "grid_worker", values)
    assert (result["score"], result["grade"], result["coverage"]) == (48.93, "D", 0.9)
    assert [i["points"] for i in result["indicators"]][-2:] == [0.0, 0.0]
    # lower is better: rework 10 % between 20 % (0 points) and 0 % (100 points) → 50
    assert scoring.points({"zero_at": 0.2, "full_at": 0.0}, 0.1) == 50.0
    assert scoring.points({"zero_at": 0.5, "full_at": 1.0}, 0.2) == 0.0  # clamped


def test_a_worker_whose_grids_were_never_spot_checked_has_accuracy_missing():
    """Found running the demo district: a person the registry assigns grids to, none of
    them spot-checked, made the whole run a 500; it is "missing", like a person never
    checked."""
    grid = "320505001001001"
    inputs = subjects.Inputs(
        area={"grid": {grid: {"closure_rate": 1.0}}, "community": {}, "town": {}},
        accuracy={"grid_worker": {}, "grid": {}, "community": {}, "town": {}},
        workers={"w1": {"grid_codes": [grid], "responsible": {
            k: None for k in subjects.RESPONSIBLE_KPIS}}})
    person = {"staff_sub": "w1", "role": "neighbourhood_grid_worker", "scope_code": grid}
    values = subjects.raw_values(inputs, "grid_worker", "w1", person)
    assert values["base_data_accuracy"] == ("missing", None)
    assert values["meeting_compliance"] == ("n/a", None)
    assert values["patrol_compliance"] == ("missing", None)

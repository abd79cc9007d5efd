"""The per-row judgement of patrol compliance (P5.4.3, P5.1.2), on the rows the SQL gives."""

from __future__ import annotations

from services.assessment.domain.patrol_rules import judge


def row(role: str, sub: str = "s", patrols: int = 1, inside: float = 0.0) -> dict:
    return {"staff_sub": sub, "role": role, "scope_code": "320505001001", "patrols": patrols,
            "inside_seconds": inside}


def test_a_third_of_working_time_inside_is_the_line():
    met = judge(row("neighbourhood_grid_worker", inside=10800), 32400, True, set(), False)
    short = judge(row("neighbourhood_grid_worker", inside=10799), 32400, True, set(), False)

    assert met["inside_rule_met"] and met["compliant"]
    assert not short["inside_rule_met"] and not short["compliant"]


def test_rest_days_ask_for_no_patrol():
    judged = judge(row("community_grid_worker", patrols=0), 0.0, False, set(), False)

    assert judged["inside_share"] is None and judged["patrol_rule_met"] and judged["compliant"]


def test_instructor_month_rule_fails_only_at_month_end():
    mid = judge(row("grid_instructor", "gi", inside=10800), 32400, True, set(), False)
    last = judge(row("grid_instructor", "gi", inside=10800), 32400, True, set(), True)
    done = judge(row("grid_instructor", "gi", inside=10800), 32400, True, {"gi"}, True)

    assert mid["instructor_month_patrolled"] is False and mid["compliant"]
    assert not last["compliant"] and done["compliant"]

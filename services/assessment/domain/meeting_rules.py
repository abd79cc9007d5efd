"""Meeting frequency rules as data (P5.4.5): a grid instructor holds at least one meeting
a quarter, a community grid chief at least one a month, a community grid worker at least
two a month; emergency meetings may be held any time by any grid role and count towards
no rule."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from gridgov_common.kernel.roles import Role

EMERGENCY = "emergency"


@dataclass(frozen=True)
class Rule:
    kind: str
    role: Role
    period: str  # month | quarter
    minimum: int
    clause: str = "P5.4.5"

RULES: tuple[Rule, ...] = (
    Rule("instructor", Role.GRID_INSTRUCTOR, "quarter", 1),  # P5.4.5 ≥ 1 a quarter
    Rule("community_chief", Role.COMMUNITY_GRID_CHIEF, "month", 1),  # P5.4.5 ≥ 1 a month
    Rule("community_worker", Role.COMMUNITY_GRID_WORKER, "month", 2),  # P5.4.5 ≥ 2 a month
)
RULE_BY_KIND = {rule.kind: rule for rule in RULES}
KINDS = tuple(RULE_BY_KIND) + (EMERGENCY,)


def period_of(rule: Rule, day: date) -> tuple[date, date]:
    """The rule's period holding ``day``: [start, end] inclusive."""
    months = 3 if rule.period == "quarter" else 1
    first_month = (day.month - 1) // months * months + 1
    start = date(day.year, first_month, 1)
    next_month = first_month + months
    nxt = date(day.year + (next_month > 12), (next_month - 1) % 12 + 1, 1)
    return start, nxt - timedelta(days=1)

"""What happens in the simulated district: which cases are seen, how the levels answer.

Pure and seeded (``random.Random``), so a test can replay a run; nothing here talks to a
service. The case mix follows the policy's work categories (P5.2 items 1-8) and the
default routing rules (services/dispatch/domain/default_rules.json): most cases go to a
department, some stay with the community or town (P5.3.2), a few are handled on the spot
(P5.1.5), a rare one is a major event (P5.2.7).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from gridgov_common.kernel.area import Level, parent

# (work_category, subcategory, severity or None = the subcategory's default, weight, text)
CaseKind = tuple[str, str, str | None, int, str]

CASE_MIX: tuple[CaseKind, ...] = (
    ("public_security_prevention", "fire_hazard_corridor", None, 6, "楼道堆放杂物，堵塞消防通道"),
    ("public_security_prevention", "electric_bike_charging", None, 4, "电动车在楼道内飞线充电"),
    ("public_security_prevention", "safety_hazard", None, 3, "小区围墙开裂，有倒塌风险"),
    ("livelihood_service", "low_income_allowance", None, 2, "独居老人家庭收入骤减，需核查救助"),
    ("livelihood_service", "social_insurance", None, 2, "居民反映社保缴费记录缺失"),
    ("livelihood_service", "veterans_care", None, 1, "退役军人反映优抚金未到账"),
    ("livelihood_service", "elderly_care_need", None, 2, "高龄老人独居，需要上门照护"),
    ("dispute_mediation", "neighbour_dispute", None, 4, "楼上漏水引发邻里纠纷"),
    ("dispute_mediation", "petition", None, 1, "居民就拆迁补偿提出信访诉求"),
    ("special_group_assistance", "mental_illness_risk", None, 1, "精神障碍患者近期情绪不稳"),
    ("public_opinion", "resident_suggestion", None, 2, "居民建议增设夜间照明"),
    ("other", "environment_pollution", None, 2, "餐馆油烟直排，居民投诉"),
    ("other", "public_health_concern", None, 1, "小区垃圾房蚊蝇滋生"),
    ("major_event", "public_order_incident", "major", 0, "菜场门口聚集人员发生冲突"),
)

# P5.3.2: who acts on a case at each handling level. A grid-level case is triaged and
# closed by its community grid chief (neighbourhood grid workers may report a result but
# not triage, services/dispatch/domain/states.py).
ROLE_FOR_LEVEL: dict[str, str] = {
    "grid": "community_grid_chief",
    "community": "community_grid_chief",
    "town": "town_grid_chief",
    "district": "district_admin",
}


@dataclass(frozen=True)
class Report:
    """One case a grid worker reports from the app."""

    grid_code: str
    body: dict[str, Any]


@dataclass
class Scenario:
    """The district's behaviour, parameterised: ``mix`` of cases, the share handled on the
    spot, how often a major event happens, how often the resident is not satisfied."""

    rng: random.Random = field(default_factory=random.Random)
    mix: tuple[CaseKind, ...] = CASE_MIX
    on_spot_share: float = 0.1
    major_event_every: int = 50  # one report in N is a major event (0: never)
    unsatisfied_share: float = 0.1
    reported: int = 0

    def next_report(self, grids: list[dict[str, Any]]) -> Report:
        """A case at a point inside a random grid (the app sends the worker's position)."""
        grid = self.rng.choice(grids)
        kind = self._kind()
        category, subcategory, severity, _weight, text = kind
        self.reported += 1
        body: dict[str, Any] = {
            "location": grid["point"], "work_category": category,
            "subcategory": subcategory, "description": f"{text}（模拟 #{self.reported}）",
            "client_ref": f"sim-{self.rng.getrandbits(48):012x}",
        }
        if severity:
            body["severity"] = severity
        if category != "major_event" and self.rng.random() < self.on_spot_share:
            body["handled_on_spot"] = True  # P5.1.5
        return Report(grid["grid_code"], body)

    def _kind(self) -> CaseKind:
        every = self.major_event_every
        if every and (self.reported + 1) % every == 0:
            majors = [k for k in self.mix if k[0] == "major_event"]
            if majors:
                return majors[0]
        ordinary = [k for k in self.mix if k[3] > 0]
        return self.rng.choices(ordinary, weights=[k[3] for k in ordinary])[0]

    @staticmethod
    def triage(case: dict[str, Any]) -> dict[str, Any]:
        """P5.3.2: a case no rule sends to a department is handled at its own level."""
        return {"outcome": "local", "reason": "由本级网格力量处理（模拟）"}

    @staticmethod
    def local_result(case: dict[str, Any]) -> dict[str, Any]:
        return {"note": "已现场协调处理完毕（模拟）", "resolved": True}

    def return_visit(self, case: dict[str, Any], earlier_visits: int = 0) -> dict[str, Any]:
        """P5.2.1 回访: mostly satisfied; an unsatisfied resident sends it back for rework
        (once: the second visit after the rework is satisfied)."""
        if earlier_visits == 0 and self.rng.random() < self.unsatisfied_share:
            return {"satisfied": False, "satisfaction": 2, "method": "phone",
                    "note": "居民反映问题未彻底解决（模拟）"}
        return {"satisfied": True, "satisfaction": self.rng.choice((4, 5, 5)),
                "method": self.rng.choice(("phone", "visit"))}


def actor_scope(level: str, case: dict[str, Any]) -> tuple[str, str]:
    """The role and scope of the person who acts on ``case`` at ``level``."""
    grid_code = case["grid_code"]
    role = ROLE_FOR_LEVEL[level]
    level = Level(ROLE_LEVEL[role])
    scope = f"{level}:{parent(grid_code, level)}"
    return role, scope


ROLE_LEVEL = {"community_grid_chief": "community", "town_grid_chief": "town",
              "district_admin": "district"}

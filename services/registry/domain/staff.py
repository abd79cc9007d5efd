"""Grid staff roles, the neighbourhood grid worker's lifecycle, departments and code lists.

Roles and their scope levels are shared with authentication, so they are re-exported from
``gridgov_common.kernel.roles`` (one definition for tokens and for the registry).  Everything
else here — lifecycle, departments, work categories, information classes, special
groups — is the registry's master data with stable codes (P4.2, P5.0–P5.4).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from gridgov_common.contract.routing import InfoClass, WorkCategory
from gridgov_common.kernel import department_seed
from gridgov_common.kernel.roles import ROLE_SCOPE, Role, ScopeLevel

__all__ = [
    "DEPARTMENTS", "DEPARTMENTS_BY_CODE", "ROLE_SCOPE", "SPECIAL_GROUP_DEPARTMENTS",
    "TRANSITIONS", "Action", "Department", "InfoClass", "Role", "ScopeLevel", "SpecialGroup",
    "State", "Transition", "TransitionError", "WorkCategory", "allowed_actions",
    "departments_for", "scope_level", "transition", "validate_special_groups",
]


def scope_level(role: Role | str) -> ScopeLevel:
    """The scope level a role holds (P5.0).

    P5.1.1: the town grid chief holds a town; P5.1.2: one grid instructor per community;
    P5.1.3/P5.1.4: the community grid chief and community grid workers serve a community
    (a community grid worker leads the neighbourhood workers of a few grids, so a single
    grid would be too narrow); P5.1.5: a neighbourhood grid worker serves one grid.
    """
    return ROLE_SCOPE[Role(role)]


# --- Neighbourhood grid worker lifecycle (P5.1.5, P5.4.1) ---------------------------------

class State(StrEnum):
    """Lifecycle states; ``active`` is the state of appointed (non-recruited) staff."""

    RECRUITED = "recruited"
    REVIEWED = "reviewed"
    HIRED = "hired"
    FILED = "filed"
    ADJUSTMENT_PROPOSED = "adjustment_proposed"
    DISMISSED = "dismissed"
    REJECTED = "rejected"
    ACTIVE = "active"


class Action(StrEnum):
    REVIEW = "review"
    REJECT = "reject"
    HIRE = "hire"
    FILE = "file"
    PROPOSE_ADJUSTMENT = "propose_adjustment"
    APPROVE_ADJUSTMENT = "approve_adjustment"
    REJECT_ADJUSTMENT = "reject_adjustment"


@dataclass(frozen=True, slots=True)
class Transition:
    target: State
    roles: frozenset[Role]
    rule: str  # the policy clause, for error messages and docs


_TOWN = frozenset({Role.TOWN_GRID_CHIEF})
# P5.4.1 "the community proposes": its grid chief, or its grid instructor (P5.1.2)
_PROPOSERS = frozenset({Role.COMMUNITY_GRID_CHIEF, Role.GRID_INSTRUCTOR})
_BUREAU = frozenset({Role.DISTRICT_ADMIN})

TRANSITIONS: dict[tuple[State, Action], Transition] = {
    # P5.1.5: recruited by the community (the initial state), reviewed and hired by the town
    (State.RECRUITED, Action.REVIEW): Transition(State.REVIEWED, _TOWN, "P5.1.5"),
    (State.RECRUITED, Action.REJECT): Transition(State.REJECTED, _TOWN, "P5.1.5"),
    (State.REVIEWED, Action.HIRE): Transition(State.HIRED, _TOWN, "P5.1.5"),
    (State.REVIEWED, Action.REJECT): Transition(State.REJECTED, _TOWN, "P5.1.5"),
    # P5.1.5/P5.4.1: filed with the district Social Affairs Bureau (district_admin)
    (State.HIRED, Action.FILE): Transition(State.FILED, _BUREAU, "P5.4.1"),
    # P5.4.1: those failing assessment are adjusted: the community proposes ...
    (State.FILED, Action.PROPOSE_ADJUSTMENT):
        Transition(State.ADJUSTMENT_PROPOSED, _PROPOSERS, "P5.4.1"),
    # ... and the town approves (dismissal) or turns the proposal down (stays filed)
    (State.ADJUSTMENT_PROPOSED, Action.APPROVE_ADJUSTMENT):
        Transition(State.DISMISSED, _TOWN, "P5.4.1"),
    (State.ADJUSTMENT_PROPOSED, Action.REJECT_ADJUSTMENT):
        Transition(State.FILED, _TOWN, "P5.4.1"),
}
TERMINAL_STATES = frozenset({State.DISMISSED, State.REJECTED})


class TransitionError(ValueError):
    """An action is not allowed: ``code`` is ``unknown_action``, ``unknown_state``,
    ``unknown_role``, ``illegal_transition`` or ``forbidden_role``."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _parse(enum: type[StrEnum], value: str, code: str, what: str) -> StrEnum:
    try:
        return enum(value)
    except ValueError:
        raise TransitionError(code, f"unknown {what} {value!r}") from None


def transition(current_state: str, action: str, actor_role: str) -> str:
    """Apply one lifecycle action; return the new state or raise ``TransitionError``.

    The error says what *is* possible from the current state, so a caller can correct
    itself (e.g. "hire is not possible from recruited; possible: review, reject").
    """
    state = _parse(State, current_state, "unknown_state", "state")
    act = _parse(Action, action, "unknown_action", "action")
    role = _parse(Role, actor_role, "unknown_role", "role")
    step = TRANSITIONS.get((state, act))  # type: ignore[arg-type]
    if step is None:
        possible = ", ".join(a.value for (s, a) in TRANSITIONS if s == state) or "none"
        raise TransitionError("illegal_transition",
                              f"{act} is not possible from state {state}; possible: {possible}")
    if role not in step.roles:
        who = ", ".join(sorted(r.value for r in step.roles))
        raise TransitionError("forbidden_role",
                              f"{role} may not {act} a neighbourhood grid worker "
                              f"({step.rule}: only {who})")
    return step.target.value


def allowed_actions(current_state: str, actor_role: str) -> list[str]:
    """Actions ``actor_role`` may take from ``current_state`` (for UI buttons)."""
    return sorted(a.value for (s, a), t in TRANSITIONS.items()
                  if s.value == current_state and actor_role in t.roles)


# --- Work categories (P5.2), departments (P4.2), information classes (P5.4.4) -------------

@dataclass(frozen=True, slots=True)
class Department:
    code: str
    name_zh: str
    name_en: str
    work_categories: tuple[WorkCategory, ...]


# P4.2: the ten departments brought into grid management, as data: which work categories
# each answers for is our reading of their statutory remits (each entry's ``remit``); "other"
# (P5.2.8, tasks from above) is routed by the town's triage (P5.3.2), not by default.
# Community corrections and released prisoners belong to justice bureaus, which P4.2 folds
# into the political-legal line (综治/政法).  The file is the register's first version and
# the demo's department list (bus users, compose, simulator): gridgov_common/kernel/departments.json
def _seed() -> tuple[Department, ...]:
    return tuple(Department(e["code"], e["name_zh"], e["name_en"],
                            tuple(WorkCategory(c) for c in e["work_categories"]))
                 for e in department_seed.entries())


DEPARTMENTS: tuple[Department, ...] = _seed()
DEPARTMENTS_BY_CODE: dict[str, Department] = {d.code: d for d in DEPARTMENTS}


def departments_for(category: str) -> list[str]:
    """Codes of the departments answering for a work category (routing suggestions)."""
    cat = WorkCategory(category)
    return [d.code for d in DEPARTMENTS if cat in d.work_categories]


INFO_CLASS_NAMES_ZH: dict[InfoClass, str] = {
    InfoClass.PARTY_MASS_ORGANISATIONS: "党群组织",
    InfoClass.ECONOMY_FINANCE: "经济财政",
    InfoClass.STABILITY_GOVERNANCE: "综治维稳",
    InfoClass.SOCIAL_AFFAIRS: "社会事务",
    InfoClass.POPULATION_FAMILY_PLANNING: "人口计生",
    InfoClass.LABOUR_SOCIAL_SECURITY: "劳动保障",
    InfoClass.URBAN_MANAGEMENT: "城市管理",
    InfoClass.CULTURE_EDUCATION_SPORT: "文教体育",
}


class SpecialGroup(StrEnum):
    """P5.2.5 special groups: highly sensitive personal information (PIPL Art. 28) —
    always stored encrypted and shown only to the roles that organise assistance."""

    PETITIONER = "petitioner"  # 信访人员
    COMMUNITY_CORRECTIONS = "community_corrections"  # 社区矫正对象
    RELEASED_PRISONER = "released_prisoner"  # 刑满释放人员
    DRUG_USER = "drug_user"  # 吸毒人员
    HAZARDOUS_GOODS_WORKER = "hazardous_goods_worker"  # 危险物品从业人员
    MENTAL_ILLNESS_RISK = "mental_illness_risk"  # 肇事肇祸精神障碍患者


SPECIAL_GROUP_NAMES_ZH: dict[SpecialGroup, str] = {
    SpecialGroup.PETITIONER: "信访人员",
    SpecialGroup.COMMUNITY_CORRECTIONS: "社区矫正对象",
    SpecialGroup.RELEASED_PRISONER: "刑满释放人员",
    SpecialGroup.DRUG_USER: "吸毒人员",
    SpecialGroup.HAZARDOUS_GOODS_WORKER: "危险物品从业人员",
    SpecialGroup.MENTAL_ILLNESS_RISK: "肇事肇祸精神障碍患者",
}

_SPECIAL_GROUP_CODES = frozenset(g.value for g in SpecialGroup)

# Which departments take part in assisting each group (P5.2.5 with P4.2).
SPECIAL_GROUP_DEPARTMENTS: dict[SpecialGroup, tuple[str, ...]] = {
    SpecialGroup.PETITIONER: ("comprehensive_governance",),
    SpecialGroup.COMMUNITY_CORRECTIONS: ("comprehensive_governance",),
    SpecialGroup.RELEASED_PRISONER: ("comprehensive_governance", "public_security"),
    SpecialGroup.DRUG_USER: ("public_security", "health"),
    SpecialGroup.HAZARDOUS_GOODS_WORKER: ("public_security", "emergency_management"),
    SpecialGroup.MENTAL_ILLNESS_RISK: ("health", "public_security", "civil_affairs"),
}


def validate_special_groups(tags: Iterable[str]) -> list[str]:
    """Sorted, de-duplicated special-group codes; ValueError naming any unknown tag."""
    tags = list(tags)
    unknown = sorted({t for t in tags if t not in _SPECIAL_GROUP_CODES})
    if unknown:
        raise ValueError(f"unknown special-group tags: {', '.join(unknown)}")
    return sorted(set(tags))

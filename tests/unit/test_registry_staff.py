"""Roles (P5.0), the neighbourhood grid worker lifecycle (P5.1.5, P5.4.1), departments
(P4.2), work categories (P5.2), information classes (P5.4.4), special groups (P5.2.5)."""

import pytest

from services.registry.domain import staff
from services.registry.domain.staff import (
    Role,
    ScopeLevel,
    SpecialGroup,
    TransitionError,
    WorkCategory,
)

TOWN, COMMUNITY, BUREAU = "town_grid_chief", "community_grid_chief", "district_admin"


def test_role_codes_are_stable():
    assert {r.value for r in Role} == {
        "town_grid_chief", "grid_instructor", "community_grid_chief", "community_grid_worker",
        "neighbourhood_grid_worker", "department_officer", "district_admin", "ops_viewer"}


@pytest.mark.parametrize("role, level", [
    ("town_grid_chief", ScopeLevel.TOWN),
    ("grid_instructor", ScopeLevel.COMMUNITY),
    ("community_grid_chief", ScopeLevel.COMMUNITY),
    ("community_grid_worker", ScopeLevel.COMMUNITY),
    ("neighbourhood_grid_worker", ScopeLevel.GRID),
    ("department_officer", ScopeLevel.DEPARTMENT),
    ("district_admin", ScopeLevel.DISTRICT),
    ("ops_viewer", ScopeLevel.DISTRICT),
])
def test_scope_levels(role, level):
    assert staff.scope_level(role) == level


def test_full_lifecycle_happy_path():
    state = "recruited"
    for action, actor, expected in [
        ("review", TOWN, "reviewed"),
        ("hire", TOWN, "hired"),
        ("file", BUREAU, "filed"),
        ("propose_adjustment", COMMUNITY, "adjustment_proposed"),
        ("approve_adjustment", TOWN, "dismissed"),
    ]:
        state = staff.transition(state, action, actor)
        assert state == expected


def test_adjustment_turned_down_returns_to_filed():
    state = staff.transition("filed", "propose_adjustment", COMMUNITY)
    assert staff.transition(state, "reject_adjustment", TOWN) == "filed"


def test_town_may_reject_before_hiring():
    assert staff.transition("recruited", "reject", TOWN) == "rejected"
    assert staff.transition("reviewed", "reject", TOWN) == "rejected"


def test_role_enum_members_are_accepted_as_actor():
    assert staff.transition("recruited", "review", Role.TOWN_GRID_CHIEF) == "reviewed"


@pytest.mark.parametrize("state, action, actor", [
    ("recruited", "review", COMMUNITY),  # the community recruits, the town reviews
    ("reviewed", "hire", COMMUNITY),
    ("hired", "file", TOWN),  # filing is the Social Affairs Bureau's
    ("filed", "propose_adjustment", TOWN),  # the community proposes ...
    ("adjustment_proposed", "approve_adjustment", COMMUNITY),  # ... the town approves
    ("recruited", "review", "neighbourhood_grid_worker"),
])
def test_unauthorised_roles(state, action, actor):
    with pytest.raises(TransitionError) as err:
        staff.transition(state, action, actor)
    assert err.value.code == "forbidden_role"
    assert actor in str(err.value) and "only" in str(err.value)


@pytest.mark.parametrize("state, action", [
    ("recruited", "hire"),  # review comes first
    ("recruited", "file"),
    ("filed", "hire"),
    ("dismissed", "review"),
    ("rejected", "review"),
    ("active", "propose_adjustment"),  # appointed staff have no recruitment lifecycle
])
def test_illegal_actions_say_what_is_possible(state, action):
    with pytest.raises(TransitionError) as err:
        staff.transition(state, action, TOWN)
    assert err.value.code == "illegal_transition"
    assert "possible:" in str(err.value)


def test_illegal_message_lists_possible_actions():
    with pytest.raises(TransitionError, match="possible: review, reject"):
        staff.transition("recruited", "hire", TOWN)
    with pytest.raises(TransitionError, match="possible: none"):
        staff.transition("dismissed", "hire", TOWN)


@pytest.mark.parametrize("state, action, actor, code", [
    ("limbo", "review", TOWN, "unknown_state"),
    ("recruited", "promote", TOWN, "unknown_action"),
    ("recruited", "review", "mayor", "unknown_role"),
])
def test_unknown_inputs(state, action, actor, code):
    with pytest.raises(TransitionError) as err:
        staff.transition(state, action, actor)
    assert err.value.code == code


def test_transition_error_is_value_error():
    with pytest.raises(ValueError):
        staff.transition("recruited", "hire", TOWN)


def test_allowed_actions():
    assert staff.allowed_actions("recruited", TOWN) == ["reject", "review"]
    assert staff.allowed_actions("recruited", COMMUNITY) == []
    assert staff.allowed_actions("filed", COMMUNITY) == ["propose_adjustment"]
    assert staff.allowed_actions("hired", BUREAU) == ["file"]


def test_every_transition_targets_a_known_state_and_terminal_states_are_dead_ends():
    for (state, _action), step in staff.TRANSITIONS.items():
        assert step.roles and step.rule.startswith("P5")
        assert state not in staff.TERMINAL_STATES
    for terminal in staff.TERMINAL_STATES:
        assert all(s != terminal for s, _ in staff.TRANSITIONS)


def test_ten_departments_of_p4_2():
    codes = [d.code for d in staff.DEPARTMENTS]
    assert codes == ["organization", "comprehensive_governance", "civil_affairs",
                     "public_security", "human_resources", "health", "ecology_environment",
                     "emergency_management", "veterans_affairs", "fire"]
    names = {d.code: d.name_zh for d in staff.DEPARTMENTS}
    assert names["civil_affairs"] == "民政" and names["fire"] == "消防"
    assert names["comprehensive_governance"].startswith("综治")
    assert all(d.name_en and d.work_categories for d in staff.DEPARTMENTS)
    assert staff.DEPARTMENTS_BY_CODE["health"].name_en == "Health"


def test_eight_work_categories_each_has_a_department_except_other():
    assert [c.value for c in WorkCategory] == [
        "livelihood_service", "public_opinion", "dispute_mediation",
        "public_security_prevention", "special_group_assistance", "policy_publicity",
        "major_event", "other"]
    for category in WorkCategory:
        if category is WorkCategory.OTHER:
            assert staff.departments_for(category) == []  # routed by town triage (P5.3.2)
        else:
            assert staff.departments_for(category), category
    assert "human_resources" in staff.departments_for("livelihood_service")
    assert "public_security" in staff.departments_for("public_security_prevention")
    with pytest.raises(ValueError):
        staff.departments_for("parking")


def test_eight_information_classes():
    assert len(staff.InfoClass) == 8
    assert set(staff.INFO_CLASS_NAMES_ZH) == set(staff.InfoClass)
    assert staff.INFO_CLASS_NAMES_ZH[staff.InfoClass.STABILITY_GOVERNANCE] == "综治维稳"
    assert "population_family_planning" in {c.value for c in staff.InfoClass}


def test_special_groups():
    assert {g.value for g in SpecialGroup} == {
        "petitioner", "community_corrections", "released_prisoner", "drug_user",
        "hazardous_goods_worker", "mental_illness_risk"}
    assert set(staff.SPECIAL_GROUP_NAMES_ZH) == set(SpecialGroup)
    for departments in staff.SPECIAL_GROUP_DEPARTMENTS.values():
        assert all(d in staff.DEPARTMENTS_BY_CODE for d in departments)
    assert staff.validate_special_groups(["drug_user", "petitioner", "drug_user"]) == [
        "drug_user", "petitioner"]
    assert staff.validate_special_groups([]) == []
    with pytest.raises(ValueError, match="smoker"):
        staff.validate_special_groups(["petitioner", "smoker"])


@pytest.mark.parametrize("state, action, actor, message", [
    ("limbo", "review", TOWN, "unknown state 'limbo'"),
    ("recruited", "promote", TOWN, "unknown action 'promote'"),
    ("recruited", "review", "mayor", "unknown role 'mayor'"),
])
def test_unknown_inputs_name_what_was_not_understood(state, action, actor, message):
    with pytest.raises(TransitionError) as err:
        staff.transition(state, action, actor)
    assert err.value.message == str(err.value) == message


def test_a_forbidden_caller_is_told_who_may_act_and_under_which_clause():
    with pytest.raises(TransitionError) as err:
        staff.transition("filed", "propose_adjustment", TOWN)
    assert err.value.message.endswith("(P5.4.1: only community_grid_chief, grid_instructor)")


def test_the_seed_is_the_department_file_read_whole():
    """The register's first version comes from gridgov_common/kernel/departments.json (one list,
    issue 11): every entry, in order, its names and work categories as typed values."""
    from gridgov_common.kernel import department_seed

    seeded = staff._seed()
    assert seeded == staff.DEPARTMENTS
    assert [(d.code, d.name_zh, d.name_en, [str(c) for c in d.work_categories])
            for d in seeded] == [(e["code"], e["name_zh"], e["name_en"], e["work_categories"])
                                 for e in department_seed.entries()]
    assert all(type(c) is staff.WorkCategory for d in seeded for c in d.work_categories)
    assert department_seed.codes() == tuple(sorted(d.code for d in seeded))

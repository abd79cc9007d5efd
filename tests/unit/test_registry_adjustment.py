"""Staff adjustment after a failed assessment (P5.4.1: "the community proposes, the town
approves"), written out by hand rather than read from the module's own table."""

import pytest

from services.registry.domain.adjustment import (
    DISMISS_LIFECYCLE,
    Action,
    AdjustmentError,
    transition,
)

COMMUNITY_CHIEF = "community_grid_chief"
INSTRUCTOR = "grid_instructor"
TOWN_CHIEF = "town_grid_chief"
STATES = ["unmatched", "flagged", "proposed", "approved", "rejected", "applied"]
ACTIONS = ["match", "propose", "approve", "reject", "apply"]
EVERY_ROLE = [COMMUNITY_CHIEF, INSTRUCTOR, TOWN_CHIEF, "community_grid_worker",
              "neighbourhood_grid_worker", "department_officer", "district_admin",
              "ops_viewer", None]

# (state, action) -> (next state, who may do it; None = only the registry itself)
EXPECTED = {
    ("unmatched", "match"): ("flagged", None),
    ("flagged", "propose"): ("proposed", {COMMUNITY_CHIEF, INSTRUCTOR}),
    ("rejected", "propose"): ("proposed", {COMMUNITY_CHIEF, INSTRUCTOR}),
    ("proposed", "approve"): ("approved", {TOWN_CHIEF}),
    ("proposed", "reject"): ("rejected", {TOWN_CHIEF}),
    ("approved", "apply"): ("applied", None),
}


def _refusal(state, action, role=None):
    with pytest.raises(AdjustmentError) as info:
        transition(state, action, role)
    return info.value


def test_the_whole_flow_from_a_flag_to_an_applied_measure():
    state = transition("unmatched", "match")
    state = transition(state, "propose", COMMUNITY_CHIEF)
    state = transition(state, "reject", TOWN_CHIEF)
    state = transition(state, "propose", INSTRUCTOR)  # the community proposes again
    state = transition(state, "approve", TOWN_CHIEF)
    assert state == "approved"
    assert transition(state, "apply") == "applied"


@pytest.mark.parametrize("state, action", [(s, a) for s in STATES for a in ACTIONS])
def test_every_move_and_who_may_make_it(state, action):
    expected = EXPECTED.get((state, action))
    for role in EVERY_ROLE:
        if expected is None:
            assert _refusal(state, action, role).code == "illegal_transition"
            continue
        target, roles = expected
        if roles is None or role in roles:
            assert transition(state, action, role) == target, (role, state, action)
        else:
            assert _refusal(state, action, role).code == "forbidden_role", (role, state)


def test_a_proposal_or_decision_without_a_caller_is_refused():
    assert _refusal("flagged", "propose").code == "forbidden_role"
    assert _refusal("proposed", "approve", None).code == "forbidden_role"


def test_an_applied_adjustment_is_final():
    error = _refusal("applied", "propose", COMMUNITY_CHIEF)
    assert error.code == "illegal_transition"
    assert "possible: none" in error.message


def test_a_refusal_names_what_the_caller_could_do_instead():
    assert "possible: approve, reject" in _refusal("proposed", "apply").message
    assert "possible: propose" in str(_refusal("flagged", "approve", TOWN_CHIEF))


def test_a_forbidden_caller_is_told_who_may_act():
    error = _refusal("flagged", "propose", TOWN_CHIEF)
    assert "only community_grid_chief, grid_instructor" in error.message


def test_unknown_states_and_actions_are_errors():
    with pytest.raises(ValueError):
        transition("archived", "propose", COMMUNITY_CHIEF)
    with pytest.raises(ValueError):
        transition("flagged", "dismiss", COMMUNITY_CHIEF)


def test_a_dismissal_runs_the_grid_workers_lifecycle_step_by_step():
    assert DISMISS_LIFECYCLE == {
        Action.PROPOSE: "propose_adjustment",
        Action.APPROVE: "approve_adjustment",
        Action.REJECT: "reject_adjustment",
    }

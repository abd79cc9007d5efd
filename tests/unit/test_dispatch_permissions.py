"""Who may move a case, written out by hand from the policy (issue 17).

``tests/unit/test_dispatch_states.py`` checks the machine's behaviour row by row, reading
each row's actors and states from ``TRANSITIONS`` itself: a changed row changes the
expectation with it. This file is the independent expectation: every state × every actor,
the exact set of moves, typed from the clauses (P2.2, P5.1.5, P5.2.1, P5.3.1–P5.3.3, P6.2),
so that widening or narrowing anyone's permissions fails here until this page is changed
on purpose.
"""

import pytest

from gridgov_common.kernel.roles import Role
from services.dispatch.domain import states

ACTORS = ("system", "department", "department_officer", "ops_viewer", "district_admin",
          "town_grid_chief", "grid_instructor", "community_grid_chief",
          "community_grid_worker", "neighbourhood_grid_worker")

# state -> actor -> moves; an actor not listed may make no move from that state
EXPECTED: dict[str, dict[str, set[str]]] = {
    "filed": {
        # P5.3.2 automatic triage by the rules; P5.1.5 cases handled on the spot
        "system": {"triage_local", "dispatch", "close_on_spot", "merge"},
        # P5.3.1/P5.3.2: the community handles, whistles, reports up, assigns to its grids
        # and cancels what fails the filing conditions
        "community_grid_chief": {"triage_local", "dispatch", "report_up", "assign_down",
                                 "cancel"},
        "community_grid_worker": {"triage_local", "report_up"},
        "grid_instructor": {"report_up"},
        # P2.2: the town whistles; P6.2 suspension (挂账) needs the town's or district's
        # approval
        "town_grid_chief": {"triage_local", "dispatch", "report_up", "assign_down", "cancel",
                            "suspend"},
        "district_admin": {"triage_local", "dispatch", "assign_down", "cancel", "suspend"},
    },
    "handling_local": {
        "system": {"merge"},  # P5.3.1: a confirmed duplicate joins its original's flow
        # P5.3.3: whoever works the case at its level reports the result
        **{role: {"local_result"} for role in (
            "community_grid_chief", "community_grid_worker", "grid_instructor",
            "neighbourhood_grid_worker")},
        "town_grid_chief": {"local_result", "suspend"},
        "district_admin": {"local_result", "suspend"},
    },
    "dispatched": {
        "system": {"merge"},
        # P2.2: only the department reports in (or returns a case that is not its own)
        "department": {"ack", "department_return"},
        "department_officer": {"ack", "department_return"},
        "town_grid_chief": {"suspend"},
        "district_admin": {"suspend"},
    },
    "in_progress": {
        "system": {"merge"},
        "department": {"department_return", "department_result"},
        "department_officer": {"department_return", "department_result"},
        "town_grid_chief": {"suspend"},
        "district_admin": {"suspend"},
    },
    "resolved": {
        "system": {"merge"},
        # P5.2.1/P5.3.3: the grid's people go back to the resident (回访)
        **{role: {"return_visit_satisfied", "return_visit_unsatisfied"} for role in (
            "community_grid_chief", "community_grid_worker", "neighbourhood_grid_worker")},
        "town_grid_chief": {"suspend"},
        "district_admin": {"suspend"},
    },
    "suspended": {
        "system": {"merge"},
        "town_grid_chief": {"resume"},
        "district_admin": {"resume"},
    },
    # P5.3.1/P5.3.3: only the duplicate link moves a merged case: undone, or its original
    # finished — no person acts on it while it waits
    "merged": {"system": {"unmerge", "close_merged"}},
    "closed": {},
    "cancelled": {},
}


def test_the_expectation_names_every_state_and_actor():
    assert set(EXPECTED) == {s.value for s in states.CaseState}
    assert {*ACTORS} >= {r.value for r in Role} | {p.value for p in states.PseudoActor}


@pytest.mark.parametrize("state", sorted(EXPECTED))
@pytest.mark.parametrize("actor", ACTORS)
def test_each_actor_may_make_exactly_the_expected_moves(state, actor):
    expected = EXPECTED[state].get(actor, set())
    assert {str(t) for t in states.allowed(state, actor)} == expected


@pytest.mark.parametrize("state", sorted(EXPECTED))
@pytest.mark.parametrize("actor", ACTORS)
def test_every_other_move_is_refused(state, actor):
    expected = EXPECTED[state].get(actor, set())
    for transition in states.TransitionName:
        if transition.value in expected:
            continue
        with pytest.raises(states.IllegalTransition) as refused:
            states.apply(state, transition, actor, assignment_role="lead", assignments=[],
                         handled_locally=True, reason="why")
        assert refused.value.code in {"wrong_state", "actor_not_allowed"}


@pytest.mark.parametrize("role,level,may", [
    # P5.3.2: staff of the case's level or above triage it, staff below do not
    ("neighbourhood_grid_worker", "grid", True),
    ("neighbourhood_grid_worker", "community", False),
    ("community_grid_worker", "community", False),
    ("community_grid_chief", "community", True),
    ("community_grid_chief", "town", False),
    ("grid_instructor", "community", True),
    ("grid_instructor", "town", False),
    ("town_grid_chief", "town", True),
    ("town_grid_chief", "district", False),
    ("district_admin", "district", True),
    ("district_admin", "grid", True),
    ("department_officer", "district", True),  # not staff: the transition table decides
])
def test_require_level(role, level, may):
    if may:
        states.require_level(level, role)
        return
    with pytest.raises(states.IllegalTransition) as refused:
        states.require_level(level, role)
    assert refused.value.code == "below_handling_level"
    assert level in refused.value.message

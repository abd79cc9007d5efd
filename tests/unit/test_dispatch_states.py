"""The case state machine (P2.2, P5.1.5, P5.2.1, P5.3): one table, every transition."""

from pathlib import Path

import pytest

from gridgov_common.contract.cases import AssignmentRole
from gridgov_common.kernel.roles import Role
from services.dispatch.domain import states
from services.dispatch.domain.states import (
    AssignmentState,
    AssignmentStatus,
    CaseState,
    HandlingLevel,
    IllegalTransition,
    PseudoActor,
    TransitionName,
    allowed,
    apply,
    shift_level,
)

ALL_ACTORS = [*Role, *PseudoActor]
LEAD, ASSIST = AssignmentRole.LEAD, AssignmentRole.ASSIST
REPORTED, ACKED = AssignmentState.REPORTED, AssignmentState.ACKED


def _context(rule):
    """Context that satisfies every condition of ``rule``."""
    return {
        "assignment_role": LEAD,
        "assignments": [AssignmentStatus("fire", LEAD, REPORTED)],
        "handled_locally": False,
        "reason": "approved by the town (镇网格长批准)",
        "merged_from": CaseState.DISPATCHED,  # unmerge: back where the merge found it
        "original_state": CaseState.CLOSED,  # close_merged: the original was closed
    }


def _raises(code, *args, **kwargs):
    with pytest.raises(IllegalTransition) as info:
        apply(*args, **kwargs)
    assert info.value.code == code
    return info.value


def test_table_covers_every_transition_name_once():
    names = [rule.name for rule in states.TRANSITIONS]
    assert sorted(names) == sorted(TransitionName)
    assert len(names) == len(set(names))
    for rule in states.TRANSITIONS:
        assert rule.clause.startswith("P"), rule.name
        assert rule.actors, rule.name


@pytest.mark.parametrize("rule", states.TRANSITIONS, ids=lambda r: r.name)
def test_every_allowed_actor_from_every_source_state(rule):
    for source in rule.sources:
        for actor in rule.actors:
            target = apply(source, rule.name, actor, **_context(rule))
            decided = {TransitionName.CLOSE_MERGED: CaseState.CLOSED}
            assert target == (rule.target or decided.get(rule.name, CaseState.DISPATCHED))


@pytest.mark.parametrize("rule", states.TRANSITIONS, ids=lambda r: r.name)
def test_every_other_actor_is_refused_with_who_may(rule):
    source = next(iter(rule.sources))
    for actor in ALL_ACTORS:
        if actor in rule.actors or (actor == Role.DEPARTMENT_OFFICER
                                    and PseudoActor.DEPARTMENT in rule.actors):
            continue
        error = _raises("actor_not_allowed", source, rule.name, actor, **_context(rule))
        assert rule.name in error.message
        assert str(source) in error.message
        for allowed_actor in rule.actors:
            assert str(allowed_actor) in error.message


@pytest.mark.parametrize("rule", states.TRANSITIONS, ids=lambda r: r.name)
def test_every_other_state_is_refused(rule):
    actor = next(iter(rule.actors))
    for state in CaseState:
        if state in rule.sources:
            continue
        error = _raises("wrong_state", state, rule.name, actor, **_context(rule))
        assert f"from state {state}" in error.message
        assert rule.name in error.message


def test_dispatch_flow_happy_path():
    # P2.2: the town whistles, the lead reports in, every department reports a result
    state = apply("filed", "dispatch", "town_grid_chief")
    assert state == CaseState.DISPATCHED
    state = apply(state, "ack", "department", assignment_role="lead")
    assert state == CaseState.IN_PROGRESS
    done = [AssignmentStatus("fire", LEAD, REPORTED),
            AssignmentStatus("emergency_management", ASSIST, REPORTED)]
    state = apply(state, "department_result", "department", assignments=done)
    assert state == CaseState.RESOLVED
    # P5.2.1/P5.3.3: only the return visit closes
    assert apply(state, "return_visit_satisfied", "neighbourhood_grid_worker") == "closed"


def test_local_flow_and_rework_goes_back_to_the_local_handlers():
    state = apply("filed", "triage_local", "community_grid_worker")
    assert state == CaseState.HANDLING_LOCAL
    state = apply(state, "local_result", "neighbourhood_grid_worker")
    assert state == CaseState.RESOLVED
    back = apply(state, "return_visit_unsatisfied", "community_grid_chief",
                 handled_locally=True, reason="居民反映问题仍在")
    assert back == CaseState.HANDLING_LOCAL


def test_rework_of_a_dispatched_case_goes_back_to_the_departments_and_counts():
    back = apply("resolved", "return_visit_unsatisfied", "community_grid_worker",
                 handled_locally=False, reason="not fixed")
    assert back == CaseState.DISPATCHED
    assert states.TRANSITIONS_BY_NAME[TransitionName.RETURN_VISIT_UNSATISFIED].counts_rework
    assert not any(r.counts_rework for r in states.TRANSITIONS
                   if r.name != TransitionName.RETURN_VISIT_UNSATISFIED)


def test_rework_needs_to_know_who_handled_it():
    _raises("context_required", "resolved", "return_visit_unsatisfied", "community_grid_chief",
            reason="not fixed")


def test_close_on_spot_is_for_the_system_only():
    # P5.1.5: small problems do not leave the grid
    assert apply("filed", "close_on_spot", "system") == CaseState.CLOSED
    _raises("actor_not_allowed", "filed", "close_on_spot", "neighbourhood_grid_worker")


def test_only_the_lead_acks_the_case():
    error = _raises("lead_only", "dispatched", "ack", "department", assignment_role="assist")
    assert "assisting" in error.message
    _raises("context_required", "dispatched", "ack", "department")


def test_only_the_lead_returns_the_case_and_must_say_why():
    assert apply("in_progress", "department_return", "department", assignment_role="lead",
                 reason="不属于本部门职责") == CaseState.FILED
    assert apply("dispatched", "department_return", "department", assignment_role=LEAD,
                 reason="wrong body") == CaseState.FILED
    _raises("lead_only", "dispatched", "department_return", "department",
            assignment_role="assist", reason="not ours")
    _raises("reason_required", "dispatched", "department_return", "department",
            assignment_role="lead")
    _raises("reason_required", "dispatched", "department_return", "department",
            assignment_role="lead", reason="   ")


def test_department_officer_acts_as_its_department():
    assert apply("dispatched", "ack", "department_officer", assignment_role="lead") \
        == CaseState.IN_PROGRESS
    assert states.normalise_actor("department_officer") == PseudoActor.DEPARTMENT


def test_result_waits_for_every_assisting_department():
    # P5.3.2: coordinate several departments — resolved only when all have reported
    pending = [AssignmentStatus("fire", LEAD, REPORTED),
               AssignmentStatus("emergency_management", ASSIST, ACKED),
               AssignmentStatus("public_security", ASSIST, AssignmentState.SENT)]
    error = _raises("results_pending", "in_progress", "department_result", "department",
                    assignments=pending)
    assert "emergency_management (assist)" in error.message
    assert "public_security (assist)" in error.message
    assert "fire" not in error.message


def test_result_waits_for_the_lead_even_if_assists_are_done():
    pending = [AssignmentStatus("fire", LEAD, ACKED),
               AssignmentStatus("emergency_management", ASSIST, REPORTED)]
    error = _raises("results_pending", "in_progress", "department_result", "department",
                    assignments=pending)
    assert "fire (lead)" in error.message


def test_last_assist_result_completes_the_case_and_returned_assists_owe_nothing():
    done = [AssignmentStatus("fire", LEAD, REPORTED),
            AssignmentStatus("health", ASSIST, AssignmentState.RETURNED),
            AssignmentStatus("public_security", ASSIST, AssignmentState.WITHDRAWN),
            AssignmentStatus("emergency_management", ASSIST, REPORTED)]
    # whichever department's result completes the set moves the case, an assist included
    assert apply("in_progress", "department_result", "department",
                 assignment_role="assist", assignments=done) == CaseState.RESOLVED


def test_result_needs_the_assignments_and_a_lead():
    _raises("context_required", "in_progress", "department_result", "department")
    _raises("results_pending", "in_progress", "department_result", "department",
            assignments=[AssignmentStatus("fire", ASSIST, REPORTED)])


@pytest.mark.parametrize("state", sorted(states.OPEN_STATES))
def test_suspend_from_every_open_state_needs_approval_reason(state):
    assert apply(state, "suspend", "town_grid_chief", reason="需上级协调，经批准挂账") \
        == CaseState.SUSPENDED
    _raises("reason_required", state, "suspend", "district_admin")
    _raises("actor_not_allowed", state, "suspend", "community_grid_chief", reason="x")


def test_suspended_cases_resume_into_triage():
    assert apply("suspended", "resume", "district_admin") == CaseState.FILED
    _raises("wrong_state", "suspended", "suspend", "district_admin", reason="again")


def test_cancel_needs_a_reason():
    assert apply("filed", "cancel", "community_grid_chief", reason="不符合立案条件") \
        == CaseState.CANCELLED
    _raises("reason_required", "filed", "cancel", "community_grid_chief")


@pytest.mark.parametrize("state", ["closed", "cancelled"])
def test_terminal_states_have_no_way_out(state):
    for actor in ALL_ACTORS:
        assert allowed(state, actor) == []


def test_report_up_and_assign_down_keep_the_case_filed_and_move_the_level():
    assert apply("filed", "report_up", "grid_instructor") == CaseState.FILED
    assert apply("filed", "assign_down", "town_grid_chief") == CaseState.FILED
    assert shift_level("grid", "report_up") == HandlingLevel.COMMUNITY
    assert shift_level("community", "report_up") == HandlingLevel.TOWN
    assert shift_level("town", "report_up") == HandlingLevel.DISTRICT
    assert shift_level("district", "assign_down") == HandlingLevel.TOWN
    assert shift_level("community", "assign_down") == HandlingLevel.GRID


def test_no_level_above_the_district_or_below_the_grid():
    with pytest.raises(IllegalTransition) as info:
        shift_level("district", "report_up")
    assert info.value.code == "no_level_above"
    with pytest.raises(IllegalTransition) as info:
        shift_level("grid", "assign_down")
    assert info.value.code == "no_level_below"
    with pytest.raises(IllegalTransition) as info:
        shift_level("town", "dispatch")
    assert info.value.code == "unknown_transition"


def test_allowed_lists_the_buttons_in_table_order():
    assert allowed("filed", "system") == ["triage_local", "dispatch", "close_on_spot",
                                          "merge"]
    assert allowed("merged", "system") == ["unmerge", "close_merged"]
    assert allowed("merged", "town_grid_chief") == []  # P5.3.1: only the link moves it
    assert allowed("filed", "town_grid_chief") == [
        "triage_local", "dispatch", "report_up", "assign_down", "cancel", "suspend"]
    assert allowed("dispatched", "department") == ["ack", "department_return"]
    assert allowed("resolved", "neighbourhood_grid_worker") == [
        "return_visit_satisfied", "return_visit_unsatisfied"]
    assert allowed("in_progress", "ops_viewer") == []


def test_unknown_names_are_refused_clearly():
    _raises("unknown_transition", "filed", "teleport", "system")
    _raises("unknown_actor", "filed", "dispatch", "mayor")
    _raises("wrong_state", "limbo", "dispatch", "system")
    with pytest.raises(IllegalTransition) as info:
        allowed("filed", "nobody")
    assert info.value.code == "unknown_actor"
    assert str(info.value) == "unknown_actor: unknown actor 'nobody'"


def test_markdown_table_has_one_row_per_transition():
    text = states.render_markdown()
    lines = text.strip().splitlines()
    assert lines[0] == "| transition | from | to | who | conditions | clause |"
    assert len(lines) == 2 + len(states.TRANSITIONS)
    row = next(line for line in lines if line.startswith("| `department_result`"))
    assert "`in_progress`" in row and "`resolved`" in row and "`department`" in row
    suspend = next(line for line in lines if line.startswith("| `suspend`"))
    assert "reason required" in suspend and "`district_admin`" in suspend
    rework = next(line for line in lines if line.startswith("| `return_visit_unsatisfied`"))
    assert "counts as rework" in rework and "handling_local" in rework


def test_case_flow_doc_carries_the_generated_table():
    """docs/CASE-FLOW.md shows the table the code enforces (regenerate it from
    ``states.render_markdown()``)."""
    doc = Path(__file__).resolve().parents[2] / "docs" / "CASE-FLOW.md"
    assert states.render_markdown() in doc.read_text(encoding="utf-8")


def test_staff_below_the_handling_level_may_not_triage():
    """P5.3.2: a case reported up is out of the lower level's hands."""
    states.require_level("grid", "neighbourhood_grid_worker")
    states.require_level("community", "community_grid_chief")
    states.require_level("community", "town_grid_chief")  # a higher level may take over
    states.require_level("town", "district_admin")
    with pytest.raises(states.IllegalTransition) as refused:
        states.require_level("town", "grid_instructor")
    assert refused.value.code == "below_handling_level"
    with pytest.raises(states.IllegalTransition):
        states.require_level("community", "community_grid_worker")

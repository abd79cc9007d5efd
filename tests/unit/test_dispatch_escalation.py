"""The supervision ladder (P6.2 督办, P2.2 report-in, P5.3.3 time limits)."""

import copy
import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from gridgov_common.contract.cases import AssignmentRole, Card, EscalationKind, EscalationV1
from gridgov_common.contract.routing import Priority
from gridgov_common.kernel.roles import Role, ScopeLevel
from gridgov_common.kernel.work_calendar import WorkCalendar
from services.dispatch.config_schemas import load_default_policy, parse_policy
from services.dispatch.domain.escalation import (
    AssignmentView,
    CaseView,
    PolicyBook,
    PolicyError,
    next_escalations,
    target_scope,
)
from services.dispatch.domain.states import AssignmentState, CaseState

CST = ZoneInfo("Asia/Shanghai")
ACK, OVERDUE = EscalationKind.ACK_TIMEOUT, EscalationKind.OVERDUE
LEAD_ID = "9e2b4c10-3f6d-4a8b-b1c2-7d5e6f708192"
ASSIST_ID = "0c8f1d2e-5a6b-4c7d-8e9f-a0b1c2d3e4f5"
GRID, TOWN = "320505001001003", "320505001"


def cst(*args):
    return datetime(*args, tzinfo=CST)


@pytest.fixture(scope="module")
def cal():
    return WorkCalendar()


@pytest.fixture(scope="module")
def policy():
    return load_default_policy()


def assignment(aid=LEAD_ID, department="fire", role=AssignmentRole.LEAD,
               state=AssignmentState.SENT, ack_due=cst(2026, 11, 26, 10, 0),
               handle_due=cst(2026, 11, 30, 10, 0)):
    return AssignmentView(aid, department, role, state, ack_due, handle_due)


def case(*assignments, state=CaseState.DISPATCHED, priority=Priority.NORMAL, version=1,
         handle_due_at=None):
    return CaseView("5d1c7a58-8f0e-4c1b-9a3e-2b6f0d4e9a11", "GS20261128-000123", state,
                    priority, GRID, TOWN, version, tuple(assignments), handle_due_at)


def keys(escalations):
    return [(e.kind.value, e.level, e.assignment_id) for e in escalations]


# --- the policy ----------------------------------------------------------------------------

def test_default_ladder(policy):
    assert [(r.level, r.role, r.scope) for r in policy.ladder] == [
        (1, Role.COMMUNITY_GRID_CHIEF, ScopeLevel.COMMUNITY),
        (2, Role.GRID_INSTRUCTOR, ScopeLevel.COMMUNITY),
        (3, Role.TOWN_GRID_CHIEF, ScopeLevel.TOWN),
    ]
    assert policy.overdue.cards == (Card.ORDINARY, Card.YELLOW, Card.RED)
    assert parse_policy(policy.to_dict()) == policy


def test_overdue_cards_ordinary_at_due_then_yellow_then_red(policy, cal):
    steps = policy.schedule(OVERDUE, cst(2026, 11, 30, 10, 0), Priority.NORMAL, cal)
    assert [(s.level, s.at, s.role, s.card) for s in steps] == [
        (1, cst(2026, 11, 30, 10, 0), Role.COMMUNITY_GRID_CHIEF, Card.ORDINARY),
        (2, cst(2026, 12, 1, 10, 0), Role.GRID_INSTRUCTOR, Card.YELLOW),  # + 1 working day
        (3, cst(2026, 12, 3, 10, 0), Role.TOWN_GRID_CHIEF, Card.RED),  # + 2 working days
    ]


def test_ack_timeout_climbs_then_retriggers_at_the_top(policy, cal):
    steps = policy.schedule(ACK, cst(2026, 11, 26, 10, 0), Priority.NORMAL, cal)
    assert [(s.level, s.at) for s in steps] == [
        (1, cst(2026, 11, 26, 10, 0)),
        (2, cst(2026, 11, 26, 11, 0)),
        (3, cst(2026, 11, 26, 12, 0)),
        (4, cst(2026, 11, 26, 15, 30)),  # + 2 working hours, over lunch
        (5, cst(2026, 11, 26, 17, 30)),
        (6, cst(2026, 11, 27, 10, 30)),  # over the night
    ]
    assert {s.role for s in steps[3:]} == {Role.TOWN_GRID_CHIEF}
    assert {s.card for s in steps[3:]} == {Card.RED}


def test_urgent_cases_escalate_in_natural_minutes(policy, cal):
    due = cst(2026, 10, 1, 3, 10)  # a holiday night
    steps = policy.schedule(ACK, due, Priority.MAJOR, cal)
    assert [s.at - due for s in steps] == [timedelta(minutes=m) for m in (0, 10, 20, 35, 50, 65)]
    urgent = policy.schedule(OVERDUE, due, "urgent", cal)
    assert [s.at - due for s in urgent] == [timedelta(minutes=m) for m in (0, 60, 180)]


# --- next_escalations ----------------------------------------------------------------------

def test_nothing_before_the_due_time(policy, cal):
    view = case(assignment())
    assert next_escalations(view, cst(2026, 11, 26, 9, 59), cal, set(), policy) == []


def test_ack_timeout_at_the_due_time(policy, cal):
    view = case(assignment())
    [esc] = next_escalations(view, cst(2026, 11, 26, 10, 0), cal, set(), policy)
    assert (esc.kind, esc.level, esc.card) == (ACK, 1, Card.ORDINARY)
    assert esc.target_role == Role.COMMUNITY_GRID_CHIEF
    assert esc.target_scope == "community:320505001001"
    assert esc.assignment_id == LEAD_ID and esc.department == "fire"
    assert esc.at == cst(2026, 11, 26, 10, 0) and esc.due_at == cst(2026, 11, 26, 10, 0)
    assert "fire" in esc.reason and "2026-11-26 10:00" in esc.reason
    assert esc.policy_version == 1


def test_the_reason_names_the_department_by_the_registers_name(policy, cal):
    """Issue 11: the person told reads 消防, not fire; a code the register has not given
    dispatch a name for stays a code, and a grid's own stage names no department."""
    view = case(assignment())
    at = cst(2026, 11, 26, 10, 0)
    [named] = next_escalations(view, at, cal, set(), policy, {"fire": "消防救援"})
    assert named.reason == ("消防救援未在签收时限内报到（应于 2026-11-26 10:00 前签收）；"
                            "第 1 级普通督办")
    assert "fire" not in named.reason
    [unknown] = next_escalations(view, at, cal, set(), policy, {"police": "公安"})
    assert unknown.reason.startswith("fire 部门未在签收时限内报到")


def test_idempotent_never_the_same_key_twice(policy, cal):
    view = case(assignment())
    now = cst(2026, 11, 26, 11, 30)
    first = next_escalations(view, now, cal, set(), policy)
    assert keys(first) == [("ack_timeout", 1, LEAD_ID), ("ack_timeout", 2, LEAD_ID)]
    sent = {e.key for e in first}
    assert next_escalations(view, now, cal, sent, policy) == []
    later = next_escalations(view, cst(2026, 11, 26, 12, 0), cal, sent, policy)
    assert keys(later) == [("ack_timeout", 3, LEAD_ID)]
    assert later[0].target_scope == "town:320505001"
    assert later[0].card == Card.RED


def test_replicas_agree_whatever_their_clock(policy, cal):
    view = case(assignment())
    a = next_escalations(view, cst(2026, 11, 26, 11, 0), cal, set(), policy)
    b = next_escalations(view, cst(2026, 11, 26, 11, 0, 59), cal, set(), policy)
    assert a == b  # the escalation's `at` is its scheduled instant, not "now"


def test_missed_levels_are_caught_up_in_order(policy, cal):
    view = case(assignment())
    result = next_escalations(view, cst(2026, 12, 31, 9, 0), cal, set(), policy)
    assert keys(result) == [
        ("ack_timeout", 1, LEAD_ID), ("ack_timeout", 2, LEAD_ID), ("ack_timeout", 3, LEAD_ID),
        ("ack_timeout", 4, LEAD_ID), ("ack_timeout", 5, LEAD_ID), ("ack_timeout", 6, LEAD_ID),
        ("overdue", 1, LEAD_ID), ("overdue", 2, LEAD_ID), ("overdue", 3, LEAD_ID),
    ]
    assert [e.at for e in result] == sorted(e.at for e in result)


def test_already_sent_keys_are_normalised(policy, cal):
    view = case(assignment())
    sent = {(ACK, 1, uuid.UUID(LEAD_ID)), ("ack_timeout", 2, LEAD_ID)}
    result = next_escalations(view, cst(2026, 11, 26, 12, 0), cal, sent, policy)
    assert keys(result) == [("ack_timeout", 3, LEAD_ID)]


def test_an_acked_assignment_only_risks_being_overdue(policy, cal):
    view = case(assignment(state=AssignmentState.ACKED), state=CaseState.IN_PROGRESS)
    assert next_escalations(view, cst(2026, 11, 27, 9, 0), cal, set(), policy) == []
    result = next_escalations(view, cst(2026, 12, 1, 10, 0), cal, set(), policy)
    assert keys(result) == [("overdue", 1, LEAD_ID), ("overdue", 2, LEAD_ID)]
    assert [e.card for e in result] == [Card.ORDINARY, Card.YELLOW]
    assert "超过办理时限" in result[0].reason


@pytest.mark.parametrize("state", [AssignmentState.REPORTED, AssignmentState.RETURNED,
                                   AssignmentState.WITHDRAWN])
def test_finished_assignments_owe_nothing(policy, cal, state):
    view = case(assignment(state=state), state=CaseState.IN_PROGRESS)
    assert next_escalations(view, cst(2026, 12, 31, 9, 0), cal, set(), policy) == []


def test_each_department_is_escalated_on_its_own(policy, cal):
    lead = assignment(state=AssignmentState.ACKED)
    assist = assignment(ASSIST_ID, "emergency_management", AssignmentRole.ASSIST)
    view = case(lead, assist, state=CaseState.IN_PROGRESS)
    result = next_escalations(view, cst(2026, 11, 26, 10, 30), cal, set(), policy)
    assert keys(result) == [("ack_timeout", 1, ASSIST_ID)]
    assert result[0].department == "emergency_management"


def test_local_handling_overdue_has_no_assignment(policy, cal):
    view = case(state=CaseState.HANDLING_LOCAL, handle_due_at=cst(2026, 11, 30, 10, 0))
    result = next_escalations(view, cst(2026, 12, 1, 10, 0), cal, set(), policy)
    assert keys(result) == [("overdue", 1, None), ("overdue", 2, None)]
    assert result[0].department is None
    assert result[1].target_role == Role.GRID_INSTRUCTOR


@pytest.mark.parametrize("state", [CaseState.FILED, CaseState.RESOLVED, CaseState.CLOSED,
                                   CaseState.SUSPENDED, CaseState.CANCELLED])
def test_cases_not_being_handled_are_not_escalated(policy, cal, state):
    view = case(assignment(), state=state, handle_due_at=cst(2026, 11, 30, 10, 0))
    assert next_escalations(view, cst(2026, 12, 31, 9, 0), cal, set(), policy) == []


def test_urgent_case_at_night(policy, cal):
    due = cst(2026, 10, 1, 3, 10)
    view = case(assignment(ack_due=due, handle_due=cst(2026, 10, 2, 3, 0)),
                priority=Priority.URGENT)
    result = next_escalations(view, cst(2026, 10, 1, 3, 31), cal, set(), policy)
    assert [(e.level, e.at) for e in result] == [
        (1, due), (2, cst(2026, 10, 1, 3, 20)), (3, cst(2026, 10, 1, 3, 30))]


def test_the_payload_is_a_valid_escalation_message(policy, cal):
    [esc] = next_escalations(case(assignment()), cst(2026, 11, 26, 10, 0), cal, set(), policy)
    schema = EscalationV1()
    loaded = schema.load(schema.dump(esc.payload()))
    assert loaded["kind"] == "ack_timeout" and loaded["level"] == 1
    assert loaded["target_scope"] == "community:320505001001"


# --- versions ------------------------------------------------------------------------------

def test_running_cases_keep_their_policy_version(policy, cal):
    data = copy.deepcopy(policy.to_dict())
    data["version"] = 2
    data["ack_timeout"]["waits"][0] = {"amount": 2, "unit": "working_hours"}
    book = PolicyBook([policy, parse_policy(data)])
    assert book.current.version == 2
    old_case = case(assignment(), version=1)
    new_case = case(assignment(), version=2)
    now = cst(2026, 11, 26, 10, 30)
    assert keys(next_escalations(old_case, now, cal, set(), book.get(1))) \
        == [("ack_timeout", 1, LEAD_ID)]
    assert next_escalations(new_case, now, cal, set(), book.get(2)) == []
    with pytest.raises(ValueError, match="runs under escalation policy 1"):
        next_escalations(old_case, now, cal, set(), book.get(2))


def test_a_published_policy_cannot_change(policy):
    book = PolicyBook([policy])
    book.add(load_default_policy())
    data = copy.deepcopy(policy.to_dict())
    data["overdue"]["cards"] = ["yellow", "yellow", "red"]
    with pytest.raises(PolicyError, match="publish a new version"):
        book.add(parse_policy(data))
    with pytest.raises(LookupError):
        book.get(7)


@pytest.mark.parametrize("change, path", [
    (lambda d: d["overdue"]["cards"].pop(), "overdue.cards"),
    (lambda d: [d["ack_timeout"][k].pop() for k in ("waits", "urgent_waits", "cards")],
     "ack_timeout"),  # consistent in itself, but shorter than the ladder
    (lambda d: d["ack_timeout"]["urgent_waits"].pop(), "ack_timeout.urgent_waits"),
    (lambda d: d["ladder"].reverse(), "ladder"),
    (lambda d: d["ladder"][0].update(role="department_officer"), "ladder.0.role"),
    (lambda d: d["ack_timeout"].update(repeat_every=None), "ack_timeout.repeat_every"),
    (lambda d: d["ack_timeout"].update(repeat_every={"amount": 0, "unit": "working_hours"}),
     "ack_timeout.repeat_every"),
    (lambda d: d["overdue"]["waits"][1].update(unit="weeks"), "overdue.waits.1.unit"),
    (lambda d: d.update(version=0), "version"),
])
def test_invalid_policies_name_the_field(policy, change, path):
    data = copy.deepcopy(policy.to_dict())
    change(data)
    with pytest.raises(PolicyError) as info:
        parse_policy(data)
    assert path in info.value.errors, info.value.errors


def test_target_scopes():
    assert target_scope(ScopeLevel.GRID, GRID, TOWN) == "grid:320505001001003"
    assert target_scope(ScopeLevel.COMMUNITY, GRID, TOWN) == "community:320505001001"
    assert target_scope(ScopeLevel.TOWN, GRID, TOWN) == "town:320505001"
    assert target_scope(ScopeLevel.DISTRICT, GRID, TOWN) == "district:320505"
    with pytest.raises(ValueError):
        target_scope(ScopeLevel.DEPARTMENT, GRID, TOWN)


# --- what the person told reads ------------------------------------------------------------

def test_the_reason_names_the_department_the_missed_time_the_level_and_the_card(policy, cal):
    [esc] = next_escalations(case(assignment()), cst(2026, 11, 26, 10, 0), cal, set(), policy)
    assert esc.reason == ("fire 部门未在签收时限内报到（应于 2026-11-26 10:00 前签收）"
                          "；第 1 级普通督办")


def test_a_local_handling_reason_names_the_grid_and_shows_the_due_time_in_local_time(
        policy, cal):
    due_utc = datetime(2026, 11, 30, 2, 0, tzinfo=ZoneInfo("UTC"))  # 10:00 in the district
    view = case(state=CaseState.HANDLING_LOCAL, handle_due_at=due_utc)
    result = next_escalations(view, cst(2026, 12, 1, 10, 0), cal, set(), policy)
    assert [e.reason for e in result] == [
        "承办网格/社区超过办理时限未报告结果（应于 2026-11-30 10:00 前办结）；第 1 级普通督办",
        "承办网格/社区超过办理时限未报告结果（应于 2026-11-30 10:00 前办结）；第 2 级黄牌督办",
    ]


def test_a_level_without_a_card_is_plain_supervision(policy, cal):
    data = copy.deepcopy(policy.to_dict())
    data["overdue"]["cards"] = [None, "yellow", "red"]
    uncarded = parse_policy(data)
    assert uncarded.to_dict()["overdue"]["cards"] == [None, "yellow", "red"]
    view = case(state=CaseState.HANDLING_LOCAL, handle_due_at=cst(2026, 11, 30, 10, 0))
    first = next_escalations(view, cst(2026, 11, 30, 10, 0), cal, set(), uncarded)[0]
    assert first.card is None and first.payload()["card"] is None
    assert first.reason.endswith("；第 1 级督办")


def test_departments_due_at_the_same_instant_come_in_assignment_order(policy, cal):
    view = case(assignment(LEAD_ID, "fire"),
                assignment(ASSIST_ID, "health", role=AssignmentRole.ASSIST))
    result = next_escalations(view, cst(2026, 11, 26, 10, 0), cal, set(), policy)
    assert [e.assignment_id for e in result] == [ASSIST_ID, LEAD_ID]  # "0c8f…" < "9e2b…"


def test_a_repeat_interval_of_one_unit_is_allowed(policy):
    data = copy.deepcopy(policy.to_dict())
    data["ack_timeout"]["repeat_every"] = {"amount": 1, "unit": "working_hours"}
    data["ack_timeout"]["urgent_repeat_every"] = {"amount": 1, "unit": "urgent_minutes"}
    rule = parse_policy(data).ack_timeout
    assert rule.repeat_every.amount == 1 and rule.urgent_repeat_every.amount == 1


def test_an_invalid_policy_says_which_field_in_its_message(policy):
    data = copy.deepcopy(policy.to_dict())
    data["version"] = 0
    with pytest.raises(PolicyError, match="^invalid escalation policy: version: "):
        parse_policy(data)

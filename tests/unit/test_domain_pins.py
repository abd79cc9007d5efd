"""Behaviours of the domain core that mutation testing showed no unit test would notice
breaking (issue 17). Each test names the mistake it catches."""

import copy
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import shapely

from gridgov_common.contract.cases import AssignmentRole, Card, EscalationKind
from gridgov_common.contract.routing import Priority
from gridgov_common.kernel.roles import Role
from gridgov_common.kernel.work_calendar import WorkCalendar
from services.dispatch.config_schemas import (
    load_default_policy,
    load_default_rules,
    parse_policy,
    parse_rule_set,
)
from services.dispatch.domain.escalation import (
    AssignmentView,
    CaseView,
    PolicyError,
    next_escalations,
)
from services.dispatch.domain.states import AssignmentState, CaseState
from services.dispatch.domain.triage import CaseFacts, Outcome, RuleSetError
from services.registry.domain import geometry

CST = ZoneInfo("Asia/Shanghai")
GRID, TOWN = "320505001001003", "320505001"
LAT = 31.3


def cst(*args):
    return datetime(*args, tzinfo=CST)


# --- P3.1: overlaps and blind spots ----------------------------------------------------

def test_a_far_grid_listed_first_does_not_hide_an_overlap():
    # `continue` → `break` in find_overlaps: the importer passes every active grid, in
    # any order, and a non-touching one must not end the search
    new = shapely.box(120.5, LAT, 120.501, LAT + 0.001)
    far = shapely.box(120.6, LAT, 120.601, LAT + 0.001)
    half = shapely.box(120.5005, LAT, 120.5015, LAT + 0.001)
    touching = shapely.box(120.501, LAT, 120.502, LAT + 0.001)
    assert geometry.find_overlaps(new, [("001", far), ("002", touching), ("003", half)]) \
        == ["003"]


def test_every_uncovered_part_of_a_community_is_a_gap():
    # two separate holes: each is reported, not only the first part of the difference
    community = shapely.box(120.5, LAT, 120.503, LAT + 0.001)
    middle = shapely.box(120.501, LAT, 120.502, LAT + 0.001)
    gaps = geometry.coverage_gaps(community, [middle])
    assert len(gaps) == 2
    assert all(g["geometry"]["type"] == "Polygon" for g in gaps)
    assert all(g["properties"]["area_m2"] > 5000 for g in gaps)


# --- P5.3.2: triage facts ----------------------------------------------------------------

def test_case_facts_keep_every_field_a_rule_matches_on():
    facts = CaseFacts.from_mapping({
        "work_category": "dispute_mediation", "subcategory": "family_dispute",
        "severity": "critical", "town_code": TOWN, "description": "ignored"})
    assert facts == CaseFacts("dispute_mediation", "family_dispute", "critical", TOWN)


def test_a_critical_dispute_is_not_handled_like_a_minor_one():
    rules = load_default_rules()
    def triage(severity):
        return rules.match(CaseFacts.from_mapping({
            "work_category": "dispute_mediation", "subcategory": "family_dispute",
            "severity": severity, "town_code": TOWN}))

    minor, critical = triage("minor"), triage("critical")
    assert (minor.outcome, minor.priority) == (Outcome.LOCAL, Priority.NORMAL)
    assert (critical.outcome, critical.priority) == (Outcome.DISPATCH, Priority.URGENT)


# --- rule sets: what validation must refuse ---------------------------------------------

def _default_dict():
    return copy.deepcopy(load_default_rules().to_dict())


def _catch_all(data):
    return next(r for r in data["rules"] if r["id"] == "catch_all")


@pytest.mark.parametrize("narrow", [
    {"severity": "critical"}, {"severity": "minor"}, {"town_prefix": "320505001"},
    {"town_prefix": "320505"},
])
def test_a_narrowed_catch_all_no_longer_counts_as_one(narrow):
    data = _default_dict()
    _catch_all(data).update(narrow)
    with pytest.raises(RuleSetError, match="catch-all"):
        parse_rule_set(data)


@pytest.mark.parametrize("change, path", [
    (lambda r: r.update(severity="critcal"), "severity"),
    (lambda r: r.pop("ack_limit"), "ack_limit"),
    (lambda r: r.pop("handle_limit"), "handle_limit"),
    (lambda r: r.pop("priority"), "priority"),
    (lambda r: r.pop("legal_basis"), "legal_basis"),
    (lambda r: r.pop("closing_condition"), "closing_condition"),
    (lambda r: r.update(legal_basis=""), "legal_basis"),
])
def test_rule_fields_are_required_and_checked(change, path):
    data = _default_dict()
    change(data["rules"][0])
    with pytest.raises(RuleSetError) as refused:
        parse_rule_set(data)
    assert f"rules.0.{path}" in refused.value.errors


# --- escalation policies ----------------------------------------------------------------

@pytest.mark.parametrize("change, path", [
    (lambda d: d["ack_timeout"].update(
        urgent_repeat_every={"amount": 0, "unit": "urgent_minutes"}),
     "ack_timeout.urgent_repeat_every"),
    (lambda d: d["ack_timeout"].update(max_repeats=-1), "ack_timeout.max_repeats"),
    (lambda d: d["ack_timeout"].update(max_repeats=21), "ack_timeout.max_repeats"),
    (lambda d: d["overdue"].update(max_repeats=2), "overdue.repeat_every"),
])
def test_policy_repeats_are_bounded(change, path):
    data = copy.deepcopy(load_default_policy().to_dict())
    change(data)
    with pytest.raises(PolicyError) as refused:
        parse_policy(data)
    assert path in refused.value.errors, refused.value.errors


def test_max_repeats_of_twenty_is_accepted():
    data = copy.deepcopy(load_default_policy().to_dict())
    data["ack_timeout"]["max_repeats"] = 20
    assert parse_policy(data).ack_timeout.max_repeats == 20


# --- P6.2 supervision --------------------------------------------------------------------

def _assignment(aid, department, role, state):
    return AssignmentView(aid, department, role, state, cst(2026, 11, 26, 10, 0),
                          cst(2026, 11, 30, 10, 0))


def _case(*assignments, state=CaseState.IN_PROGRESS, handle_due_at=None):
    return CaseView("5d1c7a58-8f0e-4c1b-9a3e-2b6f0d4e9a11", "GS20261128-000123", state,
                    Priority.NORMAL, GRID, TOWN, 1, tuple(assignments), handle_due_at)


def test_an_inactive_assignment_listed_first_does_not_shield_the_assisting_department():
    view = _case(
        _assignment("a-old", "police", AssignmentRole.LEAD, AssignmentState.WITHDRAWN),
        _assignment("a-lead", "fire", AssignmentRole.LEAD, AssignmentState.REPORTED),
        _assignment("a-assist", "health", AssignmentRole.ASSIST, AssignmentState.ACKED))
    result = next_escalations(view, cst(2026, 11, 30, 10, 0), WorkCalendar(), set(),
                              load_default_policy())
    assert [(e.kind, e.assignment_id, e.department) for e in result] == [
        (EscalationKind.OVERDUE, "a-assist", "health")]


def test_the_escalation_message_carries_its_card_and_department():
    view = _case(_assignment("a-lead", "fire", AssignmentRole.LEAD, AssignmentState.ACKED))
    [first, second] = next_escalations(view, cst(2026, 12, 1, 10, 0), WorkCalendar(), set(),
                                       load_default_policy())
    assert (first.payload()["card"], first.payload()["department"]) == ("ordinary", "fire")
    assert (second.payload()["card"], second.card) == ("yellow", Card.YELLOW)
    assert second.payload()["target_role"] == Role.GRID_INSTRUCTOR.value


def test_a_locally_handled_case_is_escalated_once_per_level():
    view = _case(state=CaseState.HANDLING_LOCAL, handle_due_at=cst(2026, 11, 30, 10, 0))
    now = cst(2026, 12, 1, 10, 0)
    policy, calendar = load_default_policy(), WorkCalendar()
    first_run = next_escalations(view, now, calendar, set(), policy)
    assert [(e.level, e.assignment_id) for e in first_run] == [(1, None), (2, None)]
    sent = {(e.kind.value, e.level, e.assignment_id) for e in first_run}
    assert next_escalations(view, now, calendar, sent, policy) == []



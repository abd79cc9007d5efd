"""Clauses whose code had no test naming them (issue 13's policy map): each test here holds
one clause's rule as the code carries it, and names the clause, so docs/POLICY-MAP.md can
point at it (tests/unit/test_policy_map.py keeps the map and the code in agreement)."""

from __future__ import annotations

from datetime import date

import pytest

from gridgov_common.contract.cases import EscalationKind
from gridgov_common.contract.routing import Priority, WorkCategory
from gridgov_common.kernel.roles import ROLE_SCOPE, Role, ScopeLevel
from gridgov_common.kernel.work_calendar import TimeLimit, TimeUnit
from services.dispatch.config_schemas import load_default_policy, load_default_rules
from services.dispatch.domain.states import HandlingLevel
from services.dispatch.domain.triage import CaseFacts, Outcome
from services.events.domain.catalogue import CATALOGUE
from services.registry.domain import adjustment
from services.registry.domain.geometry import household_size_flags
from services.registry.domain.identity import IdentityError, normalise_id_number
from services.registry.domain.staff import DEPARTMENTS

TOWN = "320505001"


@pytest.fixture(scope="module")
def rules():
    return load_default_rules()


def triage(rules, category: WorkCategory, subcategory: str = "not_named_by_a_rule",
           severity: str = "minor"):
    return rules.match(CaseFacts(category.value, subcategory, severity, TOWN))


def subcategories(category: WorkCategory) -> list[str]:
    return [sub.code for sub in CATALOGUE if sub.work_category == category]


# --- P2.1 rapid response ------------------------------------------------------------------

def test_p2_1_urgent_cases_are_taken_up_in_natural_minutes_and_escalate_in_minutes(rules):
    """P2.1 "rapid response": an urgent or major case counts its report-in limit in natural
    minutes (nights and holidays included) and climbs the supervision ladder in minutes,
    where an ordinary case counts working hours."""
    for category, severity in ((WorkCategory.MAJOR_EVENT, "minor"),
                               (WorkCategory.MAJOR_EVENT, "major"),
                               (WorkCategory.DISPUTE_MEDIATION, "critical")):
        chosen = triage(rules, category, severity=severity)
        assert chosen.priority in (Priority.URGENT, Priority.MAJOR), (category, severity)
        assert chosen.ack_limit.unit == TimeUnit.URGENT_MINUTES
    ordinary = triage(rules, WorkCategory.PUBLIC_SECURITY_PREVENTION)
    assert ordinary.priority == Priority.NORMAL
    assert ordinary.ack_limit.unit == TimeUnit.WORKING_HOURS

    rule = load_default_policy().rule_for(EscalationKind.ACK_TIMEOUT)
    urgent_waits, _ = rule.plan(urgent=True)
    ordinary_waits, _ = rule.plan(urgent=False)
    assert {w.unit for w in urgent_waits} == {TimeUnit.URGENT_MINUTES}
    assert {w.unit for w in ordinary_waits} == {TimeUnit.WORKING_HOURS}


# --- P2.3 base data complete and current --------------------------------------------------

@pytest.mark.parametrize("typo", [
    "32050519800101001X",   # check character wrong
    "32050519801301001X",   # month 13
    "3205051980010100",     # too short
])
def test_p2_3_a_mistyped_id_number_is_refused_at_the_door(typo):
    """P2.3 "base data accurate": a typo in an ID number is caught when it is entered,
    not stored to be found at the half-year spot check."""
    with pytest.raises(IdentityError):
        normalise_id_number(typo, today=date(2026, 12, 1))


def test_p2_3_a_grid_with_nothing_registered_is_flagged_as_a_data_gap():
    """P2.3: a grid with no households registered is flagged (a new grid or a gap in the
    base data), never taken as an empty, well-sized grid."""
    assert household_size_flags(0, 0) == ["no_households"]
    assert household_size_flags(250, 800) == []


# --- P5.1.1 the town grid chief ------------------------------------------------------------

def test_p5_1_1_the_town_grid_chief_holds_a_town_tops_the_ladder_and_approves_adjustments():
    """P5.1.1: the town grid chief supervises the town's grid work (their scope is a town),
    coordinates what is reported up (the last rung of the supervision ladder) and allocates
    staff (approves the community's proposed adjustments, P5.4.1)."""
    assert ROLE_SCOPE[Role.TOWN_GRID_CHIEF] == ScopeLevel.TOWN
    ladder = load_default_policy().ladder
    assert ladder[-1].role == Role.TOWN_GRID_CHIEF and ladder[-1].scope == ScopeLevel.TOWN
    assert adjustment.APPROVERS == frozenset({Role.TOWN_GRID_CHIEF})
    assert Role.TOWN_GRID_CHIEF not in adjustment.PROPOSERS


# --- P5.2 work categories -------------------------------------------------------------------

def test_p5_2_2_public_opinion_is_collected_and_answered_in_the_grid(rules):
    """P5.2.2: opinions and suggestions are collected by the grid and answered there; no
    department is whistled for them by default."""
    assert subcategories(WorkCategory.PUBLIC_OPINION)
    for code in subcategories(WorkCategory.PUBLIC_OPINION):
        chosen = triage(rules, WorkCategory.PUBLIC_OPINION, code)
        assert (chosen.outcome, chosen.handling_level) == (Outcome.LOCAL, HandlingLevel.GRID)
        assert chosen.departments == ()


def test_p5_2_3_disputes_are_mediated_in_the_community_and_go_up_when_they_cannot_be(rules):
    """P5.2.3: disputes are mediated by the community; a petition goes to the political-legal
    line; a critical dispute goes up at once with on-site stabilisation by the police."""
    neighbours = triage(rules, WorkCategory.DISPUTE_MEDIATION, "neighbour_dispute")
    assert (neighbours.outcome, neighbours.handling_level) == (Outcome.LOCAL,
                                                               HandlingLevel.COMMUNITY)
    petition = triage(rules, WorkCategory.DISPUTE_MEDIATION, "petition")
    assert (petition.outcome, petition.lead) == (Outcome.DISPATCH, "comprehensive_governance")
    critical = triage(rules, WorkCategory.DISPUTE_MEDIATION, severity="critical")
    assert critical.priority == Priority.URGENT
    assert "public_security" in critical.assist
    petition_sub = next(s for s in CATALOGUE if s.code == "petition")
    assert petition_sub.work_category == WorkCategory.DISPUTE_MEDIATION
    assert not petition_sub.sensitive  # a dispute to mediate, not special-group membership


def test_p5_2_4_hazards_go_to_the_police_fire_and_emergency_services(rules):
    """P5.2.4 public-security prevention: safety and fire hazards and key groups go to the
    departments that answer for them, never stay unassigned."""
    assert triage(rules, WorkCategory.PUBLIC_SECURITY_PREVENTION).lead == "public_security"
    fire = triage(rules, WorkCategory.PUBLIC_SECURITY_PREVENTION, "fire_hazard_corridor")
    assert (fire.lead, fire.assist) == ("fire", ("emergency_management",))
    safety = triage(rules, WorkCategory.PUBLIC_SECURITY_PREVENTION, "safety_hazard")
    assert (safety.lead, safety.assist) == ("emergency_management", ("fire",))
    for code in subcategories(WorkCategory.PUBLIC_SECURITY_PREVENTION):
        assert triage(rules, WorkCategory.PUBLIC_SECURITY_PREVENTION, code).outcome \
            == Outcome.DISPATCH, code


def test_p5_2_6_policy_publicity_is_the_grids_own_work(rules):
    """P5.2.6: policy and law publicity is done by the grid itself, with a working-day
    report-in limit: nobody is woken for a leaflet."""
    assert subcategories(WorkCategory.POLICY_PUBLICITY)
    chosen = triage(rules, WorkCategory.POLICY_PUBLICITY, "policy_publicity_session")
    assert (chosen.outcome, chosen.handling_level) == (Outcome.LOCAL, HandlingLevel.GRID)
    assert chosen.ack_limit == TimeLimit(1, TimeUnit.WORKING_DAYS)


def test_p5_2_8_tasks_from_above_are_triaged_by_the_town_not_routed_by_default(rules):
    """P5.2.8: a task assigned from above has no department of its own: no department's
    remit lists "other", and the default rules leave it to local triage (the community
    verifies, the town may route it on, P5.3.2)."""
    assert all(WorkCategory.OTHER not in d.work_categories for d in DEPARTMENTS)
    assert "superior_task" in subcategories(WorkCategory.OTHER)
    chosen = triage(rules, WorkCategory.OTHER, "superior_task")
    assert (chosen.outcome, chosen.departments) == (Outcome.LOCAL, ())

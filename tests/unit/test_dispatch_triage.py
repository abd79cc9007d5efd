"""Triage rules as data (P5.3.2) and their time limits (P5.3.3)."""

import copy
import json
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from gridgov_common.contract.envelope import load_sample
from gridgov_common.contract.routing import Priority, WorkCategory
from gridgov_common.kernel.work_calendar import TimeLimit, TimeUnit, WorkCalendar
from services.dispatch.config_schemas import load_default_rules, parse_rule_set
from services.dispatch.domain.states import HandlingLevel
from services.dispatch.domain.triage import (
    DEFAULT_RULES_PATH,
    CaseFacts,
    Outcome,
    RuleBook,
    RuleSetError,
    UnknownRule,
    deadlines,
)

CST = ZoneInfo("Asia/Shanghai")
TOWN = "320505001"
P42_DEPARTMENTS = {
    "organization", "comprehensive_governance", "civil_affairs", "public_security",
    "human_resources", "health", "ecology_environment", "emergency_management",
    "veterans_affairs", "fire",
}


def facts(category, subcategory="anything", severity="minor", town=TOWN):
    return CaseFacts(category, subcategory, severity, town)


@pytest.fixture(scope="module")
def default():
    return load_default_rules()


def rule(rule_id, category="*", subcategory="*", severity="*", prefix=None, **overrides):
    data = {
        "id": rule_id, "work_category": category, "subcategory": subcategory,
        "severity": severity, "town_prefix": prefix, "handling_level": "community",
        "outcome": "local", "lead": None, "assist": [], "priority": "normal",
        "ack_limit": {"amount": 1, "unit": "working_hours"},
        "handle_limit": {"amount": 3, "unit": "working_days"},
        "closing_condition": "done", "legal_basis": "P5.3.2",
    }
    data.update(overrides)
    return data


def rule_set(*rules, version=1):
    return {"version": version, "rules": [rule("catch_all"), *rules]}


# --- the default rules ---------------------------------------------------------------------

def test_default_rules_cover_every_work_category(default):
    """P5.2: a case of any of the eight work categories meets a rule of its own category."""
    assert default.version == 1
    assert any(r.is_catch_all for r in default.rules)
    for category in WorkCategory:
        chosen = default.match(facts(category.value, "not_a_known_subcategory"))
        assert chosen.work_category == category.value, category


def test_default_rules_use_every_p42_department_and_only_those(default):
    used = {d for r in default.rules for d in r.departments}
    assert used == P42_DEPARTMENTS


def test_fire_hazard_corridor(default):
    chosen = default.match(facts("public_security_prevention", "fire_hazard_corridor"))
    assert chosen.id == "public_security_prevention.fire_hazard_corridor"
    assert chosen.outcome == Outcome.DISPATCH
    assert chosen.lead == "fire"
    assert chosen.assist == ("emergency_management",)
    assert chosen.priority == Priority.NORMAL
    assert chosen.ack_limit == TimeLimit(1, TimeUnit.WORKING_HOURS)
    assert chosen.handle_limit == TimeLimit(3, TimeUnit.WORKING_DAYS)
    assert "消防法" in chosen.legal_basis and chosen.closing_condition


def test_neighbour_dispute_stays_in_the_community(default):
    chosen = default.match(facts("dispute_mediation", "neighbour_dispute"))
    assert (chosen.outcome, chosen.handling_level) == (Outcome.LOCAL, HandlingLevel.COMMUNITY)
    assert chosen.departments == ()


@pytest.mark.parametrize("category, subcategory, lead", [
    ("livelihood_service", "low_income_allowance", "civil_affairs"),
    ("dispute_mediation", "petition", "comprehensive_governance"),
    ("livelihood_service", "veterans_care", "veterans_affairs"),
    ("special_group_assistance", "mental_illness_risk", "health"),
    ("other", "environment_pollution", "ecology_environment"),
])
def test_responsible_departments(default, category, subcategory, lead):
    chosen = default.match(facts(category, subcategory))
    assert chosen.outcome == Outcome.DISPATCH and chosen.lead == lead


def test_every_rule_names_a_subcategory_the_app_can_report():
    """A rule for a subcategory the events catalogue does not offer never matches a case:
    its department silently gets nothing (found when the simulated district showed Civil
    Affairs, Veterans Affairs and Ecology & Environment without a single case)."""
    from services.events.domain.catalogue import CATALOGUE

    offered = {(sub.work_category.value, sub.code) for sub in CATALOGUE}
    named = {(rule["work_category"], rule["subcategory"])
             for rule in json.loads(DEFAULT_RULES_PATH.read_text(encoding="utf-8"))["rules"]
             if rule["subcategory"] != "*"}
    assert named - offered == set()


def test_every_department_of_p42_gets_cases_from_some_subcategory(default):
    """P4.2: each responsible department leads for at least one reportable subcategory."""
    from services.events.domain.catalogue import CATALOGUE

    leads = {default.match(facts(sub.work_category.value, sub.code)).lead for sub in CATALOGUE}
    assert P42_DEPARTMENTS - leads == set()


@pytest.mark.parametrize("severity, priority, level", [
    ("minor", Priority.URGENT, HandlingLevel.TOWN),
    ("major", Priority.MAJOR, HandlingLevel.TOWN),
    ("critical", Priority.MAJOR, HandlingLevel.DISTRICT),
])
def test_major_events_are_urgent_and_acked_in_minutes(default, severity, priority, level):
    # P5.2.7: reported at once, on-site control first
    chosen = default.match(facts("major_event", "gas_explosion", severity))
    assert chosen.priority == priority
    assert chosen.handling_level == level
    assert chosen.ack_limit == TimeLimit(10, TimeUnit.URGENT_MINUTES)
    assert chosen.lead == "emergency_management"
    assert set(chosen.assist) == {"public_security", "fire"}


def test_default_file_round_trips_unchanged(default):
    on_disk = json.loads(DEFAULT_RULES_PATH.read_text(encoding="utf-8"))
    assert default.to_dict() == on_disk
    assert parse_rule_set(default.to_dict()) == default
    assert parse_rule_set(on_disk).fingerprint == default.fingerprint


def test_a_reported_case_from_the_contract_sample_is_triaged(default):
    payload = load_sample("events.case.reported", 1)["payload"]
    chosen = default.match(CaseFacts.from_mapping(payload))
    assert chosen.lead == "fire"


# --- most specific rule wins ---------------------------------------------------------------

def test_specificity_order():
    rules = parse_rule_set(rule_set(
        rule("category", "public_security_prevention"),
        rule("category_critical", "public_security_prevention", severity="critical"),
        rule("sub", "public_security_prevention", "fire_hazard_corridor"),
        rule("sub_critical", "public_security_prevention", "fire_hazard_corridor",
             "critical"),
        rule("district", "public_security_prevention", prefix="320505"),
        rule("town", "public_security_prevention", prefix="320505001"),
    ))
    cat = "public_security_prevention"
    assert rules.match(facts("other")).id == "catch_all"
    assert rules.match(facts(cat, town="110101001")).id == "category"
    assert rules.match(facts(cat, town="320505002")).id == "district"
    assert rules.match(facts(cat)).id == "town"  # longer prefix beats shorter
    assert rules.match(facts(cat, severity="critical")).id == "category_critical"
    assert rules.match(facts(cat, "fire_hazard_corridor")).id == "sub"
    assert rules.match(facts(cat, "fire_hazard_corridor", "critical")).id == "sub_critical"


def test_subcategory_beats_a_specific_severity_and_a_town_prefix():
    rules = parse_rule_set(rule_set(
        rule("severity", "major_event", severity="critical", prefix="320505001"),
        rule("sub", "major_event", "fire_accident"),
    ))
    assert rules.match(facts("major_event", "fire_accident", "critical")).id == "sub"


def test_severity_beats_a_town_prefix():
    rules = parse_rule_set(rule_set(
        rule("town", "major_event", prefix="320505001"),
        rule("severity", "major_event", severity="critical"),
    ))
    assert rules.match(facts("major_event", severity="critical")).id == "severity"
    assert rules.match(facts("major_event", severity="minor")).id == "town"


# --- validation ----------------------------------------------------------------------------

def _error(data):
    with pytest.raises(RuleSetError) as info:
        parse_rule_set(data)
    return info.value


def test_a_catch_all_is_mandatory():
    error = _error({"version": 1, "rules": [rule("only", "other")]})
    assert "catch-all" in str(error)
    assert "rules" in error.errors


def test_rule_ids_are_unique_and_matches_unambiguous():
    assert "used twice" in str(_error(rule_set(rule("a", "other"), rule("a", "major_event"))))
    error = _error(rule_set(rule("a", "other"), rule("b", "other")))
    assert "a and b match exactly the same cases" in str(error)


@pytest.mark.parametrize("bad, path, words", [
    ({"outcome": "dispatch"}, "rules.1.lead", "names its lead"),
    ({"lead": "fire"}, "rules.1.lead", "names no departments"),
    ({"assist": ["fire"]}, "rules.1.lead", "names no departments"),
    ({"outcome": "dispatch", "lead": "fire", "assist": ["fire"]}, "rules.1.assist", "also"),
    ({"outcome": "dispatch", "lead": "fire", "assist": ["health", "health"]},
     "rules.1.assist", "twice"),
    ({"lead": "Fire Brigade", "outcome": "dispatch"}, "rules.1.lead", "snake_case"),
    ({"priority": "asap"}, "rules.1.priority", "one of"),
    ({"handling_level": "province"}, "rules.1.handling_level", "one of"),
    ({"ack_limit": {"amount": 1, "unit": "fortnights"}}, "rules.1.ack_limit.unit", "one of"),
    ({"handle_limit": {"amount": 0, "unit": "working_days"}}, "rules.1.handle_limit",
     "more than zero"),
    ({"town_prefix": "32a"}, "rules.1.town_prefix", "digits"),
    ({"town_prefix": "3205050011"}, "rules.1.town_prefix", "digits"),
    ({"closing_condition": ""}, "rules.1.closing_condition", "Length"),
    ({"surprise": 1}, "rules.1.surprise", "Unknown field"),
])
def test_rule_errors_name_the_field(bad, path, words):
    error = _error(rule_set(rule("r", "other", **bad)))
    assert path in error.errors, error.errors
    assert words.lower() in " ".join(error.errors[path]).lower()
    assert path in str(error)


def test_subcategory_needs_its_category():
    error = _error(rule_set(rule("r", "*", "fire_hazard_corridor")))
    assert "needs a specific work_category" in str(error)


def test_version_and_category_are_checked():
    assert "version" in _error({"version": 0, "rules": [rule("catch_all")]}).errors
    assert "version" in _error({"version": "1", "rules": [rule("catch_all")]}).errors
    assert "rules" in _error({"version": 1, "rules": []}).errors
    assert "rules.1.work_category" in _error(rule_set(rule("r", "sports"))).errors


# --- versions ------------------------------------------------------------------------------

def test_running_cases_keep_their_rule_version(default):
    newer = copy.deepcopy(default.to_dict())
    newer["version"] = 2
    fire = next(r for r in newer["rules"] if r["subcategory"] == "fire_hazard_corridor")
    fire["handle_limit"] = {"amount": 5, "unit": "working_days"}
    book = RuleBook([default, parse_rule_set(newer)])
    rule_id = "public_security_prevention.fire_hazard_corridor"
    assert book.versions == [1, 2]
    assert book.current.version == 2
    assert book.rule(1, rule_id).handle_limit == TimeLimit(3, TimeUnit.WORKING_DAYS)
    assert book.rule(2, rule_id).handle_limit == TimeLimit(5, TimeUnit.WORKING_DAYS)


def test_a_published_version_cannot_change(default):
    book = RuleBook([default])
    book.add(load_default_rules())  # the same content again is harmless
    changed = copy.deepcopy(default.to_dict())
    changed["rules"][0]["closing_condition"] = "something else"
    with pytest.raises(RuleSetError, match="publish a new version"):
        book.add(parse_rule_set(changed))


def test_unknown_versions_and_ids(default):
    book = RuleBook([default])
    with pytest.raises(UnknownRule):
        book.get(9)
    with pytest.raises(UnknownRule):
        book.rule(1, "no_such_rule")
    with pytest.raises(UnknownRule):
        _ = RuleBook().current
    assert book.rule(1, "catch_all").is_catch_all


# --- deadlines -----------------------------------------------------------------------------

def test_deadlines_in_working_time(default):
    cal = WorkCalendar()
    fire = default.rule("public_security_prevention.fire_hazard_corridor")
    start = datetime(2026, 11, 27, 16, 30, tzinfo=CST)  # a Friday afternoon
    ack_due, handle_due = deadlines(fire, start, cal)
    assert ack_due == datetime(2026, 11, 27, 17, 30, tzinfo=CST)
    assert handle_due == datetime(2026, 12, 2, 16, 30, tzinfo=CST)
    assert ack_due.utcoffset() == timedelta(0)


def test_major_event_deadlines_run_on_holidays_at_night(default):
    cal = WorkCalendar()
    major = default.match(facts("major_event", "flood", "critical"))
    start = datetime(2026, 10, 1, 3, 0, tzinfo=CST)  # National Day, at night
    ack_due, handle_due = deadlines(major, start, cal)
    assert ack_due == start + timedelta(minutes=10)
    assert handle_due == start + timedelta(days=1)


@pytest.mark.parametrize("field", ["handling_level", "outcome", "priority"])
def test_the_wildcard_only_matches_it_does_not_decide(field):
    # "*" is a matcher for work_category/severity; an outcome must say what happens
    error = _error(rule_set(rule("r", "other", **{field: "*"})))
    assert f"rules.1.{field}" in error.errors


def test_department_codes_have_a_bounded_length():
    from gridgov_common.contract.routing import CODE_MAX_LENGTH
    too_long = "a" * (CODE_MAX_LENGTH + 1)
    error = _error(rule_set(rule("r", "other", outcome="dispatch", lead=too_long)))
    assert "rules.1.lead" in error.errors
    error = _error(rule_set(rule("r", "other", outcome="dispatch", lead="fire",
                                 assist=[too_long])))
    assert "rules.1.assist.0" in error.errors

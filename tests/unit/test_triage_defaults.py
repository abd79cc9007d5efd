"""A subcategory's catalogue defaults apply where no rule names it (issue 11,
docs/CASE-FLOW.md §1.1)."""

from __future__ import annotations

import dataclasses

from gridgov_common.kernel.work_calendar import TimeLimit, TimeUnit
from services.dispatch.config_schemas import load_default_rules
from services.dispatch.domain.states import HandlingLevel
from services.dispatch.domain.triage import Outcome, SubcategoryDefaults, with_defaults

RULES = load_default_rules()
WILD_LOCAL = next(r for r in RULES.rules if r.id == "public_opinion")
WILD_DISPATCH = next(r for r in RULES.rules if r.id == "public_security_prevention")
NAMED = next(r for r in RULES.rules if r.id == "public_security_prevention.fire_hazard_corridor")
FULL = SubcategoryDefaults(HandlingLevel.COMMUNITY, TimeLimit(30, TimeUnit.URGENT_MINUTES),
                           TimeLimit(2, TimeUnit.NATURAL_DAYS), "已答复并经确认")


def test_a_wildcard_local_rule_takes_every_default():
    rule = with_defaults(WILD_LOCAL, FULL)
    assert (rule.handling_level, rule.ack_limit, rule.handle_limit, rule.closing_condition) \
        == (FULL.handling_level, FULL.ack_limit, FULL.handle_limit, FULL.closing_condition)
    assert (rule.id, rule.outcome, rule.priority, rule.departments) == \
        (WILD_LOCAL.id, WILD_LOCAL.outcome, WILD_LOCAL.priority, WILD_LOCAL.departments)


def test_a_wildcard_dispatch_rule_keeps_its_whistling_level():
    rule = with_defaults(WILD_DISPATCH, FULL)
    assert WILD_DISPATCH.outcome == Outcome.DISPATCH
    assert rule.handling_level == WILD_DISPATCH.handling_level  # the town whistles (P2.2)
    assert rule.handle_limit == FULL.handle_limit and rule.ack_limit == FULL.ack_limit


def test_a_rule_naming_the_subcategory_stands():
    assert with_defaults(NAMED, FULL) is NAMED


def test_only_what_the_catalogue_sets_changes():
    assert with_defaults(WILD_LOCAL, None) is WILD_LOCAL
    assert with_defaults(WILD_LOCAL, SubcategoryDefaults()) is WILD_LOCAL
    only_limit = with_defaults(WILD_LOCAL, SubcategoryDefaults(
        handle_limit=TimeLimit(1, TimeUnit.WORKING_DAYS)))
    assert only_limit == dataclasses.replace(WILD_LOCAL,
                                             handle_limit=TimeLimit(1, TimeUnit.WORKING_DAYS))
    only_text = with_defaults(WILD_LOCAL, SubcategoryDefaults(closing_condition="x"))
    assert only_text == dataclasses.replace(WILD_LOCAL, closing_condition="x")
    only_ack = with_defaults(WILD_LOCAL, SubcategoryDefaults(
        ack_limit=TimeLimit(1, TimeUnit.WORKING_HOURS)))
    assert only_ack == dataclasses.replace(WILD_LOCAL,
                                           ack_limit=TimeLimit(1, TimeUnit.WORKING_HOURS))
    only_level = with_defaults(WILD_LOCAL, SubcategoryDefaults(HandlingLevel.TOWN))
    assert only_level == dataclasses.replace(WILD_LOCAL, handling_level=HandlingLevel.TOWN)


def test_defaults_from_a_published_entry():
    assert SubcategoryDefaults.from_entry({"code": "x"}) == SubcategoryDefaults()  # v1
    entry = {"handling_level": "community", "ack_limit": None,
             "handle_limit": {"amount": 2.5, "unit": "working_days"},
             "closing_condition": None}
    assert SubcategoryDefaults.from_entry(entry) == SubcategoryDefaults(
        HandlingLevel.COMMUNITY, None, TimeLimit(2.5, TimeUnit.WORKING_DAYS), "")
    whole = SubcategoryDefaults.from_entry({"ack_limit": {"amount": 3.0, "unit": "working_hours"}})
    assert whole.ack_limit == TimeLimit(3, TimeUnit.WORKING_HOURS)
    assert isinstance(whole.ack_limit.amount, int)


"""Validation errors name the exact field an operator has to fix (rules.3.lead), never
marshmallow's nested dictionaries: the rule-set and escalation-policy APIs answer with them."""

from services.dispatch.config_schemas import flatten_errors, summarise


def test_nested_errors_become_dotted_paths():
    nested = {"rules": {3: {"lead": ["Missing data for required field."]}},
              "version": ["Not a valid integer."]}
    assert flatten_errors(nested) == {
        "rules.3.lead": ["Missing data for required field."],
        "version": ["Not a valid integer."],
    }


def test_a_list_of_error_dicts_is_numbered_by_position():
    nested = {"rules": [{"lead": ["names no departments"]}, {"town_prefix": ["digits"]}]}
    assert flatten_errors(nested) == {
        "rules.0.lead": ["names no departments"],
        "rules.1.town_prefix": ["digits"],
    }


def test_a_schema_level_error_belongs_to_the_object_it_was_raised_on():
    nested = {"rules": {"_schema": ["a catch-all is mandatory"]},
              "_schema": ["the set is empty"]}
    assert flatten_errors(nested) == {
        "rules": ["a catch-all is mandatory"],
        "_schema": ["the set is empty"],
    }


def test_errors_without_a_field_are_schema_errors():
    assert flatten_errors(["bad JSON"]) == {"_schema": ["bad JSON"]}
    assert flatten_errors("not an object") == {"_schema": ["not an object"]}


def test_a_bare_message_under_a_field_stays_under_that_field():
    assert flatten_errors({"version": "must grow"}) == {"version": ["must grow"]}


def test_messages_for_the_same_field_are_kept_together():
    nested = {"rules": {"_schema": ["first"], 0: ["second"]}}
    assert flatten_errors(nested, "set") == {"set.rules": ["first"], "set.rules.0": ["second"]}


def test_the_summary_is_one_line_of_field_and_messages():
    errors = {"rules.3.lead": ["Missing.", "Unknown department."], "version": ["Too old."]}
    assert summarise(errors) == "rules.3.lead: Missing. Unknown department.; version: Too old."

"""The catalogue as data: a version's own rules and the rules between versions (codes
never removed or reused, work category kept, sensitive kept: P5.3.1, P5.2.5)."""

from __future__ import annotations

import json

import pytest

from gridgov_common.contract import WorkCategory
from services.events.domain.catalogue import CATALOGUE, CatalogueError, Datatype
from services.events.domain.catalogue_version import (
    DEFAULT,
    Catalogue,
    CatalogueRefused,
    problems,
    subcategory_from_dict,
    subcategory_to_dict,
)

NEW = {"code": "shared_bike_clutter", "work_category": "public_security_prevention",
       "info_class": "urban_management", "name_zh": "共享单车乱停放",
       "name_en": "Shared bikes blocking the way", "alert_category": "other",
       "cap_category": "Transport", "public": True, "severity": "minor",
       "sensitive": False, "description": "", "retired": False,
       "attributes": [{"code": "bikes", "datatype": "number", "description": "how many",
                       "required": False, "values": [], "order": 1}],
       "handling_level": "community", "ack_limit": {"amount": 4, "unit": "working_hours"},
       "handle_limit": {"amount": 2.5, "unit": "working_days"},
       "closing_condition": "车辆已清走，盲道畅通"}


def refused(build) -> dict[str, list[str]]:
    with pytest.raises(CatalogueRefused) as info:
        build()
    return info.value.fields()


def test_the_packaged_catalogue_is_version_1_and_survives_json():
    assert DEFAULT.version == 1 and DEFAULT.subcategories == tuple(CATALOGUE)
    stored = json.loads(json.dumps(DEFAULT.to_dict(), ensure_ascii=False))
    assert Catalogue.from_dict(stored) == DEFAULT
    attrs = DEFAULT.by_code["public_facility_damage"].attributes
    assert attrs and attrs[0].datatype is Datatype.SINGLEVALUELIST and attrs[0].values
    assert problems(CATALOGUE) == []


def test_a_new_subcategory_is_the_next_version_and_reportable():
    sub = subcategory_from_dict(NEW)
    v2 = DEFAULT.with_subcategory(sub)
    assert v2.version == 2 and v2.subcategory(NEW["code"], "public_security_prevention") == sub
    assert sub in v2.public and NEW["code"] in v2.public_codes
    assert subcategory_to_dict(sub) == NEW
    with pytest.raises(CatalogueError):
        DEFAULT.subcategory(NEW["code"])  # version 1 does not know it


def test_a_code_is_never_reused_nor_removed():
    assert "code" in refused(lambda: DEFAULT.with_subcategory(DEFAULT.by_code["petition"]))
    fewer = [s for s in DEFAULT.subcategories if s.code != "petition"]
    assert any("retire it" in m for m in refused(lambda: DEFAULT.successor(fewer))["code"])


def test_retired_subcategory_takes_no_new_reports_but_old_cases_keep_it():
    v2 = DEFAULT.with_changes("resident_suggestion", {"retired": True})
    with pytest.raises(CatalogueError):
        v2.subcategory("resident_suggestion")
    with pytest.raises(CatalogueError):
        v2.public_subcategory("resident_suggestion")
    assert v2.get("resident_suggestion").retired
    assert "resident_suggestion" in v2.public_codes  # its old public cases stay public
    assert all(s.code != "resident_suggestion" for s in v2.public)


def test_work_category_and_sensitivity_are_kept_between_versions():
    fields = refused(lambda: DEFAULT.with_changes("petition", {"work_category": "other"}))
    assert "work_category" in fields
    fields = refused(lambda: DEFAULT.with_changes("drug_user", {"sensitive": False}))
    assert "sensitive" in fields  # P5.2.5: its cases would be exposed


def test_every_rule_of_a_version_is_named_at_once():
    bad = subcategory_from_dict({**NEW, "code": "Bad-Code", "cap_category": "Weather",
                                 "name_zh": " ", "work_category": "major_event"})
    found = refused(lambda: DEFAULT.with_subcategory(bad))
    assert {"code", "cap_category", "name_zh", "public"} <= set(found)
    secret = subcategory_from_dict({**NEW, "work_category": "special_group_assistance",
                                    "public": False, "sensitive": False})
    assert "sensitive" in refused(lambda: DEFAULT.with_subcategory(secret))
    exposed = subcategory_from_dict({**NEW, "sensitive": True})
    assert "public" in refused(lambda: DEFAULT.with_subcategory(exposed))
    twice = subcategory_from_dict({**NEW, "attributes": NEW["attributes"] * 2})
    assert "attributes" in refused(lambda: DEFAULT.with_subcategory(twice))


def test_every_work_category_keeps_a_subcategory_in_use():
    v = DEFAULT
    for sub in DEFAULT.subcategories:
        if sub.work_category == WorkCategory.OTHER and sub.code != "other_issue":
            v = v.with_changes(sub.code, {"retired": True})
    found = refused(lambda: v.with_changes("other_issue", {"retired": True}))
    assert any("other" in m for m in found["work_category"])


def test_changing_an_unknown_code_is_a_key_error():
    with pytest.raises(KeyError):
        DEFAULT.with_changes("nope", {"name_zh": "无"})


def test_handling_defaults_are_checked():
    """DOMAIN-REFERENCES §2: a subcategory's level, limits and closing condition are data
    dispatch applies (P5.3.2, P5.3.3): only what dispatch can apply is accepted."""
    def build(**changes):
        return DEFAULT.with_subcategory(subcategory_from_dict({**NEW, **changes}))

    assert set(refused(lambda: build(handling_level="province"))) == {"handling_level"}
    assert set(refused(lambda: build(ack_limit={"amount": 1, "unit": "fortnights"}))) == \
        {"ack_limit"}
    assert set(refused(lambda: build(handle_limit={"amount": 0, "unit": "working_days"}))) \
        == {"handle_limit"}
    assert set(refused(lambda: build(handle_limit={"amount": 10001, "unit": "working_days"}))) \
        == {"handle_limit"}
    slower = {"ack_limit": {"amount": 3, "unit": "working_days"},
              "handle_limit": {"amount": 2, "unit": "working_days"}}
    assert set(refused(lambda: build(**slower))) == {"ack_limit"}
    assert set(refused(lambda: build(closing_condition="x" * 501))) == {"closing_condition"}
    fine = build(handling_level=None, ack_limit=None, handle_limit=None, closing_condition="")
    assert fine.by_code[NEW["code"]].handle_limit is None
    mixed = build(ack_limit={"amount": 30, "unit": "working_hours"},
                  handle_limit={"amount": 1, "unit": "working_days"})  # units differ: fine
    assert mixed.by_code[NEW["code"]].ack_limit == (30, "working_hours")

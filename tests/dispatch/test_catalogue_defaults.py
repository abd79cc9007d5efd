"""Issue 11: a subcategory's handling defaults, published by events in the catalogue
(events.catalogue.published v2), govern a case whose triage rule matched it only by
wildcard: its time limit, closing condition and, handled at its own level, its level. A rule
naming the subcategory stays the district's decision. A running case keeps the catalogue
version it was filed under, like its rule version."""

from __future__ import annotations

import itertools
from datetime import timedelta

import sqlalchemy as sa

from gridgov_common.contract.envelope import make_envelope
from services.dispatch import actions
from services.dispatch.models import assignments, cases, catalogue_versions
from services.events.catalogue_store import PUBLISHED_FIELDS
from services.events.domain.catalogue_version import DEFAULT as PACKAGED_CATALOGUE
from tests.amqp import publish, wait_until
from tests.dispatch.conftest import FIRE_SINK, received, reported_envelope

NUMBERS = itertools.count(500)
SLOW_OPINION = {"handling_level": "community", "ack_limit": None,
                "handle_limit": {"amount": 2, "unit": "natural_days"},
                "closing_condition": "已向群众解释政策并经其确认"}


def announce(uri: str, version: int, defaults: dict[str, dict]) -> None:
    """The catalogue as events publishes it (v2), with ``defaults`` by subcategory code."""
    entries = []
    for entry in PACKAGED_CATALOGUE.to_dict()["subcategories"]:
        entry = {k: v for k, v in entry.items() if k in PUBLISHED_FIELDS}
        entries.append({**entry, **defaults.get(entry["code"], {})})
    publish(uri, "gridgov.events", "events.catalogue.published", make_envelope(
        "events.catalogue.published", {"version": version, "published_by": "admin-1",
                                       "subcategories": entries}, "events"))


def stored_versions(db_engine) -> int:
    with db_engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(catalogue_versions)
                            ).scalar()


def filed(db_engine, case_id):
    def row():
        with db_engine.connect() as conn:
            return conn.execute(sa.select(cases).where(cases.c.case_id == case_id)
                                ).mappings().first()
    assert wait_until(lambda: row() is not None and row()["state"] != "filed")
    return dict(row())


def opinion_case(uri):
    """A public-opinion case: only the wildcard rule ``public_opinion`` matches it (local,
    grid level, 3 working days)."""
    envelope = reported_envelope(case_number=f"GS20261128-{next(NUMBERS):06d}",
                                 work_category="public_opinion",
                                 subcategory="resident_suggestion",
                                 info_class="social_affairs")
    publish(uri, "gridgov.events", "events.case.reported", envelope)
    return envelope["payload"]["case_id"]


def test_wildcard_rules_take_the_catalogues_defaults(dispatch, sinks, db_engine):
    announce(sinks, 1, {"resident_suggestion": SLOW_OPINION,
                        "fire_hazard_corridor": {
                            "handle_limit": {"amount": 30, "unit": "natural_days"},
                            "closing_condition": "不应采用"}})
    assert wait_until(lambda: stored_versions(db_engine) == 1)

    case = filed(db_engine, opinion_case(sinks))
    assert case["catalogue_version"] == 1 and case["rule_id"] == "public_opinion"
    assert case["state"] == "handling_local"
    assert case["handling_level"] == "community"  # the catalogue's, not the rule's grid
    assert case["handle_due_at"] - case["filed_at"] == timedelta(days=2)  # 2 natural days

    # fire_hazard_corridor: a rule names it (3 working days), the catalogue does not count
    fire = reported_envelope(case_number=f"GS20261128-{next(NUMBERS):06d}")
    publish(sinks, "gridgov.events", "events.case.reported", fire)
    [(_, assignment)] = received(sinks, FIRE_SINK)
    with db_engine.connect() as conn:
        due = conn.execute(sa.select(assignments.c.handle_due_at).where(
            assignments.c.assignment_id == assignment["payload"]["assignment_id"])).scalar()
    fire_case = filed(db_engine, fire["payload"]["case_id"])
    assert fire_case["rule_id"] == "public_security_prevention.fire_hazard_corridor"
    assert due - fire_case["filed_at"] < timedelta(days=10)  # the rule's 3 working days


def test_a_running_case_keeps_the_catalogue_it_was_filed_under(dispatch, sinks, db_engine):
    announce(sinks, 1, {"resident_suggestion": SLOW_OPINION})
    assert wait_until(lambda: stored_versions(db_engine) == 1)
    case = filed(db_engine, opinion_case(sinks))
    announce(sinks, 2, {"resident_suggestion": {
        **SLOW_OPINION, "handle_limit": {"amount": 9, "unit": "natural_days"}}})
    assert wait_until(lambda: stored_versions(db_engine) == 2)

    with db_engine.connect() as conn:
        _, rule = actions.case_rule(conn, case)
    assert rule.handle_limit.amount == 2 and rule.closing_condition == \
        SLOW_OPINION["closing_condition"]
    newer = filed(db_engine, opinion_case(sinks))
    assert newer["catalogue_version"] == 2
    assert newer["handle_due_at"] - newer["filed_at"] == timedelta(days=9)


def test_without_a_catalogue_the_rules_alone_decide(dispatch, sinks, db_engine):
    case = filed(db_engine, opinion_case(sinks))
    assert case["catalogue_version"] is None
    assert case["handling_level"] == "grid"  # the wildcard rule's own level

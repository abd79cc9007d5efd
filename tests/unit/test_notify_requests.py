"""notify's pure recipient rules (services/notify/domain/requests.py): who a (role, scope)
recipient is, which subscriptions reach a request, and what is refused before anything is
stored."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from services.notify.domain.requests import (
    People,
    Refused,
    Request,
    covers,
    people,
    plan,
    reached,
)

ESCALATION = {"case_number": "GS20261128-000123", "kind": "ack_timeout", "card": "yellow",
              "level": 1, "reason": "not acknowledged in time", "department": "fire",
              "at": "2026-11-28T10:00:00Z"}


@dataclass(frozen=True)
class Sub:
    subscription_id: int
    role: str
    scope_level: str
    scope_code: str
    channel: str = "sms"
    kinds: list[str] | None = None


def request(recipients, kind="escalation", channels=None, params=ESCALATION) -> Request:
    return Request(cause_id="c-1", case_id="1", kind=kind, template="escalation",
                   locale="zh-CN", recipients=recipients, params=dict(params),
                   producer="dispatch", channels=channels)


def test_a_recipient_is_checked_as_a_token_scope_is():
    # P5.0: a town grid chief is scoped to a town, never to a grid
    assert people({"role": "town_grid_chief", "scope": "town:320505001"}) == People(
        "town_grid_chief", "town", "320505001")
    with pytest.raises(Refused) as refused:
        people({"role": "town_grid_chief", "scope": "grid:320505001001001"})
    assert refused.value.code == "bad_recipient"
    with pytest.raises(Refused):
        people({"role": "mayor", "scope": "town:320505001"})


def test_a_scope_covers_what_lies_under_it_and_a_department_only_itself():
    grid_worker = People("neighbourhood_grid_worker", "grid", "320505001001001")
    assert covers("town", "320505001", grid_worker)
    assert not covers("town", "320505002", grid_worker)
    fire = People("department_officer", "department", "fire")
    assert covers("department", "fire", fire)
    assert not covers("department", "police", fire)
    assert not covers("district", "320505", fire)


def test_the_same_people_twice_are_one_group_and_named_subscribers_are_kept():
    chief = {"role": "town_grid_chief", "scope": "town:320505001"}
    checked = plan(request([chief, dict(chief), {"subscriber": 7}]))
    assert [g.key for g in checked.groups] == ["inbox:town_grid_chief@town:320505001"]
    assert checked.subscriber_ids == [7]


def test_a_request_its_template_cannot_render_is_refused_before_storing():
    with pytest.raises(Refused) as refused:
        plan(request([{"role": "district_admin", "scope": "district:320505"}],
                     params={"case_number": "GS1"}))
    assert refused.value.code == "missing_params"
    assert {"level", "reason"} <= set(refused.value.fields["missing"])


def test_subscriptions_reached_by_scope_kind_and_channel():
    town = plan(request([{"role": "town_grid_chief", "scope": "town:320505001"}],
                        channels=frozenset({"webhook"})))
    subs = [Sub(1, "town_grid_chief", "district", "320505", channel="webhook"),
            Sub(2, "town_grid_chief", "town", "320505002", channel="webhook"),  # other town
            Sub(3, "town_grid_chief", "town", "320505001", channel="sms"),  # not a follow-up
            Sub(4, "town_grid_chief", "town", "320505001", channel="webhook",
                kinds=["circular"]),  # does not take escalations
            Sub(5, "district_admin", "district", "320505", channel="webhook")]  # other role
    assert [s.subscription_id for s in reached(town, subs)] == [1]


def test_a_named_subscriber_that_is_not_active_refuses_the_request():
    named = plan(request([{"subscriber": 9}]))
    with pytest.raises(Refused) as refused:
        reached(named, [Sub(1, "district_admin", "district", "320505")])
    assert (refused.value.code, refused.value.fields) == ("unknown_subscriber",
                                                          {"subscriber": [9]})
    assert [s.subscription_id for s in reached(named, [Sub(9, "x", "grid", "1")])] == [9]

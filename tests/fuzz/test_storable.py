"""The values fuzzing found that marshmallow accepts and PostgreSQL cannot store
(gridgov_common.kernel.storable), refused by the contract as invalid payloads (no broker)."""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime
from decimal import Decimal

import pytest

from gridgov_common.contract import (
    INVALID_ENVELOPE,
    INVALID_PAYLOAD,
    ContractError,
    load_sample,
    parse_envelope,
    registered_types,
)
from gridgov_common.kernel import storable
from tests.fuzz.amqp_cases import fresh


class Level(enum.StrEnum):
    HIGH = "high\x00"  # a str subclass: the fast check leaves it to the walk


@pytest.mark.parametrize("value", [
    "a\x00b", "a\ud800b", "\udfff", 2**63, -(2**63) - 1, date(1, 1, 1),
    datetime(3000, 1, 1), {"nested": ["ok", "bad\x00"]}, {"key\x00": 1},
])
def test_unstorable_values_are_named(value):
    assert storable.problems({"field": value})


@pytest.mark.parametrize("value", [
    "网格 🔥 \u202e", 2**63 - 1, -(2**63), True, 1e308, date(1900, 1, 1),
    datetime(2999, 12, 31), None, {"a": [1, "b"]},
])
def test_storable_values_pass(value):
    assert storable.problems({"field": value}) == {}


def test_the_path_of_the_problem_is_reported():
    assert list(storable.problems({"a": [{"b": "x\x00"}]})) == ["a.0.b"]


def test_contract_refuses_a_nul_in_the_payload():
    envelope = fresh("notify.request")
    envelope["payload"]["cause_id"] = "a\x00b"
    with pytest.raises(ContractError) as caught:
        parse_envelope(envelope)
    assert caught.value.code == INVALID_PAYLOAD
    assert "cause_id" in caught.value.fields


def test_contract_refuses_a_surrogate_in_the_envelope():
    envelope = fresh("notify.request")
    envelope["correlation_id"] = "\ud800"
    with pytest.raises(ContractError) as caught:
        parse_envelope(envelope)
    assert caught.value.code == INVALID_ENVELOPE


def _walked(value):
    found: dict[str, list[str]] = {}
    storable._walk(value, "", found)
    return found


@pytest.mark.parametrize("type_name,version", registered_types())
def test_the_fast_check_agrees_with_the_walk_on_every_sample_and_its_mutations(type_name,
                                                                             version):
    """``problems`` skips the walk when the fast check finds a value clean: on every
    sample's envelope, loaded payload, and each field replaced by each unstorable value
    and by values of other types, both give the same answer."""
    envelope = load_sample(type_name, version)
    payloads = [envelope, envelope["payload"], parse_envelope(envelope).payload]
    odd = ["a\x00b", "\udfff", 2**63, date(1, 1, 1), datetime(3000, 1, 1), ("t", "\x00"),
           uuid.UUID(int=1), Decimal("1.5"), {"k\x00": 1}, [{"deep": ["\ud800"]}], True, 1.5,
           None, Level.HIGH, date(2026, 1, 1)]
    for payload in list(payloads):
        for key in payload:
            payloads += [{**payload, key: value} for value in odd]
    for payload in payloads:
        assert storable.problems(payload) == _walked(payload), payload

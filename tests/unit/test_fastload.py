"""The compiled payload loaders (gridgov_common/contract/fastload.py) are sound: for every
message type of the contract, whatever a loader accepts, the type's schema accepts with an
equal result, and every documented sample takes the fast path. Mutations: each field of
each sample (and of its nested objects and list items) replaced by values of every JSON
kind and edge, or removed, and unknown fields added; the loader either agrees with the
schema or leaves the message to it."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest
from marshmallow import ValidationError

import gridgov_common.contract.messages  # noqa: F401  (registers every message type)
from gridgov_common.contract import envelope, fastload
from gridgov_common.contract.envelope import _REGISTRY, load_sample, schema_for

TYPES = sorted(_REGISTRY)
ODD = [None, True, False, 0, 1, -1, 7, 2**53, 2**63, 10**400, 0.5, -1.5, 1e308, "", " ", "x",
       "\x00", "a" * 300, "fire", "minor", "closed", "2026-11-28", "2026-02-30",
       "2026-11-28T02:15:00.000Z", "2026-11-28T02:15:00+08:00",
       "5d1c7a58-8f0e-4c1b-9a3e-2b6f0d4e9a11", "5D1C7A588F0E4C1B9A3E2B6F0D4E9A11",
       "320505001001003", "320505001", "GS20261128-000123", [], [1], ["x"], [None], {},
       {"a": 1}, {"lon": 120.5, "lat": 31.3}]


def paths(value: Any, path: tuple = (), depth: int = 0) -> Iterator[tuple]:
    """Every place in the payload to mutate (keys of objects, first items of lists)."""
    if depth > 3:
        return
    if isinstance(value, dict):
        for key, item in value.items():
            yield (*path, key)
            yield from paths(item, (*path, key), depth + 1)
    elif isinstance(value, list) and value:
        yield (*path, 0)
        yield from paths(value[0], (*path, 0), depth + 1)


def mutated(payload: dict, path: tuple, value: Any, delete: bool = False) -> dict:
    data = copy.deepcopy(payload)
    target = data
    for step in path[:-1]:
        target = target[step]
    if delete:
        del target[path[-1]]
    else:
        target[path[-1]] = copy.deepcopy(value)
    return data


def check(schema, load, data: Any) -> bool:
    """Soundness for one input; True if the fast path took it."""
    fast = load(data)
    if fast is None:
        return False
    try:
        expected = schema.load(copy.deepcopy(data))
    except ValidationError as exc:
        pytest.fail(f"the loader accepted what the schema refuses: {data!r}: {exc.messages}")
    assert fast == expected, data
    return True


@pytest.mark.parametrize("type_version", TYPES, ids=lambda k: f"{k[0]}.v{k[1]}")
def test_the_loader_agrees_with_the_schema(type_version):
    schema = schema_for(*type_version)
    load = fastload.compile_schema(schema)
    assert load is not None, "every message type of the contract compiles"
    payload = load_sample(*type_version)["payload"]
    assert check(schema, load, payload), "the sample takes the fast path"
    for path in list(paths(payload)):
        for value in ODD:
            check(schema, load, mutated(payload, path, value))
        check(schema, load, mutated(payload, path, None, delete=True))
    check(schema, load, {**payload, "unknown_field": 1})
    for odd in ODD:
        check(schema, load, odd)


def test_parse_envelope_uses_it_and_still_explains_refusals():
    sample = load_sample("dispatch.case.changed", 2)
    assert envelope.parse_envelope(sample).payload == schema_for(
        "dispatch.case.changed", 2).load(sample["payload"])
    bad = copy.deepcopy(sample)
    bad["payload"]["to_state"] = 7
    with pytest.raises(envelope.ContractError) as caught:
        envelope.parse_envelope(bad)
    assert caught.value.code == "invalid_payload"
    assert "to_state" in caught.value.fields

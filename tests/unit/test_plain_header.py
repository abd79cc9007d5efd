"""The envelope's fast path (``envelope._plain_header``) is sound: whatever it accepts,
``EnvelopeSchema`` accepts with the same result, and it leaves the rest (every refusal
and every odd-but-valid form) to the schema, whose answer and errors are unchanged.
Checked on every documented sample and on each header field replaced by values of
every JSON kind and edge (issue 16: the schema cost as much as a payload's)."""

from __future__ import annotations

import copy
import itertools

import pytest

from gridgov_common.contract import ContractError, envelope
from gridgov_common.contract.envelope import _ENVELOPE_SCHEMA, SAMPLES_DIR, load_sample

SAMPLES = sorted(path.name.removesuffix(".json") for path in SAMPLES_DIR.glob("*.json"))
ODD = [None, True, False, 0, 1, -1, 2**63, 1.0, 1.5, "", " ", "\x00", "\ud800", "a" * 129,
       "x", "dispatch", "Dispatch", "dispatch_", "events.case.reported", "events..x",
       "7c1e9a42-5b3d-4f60-8e21-9d4c3b2a1f07", "7C1E9A425B3D4F608E219D4C3B2A1F07",
       "{7c1e9a42-5b3d-4f60-8e21-9d4c3b2a1f07}", "urn:uuid:7c1e9a42-5b3d-4f60-8e21-9d4c3b2a1f07",
       "2026-11-28T02:15:00.000Z", "2026-11-28T02:15:00Z", "2026-11-28T02:15:00.123456789Z",
       "2026-11-28T02:15:00+00:00", "0001-01-01T00:00:00Z", "2026-02-30T00:00:00Z",
       [], {}, {"a": 1}, {"1": None}, ["x"]]


def schema_says(data) -> tuple[str, object]:
    """What the schema alone answers: ("ok", loaded) or ("refused", the error's details)."""
    saved = envelope._plain_header
    envelope._plain_header = lambda data: None
    try:
        return "ok", envelope._load_envelope(data)
    except ContractError as exc:
        return "refused", exc.to_dict()
    finally:
        envelope._plain_header = saved


def both(data) -> None:
    expected = schema_says(data)
    plain = envelope._plain_header(data)
    if plain is not None:
        assert expected == ("ok", plain), data
    try:
        got = "ok", envelope._load_envelope(data)
    except ContractError as exc:
        got = "refused", exc.to_dict()
    assert got == expected


@pytest.mark.parametrize("name", SAMPLES)
def test_every_sample_takes_the_fast_path_with_the_schemas_result(name):
    sample = load_sample(*name.rsplit(".v", 1)[0:1], int(name.rsplit(".v", 1)[1]))
    plain = envelope._plain_header(sample)
    assert plain is not None
    assert plain == _ENVELOPE_SCHEMA.load(sample)
    without = {k: v for k, v in sample.items() if k != "correlation_id"}
    assert envelope._plain_header(without) == _ENVELOPE_SCHEMA.load(without)


@pytest.mark.parametrize("field", sorted(envelope._HEADER_KEYS))
def test_any_value_in_any_field_gets_the_schemas_answer(field):
    base = load_sample("dispatch.case.changed", 2)
    for value in ODD:
        data = copy.deepcopy(base)
        data[field] = value
        both(data)
    data = copy.deepcopy(base)
    del data[field]
    both(data)


def test_unknown_keys_and_other_shapes_get_the_schemas_answer():
    base = load_sample("events.case.reported", 3)
    both({**base, "extra": 1})
    both({**base, "payload": {1: "not a string key"}})
    for a, b in itertools.combinations(sorted(envelope._HEADER_KEYS), 2):
        both({k: v for k, v in base.items() if k not in (a, b)})

"""The shared publisher check and rejection builder (gridgov_common/contract/senders.py)."""

from __future__ import annotations

import json

import pytest

from gridgov_common.contract import ContractError, load_sample, parse_envelope, senders
from gridgov_common.platform.settings import FLAG, Setting


def flag(config: dict, key: str) -> bool:
    """A flag setting's value in ``config`` (gridgov_common/platform/settings.py)."""
    return Setting(key, FLAG, False).read(config)


def _code(user_id, department, require_user):
    try:
        senders.check_publisher(user_id, department, require_user=require_user)
    except ContractError as exc:
        return exc.code
    return None


@pytest.mark.parametrize(("user_id", "require", "code"), [
    ("dept.fire", False, None), ("dept.fire", True, None),
    ("dept.police", False, "user_mismatch"), ("dept.police", True, "user_mismatch"),
    ("dept.Fire", False, "user_mismatch"), ("dept.", False, "user_mismatch"),
    ("dept.fire.x", False, "user_mismatch"),
    (None, False, None), (None, True, "user_required"),
    ("guest", False, None), ("guest", True, "user_required"),
    ("fire", True, "user_required"),
])
def test_only_the_departments_own_user_publishes_for_it(user_id, require, code):
    assert _code(user_id, "fire", require) == code


def test_whom_to_tell():
    assert senders.sender_of("fire.resident.updated", "dept.police") == "police"
    assert senders.sender_of("fire.ack", None) == "fire"
    assert senders.sender_of("fire.ack", "guest") == "fire"
    assert senders.sender_of("Fire.ack", "guest") is None
    assert senders.sender_of(None, None) is None
    assert senders.sender_of("", "dept.") is None


def test_a_rejection_holds_to_the_sample_and_carries_no_body():
    made = senders.rejection(
        "dispatch", "dispatch.reports", original_message_id="not-a-uuid-property",
        routing_key="fire.ack", exchange="gridgov.reports", code="invalid_json",
        message="x" * 5000, fields={"f": ["y" * 10000]})
    parsed = parse_envelope(json.dumps(made))
    sample = load_sample("platform.rejection", 2)
    assert (parsed.type, parsed.version) == (sample["type"], sample["version"])
    assert set(made["payload"]) == set(sample["payload"])
    assert len(parsed.payload["message"]) == 2000
    assert set(parsed.payload["fields"]) == {"_truncated"}
    assert parsed.correlation_id == "not-a-uuid-property"
    again = senders.rejection(
        "dispatch", "dispatch.reports", original_message_id="not-a-uuid-property",
        routing_key="fire.ack", exchange="gridgov.reports", code="invalid_json", message="m")
    assert again["message_id"] == made["message_id"]  # a redelivery resends the same id
    unnamed = senders.rejection("registry", "registry.intake", original_message_id=None,
                                routing_key="x", exchange="gridgov.intake", code="Bad Code",
                                message="")
    assert unnamed["payload"]["original_message_id"] is None
    assert unnamed["correlation_id"] is None and unnamed["payload"]["code"] == "refused"


@pytest.mark.parametrize(("value", "expected"), [
    (None, False), ("", False), ("true", True), ("TRUE", True), ("1", True), ("yes", True),
    ("on", True), ("false", False), ("0", False), ("no", False), (True, True), (False, False),
])
def test_flag(value, expected):
    assert flag({"X": value}, "X") is expected


def test_flag_refuses_nonsense():
    with pytest.raises(RuntimeError, match="X"):
        flag({"X": "maybe"}, "X")

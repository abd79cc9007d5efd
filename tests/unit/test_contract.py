"""The bus contract: envelope, registry, samples and routing keys (no broker needed)."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, date, datetime

import pytest

from gridgov_common.contract import (
    ALERTS_EXCHANGE,
    DEAD_LETTER_EXCHANGE,
    DISPATCH_EXCHANGE,
    EVENTS_EXCHANGE,
    INTAKE_EXCHANGE,
    INVALID_ENVELOPE,
    INVALID_JSON,
    INVALID_PAYLOAD,
    MAX_MESSAGE_BYTES,
    MESSAGE_TOO_LARGE,
    REPORTS_EXCHANGE,
    UNKNOWN_TYPE,
    ContractError,
    Priority,
    RoutingKeyError,
    WorkCategory,
    alert_key,
    dispatch_key,
    encode,
    event_key,
    intake_key,
    latest_version,
    load_sample,
    make_envelope,
    message_type,
    parse_alert_key,
    parse_dispatch_key,
    parse_envelope,
    parse_event_key,
    parse_intake_key,
    parse_rejection_key,
    parse_report_key,
    registered_types,
    rejection_key,
    report_key,
    sample_path,
    validate_routing_key,
)
from gridgov_common.contract.envelope import SAMPLES_DIR, Payload
from gridgov_common.contract.messages import id_number_checksum_ok

REGISTERED = registered_types()


def _sample(type_name="intake.resident.moved_out", version=1) -> dict:
    return load_sample(type_name, version)


def _code(raw) -> ContractError:
    with pytest.raises(ContractError) as info:
        parse_envelope(raw)
    return info.value


# --- registry and samples ----------------------------------------------------------------

@pytest.mark.parametrize(("type_name", "version"), REGISTERED)
def test_every_sample_validates(type_name, version):
    sample = load_sample(type_name, version)
    envelope = parse_envelope(json.dumps(sample).encode())
    assert (envelope.type, envelope.version) == (type_name, version)
    assert envelope.message_id == sample["message_id"]
    assert envelope.to_dict() == sample


@pytest.mark.parametrize(("type_name", "version"), REGISTERED)
def test_make_envelope_round_trips_each_sample_payload(type_name, version):
    sample = load_sample(type_name, version)
    made = make_envelope(type_name, sample["payload"], sample["producer"],
                         correlation_id=sample["correlation_id"], version=version)
    assert made["payload"] == sample["payload"]
    assert set(made) == set(sample)
    parsed = parse_envelope(encode(made))
    assert parsed.to_dict() == made
    assert made["message_id"] != sample["message_id"]
    assert made["occurred_at"].endswith("Z")
    assert made.wire == encode(made)  # the payload encoded once, spliced: the same bytes


def test_make_envelope_encodes_python_values_once_as_encode_would():
    """Dates, datetimes, UUIDs and text beyond ASCII: the spliced wire is encode()'s."""
    payload = {"department": "civil_affairs", "id_number": "11010519491231002X",
               "moved_out_on": date(2026, 11, 20), "reason": "迁往外省 — moved away"}
    made = make_envelope("intake.resident.moved_out", payload, "civil_affairs",
                         correlation_id="热线-123")
    assert made.wire == encode(made)
    assert json.loads(made.wire)["payload"]["reason"] == "迁往外省 — moved away"
    assert parse_envelope(made.wire).payload["moved_out_on"] == date(2026, 11, 20)


def test_latest_version_is_the_highest_registered_and_unknown_types_are_refused():
    assert latest_version("dispatch.case.changed") == max(
        v for t, v in REGISTERED if t == "dispatch.case.changed")
    with pytest.raises(ContractError) as info:
        latest_version("no.such.type")
    assert info.value.code == UNKNOWN_TYPE


def test_every_type_has_a_sample_and_every_sample_a_type():
    samples = {path.name for path in SAMPLES_DIR.glob("*.json")}
    expected = {sample_path(t, v).name for t, v in REGISTERED}
    assert samples == expected


def test_the_registry_service_messages_are_registered():
    assert {
        ("registry.grid.changed", 1), ("registry.resident.changed", 1),
        ("intake.resident.moved_out", 1), ("intake.resident.updated", 1),
        ("platform.rejection", 1), ("platform.rejection", 2),
    } <= set(REGISTERED)


def test_registering_a_taken_type_version_fails():
    class Other(Payload):
        pass

    with pytest.raises(ValueError):
        message_type("registry.grid.changed", 1)(Other)
    with pytest.raises(ValueError):
        message_type("NotDotted", 1)


# --- envelope rejections --------------------------------------------------------------

def test_unknown_type_or_version_is_rejected():
    sample = _sample()
    assert _code({**sample, "type": "intake.resident.teleported"}).code == UNKNOWN_TYPE
    assert _code({**sample, "version": 99}).code == UNKNOWN_TYPE
    with pytest.raises(ContractError) as info:
        make_envelope("intake.resident.teleported", {}, "civil_affairs")
    assert info.value.code == UNKNOWN_TYPE


def test_extra_payload_fields_are_rejected():
    """Departments must not add fields without a new version (BUS-CONTRACT.md)."""
    sample = _sample()
    sample["payload"]["nickname"] = "x"
    error = _code(sample)
    assert error.code == INVALID_PAYLOAD
    assert error.fields == {"nickname": ["Unknown field."]}
    with pytest.raises(ContractError):
        make_envelope("intake.resident.moved_out", sample["payload"], "civil_affairs")


def test_extra_envelope_fields_are_rejected():
    error = _code({**_sample(), "priority": "high"})
    assert error.code == INVALID_ENVELOPE
    assert "priority" in error.fields


@pytest.mark.parametrize("raw", [
    b"not json", b"\xff\xfe{}", b'{"a": NaN}', b"[" * 100_000 + b"]" * 100_000, "", 42,
])
def test_bad_json_is_rejected(raw):
    assert _code(raw).code == INVALID_JSON


@pytest.mark.parametrize("raw", [b"[]", b'"text"', b"null", b"{}"])
def test_non_envelopes_are_rejected(raw):
    assert _code(raw).code == INVALID_ENVELOPE


@pytest.mark.parametrize(("field", "value"), [
    ("message_id", "not-a-uuid"),
    ("version", "1"),
    ("version", 0),
    ("occurred_at", "2026-11-28T10:00:00+08:00"),
    ("occurred_at", "2026-11-28 10:00:00Z"),
    ("producer", "Civil Affairs"),
    ("type", "Intake"),
    ("payload", []),
])
def test_bad_envelope_fields_are_rejected(field, value):
    error = _code({**_sample(), field: value})
    assert error.code == INVALID_ENVELOPE
    assert field in error.fields


def test_missing_envelope_field_is_rejected():
    sample = _sample()
    del sample["occurred_at"]
    assert _code(sample).fields == {"occurred_at": ["Missing data for required field."]}


def test_correlation_id_may_be_omitted_or_null():
    sample = _sample()
    del sample["correlation_id"]
    assert parse_envelope(sample).correlation_id is None


def test_nanosecond_timestamps_from_other_languages_are_accepted():
    envelope = parse_envelope({**_sample(), "occurred_at": "2026-11-28T01:59:12.123456789Z"})
    assert envelope.occurred_at == datetime(2026, 11, 28, 1, 59, 12, 123456, UTC)


def test_oversized_messages_are_rejected_before_parsing():
    error = _code(b"x" * (MAX_MESSAGE_BYTES + 1))
    assert error.code == MESSAGE_TOO_LARGE
    assert error.fields["limit"] == MAX_MESSAGE_BYTES


def test_make_envelope_refuses_what_consumers_would_refuse():
    payload = {**_sample()["payload"], "reason": "x" * 400}
    assert make_envelope("intake.resident.moved_out", payload, "civil_affairs")
    registry = _sample("registry.resident.changed")["payload"]
    with pytest.raises(ContractError) as info:
        make_envelope("registry.resident.changed", {**registry, "resident_id": "12"}, "registry")
    assert info.value.code == INVALID_PAYLOAD
    with pytest.raises(ContractError) as info:
        make_envelope("registry.resident.changed", registry, "Registry Service")
    assert info.value.code == INVALID_ENVELOPE


def test_make_envelope_checks_the_size_limit():
    payload = {"original_message_id": "3e7a2b1c-9d8e-4f60-8a1b-2c3d4e5f6a7b", "code": "x",
               "message": "m", "fields": {"f": ["y" * MAX_MESSAGE_BYTES]}}
    with pytest.raises(ContractError) as info:
        make_envelope("platform.rejection", payload, "registry", version=1)
    assert info.value.code == MESSAGE_TOO_LARGE


def test_make_envelope_serializes_dates_and_defaults_to_latest_version():
    payload = {"department": "civil_affairs", "id_number": "11010519491231002X",
               "moved_out_on": date(2026, 11, 20)}
    made = make_envelope("intake.resident.moved_out", payload, "civil_affairs")
    assert made["version"] == 1
    assert made["payload"]["moved_out_on"] == "2026-11-20"
    assert parse_envelope(made).payload["moved_out_on"] == date(2026, 11, 20)


def test_envelope_is_frozen():
    envelope = parse_envelope(_sample())
    with pytest.raises(dataclasses.FrozenInstanceError):
        envelope.type = "x.y"


# --- payload rules --------------------------------------------------------------------

def test_citizen_id_check_character():
    assert id_number_checksum_ok("11010519491231002X")
    assert not id_number_checksum_ok("110105194912310021")
    sample = _sample()
    sample["payload"]["id_number"] = "110105194912310021"
    assert "id_number" in _code(sample).fields
    sample["payload"]["id_number"] = "11010519491231002x"
    assert parse_envelope(sample).payload["id_number"] == "11010519491231002X"
    sample["payload"]["id_number"] = "110105491231002"  # legacy 15 digits
    assert parse_envelope(sample)


def test_grid_code_must_extend_its_community_code():
    sample = _sample("registry.grid.changed")
    sample["payload"]["community_code"] = "610113001002"
    assert _code(sample).fields == {"grid_code": ["grid_code must start with community_code"]}


def test_grid_validity_period_must_not_be_reversed():
    sample = _sample("registry.grid.changed")
    sample["payload"]["valid_to"] = "2026-01-01"
    assert "valid_to" in _code(sample).fields


def test_resident_update_must_change_something():
    sample = _sample("intake.resident.updated")
    del sample["payload"]["phone"], sample["payload"]["household_id"]
    assert _code(sample).code == INVALID_PAYLOAD


def test_resident_change_events_carry_no_personal_data():
    """P5.4.4: events are ids only."""
    fields = set(_sample("registry.resident.changed")["payload"])
    assert fields == {"resident_id", "household_id", "grid_code", "action"}


# --- routing keys ---------------------------------------------------------------------

def test_work_categories_follow_policy_p5_2():
    assert [c.value for c in WorkCategory] == [
        "livelihood_service", "public_opinion", "dispute_mediation",
        "public_security_prevention", "special_group_assistance", "policy_publicity",
        "major_event", "other"]
    assert [p.value for p in Priority] == ["normal", "urgent", "major"]


def test_dispatch_keys():
    key = dispatch_key("public_security", "610113001", "dispute_mediation", "urgent")
    assert key == "public_security.610113001.dispute_mediation.urgent"
    parsed = parse_dispatch_key(key)
    assert parsed.department == "public_security" and parsed.priority is Priority.URGENT
    assert rejection_key("fire") == "fire.rejections"
    assert parse_rejection_key("fire.rejections") == "fire"


@pytest.mark.parametrize("args", [
    ("Public_Security", "610113001", "other", "normal"),
    ("fire", "61011300", "other", "normal"),
    ("fire", "610113001", "gossip", "normal"),
    ("fire", "610113001", "other", "whenever"),
    ("fire.#", "610113001", "other", "normal"),
])
def test_dispatch_key_validation(args):
    with pytest.raises(RoutingKeyError):
        dispatch_key(*args)


def test_report_alert_intake_and_event_keys():
    assert parse_report_key(report_key("fire", "delay_request")).kind == "delay_request"
    with pytest.raises(RoutingKeyError):
        report_key("fire", "shrug")
    assert alert_key("610113001", "critical", "fire") == "610113001.critical.fire"
    assert parse_alert_key("610113001.minor.flood").severity == "minor"
    with pytest.raises(RoutingKeyError):
        alert_key("610113001", "apocalyptic", "fire")
    key = intake_key("civil_affairs", "resident", "moved_out")
    assert key == "civil_affairs.resident.moved_out"
    assert parse_intake_key(key).source == "civil_affairs"
    assert event_key("registry", "grid.changed") == "registry.grid.changed"
    assert parse_event_key("registry.resident.changed") == ("registry", "resident.changed")
    with pytest.raises(RoutingKeyError):
        parse_event_key("registry")


@pytest.mark.parametrize(("exchange", "key"), [
    (DISPATCH_EXCHANGE, "fire.610113001.major_event.major"),
    (DISPATCH_EXCHANGE, "fire.rejections"),
    (REPORTS_EXCHANGE, "fire.ack"),
    (ALERTS_EXCHANGE, "610113001.major.fire"),
    (INTAKE_EXCHANGE, "civil_affairs.resident.moved_out"),
    (EVENTS_EXCHANGE, "registry.grid.changed"),
])
def test_validate_routing_key_accepts(exchange, key):
    assert validate_routing_key(exchange, key) == key


@pytest.mark.parametrize(("exchange", "key"), [
    (DISPATCH_EXCHANGE, "fire.610113001.major_event"),
    (REPORTS_EXCHANGE, "fire.610113001.major_event.major"),
    (ALERTS_EXCHANGE, "fire.ack"),
    (INTAKE_EXCHANGE, "civil_affairs.resident"),
    (DEAD_LETTER_EXCHANGE, "queue.dlq"),
    ("amq.topic", "x"),
])
def test_validate_routing_key_refuses(exchange, key):
    with pytest.raises(RoutingKeyError):
        validate_routing_key(exchange, key)

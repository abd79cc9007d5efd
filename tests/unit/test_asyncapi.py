"""docs/asyncapi.yaml is generated from the contract code, complete, and self-consistent.

Departments generate clients and validators from this document, so it must never drift
from what our consumers enforce: it must equal the generator's output, name every
registered message type, accept every committed sample, and be a structurally sound
AsyncAPI 3.0 document whose every ``$ref`` resolves.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

from gridgov_common.contract import (
    DEAD_LETTER_EXCHANGE,
    EXCHANGES,
    load_sample,
    make_envelope,
    registered_types,
)
from gridgov_common.platform.messaging import DEFAULT_MAX_REDELIVERIES, consumer_queue_arguments
from tools import asyncapi

DOC_PATH = Path(__file__).resolve().parents[2] / "docs" / "asyncapi.yaml"
DOC_URI = "urn:gridgov:asyncapi"
REGISTERED = registered_types()
PARAM_RE = re.compile(r"{([^{}]+)}")


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return asyncapi.build_document()


@pytest.fixture(scope="module")
def committed() -> dict[str, Any]:
    return yaml.safe_load(DOC_PATH.read_text(encoding="utf-8"))


def _validator(document: dict[str, Any], pointer: str) -> jsonschema.Draft7Validator:
    """A draft-07 validator (AsyncAPI's default schema format) for the schema at
    ``pointer``, resolving ``$ref`` inside the whole document."""
    resource = Resource.from_contents(document, default_specification=DRAFT7)
    registry = Registry().with_resource(DOC_URI, resource)
    return jsonschema.Draft7Validator({"$ref": f"{DOC_URI}#{pointer}"}, registry=registry,
                                      format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER)


def _resolve(document: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), f"only local references are used: {ref}"
    node: Any = document
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        assert isinstance(node, dict) and part in node, f"unresolved $ref {ref}"
        node = node[part]
    return node


def _refs(node: Any, path: str = "") -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                found.append((path, value))
            else:
                found.extend(_refs(value, f"{path}/{key}"))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found.extend(_refs(value, f"{path}/{index}"))
    return found


# --- no drift --------------------------------------------------------------------------

def test_committed_document_is_the_generated_one(document, committed):
    assert DOC_PATH.read_text(encoding="utf-8") == asyncapi.render(document), (
        "docs/asyncapi.yaml is stale: run "
        "`.venv/bin/python -m tools.asyncapi > docs/asyncapi.yaml`")
    assert committed == yaml.safe_load(asyncapi.render(document))


def test_generation_is_deterministic():
    assert asyncapi.render() == asyncapi.render()


def test_every_registered_type_has_a_message_schema_and_channel(committed):
    messages = committed["components"]["messages"]
    schemas = committed["components"]["schemas"]
    on_channels = {key for channel in committed["channels"].values()
                   for key in channel.get("messages", {})}
    for type_name, version in REGISTERED:
        key = f"{type_name}.v{version}"
        assert key in messages, key
        assert key in on_channels, f"{key} is on no channel"
        assert f"{key}.envelope" in schemas and f"{key}.payload" in schemas, key
        assert messages[key]["bindings"]["amqp"]["messageType"] == type_name


def test_every_exchange_is_described_with_its_amqp_binding(committed):
    exchanges = {}
    for channel in committed["channels"].values():
        amqp = channel["bindings"]["amqp"]
        if amqp["is"] == "routingKey":
            exchanges[amqp["exchange"]["name"]] = amqp["exchange"]
    assert set(exchanges) == set(EXCHANGES)
    for exchange in exchanges.values():
        assert exchange["type"] == "topic" and exchange["durable"] is True
        assert exchange["autoDelete"] is False


def test_department_queue_arguments_are_the_platforms(committed):
    queue = committed["channels"]["departmentQueue"]["bindings"]["amqp"]
    name = "dept.{department}.assignments"
    assert queue["queue"]["name"] == name and queue["queue"]["durable"] is True
    assert queue["x-arguments"] == consumer_queue_arguments(name, DEFAULT_MAX_REDELIVERIES)
    assert queue["x-arguments"]["x-dead-letter-exchange"] == DEAD_LETTER_EXCHANGE
    assert queue["x-arguments"]["x-queue-type"] == "quorum"


def test_routing_key_channels(committed):
    addresses = {name: channel["address"] for name, channel in committed["channels"].items()}
    assert addresses["assignments"] == "{department}.{town_code}.{work_category}.{priority}"
    assert addresses["rejections"] == "{department}.rejections"
    assert addresses["reports"] == "{department}.{kind}"
    assert addresses["alerts"] == "{town_code}.{severity}.{category}"
    assert addresses["intake"] == "{source}.{entity}.{action}"
    assert addresses["deadLetters"] == "{queue}.dlq"
    params = committed["channels"]["assignments"]["parameters"]
    assert "public_security_prevention" in params["work_category"]["enum"]
    assert params["priority"]["enum"] == ["normal", "urgent", "major"]


def test_operations_are_from_the_departments_point_of_view(committed):
    actions = {name: op["action"] for name, op in committed["operations"].items()}
    assert actions["receiveAssignment"] == "receive"
    assert actions["receiveRejection"] == "receive"
    assert actions["sendReport"] == "send"
    assert actions["sendIntake"] == "send"
    send = committed["operations"]["sendReport"]["bindings"]["amqp"]
    assert send["deliveryMode"] == 2 and send["mandatory"] is True


# --- samples against the generated JSON Schema -----------------------------------------

@pytest.mark.parametrize(("type_name", "version"), REGISTERED)
def test_every_sample_validates_against_its_generated_schema(committed, type_name, version):
    key = f"{type_name}.v{version}"
    message = committed["components"]["messages"][key]
    validator = _validator(committed, message["payload"]["$ref"][1:])
    sample = load_sample(type_name, version)
    validator.validate(sample)
    assert [example["payload"] for example in message["examples"]] == [sample]
    # what make_envelope builds validates too (fresh id, timestamp with milliseconds)
    made = make_envelope(type_name, sample["payload"], sample["producer"], version=version)
    validator.validate(made)


@pytest.mark.parametrize(("type_name", "version"), REGISTERED)
def test_generated_schema_refuses_what_consumers_refuse(committed, type_name, version):
    key = f"{type_name}.v{version}"
    validator = _validator(committed, f"/components/schemas/{key}.envelope")
    sample = load_sample(type_name, version)
    extra_payload_field = copy.deepcopy(sample)
    extra_payload_field["payload"]["surprise"] = 1
    extra_envelope_field = dict(sample, surprise=1)
    wrong_version = dict(sample, version=version + 1)
    offset_time = dict(sample, occurred_at="2026-11-28T10:15:00+08:00")
    missing = copy.deepcopy(sample)
    required = committed["components"]["schemas"][f"{key}.payload"].get("required", [])
    if required:
        del missing["payload"][required[0]]
    for bad in (extra_payload_field, extra_envelope_field, wrong_version, offset_time,
                *([missing] if required else [])):
        assert not validator.is_valid(bad), bad


def test_field_mapping_details(committed):
    schemas = committed["components"]["schemas"]
    assignment = schemas["dispatch.assignment.v1.payload"]["properties"]
    assert assignment["assignment_id"] == {"type": "string", "format": "uuid"}
    assert assignment["ack_due_at"]["format"] == "date-time"
    assert assignment["ack_due_at"]["pattern"].endswith("Z$")
    assert assignment["rework"] == {"type": "integer", "minimum": 0}
    assert assignment["description"] == {"type": "string", "minLength": 1, "maxLength": 4000}
    assert assignment["location"] == {"oneOf": [{"$ref": "#/components/schemas/Location"},
                                                {"type": "null"}]}
    assert schemas["Location"]["properties"]["lon"] == {
        "type": "number", "minimum": -180, "maximum": 180}
    grid = schemas["registry.grid.changed.v1.payload"]["properties"]
    assert grid["valid_from"] == {"type": "string", "format": "date"}
    assert grid["valid_to"]["type"] == ["string", "null"]
    assert grid["action"]["enum"] == ["created", "updated", "retired"]
    reported = schemas["events.case.reported.v1.payload"]["properties"]
    assert reported["photos"]["type"] == "array" and reported["photos"]["maxItems"] == 9
    assert "pattern" in reported["photos"]["items"]
    resident = schemas["registry.resident.changed.v1.payload"]["properties"]
    assert resident["household_id"]["type"] == ["integer", "null"]
    envelope = schemas["Envelope"]
    assert envelope["additionalProperties"] is False
    assert envelope["properties"]["correlation_id"]["type"] == ["string", "null"]
    assert "correlation_id" not in envelope["required"]


def test_unmapped_field_types_are_refused():
    from marshmallow import Schema, fields

    class Odd(Schema):
        when = fields.TimeDelta()

    with pytest.raises(TypeError, match="TimeDelta"):
        asyncapi.SchemaConverter().object_schema(Odd())


def test_unknown_message_area_has_no_channel():
    with pytest.raises(ValueError, match="channel_of"):
        asyncapi.channel_of("somewhere.thing.happened")


# --- structure -------------------------------------------------------------------------

def test_required_asyncapi3_fields(committed):
    assert committed["asyncapi"] == "3.0.0"
    assert committed["info"]["title"] and committed["info"]["version"]
    assert committed["defaultContentType"] == "application/json"
    for server in committed["servers"].values():
        assert server["protocol"] == "amqp" and server["host"]
    for name, channel in committed["channels"].items():
        assert channel["address"], name
        declared = set(channel.get("parameters", {}))
        used = set(PARAM_RE.findall(channel["address"]))
        assert declared == used, (name, declared, used)
        assert channel["messages"], name
    for name, operation in committed["operations"].items():
        assert operation["action"] in ("send", "receive"), name
        channel_ref = operation["channel"]["$ref"]
        assert channel_ref.startswith("#/channels/"), name
        for message in operation["messages"]:
            assert message["$ref"].startswith(channel_ref + "/messages/"), (name, message)
    for key, message in committed["components"]["messages"].items():
        assert message["payload"], key
        assert re.fullmatch(r"[A-Za-z0-9.\-_]+", key), key
    for key in committed["components"]["schemas"]:
        assert re.fullmatch(r"[A-Za-z0-9.\-_]+", key), key


def test_every_ref_resolves(committed):
    refs = _refs(committed)
    assert len(refs) > 50
    for path, ref in refs:
        target = _resolve(committed, ref)
        assert isinstance(target, dict), (path, ref)


def test_every_component_schema_is_a_valid_draft7_schema(committed):
    for schema in committed["components"]["schemas"].values():
        jsonschema.Draft7Validator.check_schema(schema)

"""The envelope every bus message travels in, the registry of payload schemas, and the
two functions that cross the wire: :func:`make_envelope` and :func:`parse_envelope`.

Why one envelope for everything: department systems are written in any language, so a
message must be plain JSON whose meaning is fixed by ``type`` + ``version`` alone, and a
consumer must be able to refuse a bad message with one error shape (:class:`ContractError`)
that ends up, unchanged, in a dead-letter queue a human can read.
"""

from __future__ import annotations

import functools
import json
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate

from gridgov_common.contract import fastload
from gridgov_common.contract.routing import CODE_MAX_LENGTH, CODE_RE
from gridgov_common.kernel import storable

MAX_MESSAGE_BYTES = 256 * 1024  # a whole envelope, UTF-8 encoded; larger ones are refused
TYPE_RE = re.compile(r"^[a-z][a-z0-9_]*(?:\.[a-z][a-z0-9_]*)+$")
TIMESTAMP_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.(\d{1,9}))?Z$")
CORRELATION_ID_MAX = 128
SAMPLES_DIR = Path(__file__).resolve().parent / "samples"

# ContractError codes (also the x-gridgov-error-code header of a dead-lettered message).
INVALID_JSON = "invalid_json"
MESSAGE_TOO_LARGE = "message_too_large"
INVALID_ENVELOPE = "invalid_envelope"
UNKNOWN_TYPE = "unknown_type"
INVALID_PAYLOAD = "invalid_payload"


class ContractError(Exception):
    """A message that breaks the bus contract; never retried, always dead-lettered."""

    def __init__(self, code: str, message: str, fields: Mapping[str, Any] | None = None):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.fields = dict(fields or {})

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "fields": self.fields}


# --- registry -------------------------------------------------------------------------

_REGISTRY: dict[tuple[str, int], type[Schema]] = {}
_LATEST: dict[str, int] = {}  # type -> its highest registered version (asked per message)
_INSTANCES: dict[tuple[str, int], Schema] = {}
_FAST: dict[tuple[str, int], Any] = {}  # (type, version) -> fastload loader or None


class Payload(Schema):
    """Base of every payload schema: unknown fields are an error.

    Departments must not add fields to a published version; a new field means a new
    version (docs/BUS-CONTRACT.md, "Versioning").
    """

    class Meta:
        unknown = RAISE


def message_type(type_name: str, version: int):
    """Class decorator registering a payload schema for (type, version)."""
    if not TYPE_RE.match(type_name) or not isinstance(version, int) or version < 1:
        raise ValueError(f"bad message type registration: {type_name!r} v{version!r}")

    def register(schema_cls: type[Schema]) -> type[Schema]:
        key = (type_name, version)
        if key in _REGISTRY and _REGISTRY[key] is not schema_cls:
            raise ValueError(f"{type_name} v{version} is already registered")
        _REGISTRY[key] = schema_cls
        _LATEST[type_name] = max(version, _LATEST.get(type_name, version))
        return schema_cls

    return register


def registered_types() -> list[tuple[str, int]]:
    """Every registered (type, version), sorted."""
    return sorted(_REGISTRY)


def latest_version(type_name: str) -> int:
    latest = _LATEST.get(type_name)
    if latest is None:
        raise ContractError(UNKNOWN_TYPE, f"unknown message type {type_name!r}",
                            {"type": type_name})
    return latest


def schema_for(type_name: str, version: int) -> Schema:
    """The schema instance for (type, version), or ContractError(unknown_type).

    One instance per type is kept and reused: building a marshmallow schema costs more than
    loading a payload with it (it was a fifth of dispatch's CPU per case), and loading keeps
    no state on the instance.
    """
    schema = _INSTANCES.get((type_name, version))
    if schema is not None:
        return schema
    schema_cls = _REGISTRY.get((type_name, version))
    if schema_cls is None:
        raise ContractError(UNKNOWN_TYPE, f"unknown message type {type_name!r} v{version}",
                            {"type": type_name, "version": version})
    return _INSTANCES.setdefault((type_name, version), schema_cls())


def _fast_loader(type_name: str, version: int, schema: Schema):
    """The compiled loader of (type, version)'s payload schema (fastload.py), made once."""
    key = (type_name, version)
    if key not in _FAST:
        _FAST[key] = fastload.compile_schema(schema)
    return _FAST[key]


def sample_path(type_name: str, version: int) -> Path:
    return SAMPLES_DIR / f"{type_name}.v{version}.json"


def load_sample(type_name: str, version: int) -> dict[str, Any]:
    """The documented sample envelope of (type, version)."""
    return json.loads(sample_path(type_name, version).read_text(encoding="utf-8"))


# --- envelope -------------------------------------------------------------------------

def format_timestamp(moment: datetime) -> str:
    """ISO-8601 UTC with ``Z`` and milliseconds; naive datetimes are refused (ambiguous)."""
    if moment.tzinfo is None:
        raise ValueError("timestamps must be timezone-aware")
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def utc_now() -> str:
    return format_timestamp(datetime.now(UTC))


class UtcTimestamp(fields.Field):
    """ISO-8601 instant in UTC written with ``Z`` (other offsets are refused, so that every
    language compares them as strings or instants alike); up to nanosecond digits."""

    default_error_messages = {"invalid": "Not an ISO-8601 UTC timestamp ending in Z."}

    def _deserialize(self, value, attr, data, **kwargs) -> datetime:
        match = TIMESTAMP_RE.match(value) if isinstance(value, str) else None
        if not match:
            raise self.make_error("invalid")
        text = value[:-1]
        if match.group(1) and len(match.group(1)) > 6:  # Python parses microseconds at most
            text = text[: text.index(".") + 7]
        try:
            return datetime.fromisoformat(text).replace(tzinfo=UTC)
        except ValueError:
            raise self.make_error("invalid") from None

    def _serialize(self, value, attr, obj, **kwargs) -> str | None:
        return None if value is None else format_timestamp(value)


class EnvelopeSchema(Schema):
    class Meta:
        unknown = RAISE

    message_id = fields.UUID(required=True)
    type = fields.String(required=True, validate=validate.Regexp(TYPE_RE))
    version = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
    occurred_at = UtcTimestamp(required=True)
    producer = fields.String(required=True, validate=[
        validate.Regexp(CODE_RE), validate.Length(max=CODE_MAX_LENGTH)])
    correlation_id = fields.String(load_default=None, allow_none=True,
                                   validate=validate.Length(min=1, max=CORRELATION_ID_MAX))
    payload = fields.Dict(required=True, keys=fields.String())


_ENVELOPE_SCHEMA = EnvelopeSchema()


@dataclass(frozen=True)
class Envelope:
    """A parsed, validated message. ``payload`` holds deserialized values (dates are
    ``date`` objects); ``routing_key``, ``user_id`` and ``delivery_count`` are filled in by
    the consumer that received it."""

    message_id: str
    type: str
    version: int
    occurred_at: datetime
    producer: str
    correlation_id: str | None
    payload: dict[str, Any]
    routing_key: str | None = field(default=None, compare=False)
    # AMQP ``user_id`` property: when set, RabbitMQ has checked that it is the user who
    # published (validated user-ID), so consumers may trust it (docs/BUS-CONTRACT.md)
    user_id: str | None = field(default=None, compare=False)
    # how many times the broker delivered it before (0 the first time), from the consumer
    delivery_count: int = field(default=0, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """The envelope as JSON-able wire data (payload re-serialized by its schema)."""
        return {
            "message_id": self.message_id,
            "type": self.type,
            "version": self.version,
            "occurred_at": format_timestamp(self.occurred_at),
            "producer": self.producer,
            "correlation_id": self.correlation_id,
            "payload": schema_for(self.type, self.version).dump(self.payload),
        }


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return format_timestamp(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, uuid.UUID | Decimal):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def encode(envelope: Mapping[str, Any]) -> bytes:
    """The exact bytes put on the wire for an envelope (compact UTF-8 JSON)."""
    return json.dumps(envelope, ensure_ascii=False, separators=(",", ":"),
                      allow_nan=False).encode("utf-8")


def _load_payload(type_name: str, version: int, payload: Any) -> dict[str, Any]:
    schema = schema_for(type_name, version)
    plain = _fast_loader(type_name, version, schema)
    loaded = None if plain is None else plain(payload)
    try:
        if loaded is None:  # not plainly valid (or no fast loader): the schema decides
            loaded = schema.load(payload)
    except ValidationError as exc:
        raise ContractError(INVALID_PAYLOAD, f"payload does not match {type_name} v{version}",
                            _messages(exc)) from None
    # NUL, unpaired surrogates, ints beyond bigint, years outside 1900-2999: refused here,
    # not retried to the delivery limit by a database that cannot store them (fuzzing)
    unstorable = storable.problems(loaded)
    if unstorable:
        raise ContractError(INVALID_PAYLOAD, f"payload of {type_name} v{version} holds values "
                            "that cannot be stored", unstorable)
    return loaded


def _messages(exc: ValidationError) -> dict[str, Any]:
    messages = exc.messages
    return messages if isinstance(messages, dict) else {"_schema": messages}


class ValidatedEnvelope(dict):
    """An envelope built by :func:`make_envelope`: already checked against its schema and
    the size limit, so the outbox need not parse it a second time (a fifth of a case's
    CPU went to validating each outgoing message twice). Do not mutate one: ``wire``,
    when make_envelope set it, holds its bytes as ``encode`` gives them."""

    wire: bytes | None = None


def make_envelope(type: str, payload: Mapping[str, Any], producer: str,
                  correlation_id: str | None = None, version: int | None = None,
                  ) -> dict[str, Any]:
    """Build a JSON-able envelope after validating ``payload`` against (type, version).

    ``version`` defaults to the latest registered one. Raises ContractError, so a producer
    can never emit what consumers would dead-letter.
    """
    version = latest_version(type) if version is None else version
    # the payload is encoded once: its JSON-native copy is loaded back from these bytes,
    # which then go on the wire as they are (what encode() of the envelope would give)
    payload_text = json.dumps(dict(payload), default=_json_default, allow_nan=False,
                              ensure_ascii=False, separators=(",", ":"))
    wire_payload = json.loads(payload_text)
    _load_payload(type, version, wire_payload)
    header = {
        "message_id": str(uuid.uuid4()),
        "type": type,
        "version": version,
        "occurred_at": utc_now(),
        "producer": producer,
        "correlation_id": correlation_id,
    }
    envelope = ValidatedEnvelope({**header, "payload": wire_payload})
    _check_header(envelope)
    wire = (encode(header)[:-1] + b',"payload":' + payload_text.encode("utf-8") + b"}")
    _check_size(len(wire))
    envelope.wire = wire  # the outbox stores these bytes rather than encode it again
    return envelope


def _check_header(envelope: Mapping[str, Any]) -> None:
    """The header make_envelope built: its id, type, version and time are right by
    construction, so only the producer (known good ones remembered) and the correlation id
    need a look. Anything else goes through the schema, for the same error. Why not the
    schema every time: it was a third of building a message (issue 16)."""
    if _plain_correlation_id(envelope["correlation_id"]) and _good_producer(
            envelope["producer"]):
        return
    _load_envelope(envelope)


def _plain_correlation_id(value: Any) -> bool:
    return value is None or (isinstance(value, str) and 1 <= len(value) <= CORRELATION_ID_MAX
                             and not storable.problems(value))


def _good_producer(value: Any) -> bool:
    return isinstance(value, str) and _producer_loads(value)


@functools.lru_cache(maxsize=256)
def _producer_loads(producer: str) -> bool:
    probe = {"message_id": str(uuid.UUID(int=0)), "type": "probe.header", "version": 1,
             "occurred_at": utc_now(), "producer": producer, "correlation_id": None,
             "payload": {}}
    try:
        _load_envelope(probe)
    except ContractError:
        return False
    return True


def _check_size(size: int) -> None:
    if size > MAX_MESSAGE_BYTES:
        raise ContractError(MESSAGE_TOO_LARGE,
                            f"message is {size} bytes, the limit is {MAX_MESSAGE_BYTES}",
                            {"size": size, "limit": MAX_MESSAGE_BYTES})


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON")


def _decode_json(raw: bytes | str) -> Any:
    if isinstance(raw, str):
        raw = raw.encode("utf-8")
    _check_size(len(raw))
    try:
        text = raw.decode("utf-8")
        return json.loads(text, parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:  # too deep: Recursion
        raise ContractError(INVALID_JSON, f"body is not UTF-8 JSON: {exc}") from None


_HEADER_KEYS = frozenset(EnvelopeSchema._declared_fields)
_HEADER_KEYS_NO_CORRELATION = _HEADER_KEYS - {"correlation_id"}
_TIMESTAMP_FIELD = UtcTimestamp()


def _plain_header(data: Mapping[str, Any]) -> dict[str, Any] | None:
    """The envelope as ``EnvelopeSchema`` loads it, for one whose every field is plainly
    right (the keys, the JSON types, the patterns); None for anything else, which the
    schema then decides and explains. Why: the schema took as long as the payload's for
    seven fields, on every message consumed (issue 16). Sound, not complete: it accepts
    only what the schema accepts, with the same result (tests/unit/test_plain_header.py)."""
    keys = data.keys()
    if keys != _HEADER_KEYS and keys != _HEADER_KEYS_NO_CORRELATION:
        return None
    message_id, type_, version = data["message_id"], data["type"], data["version"]
    producer, payload = data["producer"], data["payload"]
    correlation_id = data.get("correlation_id")
    if not (isinstance(message_id, str) and isinstance(type_, str) and type(version) is int
            and version >= 1 and isinstance(producer, str) and type(payload) is dict
            and TYPE_RE.match(type_) and CODE_RE.match(producer)
            and len(producer) <= CODE_MAX_LENGTH and _plain_correlation_id(correlation_id)
            and all(type(key) is str for key in payload)
            and not storable.problems([message_id, type_, version, producer])):
        return None
    try:
        loaded_id = uuid.UUID(message_id)
        occurred_at = _TIMESTAMP_FIELD._deserialize(data["occurred_at"], None, None)
    except (ValueError, ValidationError):
        return None
    if not storable.YEARS[0] <= occurred_at.year <= storable.YEARS[1]:
        return None
    return {"message_id": loaded_id, "type": type_, "version": version,
            "occurred_at": occurred_at, "producer": producer,
            "correlation_id": correlation_id, "payload": payload}


def _load_envelope(data: Any) -> dict[str, Any]:
    if not isinstance(data, Mapping):
        raise ContractError(INVALID_ENVELOPE, "the message must be a JSON object")
    plain = _plain_header(data)
    if plain is not None:
        return plain
    try:
        loaded = _ENVELOPE_SCHEMA.load(data)
    except ValidationError as exc:
        raise ContractError(INVALID_ENVELOPE, "the envelope is malformed",
                            _messages(exc)) from None
    unstorable = storable.problems({k: v for k, v in loaded.items() if k != "payload"})
    if unstorable:  # e.g. a NUL in correlation_id (see _load_payload)
        raise ContractError(INVALID_ENVELOPE, "the envelope is malformed", unstorable)
    return loaded


def parse_envelope(raw: bytes | bytearray | memoryview | str | Mapping[str, Any]) -> Envelope:
    """Decode and validate a message: size, JSON, envelope, known type, payload.

    Raises ContractError and nothing else for any bad input.
    """
    if isinstance(raw, Mapping):
        data = raw
    elif isinstance(raw, bytes | bytearray | memoryview | str):
        data = _decode_json(raw if isinstance(raw, str) else bytes(raw))
    else:
        raise ContractError(INVALID_JSON, f"cannot parse a {type(raw).__name__} as a message")
    envelope = _load_envelope(data)
    payload = _load_payload(envelope["type"], envelope["version"], envelope["payload"])
    return Envelope(
        message_id=str(envelope["message_id"]),
        type=envelope["type"],
        version=envelope["version"],
        occurred_at=envelope["occurred_at"],
        producer=envelope["producer"],
        correlation_id=envelope["correlation_id"],
        payload=payload,
    )

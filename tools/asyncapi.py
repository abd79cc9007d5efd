"""AsyncAPI 3.0 description of the gridgov bus, generated from the contract code.

Why generated: departments write their systems in any language and integrate only through
the queues, so they need a machine-readable contract (for code generators, validators and
catalogues) that cannot drift from what our consumers enforce. Every JSON Schema here is
derived from the marshmallow schemas in :mod:`gridgov_common.contract` (the same ones
:func:`~gridgov_common.contract.parse_envelope` validates with), the queue arguments come
from :mod:`gridgov_common.platform.messaging`, and each message carries its committed sample as an
example. ``tests/unit/test_asyncapi.py`` fails when ``docs/asyncapi.yaml`` is stale::

    python -m tools.asyncapi > docs/asyncapi.yaml

The document is written from a department system's point of view: ``receive`` is what a
department consumes (assignments, rejections, alerts, its own dead letters), ``send`` what
it publishes (reports, intake pushes).
"""

from __future__ import annotations

import inspect
import json
import re
import sys
from collections.abc import Callable
from typing import Any

import yaml
from marshmallow import RAISE, Schema, fields, validate

from gridgov_common.contract import (
    ALERTS_EXCHANGE,
    DEAD_LETTER_EXCHANGE,
    DISPATCH_EXCHANGE,
    EVENTS_EXCHANGE,
    INTAKE_EXCHANGE,
    MAX_MESSAGE_BYTES,
    REPORTS_EXCHANGE,
    EnvelopeSchema,
    Priority,
    ReportKind,
    Severity,
    WorkCategory,
    dlq_name,
    load_sample,
    registered_types,
    sample_path,
    schema_for,
)
from gridgov_common.contract.envelope import SAMPLES_DIR, TIMESTAMP_RE, UtcTimestamp
from gridgov_common.contract.messages import ID_NUMBER_RE, IdNumber
from gridgov_common.contract.routing import (
    CODE_MAX_LENGTH,
    CODE_RE,
    DECISIONS,
    EXCHANGE_TYPE,
    REJECTIONS,
    TOWN_CODE_RE,
)
from gridgov_common.platform.messaging import (
    CONSUMER_HEADER,
    DEAD_LETTERED_AT_HEADER,
    DEFAULT_MAX_REDELIVERIES,
    ERROR_CODE_HEADER,
    ERROR_FIELDS_HEADER,
    ERROR_MESSAGE_HEADER,
    ORIGINAL_EXCHANGE_HEADER,
    ORIGINAL_ROUTING_KEY_HEADER,
    consumer_queue_arguments,
)

ASYNCAPI_VERSION = "3.0.0"
# Version of this *document*. Message payloads are versioned one by one (the envelope's
# ``version``); bump the minor when a (type, version) is added, the major when one is
# removed (docs/BUS-CONTRACT.md, "Versioning").
DOCUMENT_VERSION = "1.1.0"  # 1.1: events.case.duplicate_decided v1
AMQP_BINDING_VERSION = "0.3.0"
CONTENT_TYPE = "application/json"
DOCS_PATH = "docs/asyncapi.yaml"
SCHEMA_REF = "#/components/schemas/"
MESSAGE_REF = "#/components/messages/"
# A department's queues, declared by the platform (tools/bus_users.py); the
# reference adapter (tools/department_adapter) consumes the first.
DEPARTMENT_QUEUE = "dept.{department}.assignments"
DEPARTMENT_ALERTS_QUEUE = "dept.{department}.alerts"
GRIDGOV_SERVICES = ("registry", "events", "dispatch", "assessment", "notify")

_AMQP_SEND = {"deliveryMode": 2, "mandatory": True, "bindingVersion": AMQP_BINDING_VERSION}
_AMQP_RECEIVE = {"ack": True, "bindingVersion": AMQP_BINDING_VERSION}


# --- marshmallow -> JSON Schema ------------------------------------------------------------

class SchemaConverter:
    """Turns marshmallow schemas into JSON Schema (draft 07, AsyncAPI's default format).

    Nested schemas become named ``components.schemas`` entries referenced by ``$ref``, so a
    shared shape (``Location``) is described once. An unmapped field type raises instead of
    being documented loosely: the document must say exactly what consumers accept.
    """

    def __init__(self) -> None:
        self.components: dict[str, dict[str, Any]] = {}
        self._origins: dict[str, type[Schema]] = {}

    def object_schema(self, schema: Schema, title: str | None = None,
                      description: str | None = None) -> dict[str, Any]:
        """An ``object`` with every declared field; unknown fields are refused when the
        marshmallow schema raises on them (every contract ``Payload`` does)."""
        properties: dict[str, Any] = {}
        required: list[str] = []
        for name, field in schema.load_fields.items():
            key = field.data_key or name
            properties[key] = self.field_schema(field)
            if field.required:
                required.append(key)
        result: dict[str, Any] = {"type": "object"}
        if title:
            result["title"] = title
        description = description or _docstring(type(schema))
        if description:
            result["description"] = description
        if required:
            result["required"] = required
        result["properties"] = properties
        if schema.unknown == RAISE:
            result["additionalProperties"] = False
        return result

    def named(self, name: str, schema: Schema, description: str | None = None,
              ) -> dict[str, Any]:
        """Register ``schema`` under ``components.schemas[name]`` and return a ``$ref``."""
        origin = type(schema)
        known = self._origins.get(name)
        if known is not None and known is not origin:
            raise ValueError(f"two schemas would be documented as {name!r}: "
                             f"{known.__qualname__} and {origin.__qualname__}")
        if known is None:
            self._origins[name] = origin
            self.components[name] = {}  # reserve first: a recursive schema refers to itself
            self.components[name] = self.object_schema(schema, title=name,
                                                       description=description)
        return {"$ref": SCHEMA_REF + name}

    def field_schema(self, field: fields.Field) -> dict[str, Any]:
        if isinstance(field, fields.Nested):
            nested = field.schema
            ref = self.named(type(nested).__name__, nested)
            result = {"type": "array", "items": ref} if field.many else ref
            return _nullable_ref(result) if field.allow_none else result
        result = self._base(field)
        for validator in _validators(field):
            _apply_validator(result, validator)
        description = (field.metadata or {}).get("description")
        if description:
            result["description"] = description
        if field.allow_none:
            _make_nullable(result)
        return result

    def _base(self, field: fields.Field) -> dict[str, Any]:
        for field_cls, build in self._builders():
            if isinstance(field, field_cls):
                return build(field)
        raise TypeError(f"no JSON Schema mapping for {type(field).__name__}: add one to "
                        f"tools/asyncapi.py")

    def _builders(self) -> list[tuple[type[fields.Field], Callable[[Any], dict[str, Any]]]]:
        """Most specific first (UUID and IdNumber are Strings)."""
        return [
            (UtcTimestamp, lambda f: {"type": "string", "format": "date-time",
                                      "pattern": TIMESTAMP_RE.pattern}),
            (IdNumber, lambda f: {"type": "string", "pattern": ID_NUMBER_RE.pattern,
                                  "description": "citizen ID: 15 digits, or 17 digits and a "
                                                 "GB 11643 check character (x read as X)"}),
            (fields.UUID, lambda f: {"type": "string", "format": "uuid"}),
            (fields.Date, lambda f: {"type": "string", "format": "date"}),
            (fields.DateTime, lambda f: {"type": "string", "format": "date-time"}),
            (fields.String, lambda f: {"type": "string"}),
            (fields.Boolean, lambda f: {"type": "boolean"}),
            (fields.Integer, lambda f: {"type": "integer"}),
            (fields.Float, lambda f: {"type": "number"}),
            (fields.Decimal, lambda f: {"type": "number"}),
            (fields.List, self._list),
            (fields.Dict, self._dict),
        ]

    def _list(self, field: fields.List) -> dict[str, Any]:
        return {"type": "array", "items": self.field_schema(field.inner)}

    def _dict(self, field: fields.Dict) -> dict[str, Any]:
        result: dict[str, Any] = {"type": "object"}
        if field.key_field is not None:
            keys = self.field_schema(field.key_field)
            if set(keys) - {"type"}:
                result["propertyNames"] = keys
        if field.value_field is not None:
            result["additionalProperties"] = self.field_schema(field.value_field)
        return result


def _validators(field: fields.Field) -> list[Any]:
    return list(getattr(field, "validators", None) or [])


def _apply_validator(result: dict[str, Any], validator: Any) -> None:
    """Map the marshmallow validators the contract uses; others (schema-level rules such as
    "a result says whether it resolved the case") stay in the schema's description."""
    is_array = result.get("type") == "array"
    if isinstance(validator, validate.Regexp):
        result["pattern"] = validator.regex.pattern
    elif isinstance(validator, validate.Length):
        low, high = ("minItems", "maxItems") if is_array else ("minLength", "maxLength")
        if validator.equal is not None:
            result[low] = result[high] = validator.equal
        else:
            if validator.min is not None:
                result[low] = validator.min
            if validator.max is not None:
                result[high] = validator.max
    elif isinstance(validator, validate.OneOf):
        result["enum"] = list(validator.choices)
    elif isinstance(validator, validate.Range):
        if validator.min is not None:
            key = "minimum" if validator.min_inclusive else "exclusiveMinimum"
            result[key] = validator.min
        if validator.max is not None:
            key = "maximum" if validator.max_inclusive else "exclusiveMaximum"
            result[key] = validator.max
    else:
        raise TypeError(f"no JSON Schema mapping for validator {type(validator).__name__}")


def _make_nullable(result: dict[str, Any]) -> None:
    kind = result.get("type")
    if isinstance(kind, str):
        result["type"] = [kind, "null"]
    if "enum" in result and None not in result["enum"]:
        result["enum"] = [*result["enum"], None]


def _nullable_ref(ref: dict[str, Any]) -> dict[str, Any]:
    """``$ref`` siblings are ignored in draft 07, so null is a second alternative."""
    return {"oneOf": [ref, {"type": "null"}]}


def _docstring(obj: Any) -> str:
    """A class's own docstring as Markdown prose: source line breaks joined within a
    paragraph (they are wrapping, not meaning) and RST ``literals`` as `code`."""
    doc = vars(obj).get("__doc__") if isinstance(obj, type) else None
    if not doc:
        return ""
    paragraphs = inspect.cleandoc(doc).split("\n\n")
    text = "\n\n".join(" ".join(p.split()) for p in paragraphs if p.strip())
    return re.sub(r"``([^`]+)``", r"`\1`", text)


def _summary(text: str) -> str:
    """First sentence-ish line of a docstring (the rest goes into ``description``)."""
    first = text.split("\n\n", 1)[0]
    return " ".join(first.split())


# --- which channel carries which message -------------------------------------------------

def channel_of(type_name: str) -> str:
    """The channel a message type travels on. An unknown area raises, so a new type cannot
    appear on the bus without its channel being decided here."""
    explicit = {"dispatch.assignment": "assignments", "platform.rejection": "rejections",
                "dispatch.delay_decision": "decisions"}
    if type_name in explicit:
        return explicit[type_name]
    area = type_name.split(".", 1)[0]
    by_area = {"intake": "intake", "department": "reports", "alert": "alerts"}
    if area in by_area:
        return by_area[area]
    if area in GRIDGOV_SERVICES:
        return "events"  # internal domain events: routing key = type (event_key)
    raise ValueError(f"no channel for message type {type_name!r}: add it to "
                     f"tools.asyncapi.channel_of")


# --- the document --------------------------------------------------------------------------

def _message_key(type_name: str, version: int) -> str:
    return f"{type_name}.v{version}"


def _exchange_binding(exchange: str) -> dict[str, Any]:
    return {"amqp": {
        "is": "routingKey",
        "exchange": {"name": exchange, "type": EXCHANGE_TYPE, "durable": True,
                     "autoDelete": False},
        "bindingVersion": AMQP_BINDING_VERSION,
    }}


def _queue_binding(name: str, arguments: dict[str, Any],
                   bound_to: list[dict[str, str]]) -> dict[str, Any]:
    return {"amqp": {
        "is": "queue",
        "queue": {"name": name, "durable": True, "exclusive": False, "autoDelete": False},
        "bindingVersion": AMQP_BINDING_VERSION,
        "x-arguments": arguments,
        "x-bindings": bound_to,
    }}


def _param(description: str, *, enum: list[str] | None = None,
           examples: list[str] | None = None, location: str | None = None) -> dict[str, Any]:
    result: dict[str, Any] = {"description": description}
    if enum:
        result["enum"] = enum
    if examples:
        result["examples"] = examples
    if location:
        result["location"] = location
    return result


def _code_description(what: str) -> str:
    return (f"{what}: lowercase snake_case, at most {CODE_MAX_LENGTH} characters "
            f"(pattern {CODE_RE.pattern})")


def _department_param(location: str | None = None) -> dict[str, Any]:
    return _param(_code_description("department code"),
                  examples=["fire", "public_security", "civil_affairs"], location=location)


def _town_param(location: str | None = None) -> dict[str, Any]:
    return _param(f"9-digit town code, GB/T 2260 county + 3-digit town "
                  f"(pattern {TOWN_CODE_RE.pattern})", examples=["320505001"],
                  location=location)


def _channels(types_by_channel: dict[str, list[tuple[str, int]]]) -> dict[str, Any]:
    """Every exchange channel plus the department's own queues (reference layout)."""
    intake_types = types_by_channel.get("intake", [])
    intake_entities = sorted({t.split(".")[1] for t, _ in intake_types if t.count(".") >= 2})
    intake_actions = sorted({t.split(".", 2)[2] for t, _ in intake_types if t.count(".") >= 2})
    event_producers = sorted({t.split(".", 1)[0] for t, _ in types_by_channel.get("events", [])})
    department_queue_messages = (types_by_channel.get("assignments", [])
                                 + types_by_channel.get("rejections", [])
                                 + types_by_channel.get("decisions", []))
    payload = "$message.payload#/payload/"
    channels: dict[str, Any] = {
        "assignments": {
            "address": "{department}.{town_code}.{work_category}.{priority}",
            "title": f"Assignments ({DISPATCH_EXCHANGE})",
            "summary": "P2.2 \"the town whistles\": a case assigned to a department.",
            "description": (
                "Published by gridgov on the topic exchange `gridgov.dispatch`. Bind your queue "
                "with patterns such as `fire.#` (assignments and rejections), `fire.*.*.*` "
                "(assignments only) or `public_security.*.*.major`. The routing key's words "
                "repeat the payload's fields."),
            "parameters": {
                "department": _department_param(payload + "department"),
                "town_code": _town_param(payload + "town_code"),
                "work_category": _param("P5.2 work category",
                                        enum=[m.value for m in WorkCategory],
                                        location=payload + "work_category"),
                "priority": _param("P2.1 priority", enum=[m.value for m in Priority],
                                   location=payload + "priority"),
            },
        },
        "rejections": {
            "address": "{department}." + REJECTIONS,
            "title": f"Rejections ({DISPATCH_EXCHANGE})",
            "summary": "A report or push of yours that gridgov refused, and why.",
            "description": (
                "Published by gridgov on `gridgov.dispatch` with key "
                "`<department>.rejections`; `correlation_id` is the `message_id` you sent."),
            "parameters": {"department": _department_param()},
        },
        "decisions": {
            "address": "{department}." + DECISIONS,
            "title": f"Decisions ({DISPATCH_EXCHANGE})",
            "summary": "P5.3.3: town staff's decision on a delay request of yours.",
            "description": (
                "Published by gridgov on `gridgov.dispatch` with key "
                "`<department>.decisions`; `correlation_id` is the `message_id` of your "
                "`delay_request` report."),
            "parameters": {"department": _department_param(payload + "department")},
        },
        "reports": {
            "address": "{department}.{kind}",
            "title": f"Reports ({REPORTS_EXCHANGE})",
            "summary": "P2.2 \"departments report in\", P5.3.3: ack, progress, result, return, "
                       "delay request.",
            "description": (
                "Published by departments on `gridgov.reports`, persistent, with publisher "
                "confirms and `mandatory`. Set `correlation_id` to the assignment's "
                "`message_id`; resend a report with the same `message_id`."),
            "parameters": {
                "department": _department_param(payload + "department"),
                "kind": _param("report kind", enum=[m.value for m in ReportKind],
                               location=payload + "kind"),
            },
        },
        "alerts": {
            "address": "{town_code}.{severity}.{category}",
            "title": f"Major-event alerts ({ALERTS_EXCHANGE})",
            "summary": "P5.2 item 7: major events, published at once.",
            "description": "Bind e.g. `320505001.#` (one town) or `*.critical.*`.",
            "parameters": {
                "town_code": _town_param(payload + "town_code"),
                "severity": _param("severity", enum=[m.value for m in Severity],
                                   location=payload + "severity"),
                "category": _param(_code_description("alert category"),
                                   examples=["fire", "flood", "public_order"],
                                   location=payload + "category"),
            },
        },
        "intake": {
            "address": "{source}.{entity}.{action}",
            "title": f"Intake ({INTAKE_EXCHANGE})",
            "summary": "P6.2: departments and external systems push data and cases in.",
            "description": (
                "`source` is your department or system code (the envelope's `producer`); "
                "`entity`.`action` are the last two words of the message type."),
            "parameters": {
                "source": _param(_code_description("sending department or system"),
                                 examples=["civil_affairs", "public_security", "hotline_12345"]),
                "entity": _param(_code_description("entity"), examples=intake_entities),
                "action": _param(_code_description("action"), examples=intake_actions),
            },
        },
        "events": {
            "address": "{producer}.{event}",
            "title": f"Internal domain events ({EVENTS_EXCHANGE})",
            "summary": "Between gridgov services only; departments do not bind here.",
            "description": (
                "The routing key equals the envelope's `type` (`registry.grid.changed` is "
                "producer `registry`, event `grid.changed`). Listed so that every message "
                "type of the bus is described in one place."),
            "parameters": {
                "producer": _param("the gridgov service", enum=event_producers),
                "event": _param("the rest of the message type (dotted)",
                                examples=sorted({t.split(".", 1)[1] for t, _ in
                                                 types_by_channel.get("events", [])})),
            },
        },
        "deadLetters": {
            "address": "{queue}.dlq",
            "title": f"Dead letters ({DEAD_LETTER_EXCHANGE})",
            "summary": "Messages a consumer refused, body unchanged, reason in headers.",
            "description": (
                "Only consumers publish here (or the broker, when a queue's delivery limit is "
                "reached or a message is rejected without requeue). Every consuming queue "
                "`<queue>` has a quorum queue `<queue>.dlq` bound with key `<queue>.dlq`."),
            "parameters": {"queue": _param("name of the consuming queue",
                                           examples=[DEPARTMENT_QUEUE.format(department="fire"),
                                                     "registry.intake"])},
        },
        "departmentQueue": {
            "address": DEPARTMENT_QUEUE,
            "title": "A department's assignment queue",
            "summary": "The queue a department consumes; declared by the platform.",
            "description": (
                "Declared and bound by the platform when it creates the department's user "
                "(a department user may not declare or bind anything; check the queue with "
                "a passive declare), with the same arguments gridgov's own consuming "
                "queues have, bound to `gridgov.dispatch` with `<department>.#`: its "
                "assignments, `<department>.rejections` and `<department>.decisions`. "
                "Acknowledge a message only after storing it."),
            "parameters": {"department": _department_param()},
        },
        "departmentAlertsQueue": {
            "address": DEPARTMENT_ALERTS_QUEUE,
            "title": "A department's alerts queue",
            "summary": "Every major-event alert, for the department; declared by the platform.",
            "description": (
                "Declared by the platform with the same arguments, bound to `gridgov.alerts` "
                "with `#`. Acknowledge a message only after storing it."),
            "parameters": {"department": _department_param()},
        },
        "departmentDeadLetterQueue": {
            "address": dlq_name(DEPARTMENT_QUEUE),
            "title": "A department's dead-letter queue",
            "summary": "Where the department's queue puts what it refused.",
            "description": "Inspect with basic.get; replay by moving messages back (shovel).",
            "parameters": {"department": _department_param()},
        },
    }
    exchanges = {
        "assignments": DISPATCH_EXCHANGE, "rejections": DISPATCH_EXCHANGE,
        "decisions": DISPATCH_EXCHANGE,
        "reports": REPORTS_EXCHANGE, "alerts": ALERTS_EXCHANGE, "intake": INTAKE_EXCHANGE,
        "events": EVENTS_EXCHANGE, "deadLetters": DEAD_LETTER_EXCHANGE,
    }
    for name, exchange in exchanges.items():
        channel = channels[name]
        if name == "deadLetters":
            channel["messages"] = {"deadLetter": {"$ref": MESSAGE_REF + "deadLetter"}}
        else:
            channel["messages"] = {_message_key(t, v): {"$ref": MESSAGE_REF + _message_key(t, v)}
                                   for t, v in types_by_channel.get(name, [])}
        channel["bindings"] = _exchange_binding(exchange)
    channels["departmentQueue"]["messages"] = {
        _message_key(t, v): {"$ref": MESSAGE_REF + _message_key(t, v)}
        for t, v in department_queue_messages}
    channels["departmentQueue"]["bindings"] = _queue_binding(
        DEPARTMENT_QUEUE, consumer_queue_arguments(DEPARTMENT_QUEUE, DEFAULT_MAX_REDELIVERIES),
        [{"exchange": DISPATCH_EXCHANGE, "routingKey": "{department}.#"}])
    channels["departmentAlertsQueue"]["messages"] = dict(channels["alerts"]["messages"])
    channels["departmentAlertsQueue"]["bindings"] = _queue_binding(
        DEPARTMENT_ALERTS_QUEUE,
        consumer_queue_arguments(DEPARTMENT_ALERTS_QUEUE, DEFAULT_MAX_REDELIVERIES),
        [{"exchange": ALERTS_EXCHANGE, "routingKey": "#"}])
    channels["departmentDeadLetterQueue"]["messages"] = {
        "deadLetter": {"$ref": MESSAGE_REF + "deadLetter"}}
    channels["departmentDeadLetterQueue"]["bindings"] = _queue_binding(
        dlq_name(DEPARTMENT_QUEUE), {"x-queue-type": "quorum"},
        [{"exchange": DEAD_LETTER_EXCHANGE, "routingKey": dlq_name(DEPARTMENT_QUEUE)}])
    return channels


def _operations(channels: dict[str, Any]) -> dict[str, Any]:
    """What a department system does, channel by channel."""
    plan = [
        ("receiveAssignment", "receive", "assignments", _AMQP_RECEIVE,
         "Consume assignments from your queue; store (deduplicating by message_id), report "
         "`ack` on gridgov.reports, then acknowledge."),
        ("receiveRejection", "receive", "rejections", _AMQP_RECEIVE,
         "Learn that gridgov refused one of your reports or pushes (code, message, fields)."),
        ("receiveDelayDecision", "receive", "decisions", _AMQP_RECEIVE,
         "Learn whether your delay request was approved and the assignment's due time now."),
        ("sendReport", "send", "reports", _AMQP_SEND,
         "Report in on an assignment: ack, progress, result (with resolved), return or "
         "delay_request (with reason)."),
        ("receiveAlert", "receive", "alerts", _AMQP_RECEIVE,
         "Follow major events: consume your queue dept.<department>.alerts."),
        ("sendIntake", "send", "intake", _AMQP_SEND,
         "Push your data changes and cases to gridgov."),
        ("receiveDeadLetter", "receive", "departmentDeadLetterQueue", _AMQP_RECEIVE,
         "Inspect what your own queue refused (operators; basic.get)."),
    ]
    operations: dict[str, Any] = {}
    for op_id, action, channel_name, binding, summary in plan:
        messages = channels[channel_name]["messages"]
        operations[op_id] = {
            "action": action,
            "channel": {"$ref": f"#/channels/{channel_name}"},
            "summary": summary,
            "bindings": {"amqp": dict(binding)},
            "messages": [{"$ref": f"#/channels/{channel_name}/messages/{key}"}
                         for key in messages],
        }
    return operations


def _envelope_for(converter: SchemaConverter, type_name: str, version: int) -> dict[str, Any]:
    """The generic envelope with ``type``/``version`` fixed and the payload's own schema."""
    envelope = json.loads(json.dumps(converter.components["Envelope"]))
    envelope["title"] = f"{type_name} v{version}"
    envelope["description"] = f"Envelope of a `{type_name}` v{version} message."
    properties = envelope["properties"]
    properties["type"] = {"type": "string", "const": type_name}
    properties["version"] = {"type": "integer", "const": version}
    properties["payload"] = converter.named(f"{_message_key(type_name, version)}.payload",
                                            schema_for(type_name, version))
    return envelope


def _message(type_name: str, version: int, channel: str) -> dict[str, Any]:
    schema_cls = type(schema_for(type_name, version))
    doc = _docstring(schema_cls)
    key = _message_key(type_name, version)
    sample_file = sample_path(type_name, version).relative_to(SAMPLES_DIR.parents[2])
    rest = doc.split("\n\n", 1)[1] if "\n\n" in doc else ""  # the summary is the first
    description = (f"{rest}\n\n" if rest else "") + (
        f"Channel `{channel}`. Sample: `{sample_file.as_posix()}`. The payload's "
        f"schema-level rules are enforced by `{schema_cls.__module__}.{schema_cls.__name__}`.")
    return {
        "name": key,
        "title": f"{type_name} v{version}",
        "summary": _summary(doc) or f"{type_name} v{version}",
        "description": description,
        "contentType": CONTENT_TYPE,
        "correlationId": {"$ref": "#/components/correlationIds/envelope"},
        "payload": {"$ref": f"{SCHEMA_REF}{key}.envelope"},
        "bindings": {"amqp": {"messageType": type_name, "bindingVersion": AMQP_BINDING_VERSION}},
        "examples": [{"name": "sample", "summary": f"{sample_file.name} (committed sample)",
                      "payload": load_sample(type_name, version)}],
    }


def _dead_letter_message() -> dict[str, Any]:
    text = {"type": "string"}
    return {
        "name": "deadLetter",
        "title": "A dead-lettered message",
        "summary": "The refused message's body, unchanged, with the reason in headers.",
        "description": (
            "Copied by the consumer that refused it (with the `x-gridgov-*` headers), or "
            "dead-lettered by the broker (with `x-death`, `x-first-death-reason`). The body "
            "may not even be JSON: that can be the reason (`invalid_json`)."),
        "headers": {
            "type": "object",
            "properties": {
                ERROR_CODE_HEADER: {**text, "description": "why, e.g. invalid_json, "
                                    "invalid_envelope, unknown_type, invalid_payload, "
                                    "unexpected_type, delivery_limit, or a domain code"},
                ERROR_MESSAGE_HEADER: {**text, "maxLength": 1024},
                ERROR_FIELDS_HEADER: {**text, "description": "JSON object as a string: "
                                      "field -> problems"},
                ORIGINAL_ROUTING_KEY_HEADER: text,
                ORIGINAL_EXCHANGE_HEADER: text,
                CONSUMER_HEADER: text,
                DEAD_LETTERED_AT_HEADER: {**text, "format": "date-time"},
                "x-first-death-reason": text,
                "x-death": {"type": "array", "items": {"type": "object"}},
            },
        },
        "payload": {"description": "the original body, unchanged (any bytes)"},
        "bindings": {"amqp": {"bindingVersion": AMQP_BINDING_VERSION}},
    }


def build_document() -> dict[str, Any]:
    """The whole AsyncAPI 3.0 document, deterministic (sorted types, fixed key order)."""
    converter = SchemaConverter()
    converter.named("Envelope", EnvelopeSchema(), description=(
        f"Every message on the bus: one UTF-8 JSON object of at most {MAX_MESSAGE_BYTES} "
        f"bytes. `message_id` is new for every message and the same when the message is "
        f"resent (the deduplication key); `payload` is exactly as defined for (`type`, "
        f"`version`)."))
    types = registered_types()
    types_by_channel: dict[str, list[tuple[str, int]]] = {}
    for type_name, version in types:
        types_by_channel.setdefault(channel_of(type_name), []).append((type_name, version))

    messages: dict[str, Any] = {}
    envelopes: dict[str, Any] = {}
    for type_name, version in types:
        key = _message_key(type_name, version)
        envelopes[f"{key}.envelope"] = _envelope_for(converter, type_name, version)
        messages[key] = _message(type_name, version, channel_of(type_name))
    messages["deadLetter"] = _dead_letter_message()

    channels = _channels(types_by_channel)
    schemas = dict(sorted({**converter.components, **envelopes}.items()))
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "id": "urn:gridgov:bus",
        "info": {
            "title": "gridgov bus",
            "version": DOCUMENT_VERSION,
            "description": (
                "How department systems (fire, public security, civil affairs, ...) and "
                "gridgov talk over RabbitMQ with AMQP 0-9-1 and JSON, in any language. "
                "Written from a department's point of view. Generated from "
                "gridgov_common/contract by `python -m tools.asyncapi`; the prose "
                "(envelope rules, dead-lettering, idempotency, delivery guarantees) is "
                "docs/BUS-CONTRACT.md, the reference client tools/department_adapter.\n\n"
                f"Every body is one UTF-8 JSON object of at most {MAX_MESSAGE_BYTES} bytes; "
                "unknown fields are refused; publish persistent (delivery_mode 2) with publisher "
                "confirms and `mandatory`, with AMQP properties content_type="
                "application/json, message_id and type copied from the envelope."),
            "tags": [{"name": "departments"}, {"name": "internal"}],
        },
        "servers": {
            "broker": {
                "host": "{host}:{port}",
                "protocol": "amqp",
                "protocolVersion": "0-9-1",
                "pathname": "/{vhost}",
                "title": "The district's RabbitMQ (3.10 or later)",
                "description": "Use amqps on 5671 where the district enables TLS.",
                "variables": {
                    "host": {"default": "127.0.0.1"},
                    "port": {"default": "5672"},
                    "vhost": {"default": "%2F",
                              "description": "URL-encoded virtual host; %2F is `/`"},
                },
                "security": [{"$ref": "#/components/securitySchemes/userPassword"}],
            },
        },
        "defaultContentType": CONTENT_TYPE,
        "channels": channels,
        "operations": _operations(channels),
        "components": {
            "schemas": schemas,
            "messages": messages,
            "securitySchemes": {"userPassword": {
                "type": "userPassword",
                "description": "One broker user per department; the district operators "
                               "limit it to its own queues and routing keys."}},
            "correlationIds": {"envelope": {
                "description": "The message_id of the message that caused this one.",
                "location": "$message.payload#/correlation_id"}},
        },
    }


def render(document: dict[str, Any] | None = None) -> str:
    """The YAML text committed as docs/asyncapi.yaml."""
    document = build_document() if document is None else document
    header = (f"# {DOCS_PATH}: GENERATED by `python -m tools.asyncapi > {DOCS_PATH}`"
              f" -- do not edit.\n# Source: gridgov_common/contract (schemas, samples), "
              f"gridgov_common/messaging (queue arguments).\n")
    return header + yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=100,
                                   default_flow_style=False)


def main() -> int:
    """Write the document to stdout as UTF-8 whatever the locale (samples hold Chinese)."""
    sys.stdout.buffer.write(render().encode("utf-8"))
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The messages the AMQP fuzz test throws at every consumer (tests/fuzz/test_amqp_fuzz.py).

Two kinds, each a :class:`Fuzz` carrying its own AMQP ``message_id`` property:

- ``bad``: breaks the contract (not JSON, not an object, a malformed envelope, an unknown
  type, a payload missing or adding fields, too large, compressed garbage, a zip bomb, …);
  it must end in the consumer's DLQ with a gridgov reason header;
- ``edge``: within the contract's letter but hostile (huge strings, NUL bytes, lone
  surrogates, numbers at the limits); it may be processed or refused, but never dropped
  and never left to crash-loop until the broker's delivery limit.

``mutations`` draws payloads from a message's marshmallow schema with hypothesis, each
broken in one way the schema must refuse (a required field dropped or nulled, a value of
a wrong JSON type, an unknown field).
"""

from __future__ import annotations

import copy
import json
import uuid
import zlib
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from marshmallow import fields as mf

from gridgov_common.contract import MAX_MESSAGE_BYTES, load_sample, schema_for

GZIP = "application/x-gzip"


@dataclass
class Fuzz:
    name: str
    body: bytes
    bad: bool = True
    headers: dict[str, Any] = field(default_factory=dict)
    content_type: str = "application/json"
    content_encoding: str | None = None
    message_id: str = field(default_factory=lambda: str(uuid.uuid4()))


def fresh(type_name: str) -> dict[str, Any]:
    envelope = load_sample(type_name, 1)
    envelope["message_id"] = str(uuid.uuid4())
    return envelope


def _dumps(value: Any) -> bytes:
    """UTF-8 JSON; a lone surrogate goes out as its JSON escape (``\\ud800``)."""
    try:
        return json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(value).encode("ascii")


def _enveloped(type_name: str, name: str, change, bad: bool = True) -> Fuzz:
    """A fresh sample changed by ``change(envelope)``; message ids kept equal."""
    envelope = fresh(type_name)
    change(envelope)
    message_id = str(envelope.get("message_id")) if isinstance(envelope, dict) else None
    fuzz = Fuzz(name, _dumps(envelope), bad=bad)
    if message_id and _is_uuid(message_id):
        fuzz.message_id = message_id
    return fuzz


def _is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except (ValueError, TypeError, AttributeError):
        return False
    return True


def _string_fields(type_name: str) -> list[str]:
    schema = schema_for(type_name, 1)
    sample = load_sample(type_name, 1)["payload"]
    return [name for name, f in schema.fields.items()
            if isinstance(f, mf.String) and isinstance(sample.get(name), str)]


def _number_fields(type_name: str) -> list[str]:
    schema = schema_for(type_name, 1)
    return [name for name, f in schema.fields.items() if isinstance(f, mf.Number)]


def _required(type_name: str) -> list[str]:
    schema = schema_for(type_name, 1)
    return [f.data_key or name for name, f in schema.fields.items() if f.required]


def handwritten(type_name: str) -> list[Fuzz]:
    """The fixed list of bad and edge messages for a consumer of ``type_name``."""
    cases = [
        Fuzz("not_json", b"\x00\xff\xfe not json at all {"),
        Fuzz("invalid_utf8", b'{"message_id": "\xff\xfe"}'),
        Fuzz("json_array", b"[1, 2, 3]"),
        Fuzz("json_string", b'"just a string"'),
        Fuzz("json_null", b"null"),
        Fuzz("json_number", b"42"),
        Fuzz("empty_body", b""),
        Fuzz("nan", fresh_bytes(type_name).replace(b'"version": 1', b'"version": NaN')),
        Fuzz("deep_nesting", b'{"payload": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"),
        Fuzz("xml_content_type", b"<envelope><type>x</type></envelope>",
             content_type="application/xml"),
        Fuzz("gzip_garbage", b"\x1f\x8b\x08\x00garbage, not deflate", headers={
            "compression": GZIP}),
        Fuzz("zip_bomb", zip_bomb(), headers={"compression": GZIP}),
        Fuzz("unknown_compression", b"BZh91AY&SY garbage", headers={
            "compression": "application/x-brotli"}),
        Fuzz("content_encoding_gzip", zlib.compress(fresh_bytes(type_name)),
             content_encoding="gzip"),
        Fuzz("oversized", _dumps({**fresh(type_name), "padding": "x" * (MAX_MESSAGE_BYTES + 1)})),
        _enveloped(type_name, "version_as_string", lambda e: e.update(version="1")),
        _enveloped(type_name, "message_id_number", lambda e: e.update(message_id=123)),
        _enveloped(type_name, "payload_list", lambda e: e.update(payload=[1, 2])),
        _enveloped(type_name, "payload_missing", lambda e: e.pop("payload")),
        _enveloped(type_name, "offset_timestamp",
                   lambda e: e.update(occurred_at="2026-11-28T10:00:00+08:00")),
        _enveloped(type_name, "unknown_envelope_field", lambda e: e.update(extra=True)),
        _enveloped(type_name, "unknown_type", lambda e: e.update(type="nothing.such.type")),
        _enveloped(type_name, "unknown_version", lambda e: e.update(version=99)),
        _enveloped(type_name, "huge_version", lambda e: e.update(version=2**70)),
        _enveloped(type_name, "payload_extra_field",
                   lambda e: e["payload"].update(fuzz_extra="x")),
        _enveloped(type_name, "payload_empty", lambda e: e.update(payload={})),
    ]
    for name in _required(type_name)[:3]:
        cases.append(_enveloped(type_name, f"payload_without_{name}",
                                lambda e, n=name: e["payload"].pop(n, None)))
    for name in _string_fields(type_name)[:4]:
        for label, value in (("huge", "网" * 60_000), ("nul", "a\u0000b"),
                             ("surrogate", "a\ud800b"), ("rtl_emoji", "\u202e🔥" * 50)):
            cases.append(_enveloped(type_name, f"{label}_{name}",
                                    lambda e, n=name, v=value: e["payload"].update({n: v}),
                                    bad=False))
    for name in _number_fields(type_name)[:3]:
        for label, value in (("negative", -1), ("huge", 2**70), ("float_huge", 1e308),
                             ("tiny", -(2**63) - 1)):
            cases.append(_enveloped(type_name, f"{label}_{name}",
                                    lambda e, n=name, v=value: e["payload"].update({n: v}),
                                    bad=False))
    return cases


@cache
def zip_bomb() -> bytes:
    """64 MiB of JSON whitespace, deflated to about 64 KiB."""
    return zlib.compress(b"{" + b" " * (64 * 1024 * 1024), 9)


def fresh_bytes(type_name: str) -> bytes:
    return json.dumps(fresh(type_name)).encode("utf-8")


# --- hypothesis: schema-driven mutations --------------------------------------------------

_SCALARS = {
    "int": st.integers(min_value=-(2**40), max_value=2**40),
    "word": st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=12),
    "list": st.lists(st.integers(), min_size=0, max_size=3),
    "dict": st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
    "bool": st.booleans(),
}


def _wrong_kinds(f: mf.Field) -> list[str]:
    """JSON value kinds ``f`` refuses for certain."""
    if isinstance(f, mf.Boolean):
        return ["list", "dict"]
    if isinstance(f, mf.Number):
        return ["word", "list", "dict", "bool"]
    if isinstance(f, mf.String | mf.UUID | mf.DateTime | mf.Date | mf.Enum):
        return ["int", "list", "dict", "bool"]
    if isinstance(f, mf.List | mf.Tuple):
        return ["int", "dict", "bool"]
    if isinstance(f, mf.Nested):
        return ["int", "word", "bool"] + ([] if f.many else ["list"])
    if isinstance(f, mf.Dict):
        return ["int", "word", "list", "bool"]
    return []  # Raw and friends take anything


@st.composite
def mutated_payload(draw, type_name: str) -> tuple[str, dict[str, Any]]:
    """(what was done, payload): the sample's payload broken in one way."""
    schema = schema_for(type_name, 1)
    payload = copy.deepcopy(load_sample(type_name, 1)["payload"])
    keyed = {f.data_key or name: f for name, f in schema.fields.items()}
    required = [key for key, f in keyed.items() if f.required]
    typed = [key for key, f in keyed.items() if _wrong_kinds(f)]
    not_nullable = [key for key, f in keyed.items() if f.required and not f.allow_none]
    choices = ["unknown_field"] + (["drop"] if required else []) + \
        (["wrong_type"] if typed else []) + (["null"] if not_nullable else [])
    how = draw(st.sampled_from(choices))
    if how == "drop":
        key = draw(st.sampled_from(required))
        payload.pop(key, None)
    elif how == "null":
        key = draw(st.sampled_from(not_nullable))
        payload[key] = None
    elif how == "wrong_type":
        key = draw(st.sampled_from(typed))
        payload[key] = draw(st.sampled_from(_wrong_kinds(keyed[key])).flatmap(
            lambda kind: _SCALARS[kind]))
    else:
        key = draw(st.text(min_size=1, max_size=30).filter(lambda k: k not in keyed))
        payload[key] = draw(st.one_of(*_SCALARS.values(), st.text(max_size=50)))
    return f"{how}:{key}", payload


def mutations(type_name: str, examples: int) -> list[Fuzz]:
    """``examples`` deterministic schema-driven bad payloads for ``type_name``."""
    drawn: list[tuple[str, dict[str, Any]]] = []

    @given(mutated_payload(type_name))
    @settings(max_examples=examples, derandomize=True, database=None, deadline=None,
              phases=[Phase.generate], suppress_health_check=list(HealthCheck))
    def collect(item):
        drawn.append(item)

    collect()
    out = []
    for how, payload in drawn[:examples]:
        envelope = fresh(type_name)
        envelope["payload"] = payload
        out.append(Fuzz(f"hypothesis:{how}", _dumps(envelope),
                        message_id=envelope["message_id"]))
    return out

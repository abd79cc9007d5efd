"""A message payload loaded without marshmallow's per-load machinery, when it is plainly
valid (issue 16: "validation compiled once for the hot bus path").

``compile_schema(schema)`` walks the schema's fields once and returns a loader:
``loader(data)`` is what ``schema.load(data)`` returns, for data whose every field is of
its plain JSON type and passes the field's validators; None for anything else, and the
caller then asks the schema itself, which decides and explains. So the loader is *sound*:
it never accepts what the schema refuses, and what it returns equals the schema's result
(``tests/unit/test_fastload.py`` holds it to that on every sample and on mutations of
them). Plain types are checked inline (text, whole numbers, numbers, booleans, UUIDs,
lists, nested objects); any other field (dates, dicts, custom fields) is left to the
field's own ``deserialize``. A schema with load hooks other than schema validators is not
compiled (``compile_schema`` returns None): the schema does all of its loads.

Why: loading a 17-field payload took ~150 µs through ``Schema.load``, and a case crosses
five to six such loads and builds; a third of it was the schema's bookkeeping (error
store, unknown-field pass, hook lookups) around the fields' own work.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields
from marshmallow.decorators import POST_LOAD, PRE_LOAD, VALIDATES, VALIDATES_SCHEMA
from marshmallow.utils import missing

Loader = Callable[[Any], Any]


class _Refused(Exception):
    """Not plainly valid: the schema decides."""


def compile_schema(schema: Schema) -> Callable[[Any], dict[str, Any] | None] | None:
    """The loader of ``schema`` (see the module docstring), or None if it cannot be
    compiled (load hooks, unknown fields not refused, dotted attributes)."""
    plan = _plan(schema)
    if plan is None:
        return None

    def load(data: Any) -> dict[str, Any] | None:
        try:
            return plan(data)
        except _Refused:
            return None
    return load


def _plan(schema: Schema) -> Loader | None:
    hooks = schema._hooks
    if hooks[PRE_LOAD] or hooks[POST_LOAD] or hooks[VALIDATES] or schema.unknown != RAISE:
        return None
    steps = []
    for name, field in schema.load_fields.items():
        attribute = field.attribute or name
        if "." in attribute:
            return None
        value_of = _value_loader(field, name)
        if value_of is None:
            return None
        steps.append((field.data_key or name, attribute, field, value_of))
    known = frozenset(data_key for data_key, *_ in steps)
    validators = [(getattr(schema, attr), kwargs.get("pass_original", False))
                  for attr, hook_many, kwargs in hooks[VALIDATES_SCHEMA] if not hook_many]

    def load(data: Any) -> dict[str, Any]:
        if type(data) is not dict or not known.issuperset(data):
            raise _Refused
        loaded: dict[str, Any] = {}
        for data_key, attribute, field, value_of in steps:
            raw = data.get(data_key, missing)
            if raw is missing:
                if field.required:
                    raise _Refused
                default = field.load_default
                if default is missing:
                    continue
                loaded[attribute] = default() if callable(default) else default
                continue
            loaded[attribute] = value_of(raw)
        for validator, pass_original in validators:
            try:
                if pass_original:
                    validator(loaded, data, partial=None, many=False, unknown=RAISE)
                else:
                    validator(loaded, partial=None, many=False, unknown=RAISE)
            except ValidationError:
                raise _Refused from None
        return loaded
    return load


def _value_loader(field: fields.Field, name: str) -> Loader | None:
    """value → loaded value of one present field (None allowed where the field allows
    it, then its validators); raises _Refused."""
    kind = _plain_kind(field, name)
    if kind is None:
        return None
    checks = list(field.validators)
    allow_none = field.allow_none

    def value_of(raw: Any) -> Any:
        if raw is None:
            if allow_none:
                return None
            raise _Refused
        value = kind(raw)
        for check in checks:
            try:
                if check(value) is False:
                    raise _Refused
            except ValidationError:
                raise _Refused from None
        return value
    return value_of


def _plain_kind(field: fields.Field, name: str) -> Loader | None:
    """The type check and conversion of a non-null value of ``field``."""
    kind = type(field)
    if kind is fields.String:
        return _text
    if kind is fields.Integer:
        return _whole
    if kind is fields.Float and not field.allow_nan:
        return _number
    if kind is fields.Boolean:
        return _boolean
    if kind is fields.UUID:
        return _uuid
    if kind is fields.Nested:
        return _nested(field)
    if kind is fields.List:
        inner = _value_loader(field.inner, name)
        return None if inner is None else _list_of(inner)
    return _deserialized_by(field, name)


def _text(raw: Any) -> str:
    if type(raw) is not str:
        raise _Refused
    return raw


def _whole(raw: Any) -> int:
    if type(raw) is not int:
        raise _Refused
    return raw


def _number(raw: Any) -> float:
    if type(raw) is not float and type(raw) is not int:
        raise _Refused
    try:
        value = float(raw)
    except OverflowError:
        raise _Refused from None
    if not math.isfinite(value):
        raise _Refused
    return value


def _boolean(raw: Any) -> bool:
    if type(raw) is not bool:
        raise _Refused
    return raw


def _uuid(raw: Any) -> uuid.UUID:
    if type(raw) is not str:
        raise _Refused
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise _Refused from None


def _nested(field: fields.Nested) -> Loader | None:
    if field.unknown not in (None, RAISE):
        return None
    schema = field.schema
    plan = _plan(schema)
    if plan is None:
        return None
    if not field.many:
        return plan
    return _list_of(plan)


def _list_of(item: Loader) -> Loader:
    def load(raw: Any) -> list[Any]:
        if type(raw) is not list:
            raise _Refused
        return [item(element) for element in raw]
    return load


def _deserialized_by(field: fields.Field, name: str) -> Loader:
    """Any other field: its own deserialize (it applies its validators again: harmless,
    they are pure)."""
    def load(raw: Any) -> Any:
        try:
            return field.deserialize(raw, name, None)
        except ValidationError:
            raise _Refused from None
    return load

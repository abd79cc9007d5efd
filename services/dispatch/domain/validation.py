"""Shared pieces of the domain's marshmallow validation (triage rules, escalation policy).

Operators edit rules and policies as JSON, so errors must name the exact field
(``rules.3.lead``) rather than dump marshmallow's nested dictionaries.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from marshmallow import Schema, fields, post_load, validate

from gridgov_common.work_calendar import TimeLimit, TimeUnit

__all__ = ["TimeLimitSchema", "flatten_errors", "summarise"]


class TimeLimitSchema(Schema):
    """``{"amount": 3, "unit": "working_days"}`` → ``TimeLimit`` (amount ≥ 0; integral
    amounts stay ints so that a rule set's JSON round-trips unchanged)."""

    amount = fields.Float(required=True, allow_nan=False, validate=validate.Range(min=0))
    unit = fields.String(required=True, validate=validate.OneOf([u.value for u in TimeUnit]))

    @post_load
    def _make(self, data: dict[str, Any], **kwargs: Any) -> TimeLimit:
        amount = data["amount"]
        return TimeLimit(int(amount) if float(amount).is_integer() else amount,
                         TimeUnit(data["unit"]))


def flatten_errors(messages: Any, path: str = "") -> dict[str, list[str]]:
    """marshmallow's nested error dict → ``{"rules.3.lead": ["..."]}``."""
    if isinstance(messages, Mapping):
        flat: dict[str, list[str]] = {}
        for key, value in messages.items():
            child = path if key == "_schema" else (f"{path}.{key}" if path else str(key))
            for sub_path, sub_messages in flatten_errors(value, child).items():
                flat.setdefault(sub_path, []).extend(sub_messages)
        return flat
    if isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        return {path or "_schema": list(messages)}
    if isinstance(messages, list):
        return flatten_errors(dict(enumerate(messages)), path)
    return {path or "_schema": [str(messages)]}


def summarise(errors: Mapping[str, list[str]]) -> str:
    """One line for logs and API messages: ``rules.3.lead: ...; version: ...``."""
    return "; ".join(f"{path}: {' '.join(msgs)}" for path, msgs in errors.items())

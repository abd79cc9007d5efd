"""Validation of the operators' dispatch configuration — triage rule sets (P5.3.2) and
escalation policies (P6.2 督办) — with marshmallow, outside the pure domain (issue 13): the
domain's ``RuleSet`` and ``EscalationPolicy`` are plain values, built here from JSON.

Operators edit rules and policies as JSON, so errors must name the exact field
(``rules.3.lead``) rather than dump marshmallow's nested dictionaries.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from marshmallow import Schema, ValidationError, fields, post_load, validate, validates_schema

from gridgov_common.contract.cases import Card
from gridgov_common.contract.routing import (
    CODE_MAX_LENGTH,
    CODE_RE,
    Priority,
    Severity,
    WorkCategory,
)
from gridgov_common.kernel.roles import STAFF_ROLES, Role
from gridgov_common.kernel.work_calendar import TimeLimit, TimeUnit
from services.dispatch.domain.escalation import (
    DEFAULT_POLICY_PATH,
    EscalationPolicy,
    KindRule,
    LadderLevel,
    PolicyError,
)
from services.dispatch.domain.states import HandlingLevel
from services.dispatch.domain.triage import (
    DEFAULT_RULES_PATH,
    RULE_ID_RE,
    TEXT_MAX,
    TOWN_PREFIX_RE,
    WILDCARD,
    Outcome,
    Rule,
    RuleSet,
    RuleSetError,
)

__all__ = ["RULE_SCHEMA", "TimeLimitSchema", "flatten_errors", "load_default_policy",
           "load_default_rules", "parse_policy", "parse_rule_set", "summarise"]


# --- shared pieces --------------------------------------------------------------------------

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


# --- triage rule sets (P5.3.2) ------------------------------------------------------------

def _one_of(values: Iterable[str], wildcard: bool = False) -> validate.OneOf:
    choices = [*values, *([WILDCARD] if wildcard else [])]
    return validate.OneOf(choices, error="Must be one of: {choices}.")


def _code(**kwargs: Any) -> fields.String:
    return fields.String(validate=[validate.Regexp(CODE_RE, error="Not a snake_case code."),
                                   validate.Length(max=CODE_MAX_LENGTH)], **kwargs)


class _RuleSchema(Schema):
    id = fields.String(required=True, validate=validate.Regexp(RULE_ID_RE))
    title = fields.String(load_default="", validate=validate.Length(max=200))
    work_category = fields.String(required=True, validate=_one_of(WorkCategory, True))
    subcategory = fields.String(required=True, validate=validate.Regexp(
        rf"^(?:\*|{CODE_RE.pattern[1:-1]})$", error="Must be a snake_case code or '*'."))
    severity = fields.String(required=True, validate=_one_of(Severity, True))
    town_prefix = fields.String(load_default=None, allow_none=True,
                                validate=validate.Regexp(TOWN_PREFIX_RE,
                                                         error="Must be 1-9 digits."))
    handling_level = fields.String(required=True, validate=_one_of(HandlingLevel))
    outcome = fields.String(required=True, validate=_one_of(Outcome))
    lead = _code(load_default=None, allow_none=True)
    assist = fields.List(_code(), load_default=list)
    priority = fields.String(required=True, validate=_one_of(Priority))
    ack_limit = fields.Nested(TimeLimitSchema, required=True)
    handle_limit = fields.Nested(TimeLimitSchema, required=True)
    closing_condition = fields.String(required=True, validate=validate.Length(1, TEXT_MAX))
    legal_basis = fields.String(required=True, validate=validate.Length(1, TEXT_MAX))

    @validates_schema
    def _consistent(self, data: dict[str, Any], **kwargs: Any) -> None:
        # P5.3.3: a prescribed time limit allows some time
        for name in ("ack_limit", "handle_limit"):
            if name in data and data[name].amount <= 0:
                raise ValidationError("must be more than zero", name)
        # P5.3.2: subcategories belong to a category, so a specific one needs its category
        if data.get("subcategory") not in (None, WILDCARD) \
                and data.get("work_category") == WILDCARD:
            raise ValidationError("a specific subcategory needs a specific work_category",
                                  "subcategory")
        self._check_departments(data)

    @staticmethod
    def _check_departments(data: dict[str, Any]) -> None:
        """P2.2: a dispatched case has exactly one lead department; a local one none."""
        lead, assist = data.get("lead"), data.get("assist") or []
        if data.get("outcome") == Outcome.DISPATCH:
            if not lead:
                raise ValidationError("a dispatch rule names its lead department", "lead")
            if lead in assist:
                raise ValidationError("the lead department cannot also assist", "assist")
            if len(set(assist)) != len(assist):
                raise ValidationError("assisting departments are listed twice", "assist")
        elif data.get("outcome") == Outcome.LOCAL and (lead or assist):
            raise ValidationError("a local rule names no departments", "lead")

    @post_load
    def _make(self, data: dict[str, Any], **kwargs: Any) -> Rule:
        return Rule(
            id=data["id"], title=data["title"], work_category=data["work_category"],
            subcategory=data["subcategory"], severity=data["severity"],
            town_prefix=data["town_prefix"],
            handling_level=HandlingLevel(data["handling_level"]),
            outcome=Outcome(data["outcome"]), lead=data["lead"], assist=tuple(data["assist"]),
            priority=Priority(data["priority"]), ack_limit=data["ack_limit"],
            handle_limit=data["handle_limit"], closing_condition=data["closing_condition"],
            legal_basis=data["legal_basis"],
        )


RULE_SCHEMA = _RuleSchema  # public: the API document's JSON Schema of a rule comes from it


class _RuleSetSchema(Schema):
    version = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
    description = fields.String(load_default="", validate=validate.Length(max=TEXT_MAX))
    rules = fields.List(fields.Nested(_RuleSchema), required=True,
                        validate=validate.Length(min=1))

    @validates_schema
    def _whole_set(self, data: dict[str, Any], **kwargs: Any) -> None:
        rules: list[Rule] = data.get("rules") or []
        ids = [rule.id for rule in rules]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValidationError(f"rule ids used twice: {', '.join(duplicates)}", "rules")
        keys: dict[tuple[str, str, str, str], str] = {}
        for rule in rules:
            if rule.match_key in keys:
                raise ValidationError(
                    f"rules {keys[rule.match_key]} and {rule.id} match exactly the same "
                    "cases; which one applies would be arbitrary", "rules")
            keys[rule.match_key] = rule.id
        # P5.3.2: every case must be triaged somewhere
        if rules and not any(rule.is_catch_all for rule in rules):
            raise ValidationError(
                "a catch-all rule (work_category, subcategory and severity '*', no "
                "town_prefix) is mandatory", "rules")


# --- escalation policies (P6.2) -----------------------------------------------------------

_LADDER_ROLES = sorted(role.value for role in STAFF_ROLES)


class _RungSchema(Schema):
    level = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
    role = fields.String(required=True, validate=validate.OneOf(_LADDER_ROLES))

    @post_load
    def _make(self, data: dict[str, Any], **kwargs: Any) -> LadderLevel:
        return LadderLevel(data["level"], Role(data["role"]))


def _positive(limit: TimeLimit | None) -> bool:
    return limit is None or limit.amount > 0


class _KindSchema(Schema):
    waits = fields.List(fields.Nested(TimeLimitSchema), required=True,
                        validate=validate.Length(min=1))
    urgent_waits = fields.List(fields.Nested(TimeLimitSchema), load_default=None)
    cards = fields.List(fields.String(allow_none=True,
                                      validate=validate.OneOf([c.value for c in Card])),
                        required=True)
    repeat_every = fields.Nested(TimeLimitSchema, load_default=None, allow_none=True)
    urgent_repeat_every = fields.Nested(TimeLimitSchema, load_default=None, allow_none=True)
    max_repeats = fields.Integer(load_default=0, strict=True, validate=validate.Range(0, 20))

    @validates_schema
    def _consistent(self, data: dict[str, Any], **kwargs: Any) -> None:
        waits = data.get("waits") or []
        if len(data.get("cards") or []) != len(waits):
            raise ValidationError("one card (or null) per wait", "cards")
        if data.get("urgent_waits") is not None and len(data["urgent_waits"]) != len(waits):
            raise ValidationError("urgent_waits needs one wait per level", "urgent_waits")
        if data.get("max_repeats") and not data.get("repeat_every"):
            raise ValidationError("repeats need repeat_every", "repeat_every")
        # a zero repeat interval would fire every repeat at once
        for name in ("repeat_every", "urgent_repeat_every"):
            if not _positive(data.get(name)):
                raise ValidationError("must be more than zero", name)

    @post_load
    def _make(self, data: dict[str, Any], **kwargs: Any) -> KindRule:
        waits = tuple(data["waits"])
        return KindRule(
            waits=waits, urgent_waits=tuple(data["urgent_waits"] or waits),
            cards=tuple(Card(c) if c else None for c in data["cards"]),
            repeat_every=data["repeat_every"],
            urgent_repeat_every=data["urgent_repeat_every"] or data["repeat_every"],
            max_repeats=data["max_repeats"],
        )


class _PolicySchema(Schema):
    version = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
    description = fields.String(load_default="", validate=validate.Length(max=1000))
    ladder = fields.List(fields.Nested(_RungSchema), required=True,
                         validate=validate.Length(min=1))
    ack_timeout = fields.Nested(_KindSchema, required=True)
    overdue = fields.Nested(_KindSchema, required=True)

    @validates_schema
    def _ladder(self, data: dict[str, Any], **kwargs: Any) -> None:
        ladder: list[LadderLevel] = data.get("ladder") or []
        if [rung.level for rung in ladder] != list(range(1, len(ladder) + 1)):
            raise ValidationError("ladder levels must be 1, 2, 3, … in order", "ladder")
        for name in ("ack_timeout", "overdue"):
            rule = data.get(name)
            if rule is not None and len(rule.waits) != len(ladder):
                raise ValidationError("one wait per ladder level", name)

    @post_load
    def _make(self, data: dict[str, Any], **kwargs: Any) -> EscalationPolicy:
        return EscalationPolicy(data["version"], tuple(data["ladder"]), data["ack_timeout"],
                                data["overdue"], data["description"])


# --- building the domain's values -----------------------------------------------------------

def parse_rule_set(data: Mapping[str, Any]) -> RuleSet:
    """Validate and build; raises ``RuleSetError`` naming every failing field."""
    try:
        loaded = _RuleSetSchema().load(dict(data))
    except ValidationError as exc:
        errors = flatten_errors(exc.messages)
        raise RuleSetError(f"invalid triage rule set: {summarise(errors)}", errors) from None
    return RuleSet(loaded["version"], tuple(loaded["rules"]), loaded["description"])


def parse_policy(data: Mapping[str, Any]) -> EscalationPolicy:
    """Validate and build; raises ``PolicyError`` naming the failing fields."""
    try:
        return _PolicySchema().load(dict(data))
    except ValidationError as exc:
        errors = flatten_errors(exc.messages)
        raise PolicyError(f"invalid escalation policy: {summarise(errors)}", errors) from None


def load_default_rules(path: Path = DEFAULT_RULES_PATH) -> RuleSet:
    """The shipped default rules (``domain/default_rules.json``), validated."""
    return parse_rule_set(json.loads(path.read_text(encoding="utf-8")))


def load_default_policy(path: Path = DEFAULT_POLICY_PATH) -> EscalationPolicy:
    """The shipped supervision ladder (``domain/default_escalation.json``), validated."""
    return parse_policy(json.loads(path.read_text(encoding="utf-8")))

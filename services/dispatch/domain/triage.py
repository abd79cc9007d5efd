"""Triage rules as data (P5.3.2 分流交办) with their time limits (P5.3.3).

Real systems keep, per subcategory, the filing condition, handling time limit, closing
condition, responsible department and legal basis as master data (DOMAIN-REFERENCES §2).
Here they are a versioned ``RuleSet`` (JSON, validated outside the domain by
``services/dispatch/config_schemas.py``): each rule matches on (work category, subcategory,
severity, town-code prefix) and says who handles the case, how fast, and whether it stays
at a level or goes to departments.

Versions are immutable: a running case keeps the rule version it started with (its due
times and escalations must not change when an operator edits the rules), so a ``RuleBook``
holds every version and looks rules up by (version, rule id).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

from gridgov_common.contract.routing import (
    Priority,
)
from gridgov_common.kernel.work_calendar import TimeLimit, TimeUnit, WorkCalendar
from services.dispatch.domain.states import HandlingLevel

__all__ = [
    "DEFAULT_RULES_PATH", "WILDCARD", "CaseFacts", "Outcome", "Rule",
    "RuleBook", "RuleSet", "RuleSetError", "SubcategoryDefaults", "TriageFacts", "UnknownRule",
    "deadlines", "with_defaults",
]

WILDCARD = "*"
DEFAULT_RULES_PATH = Path(__file__).resolve().parent / "default_rules.json"
RULE_ID_RE = r"^[a-z0-9][a-z0-9_.-]{0,79}$"
TOWN_PREFIX_RE = r"^\d{1,9}$"  # a prefix of a 9-digit town code: district (6) or town (9)
TEXT_MAX = 1000


class Outcome(StrEnum):
    """P5.3.2: handle at own level, or route to the responsible department(s)."""

    LOCAL = "local"
    DISPATCH = "dispatch"


class RuleSetError(ValueError):
    """A rule set failed validation; ``errors`` maps field paths to messages."""

    def __init__(self, message: str, errors: Mapping[str, list[str]] | None = None) -> None:
        super().__init__(message)
        self.errors = dict(errors or {})


class UnknownRule(LookupError):
    """No rule set with that version, or no rule with that id in it."""


class TriageFacts(Protocol):
    """What triage looks at in a case (attributes of ``CaseFacts`` or a service row)."""

    work_category: str
    subcategory: str
    severity: str
    town_code: str


@dataclass(frozen=True, slots=True)
class CaseFacts:
    work_category: str
    subcategory: str
    severity: str
    town_code: str

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> CaseFacts:
        """From a ``CaseReportedV1`` payload or a ``cases`` row mapping."""
        return cls(str(data["work_category"]), str(data["subcategory"]),
                   str(data["severity"]), str(data["town_code"]))


@dataclass(frozen=True, slots=True)
class Rule:
    """One triage rule.  ``handling_level`` is the level that owns the case: the level
    that handles it (``local``) or the level that whistles the departments (``dispatch``,
    normally the town, P2.2)."""

    id: str
    work_category: str  # a WorkCategory value or "*"
    subcategory: str  # a code or "*"
    severity: str  # a Severity value or "*"
    town_prefix: str | None
    handling_level: HandlingLevel
    outcome: Outcome
    lead: str | None
    assist: tuple[str, ...]
    priority: Priority
    ack_limit: TimeLimit
    handle_limit: TimeLimit
    closing_condition: str
    legal_basis: str
    title: str = ""

    @property
    def departments(self) -> tuple[str, ...]:
        """Lead first, then the assisting departments (empty for local handling)."""
        return ((self.lead,) if self.lead else ()) + self.assist

    @property
    def match_key(self) -> tuple[str, str, str, str]:
        return (self.work_category, self.subcategory, self.severity, self.town_prefix or "")

    @property
    def specificity(self) -> tuple[int, int, int]:
        """P5.3.2 most specific rule wins: subcategory > category > wildcard, then a
        specific severity, then a longer town prefix."""
        if self.subcategory != WILDCARD:
            category_rank = 2
        else:
            category_rank = 1 if self.work_category != WILDCARD else 0
        return (category_rank, int(self.severity != WILDCARD), len(self.town_prefix or ""))

    @property
    def is_catch_all(self) -> bool:
        return self.match_key == (WILDCARD, WILDCARD, WILDCARD, "")

    def matches(self, case: TriageFacts) -> bool:
        return (
            self.work_category in (WILDCARD, str(case.work_category))
            and self.subcategory in (WILDCARD, str(case.subcategory))
            and self.severity in (WILDCARD, str(case.severity))
            and str(case.town_code).startswith(self.town_prefix or "")
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "title": self.title, "work_category": self.work_category,
            "subcategory": self.subcategory, "severity": self.severity,
            "town_prefix": self.town_prefix, "handling_level": self.handling_level.value,
            "outcome": self.outcome.value, "lead": self.lead, "assist": list(self.assist),
            "priority": self.priority.value, "ack_limit": self.ack_limit.to_dict(),
            "handle_limit": self.handle_limit.to_dict(),
            "closing_condition": self.closing_condition, "legal_basis": self.legal_basis,
        }


# --- rule sets ----------------------------------------------------------------------------

def _canonical(data: Any) -> bytes:
    return json.dumps(data, sort_keys=True, ensure_ascii=False,
                      separators=(",", ":")).encode("utf-8")


@dataclass(frozen=True, slots=True)
class RuleSet:
    """One immutable version of the triage rules."""

    version: int
    rules: tuple[Rule, ...]
    description: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"version": self.version, "description": self.description,
                "rules": [rule.to_dict() for rule in self.rules]}

    @property
    def fingerprint(self) -> str:
        """sha256 of the canonical JSON: the same version must always mean the same rules."""
        return hashlib.sha256(_canonical(self.to_dict())).hexdigest()

    def match(self, case: TriageFacts) -> Rule:
        """P5.3.2: the most specific matching rule (see ``Rule.specificity``).  Validation
        guarantees a catch-all and no two rules with the same match, so there is exactly
        one answer."""
        candidates = [rule for rule in self.rules if rule.matches(case)]
        if not candidates:  # only if built without validation
            raise UnknownRule(f"rule set {self.version} has no rule for {case!r}")
        return max(candidates, key=lambda rule: rule.specificity)

    def rule(self, rule_id: str) -> Rule:
        for rule in self.rules:
            if rule.id == rule_id:
                return rule
        raise UnknownRule(f"rule set {self.version} has no rule {rule_id!r}")


class RuleBook:
    """Every version of the rules, so a running case keeps the rules it started with."""

    def __init__(self, rule_sets: Iterable[RuleSet] = ()) -> None:
        self._sets: dict[int, RuleSet] = {}
        for rule_set in rule_sets:
            self.add(rule_set)

    def add(self, rule_set: RuleSet) -> None:
        """Register a version; re-adding identical content is harmless, changing a
        published version is refused (edit by publishing a new version)."""
        existing = self._sets.get(rule_set.version)
        if existing is not None and existing.fingerprint != rule_set.fingerprint:
            raise RuleSetError(f"rule set version {rule_set.version} already exists with "
                               "different rules; publish a new version instead")
        self._sets[rule_set.version] = rule_set

    @property
    def versions(self) -> list[int]:
        return sorted(self._sets)

    @property
    def current(self) -> RuleSet:
        """The newest version: the one new cases are triaged with."""
        if not self._sets:
            raise UnknownRule("no triage rule set loaded")
        return self._sets[max(self._sets)]

    def get(self, version: int) -> RuleSet:
        try:
            return self._sets[version]
        except KeyError:
            raise UnknownRule(f"no triage rule set version {version}") from None

    def rule(self, version: int, rule_id: str) -> Rule:
        return self.get(version).rule(rule_id)


@dataclass(frozen=True, slots=True)
class SubcategoryDefaults:
    """A subcategory's handling defaults from the catalogue events owns (DOMAIN-REFERENCES
    §2: time limit and closing condition are per-subcategory master data); None / "" where
    the catalogue sets none."""

    handling_level: HandlingLevel | None = None
    ack_limit: TimeLimit | None = None
    handle_limit: TimeLimit | None = None
    closing_condition: str = ""

    @classmethod
    def from_entry(cls, entry: Mapping[str, Any]) -> SubcategoryDefaults:
        """From an ``events.catalogue.published`` entry (v1 entries have no defaults)."""
        level = entry.get("handling_level")
        return cls(HandlingLevel(level) if level else None, _limit(entry.get("ack_limit")),
                   _limit(entry.get("handle_limit")), entry.get("closing_condition") or "")


def _limit(data: Mapping[str, Any] | None) -> TimeLimit | None:
    """A limit of a catalogue entry the bus contract has checked; integral amounts stay
    ints, as in a rule set (so the rule a case runs under round-trips unchanged)."""
    if not data:
        return None
    amount = data["amount"]
    return TimeLimit(int(amount) if float(amount).is_integer() else amount,
                     TimeUnit(data["unit"]))


def with_defaults(rule: Rule, defaults: SubcategoryDefaults | None) -> Rule:
    """The rule a case runs under: a rule naming the subcategory is the district's own
    decision and stands; a rule that matched it only by wildcard takes the subcategory's
    catalogue defaults where the catalogue sets them (time limits, closing condition and,
    for cases handled at their own level, the level, P5.3.2/P5.3.3).  Departments, outcome
    and priority stay the rule's: routing is the rule set's job (docs/CASE-FLOW.md §1.1)."""
    if defaults is None or rule.subcategory != WILDCARD:
        return rule
    changes: dict[str, Any] = {}
    if defaults.ack_limit is not None:
        changes["ack_limit"] = defaults.ack_limit
    if defaults.handle_limit is not None:
        changes["handle_limit"] = defaults.handle_limit
    if defaults.closing_condition:
        changes["closing_condition"] = defaults.closing_condition
    if defaults.handling_level is not None and rule.outcome == Outcome.LOCAL:
        changes["handling_level"] = defaults.handling_level
    return replace(rule, **changes) if changes else rule


def deadlines(rule: Rule, start: datetime, calendar: WorkCalendar) -> tuple[datetime, datetime]:
    """(ack_due_at, handle_due_at) in UTC, both counted from ``start``: the clock starts
    when the case is dispatched or taken up locally (DOMAIN-REFERENCES §1; P5.3.3)."""
    return calendar.add(start, rule.ack_limit), calendar.add(start, rule.handle_limit)

"""Exchanges, routing keys and code formats of the gridgov bus.

Every producer and consumer, ours or a department's, builds and parses routing keys with
these functions, so a malformed key is refused where it is made instead of silently
matching no binding (a topic exchange drops what no queue is bound to).
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import NamedTuple

from gridgov_common.kernel.area import Level, code_pattern

# Exchanges: plain durable topic exchanges, declarable from any AMQP 0-9-1 client.
DISPATCH_EXCHANGE = "gridgov.dispatch"  # P2.2 "town whistles": assignments to departments
REPORTS_EXCHANGE = "gridgov.reports"  # P2.2 "departments report in"
ALERTS_EXCHANGE = "gridgov.alerts"  # P5.2 item 7: major-event reports, at once
INTAKE_EXCHANGE = "gridgov.intake"  # P6.2: departments push data and cases to the platform
EVENTS_EXCHANGE = "gridgov.events"  # internal domain events between gridgov services
DEAD_LETTER_EXCHANGE = "gridgov.dlx"  # one <queue>.dlq per consuming queue
EXCHANGE_TYPE = "topic"

EXCHANGES: tuple[str, ...] = (
    DISPATCH_EXCHANGE,
    REPORTS_EXCHANGE,
    ALERTS_EXCHANGE,
    INTAKE_EXCHANGE,
    EVENTS_EXCHANGE,
    DEAD_LETTER_EXCHANGE,
)

REJECTIONS = "rejections"  # second word of `<department>.rejections` on gridgov.dispatch
DECISIONS = "decisions"  # second word of `<department>.decisions` on gridgov.dispatch
DLQ_SUFFIX = ".dlq"

# Codes. Department, source and producer codes are lowercase snake_case (P4.2 lists the
# departments; the list grows, so the format is checked, not membership).
CODE_RE = re.compile(r"^[a-z][a-z0-9]*(?:_[a-z0-9]+)*$")
CODE_MAX_LENGTH = 48
# GB/T 2260 county (6) + GB/T 10114 town (3); + the community's statistical code (3);
# P4.1: + the grid's sequence (3) — the lengths are gridgov_common/kernel/area.py's
TOWN_CODE_RE = re.compile(code_pattern(Level.TOWN))
COMMUNITY_CODE_RE = re.compile(code_pattern(Level.COMMUNITY))
GRID_CODE_RE = re.compile(code_pattern(Level.GRID))


class WorkCategory(StrEnum):
    """P5.2: work categories of a case (items 1-8 of the policy, in order)."""

    LIVELIHOOD_SERVICE = "livelihood_service"
    PUBLIC_OPINION = "public_opinion"
    DISPUTE_MEDIATION = "dispute_mediation"
    PUBLIC_SECURITY_PREVENTION = "public_security_prevention"
    SPECIAL_GROUP_ASSISTANCE = "special_group_assistance"
    POLICY_PUBLICITY = "policy_publicity"
    MAJOR_EVENT = "major_event"
    OTHER = "other"


class InfoClass(StrEnum):
    """P5.4.4 information classes ("one grid, one ledger"); the policy gives no code list,
    these codes are ours."""

    PARTY_MASS_ORGANISATIONS = "party_mass_organisations"  # 党群组织
    ECONOMY_FINANCE = "economy_finance"  # 经济财政
    STABILITY_GOVERNANCE = "stability_governance"  # 综治维稳
    SOCIAL_AFFAIRS = "social_affairs"  # 社会事务
    POPULATION_FAMILY_PLANNING = "population_family_planning"  # 人口计生
    LABOUR_SOCIAL_SECURITY = "labour_social_security"  # 劳动保障
    URBAN_MANAGEMENT = "urban_management"  # 城市管理
    CULTURE_EDUCATION_SPORT = "culture_education_sport"  # 文教体育


class Priority(StrEnum):
    """P2.1 "rapid response": how fast a dispatched case must be taken up."""

    NORMAL = "normal"
    URGENT = "urgent"
    MAJOR = "major"


class Severity(StrEnum):
    """P5.2 item 7: major events are graded so that alerts can be routed by gravity."""

    MINOR = "minor"
    MAJOR = "major"
    CRITICAL = "critical"


class ReportKind(StrEnum):
    """P2.2 / P5.3.3: what a department reports back about a case it was given."""

    ACK = "ack"  # "report in": the department has taken the case
    PROGRESS = "progress"
    RESULT = "result"  # P5.3.3: finished within the time limit, result reported
    RETURN = "return"  # not ours: sent back with a reason (退办)
    DELAY_REQUEST = "delay_request"  # asks for more time (延时)


class RoutingKeyError(ValueError):
    """A routing key or one of its parts does not follow the contract."""


class DispatchKey(NamedTuple):
    department: str
    town_code: str
    work_category: WorkCategory
    priority: Priority


class ReportKey(NamedTuple):
    department: str
    kind: ReportKind


class AlertKey(NamedTuple):
    town_code: str
    severity: Severity
    category: str


class IntakeKey(NamedTuple):
    source: str
    entity: str
    action: str


class EventKey(NamedTuple):
    producer: str
    event_type: str


def check_code(value: str, what: str = "code") -> str:
    """Return ``value`` if it is a lowercase snake_case code, else raise RoutingKeyError."""
    if not isinstance(value, str) or len(value) > CODE_MAX_LENGTH or not CODE_RE.match(value):
        raise RoutingKeyError(f"{what} must be lowercase snake_case (got {value!r})")
    return value


def check_town_code(value: str) -> str:
    if not isinstance(value, str) or not TOWN_CODE_RE.match(value):
        raise RoutingKeyError(f"town code must be 9 digits (got {value!r})")
    return value


def _enum(enum_cls: type[StrEnum], value: str, what: str) -> StrEnum:
    try:
        return enum_cls(value)
    except ValueError:
        allowed = "|".join(member.value for member in enum_cls)
        raise RoutingKeyError(f"{what} must be one of {allowed} (got {value!r})") from None


def _split(key: str, parts: int, what: str) -> list[str]:
    words = key.split(".") if isinstance(key, str) else []
    if len(words) != parts:
        raise RoutingKeyError(f"{what} key must have {parts} dot-separated words (got {key!r})")
    return words


def dispatch_key(department: str, town_code: str, work_category: str, priority: str) -> str:
    """`<department>.<town_code>.<work_category>.<priority>` on gridgov.dispatch."""
    return ".".join((
        check_code(department, "department"),
        check_town_code(town_code),
        _enum(WorkCategory, work_category, "work category").value,
        _enum(Priority, priority, "priority").value,
    ))


def parse_dispatch_key(key: str) -> DispatchKey:
    department, town, category, priority = _split(key, 4, "dispatch")
    dispatch_key(department, town, category, priority)
    return DispatchKey(department, town, WorkCategory(category), Priority(priority))


def rejection_key(department: str) -> str:
    """`<department>.rejections` on gridgov.dispatch: reports of theirs we refused."""
    return f"{check_code(department, 'department')}.{REJECTIONS}"


def parse_rejection_key(key: str) -> str:
    """Return the department of a rejection key."""
    department, word = _split(key, 2, "rejection")
    if word != REJECTIONS:
        raise RoutingKeyError(f"rejection key must end in .{REJECTIONS} (got {key!r})")
    return check_code(department, "department")


def decision_key(department: str) -> str:
    """`<department>.decisions` on gridgov.dispatch: decisions on requests of theirs
    (P5.3.3 delay requests)."""
    return f"{check_code(department, 'department')}.{DECISIONS}"


def parse_decision_key(key: str) -> str:
    """Return the department of a decision key."""
    department, word = _split(key, 2, "decision")
    if word != DECISIONS:
        raise RoutingKeyError(f"decision key must end in .{DECISIONS} (got {key!r})")
    return check_code(department, "department")


def report_key(department: str, kind: str) -> str:
    """`<department>.<kind>` on gridgov.reports."""
    return f"{check_code(department, 'department')}.{_enum(ReportKind, kind, 'report kind')}"


def parse_report_key(key: str) -> ReportKey:
    department, kind = _split(key, 2, "report")
    report_key(department, kind)
    return ReportKey(department, ReportKind(kind))


def alert_key(town_code: str, severity: str, category: str) -> str:
    """`<town_code>.<severity>.<category>` on gridgov.alerts (category: snake_case code)."""
    return ".".join((
        check_town_code(town_code),
        _enum(Severity, severity, "severity").value,
        check_code(category, "alert category"),
    ))


def parse_alert_key(key: str) -> AlertKey:
    town, severity, category = _split(key, 3, "alert")
    alert_key(town, severity, category)
    return AlertKey(town, Severity(severity), category)


def intake_key(source: str, entity: str, action: str) -> str:
    """`<source>.<entity>.<action>` on gridgov.intake, e.g. civil_affairs.resident.moved_out."""
    return ".".join((
        check_code(source, "source"), check_code(entity, "entity"), check_code(action, "action")
    ))


def parse_intake_key(key: str) -> IntakeKey:
    source, entity, action = _split(key, 3, "intake")
    intake_key(source, entity, action)
    return IntakeKey(source, entity, action)


def event_key(producer: str, event_type: str) -> str:
    """`<producer>.<type>` on gridgov.events; the type may itself be dotted.

    The key of an event equals its envelope ``type`` (``registry.grid.changed`` is producer
    ``registry``, type ``grid.changed``), so subscribers bind ``registry.#`` or
    ``registry.grid.*``.
    """
    words = event_type.split(".") if isinstance(event_type, str) else [""]
    for word in words:
        check_code(word, "event type word")
    return f"{check_code(producer, 'producer')}.{event_type}"


def parse_event_key(key: str) -> EventKey:
    if not isinstance(key, str) or "." not in key:
        raise RoutingKeyError(f"event key must be <producer>.<type> (got {key!r})")
    producer, event_type = key.split(".", 1)
    event_key(producer, event_type)
    return EventKey(producer, event_type)


def dlq_name(queue: str) -> str:
    """Name (and dead-letter routing key) of a consuming queue's dead-letter queue."""
    return f"{queue}{DLQ_SUFFIX}"


def _check_dispatch(key: str) -> None:
    if key.endswith(f".{REJECTIONS}"):
        parse_rejection_key(key)
    elif key.endswith(f".{DECISIONS}"):
        parse_decision_key(key)
    else:
        parse_dispatch_key(key)


_CHECKERS = {
    DISPATCH_EXCHANGE: _check_dispatch,
    REPORTS_EXCHANGE: parse_report_key,
    ALERTS_EXCHANGE: parse_alert_key,
    INTAKE_EXCHANGE: parse_intake_key,
    EVENTS_EXCHANGE: parse_event_key,
}


def validate_routing_key(exchange: str, key: str) -> str:
    """Check that ``key`` is a valid routing key for publishing to ``exchange``.

    Publishing to the dead-letter exchange is the consumers' business, not a producer's,
    so it is refused here.
    """
    checker = _CHECKERS.get(exchange)
    if checker is None:
        raise RoutingKeyError(f"not a publishable gridgov exchange: {exchange!r}")
    checker(key)
    return key

"""A notification request and its recipients, whatever message it came from.

Recipients are addressed as a token would be scoped (P5.0: a role over a scope of its
level) or by subscription id; a subscription reaches a recipient when its scope covers the
recipient's as a token's scope covers a record.  The database work (storing, finding
subscriptions) is ``services/notify/accepting.py``'s.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from gridgov_common.kernel.auth import parse_scope
from gridgov_common.kernel.roles import Role, ScopeLevel
from services.notify.domain import templates

ALERT_PRIORITY = 0  # major events first (P5.2.7), in the sender and in the inbox
NORMAL_PRIORITY = 1


class Refused(Exception):
    """A request that can never be served (unknown template, role, subscriber…)."""

    def __init__(self, code: str, message: str, fields: Mapping[str, Any] | None = None):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.fields = dict(fields or {})


@dataclass(frozen=True)
class Request:
    """A notification request, whatever message it came from."""

    cause_id: str
    case_id: str | None
    kind: str
    template: str
    locale: str
    recipients: list[dict[str, Any]]
    params: dict[str, Any]
    producer: str
    priority: int = NORMAL_PRIORITY
    extra: dict[str, Any] = field(default_factory=dict)
    # The outside channels this request may use; None: every channel subscribed.  The
    # inbox is always written (it is where a follow-up belongs, M17).
    channels: frozenset[str] | None = None


@dataclass(frozen=True)
class People:
    """Everyone holding ``role`` over the scope ``level:code`` (an inbox addressee)."""

    role: str
    level: str
    code: str

    @property
    def key(self) -> str:
        return f"inbox:{self.role}@{self.level}:{self.code}"


class Subscription(Protocol):
    """What the reach rule reads of a stored subscription."""

    subscription_id: int
    role: str
    scope_level: str
    scope_code: str
    channel: str
    kinds: list[str] | None


@dataclass(frozen=True)
class Plan:
    """A checked request: its people groups and the subscriptions it names by id."""

    request: Request
    groups: list[People]
    subscriber_ids: list[int]


def people(recipient: Mapping[str, Any]) -> People:
    """Check (role, scope) as a token's would be checked (P5.0 role ↔ scope level)."""
    try:
        role = Role(recipient["role"])
        level, code = parse_scope(role, recipient["scope"])
    except ValueError as exc:
        raise Refused("bad_recipient", str(exc), {"recipient": dict(recipient)}) from None
    return People(role.value, level.value, code)


def covers(sub_level: str, sub_code: str, who: People) -> bool:
    """A subscription's scope covers a recipient's as a token's scope covers a record."""
    if ScopeLevel.DEPARTMENT in (sub_level, who.level):
        return sub_level == who.level and sub_code == who.code
    return who.code.startswith(sub_code)


def plan(request: Request) -> Plan:
    """The request checked against its template and split into people groups (one per
    distinct role and scope) and subscriptions named by id; Refused when it cannot be."""
    try:
        templates.check(request.template, request.params)
    except templates.TemplateError as exc:
        raise Refused(exc.code, exc.message, exc.fields) from None
    groups = list({g.key: g for g in (people(r) for r in request.recipients
                                      if "role" in r)}.values())
    return Plan(request, groups, [r["subscriber"] for r in request.recipients
                                  if "subscriber" in r])


def reached(plan: Plan, active: Iterable[Subscription]) -> list[Subscription]:
    """The active subscriptions ``plan`` reaches: named by id (an unknown or inactive id
    refuses the request) or by role over a covering scope; then only those taking the
    request's kind on a channel the request may use."""
    active = list(active)
    by_id = {row.subscription_id: row for row in active}
    unknown = sorted(set(plan.subscriber_ids) - set(by_id))
    if unknown:
        raise Refused("unknown_subscriber", f"no active subscription {unknown}",
                      {"subscriber": unknown})
    found = {i: by_id[i] for i in plan.subscriber_ids}
    found.update({row.subscription_id: row for row in active if any(
        g.role == row.role and covers(row.scope_level, row.scope_code, g)
        for g in plan.groups)})
    kind, channels = plan.request.kind, plan.request.channels
    return [row for row in found.values()
            if (row.kinds is None or kind in row.kinds)
            and (channels is None or row.channel in channels)]

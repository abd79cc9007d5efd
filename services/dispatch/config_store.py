"""Versioned configuration of dispatch kept in its database: triage rule sets, escalation
policies (P6.2), calendar overrides (调休 corrections) and the years whose State Council
holiday notice was entered (``calendar_years``: no estimate for them).

A version, once stored, never changes (a running case keeps the rule set and ladder it
started with, P5.3.2/P6.2), so versions are cached per process for good; "current" (the
highest version) is re-read at most every ``CURRENT_TTL`` seconds so that a version added by
one replica is picked up by the others.  When a table is empty the packaged default
(``domain/default_*.json``) is stored as version 1, so every case refers to a stored version.

Operators add versions and overrides through the admin API (``admin``); after such a write
this replica drops its cached "current" (``drop_current``) so its next new case uses the new
version at once, while other replicas pick it up within ``CURRENT_TTL``.
"""

from __future__ import annotations

import time
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg

from gridgov_common.kernel.work_calendar import WorkCalendar
from services.dispatch import config_schemas
from services.dispatch.domain import escalation, triage
from services.dispatch.models import (
    calendar_overrides,
    calendar_years,
    escalation_policies,
    rule_sets,
)

CURRENT_TTL = 5.0
SEEDED_BY = "system:default"

_rule_sets: dict[int, triage.RuleSet] = {}
_policies: dict[int, escalation.EscalationPolicy] = {}
_current: dict[str, tuple[float, int]] = {}
_calendar: list[Any] = []  # [(loaded_at, WorkCalendar)]


def _seed(session, table, column: str, body: dict[str, Any]) -> None:
    """Store the packaged default as version 1 in a transaction of its own, committed at
    once. Seeding inside a case's transaction made every other worker wait on (or fail to
    see) an uncommitted version until that case committed, or forever if it died."""
    insert = (pg.insert(table).values(version=body["version"], created_by=SEEDED_BY,
                                      **{column: body})
              .on_conflict_do_nothing(index_elements=["version"]))
    bind = session.get_bind()
    if not isinstance(bind, sa.Engine):  # a session bound to a caller's connection
        session.execute(insert)
        return
    with bind.begin() as conn:
        conn.execute(insert)


def _current_version(session, kind: str, table, column: str, default_body) -> int:
    cached = _current.get(kind)
    if cached and time.monotonic() - cached[0] < CURRENT_TTL:
        return cached[1]
    version = session.execute(sa.select(sa.func.max(table.c.version))).scalar()
    if version is None:
        body = default_body()
        _seed(session, table, column, body)
        version = body["version"]
    _current[kind] = (time.monotonic(), version)
    return version


def rule_set(session, version: int | None = None) -> triage.RuleSet:
    """The triage rule set ``version`` (default: the current one)."""
    if version is None:
        version = _current_version(session, "rules", rule_sets, "rules",
                                   lambda: config_schemas.load_default_rules().to_dict())
    if version not in _rule_sets:
        body = session.execute(sa.select(rule_sets.c.rules)
                               .where(rule_sets.c.version == version)).scalar()
        if body is None:
            raise LookupError(f"no triage rule set version {version}")
        _rule_sets[version] = config_schemas.parse_rule_set(body)
    return _rule_sets[version]


def escalation_policy(session, version: int | None = None) -> escalation.EscalationPolicy:
    """The escalation policy ``version`` (default: the current one)."""
    if version is None:
        version = _current_version(session, "escalation", escalation_policies, "policy",
                                   lambda: config_schemas.load_default_policy().to_dict())
    if version not in _policies:
        body = session.execute(sa.select(escalation_policies.c.policy)
                               .where(escalation_policies.c.version == version)).scalar()
        if body is None:
            raise LookupError(f"no escalation policy version {version}")
        _policies[version] = config_schemas.parse_policy(body)
    return _policies[version]


def work_calendar(session) -> WorkCalendar:
    """The working-time calendar with the operators' overrides (re-read every few seconds)."""
    if _calendar and time.monotonic() - _calendar[0][0] < CURRENT_TTL:
        return _calendar[0][1]
    rows = session.execute(sa.select(calendar_overrides.c.day,
                                     calendar_overrides.c.is_workday)).all()
    overrides = {row.day: row.is_workday for row in rows}
    complete = frozenset(session.execute(sa.select(calendar_years.c.year)).scalars())
    calendar = _calendar[0][1] if _calendar else None
    if calendar is None or calendar.overrides != overrides \
            or calendar.complete_years != complete:  # else keep its day cache
        calendar = WorkCalendar(overrides, complete_years=complete)
    _calendar[:] = [(time.monotonic(), calendar)]
    return calendar


def drop_current(kind: str | None = None) -> None:
    """Forget the cached "current" of ``kind`` (``rules``, ``escalation`` or ``calendar``;
    None: all of them) so that the next read goes to the table.  Stored versions stay
    cached: they never change."""
    if kind in (None, "calendar"):
        _calendar.clear()
    if kind is None:
        _current.clear()
    else:
        _current.pop(kind, None)


def forget() -> None:
    """Drop cached "current" versions and the calendar (tests: after truncating tables)."""
    _current.clear()
    _calendar.clear()
    _rule_sets.clear()
    _policies.clear()

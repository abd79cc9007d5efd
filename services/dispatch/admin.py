"""Administration of dispatch's versioned configuration: triage rule sets (P5.3.2),
escalation policies (P6.2) and calendar overrides (P5.3.3 调休 corrections).

Versions are append-only: publishing stores a whole new version ``max + 1`` and never edits
an old one, so a running case keeps the rule set and ladder it was filed under; only cases
filed afterwards use the new version.  A body may name its ``version``: then it must be the
next one, else 409 (two operators editing from the same base do not silently overwrite each
other); without it the next version is assigned.  After a write this replica drops its
cached "current" (``config_store.drop_current``); other replicas see the change within
``config_store.CURRENT_TTL`` seconds.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg

from gridgov_common.kernel.errors import Conflict, NotFound, Unprocessable
from gridgov_common.kernel.roles import Role
from gridgov_common.kernel.work_calendar import DEFAULT_TZ
from services.dispatch import config_schemas, config_store, master_data
from services.dispatch.models import calendar_overrides, escalation_policies, rule_sets

MAX_CALENDAR_DAYS = 366
READERS = frozenset({Role.DISTRICT_ADMIN, Role.OPS_VIEWER})
WRITERS = frozenset({Role.DISTRICT_ADMIN})  # the district decides the rules (P5.3.2, P6.2)


@dataclass(frozen=True)
class Kind:
    """One versioned configuration table and how its bodies are validated."""

    name: str  # config_store's cache key
    what: str
    table: sa.Table
    column: str
    build: Callable[[dict[str, Any]], Any]  # parses: raises ValueError with .errors
    current: Callable[[Any], Any]  # config_store reader: seeds version 1 when empty
    # problems of a built version against other data (field -> messages); none by default
    check: Callable[[Any, Any], dict[str, list[str]]] = lambda session, built: {}


RULE_SETS = Kind("rules", "triage rule set", rule_sets, "rules", config_schemas.parse_rule_set,
                 config_store.rule_set, master_data.rule_set_problems)
POLICIES = Kind("escalation", "escalation policy", escalation_policies, "policy",
                config_schemas.parse_policy, config_store.escalation_policy)


def list_versions(session, kind: Kind) -> list[dict[str, Any]]:
    """Every version, newest first, with who stored it and when."""
    kind.current(session)  # stores the packaged default as version 1 if there is none
    body = kind.table.c[kind.column]
    rows = session.execute(sa.select(kind.table.c.version, kind.table.c.created_by,
                                     kind.table.c.created_at,
                                     body["description"].astext.label("description"))
                           .order_by(kind.table.c.version.desc())).mappings()
    return [dict(row) for row in rows]


INT4_MAX = 2**31 - 1  # the version columns are PostgreSQL integers


def get_version(session, kind: Kind, version: int) -> dict[str, Any]:
    if version > INT4_MAX:  # no such version; the database would refuse it (a 500)
        raise NotFound(f"no {kind.what} version {version}", code="unknown_version")
    kind.current(session)
    row = session.execute(sa.select(kind.table).where(kind.table.c.version == version)) \
        .mappings().first()
    if row is None:
        raise NotFound(f"no {kind.what} version {version}", code="unknown_version")
    return _shown(kind, row)


def _shown(kind: Kind, row) -> dict[str, Any]:
    return {"version": row["version"], "created_by": row["created_by"],
            "created_at": row["created_at"], kind.column: row[kind.column]}


def publish(session, kind: Kind, body: dict[str, Any], created_by: str) -> dict[str, Any]:
    """Validate ``body`` as a whole new version and store it as ``max + 1``."""
    kind.current(session)
    latest = session.execute(sa.select(sa.func.max(kind.table.c.version))).scalar() or 0
    version = latest + 1
    try:  # the content first: every failing field is reported, whatever the version
        built = kind.build({**body, "version": version})
    except ValueError as exc:  # RuleSetError / PolicyError name every failing field
        raise Unprocessable(str(exc), getattr(exc, "errors", {}) or {"_schema": [str(exc)]},
                            code=f"invalid_{kind.name}") from None
    problems = kind.check(session, built)  # issue 11: departments, subcategories exist
    if problems:
        raise Unprocessable(f"the {kind.what} names what does not exist",
                            problems, code=f"invalid_{kind.name}")
    if body.get("version") not in (None, version):
        raise Conflict(f"the next {kind.what} version is {version}, not {body['version']}",
                       {"version": [f"must be {version} (or left out)"]}, code="version_taken")
    stored = built.to_dict()
    inserted = session.execute(
        pg.insert(kind.table).values(version=version, created_by=created_by,
                                     **{kind.column: stored})
        .on_conflict_do_nothing(index_elements=["version"])
        .returning(kind.table.c.version, kind.table.c.created_by, kind.table.c.created_at,
                   kind.table.c[kind.column])).mappings().first()
    if inserted is None:  # another operator published the same version meanwhile
        raise Conflict(f"{kind.what} version {version} was just published by someone else",
                       {"version": ["taken; reload and try again"]}, code="version_taken")
    config_store.drop_current(kind.name)  # this replica: new cases use it at once
    return _shown(kind, inserted)


# --- calendar overrides (调休 corrections) ------------------------------------------------

def _range(start: date | None, end: date | None) -> tuple[date, date]:
    start = start or datetime.now(ZoneInfo(DEFAULT_TZ)).date()  # the calendar's own clock
    end = end or start + timedelta(days=30)
    if end < start:
        raise Unprocessable("'to' is before 'from'", {"to": ["must not be before from"]})
    if (end - start).days >= MAX_CALENDAR_DAYS:
        raise Unprocessable(f"at most {MAX_CALENDAR_DAYS} days at once",
                            {"to": [f"at most {MAX_CALENDAR_DAYS} days after from"]})
    return start, end


def list_overrides(session, start: date | None, end: date | None) -> list[dict[str, Any]]:
    start, end = _range(start, end)
    rows = session.execute(sa.select(calendar_overrides)
                           .where(calendar_overrides.c.day.between(start, end))
                           .order_by(calendar_overrides.c.day)).mappings()
    return [dict(row) for row in rows]


def put_override(session, day: date, is_workday: bool, note: str) -> tuple[bool, dict]:
    """Create or replace the override of ``day``; returns (created, row)."""
    existed = session.execute(sa.select(calendar_overrides.c.day)
                              .where(calendar_overrides.c.day == day)).first() is not None
    statement = pg.insert(calendar_overrides).values(day=day, is_workday=is_workday, note=note)
    session.execute(statement.on_conflict_do_update(
        index_elements=["day"], set_={"is_workday": is_workday, "note": note}))
    config_store.drop_current("calendar")
    return not existed, {"day": day, "is_workday": is_workday, "note": note}


def delete_override(session, day: date) -> None:
    gone = session.execute(sa.delete(calendar_overrides)
                           .where(calendar_overrides.c.day == day)).rowcount
    if not gone:
        raise NotFound(f"no calendar override on {day.isoformat()}", code="unknown_override")
    config_store.drop_current("calendar")


def calendar_days(session, start: date | None, end: date | None) -> list[dict[str, Any]]:
    """Each day's workday flag and which source decided it (override, chinese_calendar,
    holidays or the weekend-only fallback), as the deadline arithmetic sees it."""
    start, end = _range(start, end)
    notes = {row.day: row.note for row in session.execute(
        sa.select(calendar_overrides.c.day, calendar_overrides.c.note)
        .where(calendar_overrides.c.day.between(start, end)))}
    calendar = config_store.work_calendar(session)
    days = []
    for offset in range((end - start).days + 1):
        info = calendar.day_info(start + timedelta(days=offset))
        days.append({"day": info.day, "is_workday": info.is_workday,
                     "source": info.source.value, "note": notes.get(info.day, info.note)})
    return days


def parse_day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise Unprocessable(f"{text!r} is not a date (YYYY-MM-DD)",
                            {"date": ["Not a valid date."]}) from None

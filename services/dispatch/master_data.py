"""Master data dispatch follows from their one owner each, so that a rule set is checked
against what exists (issue 11: "a rule set may name any lead code without a check"):

- the department register, owned by the registry (``registry.department.changed`` v1): the
  newest state per code wins, an older message arriving late changes nothing;
- the subcategory catalogue, owned by events (``events.catalogue.published`` v1): every
  version is kept, the highest is current.

Both owners announce their whole state at start and hourly, so a new dispatch database
converges without a replay.  Nothing here is a hand-kept list.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB, insert

from gridgov_common.platform import department_register
from gridgov_common.platform.frozen import frozen
from gridgov_common.platform.messaging import claim_message
from services.dispatch.domain import triage
from services.dispatch.models import catalogue_versions, departments

CONSUMER = "dispatch.master_data"
DEPARTMENT_CHANGED = "registry.department.changed"
CATALOGUE_PUBLISHED = "events.catalogue.published"
MESSAGE_TYPES = (DEPARTMENT_CHANGED, CATALOGUE_PUBLISHED)


def apply(session, envelope) -> bool:
    """Store one message; False for a duplicate or a state older than the stored one."""
    if envelope.type == DEPARTMENT_CHANGED:
        return department_register.apply(session, departments, envelope, CONSUMER)
    if not claim_message(session, envelope.message_id, CONSUMER):
        return False
    return _catalogue(session, envelope.payload)


def _catalogue(session, p: dict[str, Any]) -> bool:
    stored = session.execute(
        insert(catalogue_versions).values(version=p["version"],
                                          subcategories=p["subcategories"],
                                          published_by=p["published_by"])
        .on_conflict_do_nothing(index_elements=["version"])
        .returning(catalogue_versions.c.version)).first()
    return stored is not None


def active_departments(session) -> dict[str, dict[str, Any]]:
    rows = session.execute(sa.select(departments).where(departments.c.active))
    return {row.code: dict(row._mapping) for row in rows}


def current_subcategories(session) -> dict[str, dict[str, Any]] | None:
    """The highest catalogue version's subcategories by code; None before the first."""
    body = session.execute(sa.select(catalogue_versions.c.subcategories)
                           .order_by(catalogue_versions.c.version.desc()).limit(1)).scalar()
    return None if body is None else {entry["code"]: entry for entry in body}


def subcategory_names(session, codes: list[str]) -> dict[str, dict[str, str]]:
    """``{code: {"zh-CN", "en"}}`` of the given codes in the current catalogue: only those
    elements are read (the dashboard asks at every poll; the catalogue may hold 2,000)."""
    if not codes:
        return {}
    element = sa.column("e", JSONB)
    latest = (sa.select(catalogue_versions.c.subcategories)
              .order_by(catalogue_versions.c.version.desc()).limit(1).scalar_subquery())
    rows = session.execute(sa.select(element["code"].astext, element["name_zh"].astext,
                                     element["name_en"].astext)
                           .select_from(sa.func.jsonb_array_elements(latest).alias("e"))
                           .where(element["code"].astext.in_(sorted(set(codes))))).all()
    return {code: {"zh-CN": zh, "en": en} for code, zh, en in rows}


def _defaults_query(latest: bool) -> sa.TextualSelect:
    """The statement of :func:`subcategory_defaults` (``:code``, and ``:version`` unless
    ``latest``), built and compiled once: it runs for every case filed (issue 16)."""
    entry = (sa.select(sa.column("e", JSONB)).select_from(
        sa.func.jsonb_array_elements(catalogue_versions.c.subcategories).alias("e"))
        .where(sa.column("e", JSONB)["code"].astext == sa.bindparam("code", type_=sa.Text))
        .scalar_subquery())
    query = sa.select(catalogue_versions.c.version, entry.label("entry"))
    if latest:
        return frozen(query.order_by(catalogue_versions.c.version.desc()).limit(1), "code")
    return frozen(query.where(catalogue_versions.c.version == sa.bindparam(
        "version", type_=sa.Integer)), "code", "version")


_DEFAULTS_LATEST = _defaults_query(latest=True)
_DEFAULTS_OF_VERSION = _defaults_query(latest=False)


def subcategory_defaults(session, code: str, version: int | None = None
                         ) -> tuple[int | None, triage.SubcategoryDefaults | None]:
    """(catalogue version, the subcategory's handling defaults in it): the given version
    (a running case keeps the catalogue it was filed under, like its rules), else the
    current one; (None, None) before the first catalogue.  One row, one JSON element:
    the whole catalogue is not loaded for each case."""
    if version is None:
        row = session.execute(_DEFAULTS_LATEST, {"code": code}).first()
    else:
        row = session.execute(_DEFAULTS_OF_VERSION, {"code": code, "version": version}).first()
    if row is None:
        return None, None
    return row.version, (triage.SubcategoryDefaults.from_entry(row.entry)
                         if row.entry else None)


def rule_set_problems(session, rule_set: triage.RuleSet) -> dict[str, list[str]]:
    """What in ``rule_set`` names a department or subcategory that does not exist (or a
    subcategory under another work category); empty: the rule set may be published."""
    known = active_departments(session)
    subcategories = current_subcategories(session)
    problems: dict[str, list[str]] = {}
    for index, rule in enumerate(rule_set.rules):
        found = _department_problems(rule, known) + _subcategory_problems(rule, subcategories)
        if found:
            problems[f"rules.{index}"] = found
    return problems


def _department_problems(rule: triage.Rule, known: dict[str, dict[str, Any]]) -> list[str]:
    named = [code for code in (rule.lead, *rule.assist) if code]
    if named and not known:
        return ["the department register has not reached dispatch yet (the registry "
                "announces it at start); try again in a minute"]
    return [f"{rule.id}: {code} is not an active department of the register (P4.2)"
            for code in named if code not in known]


def _subcategory_problems(rule: triage.Rule,
                          subcategories: dict[str, dict[str, Any]] | None) -> list[str]:
    if rule.subcategory == triage.WILDCARD:
        return []
    if subcategories is None:
        return ["the subcategory catalogue has not reached dispatch yet (events announces "
                "it at start); try again in a minute"]
    entry = subcategories.get(rule.subcategory)
    if entry is None:
        return [f"{rule.id}: {rule.subcategory} is not in the catalogue"]
    if entry["work_category"] != rule.work_category:
        return [f"{rule.id}: {rule.subcategory} belongs to {entry['work_category']}, "
                f"not {rule.work_category}"]
    return []

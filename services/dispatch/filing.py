"""Filing a reported case (P5.3.1) and triaging it (P5.3.2, P2.2): closed on the spot,
handled locally, or dispatched to its departments with deadlines (P5.3.3).

Everything happens in the caller's transaction: the case, its assignments, the case file
entries and the outgoing messages (outbox) commit together.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from gridgov_common.contract import WorkCategory
from gridgov_common.kernel.work_calendar import WorkCalendar
from services.dispatch import case_store, config_store, master_data
from services.dispatch.domain import states, triage
from services.dispatch.domain.states import CaseState, PseudoActor, TransitionName

CONSUMER = "dispatch.cases"
SYSTEM = case_store.SYSTEM


def is_sensitive(payload) -> bool:
    """P5.2.5: v3 says whether the case reveals special-group membership; a v1/v2 case
    (still accepted, docs/BUS-CONTRACT.md §6) is taken as sensitive when it is about
    special-group assistance, every subcategory of which is sensitive (fail closed)."""
    if "sensitive" in payload:
        return bool(payload["sensitive"])
    return str(payload["work_category"]) == WorkCategory.SPECIAL_GROUP_ASSISTANCE.value


def file_reported(session, envelope, rule_set: triage.RuleSet | None = None,
                  calendar: WorkCalendar | None = None,
                  now: datetime | None = None) -> dict[str, Any] | None:
    """File and triage an ``events.case.reported`` case; None if the case is known.

    The case is stamped with the current rule set and escalation policy versions: it keeps
    them to the end, whatever operators publish later (P5.3.2, P6.2)."""
    rule_set = rule_set or config_store.rule_set(session)
    calendar = calendar or config_store.work_calendar(session)
    policy_version = config_store.escalation_policy(session).version
    now = now or datetime.now(UTC)
    p = envelope.payload
    case_id = str(p["case_id"])
    catalogue_version, defaults = master_data.subcategory_defaults(session, p["subcategory"])
    rule = triage.with_defaults(rule_set.match(triage.CaseFacts.from_mapping(p)), defaults)
    case = {
        "case_id": case_id, "case_number": p["case_number"], "state": CaseState.FILED.value,
        "handling_level": rule.handling_level.value, "grid_code": p["grid_code"],
        "town_code": p["town_code"], "source": str(p["source"]),
        "work_category": str(p["work_category"]), "info_class": str(p["info_class"]),
        "subcategory": p["subcategory"], "severity": str(p["severity"]),
        "priority": rule.priority.value, "description": p["description"],
        "location": p["location"], "private": p["private"],
        "handled_on_spot": p["handled_on_spot"],
        "duplicate_of": str(p["duplicate_of"]) if p["duplicate_of"] else None,
        "rule_id": rule.id, "rule_version": rule_set.version,
        "escalation_version": policy_version,
        "reported_at": p["reported_at"], "filed_at": now,
        "reporter_sub": p.get("reporter_sub"),  # v2 on (per-grid-worker KPIs)
        "sensitive": is_sensitive(p),
        "building_id": p["building_id"], "photos": list(p["photos"]),
        "catalogue_version": catalogue_version,
    }
    corr = envelope.message_id
    if not case_store.file_new(session, case, now, corr,
                               {"source": case["source"], "rule_id": rule.id,
                                "rule_version": rule_set.version, "message_id": corr}):
        return None  # the same case reported again under another message id

    departments: list[str] = []
    if p["handled_on_spot"]:
        transition = TransitionName.CLOSE_ON_SPOT
    elif rule.outcome == triage.Outcome.LOCAL:
        transition = TransitionName.TRIAGE_LOCAL
    else:
        transition = TransitionName.DISPATCH
    target = states.apply(CaseState.FILED, transition, PseudoActor.SYSTEM).value
    values: dict[str, Any] = {}
    if target == CaseState.CLOSED:
        values["closed_at"] = now
    notifications = []
    ack_due, handle_due = triage.deadlines(rule, now, calendar)
    if transition == TransitionName.TRIAGE_LOCAL:  # P5.3.3: own level, own time limit
        values.update(handled_locally=True, handle_due_at=handle_due)
    if transition == TransitionName.DISPATCH:
        for department in rule.departments:
            role = "lead" if department == rule.lead else "assist"
            notifications.append(case_store.assign(session, case, department, role,
                                                   ack_due, handle_due, rule_set.version,
                                                   now, corr))
            departments.append(department)
    return case_store.record_move(
        session, case, transition.value, target, now, actor_sub=SYSTEM, actor_role=SYSTEM,
        values=values, departments=departments, correlation_id=corr,
        notifications=notifications,
        data={"rule_id": rule.id, "handling_level": case["handling_level"],
              "departments": departments})

"""Filing a reported case (P5.3.1) and triaging it (P5.3.2, P2.2): closed on the spot,
handled locally, or dispatched to its departments with deadlines (P5.3.3).

Everything happens in the caller's transaction: the case, its assignments, the case file
entries and the outgoing messages (outbox) commit together.
"""

from __future__ import annotations

from dataclasses import dataclass
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


@dataclass
class Filing:
    """What filing a reported case decides before anything is written: the case row, the
    transition triage chose and its target state, the deadlines and the departments."""

    case: dict[str, Any]
    rule: triage.Rule
    rule_version: int
    transition: TransitionName
    target: str
    values: dict[str, Any]  # set on the case by the move (closed_at, handle_due_at, …)
    ack_due: datetime
    handle_due: datetime
    departments: list[tuple[str, str]]  # (department, lead | assist), when dispatched
    correlation_id: str | None
    now: datetime

    @property
    def filed_data(self) -> dict[str, Any]:
        """The ``filed`` entry's facts."""
        return {"source": self.case["source"], "rule_id": self.rule.id,
                "rule_version": self.rule_version, "message_id": self.correlation_id}

    @property
    def move_data(self) -> dict[str, Any]:
        """The move's entry facts."""
        return {"rule_id": self.rule.id, "handling_level": self.case["handling_level"],
                "departments": [department for department, _ in self.departments]}


def decide(envelope, rule_set: triage.RuleSet, calendar: WorkCalendar, policy_version: int,
           now: datetime, catalogue_version: int | None,
           defaults: triage.SubcategoryDefaults | None) -> Filing:
    """Triage an ``events.case.reported`` case (P5.3.2): pure, nothing read or written.

    The case is stamped with the current rule set and escalation policy versions: it keeps
    them to the end, whatever operators publish later (P5.3.2, P6.2)."""
    p = envelope.payload
    rule = triage.with_defaults(rule_set.match(triage.CaseFacts.from_mapping(p)), defaults)
    case = {
        "case_id": str(p["case_id"]), "case_number": p["case_number"],
        "state": CaseState.FILED.value,
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
    ack_due, handle_due = triage.deadlines(rule, now, calendar)
    if transition == TransitionName.TRIAGE_LOCAL:  # P5.3.3: own level, own time limit
        values.update(handled_locally=True, handle_due_at=handle_due)
    departments = []
    if transition == TransitionName.DISPATCH:
        departments = [(department, "lead" if department == rule.lead else "assist")
                       for department in rule.departments]
    return Filing(case, rule, rule_set.version, transition, target, values, ack_due,
                  handle_due, departments, envelope.message_id, now)


def file_reported(session, envelope, rule_set: triage.RuleSet | None = None,
                  calendar: WorkCalendar | None = None,
                  now: datetime | None = None) -> dict[str, Any] | None:
    """File and triage an ``events.case.reported`` case; None if the case is known."""
    rule_set = rule_set or config_store.rule_set(session)
    calendar = calendar or config_store.work_calendar(session)
    policy_version = config_store.escalation_policy(session).version
    now = now or datetime.now(UTC)
    version, defaults = master_data.subcategory_defaults(session, envelope.payload["subcategory"])
    filing = decide(envelope, rule_set, calendar, policy_version, now, version, defaults)
    case, corr = filing.case, filing.correlation_id
    if not case_store.file_new(session, case, now, filing.filed_data):
        return None  # the same case reported again under another message id
    notifications = [
        case_store.assign(session, case, department, role, filing.ack_due, filing.handle_due,
                          filing.rule_version, now, corr)
        for department, role in filing.departments]
    return case_store.record_move(
        session, case, filing.transition.value, filing.target, now, actor_sub=SYSTEM,
        actor_role=SYSTEM, values=filing.values,
        departments=[department for department, _ in filing.departments],
        correlation_id=corr, notifications=notifications, data=filing.move_data,
        filing=True)


def file_reported_many(session, envelopes, now: datetime | None = None
                       ) -> list[dict[str, Any] | None]:
    """:func:`file_reported` for a batch, in a fixed number of statements whatever its size
    (issue 16; :func:`case_store.file_many`): the same rows, case-file entries and
    messages, in the same order, as filing them one after the other (:func:`file_reported`,
    which the tests hold it to). A batch of one takes this way too: at a few cases a second
    most batches are one case, and the one-at-a-time way cost it more CPU per case."""
    if not envelopes:
        return []
    rule_set = config_store.rule_set(session)
    calendar = config_store.work_calendar(session)
    policy_version = config_store.escalation_policy(session).version
    now = now or datetime.now(UTC)
    defaults = {code: master_data.subcategory_defaults(session, code)
                for code in sorted({e.payload["subcategory"] for e in envelopes})}
    filings = [decide(envelope, rule_set, calendar, policy_version, now,
                      *defaults[envelope.payload["subcategory"]]) for envelope in envelopes]
    return case_store.file_many(session, filings)

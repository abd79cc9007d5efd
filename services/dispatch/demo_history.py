"""The demo district's past cases as dispatch handled them (issue 11, M21; docs/DEMO.md).

``python -m services.dispatch.demo_history [--if-empty] [--seed N] [--until YYYY-MM-DD]``
(run by ``make up`` after events' history).

Every case of the shared plan (``tools/demo_history.py``) is played through the
platform's own rules, in memory, then written in bulk: filed under the stored rule set,
escalation policy and catalogue (``config_store``, ``master_data``, as ``filing`` does),
triaged by ``triage``, deadlines from the work calendar (P5.3.3), every move asked of the
state machine (``states.apply``), on-time flags frozen by ``stage_outcome``, escalations
from the supervision ladder (``escalation.next_escalations``, P6.2), and each case file
hash-chained by ``casefile.chain`` (P5.3.4) with the entries the live code writes. What
happens when is drawn from the case's own random stream: most cases close on time, a
minority late (and escalated), a few are returned (退办) or reworked (返工), the youngest
are still open. Nothing of the past goes to the bus but each case's last change
(``dispatch.case.changed``), so that events shows where the case stands; the open ones'
escalations and reminders come from the live timer after the load, as for any case.
"""

from __future__ import annotations

import sys
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from gridgov_common.contract import DISPATCH_EXCHANGE, EVENTS_EXCHANGE, dispatch_key
from gridgov_common.contract.cases import AssignmentRole, Source
from gridgov_common.kernel.roles import Role
from gridgov_common.kernel.work_calendar import WorkCalendar
from gridgov_common.platform import department_register
from gridgov_common.platform.outbox import add_event
from services.dispatch import case_store, config_store, master_data, notices
from services.dispatch.domain import casefile, states, triage
from services.dispatch.domain.escalation import AssignmentView, CaseView, next_escalations
from services.dispatch.domain.states import (
    AssignmentState,
    AssignmentStatus,
    CaseState,
    IllegalTransition,
    PseudoActor,
    TransitionName,
)
from services.dispatch.models import (
    SCHEMA,
    cases,
    departments,
    escalations,
)
from tools import demo_history as plan

SYSTEM = PseudoActor.SYSTEM.value
DEPARTMENT = PseudoActor.DEPARTMENT.value
FILING_SECONDS = (5, 40)  # events → bus → dispatch
# How the past went (shares of stages): most on time, a minority late (P5.3.3)
ACK_LATE, HANDLE_LATE, LOCAL_LATE = 0.05, 0.10, 0.08
RETURNED = 0.03  # 退办: the lead says it is not theirs (P5.3.2)
STUCK = 0.01  # the lead never reports a result: still open, overdue, escalated live
SATISFIED = 0.93  # P5.2.1 return visit; the rest are reworked once
RETURN_REASON = f"{plan.MARK}经核查不属于本部门职责，请重新分派"
RETRIAGE_REASON = f"{plan.MARK}经核实仍由该部门牵头办理"
REWORK_NOTE = f"{plan.MARK}居民反映问题未解决"
_SETTLED = (AssignmentState.RETURNED, AssignmentState.WITHDRAWN)


class _Stop(Exception):
    """The next step lies after the history's end: the case stays where it is."""


@dataclass
class _Context:
    """What every case is played against: dispatch's stored configuration, read once."""

    seed: int
    district: plan.District
    end: datetime
    calendar: WorkCalendar
    rule_set: triage.RuleSet
    policy: Any
    names: dict[str, str]
    defaults: dict[str, tuple[int | None, triage.SubcategoryDefaults | None]] = field(
        default_factory=dict)

    def rule_for(self, session: Session, report: plan.Report
                 ) -> tuple[int | None, triage.Rule]:
        """The rule filing would choose, with the subcategory's catalogue defaults."""
        if report.subcategory not in self.defaults:
            self.defaults[report.subcategory] = master_data.subcategory_defaults(
                session, report.subcategory)
        version, defaults = self.defaults[report.subcategory]
        facts = triage.CaseFacts(report.work_category, report.subcategory, report.severity,
                                 report.town_code)
        return version, triage.with_defaults(self.rule_set.match(facts), defaults)

    def person(self, role: Role, scope_code: str) -> plan.Person:
        return self.district.people(role, scope_code)[0]


@dataclass
class _Flow:
    """One case's life: its row, assignments, case-file entries and escalations."""

    ctx: _Context
    report: plan.Report
    rule: triage.Rule
    case: dict[str, Any]
    r: Any
    entries: list[casefile.Entry] = field(default_factory=list)
    assignments: list[dict[str, Any]] = field(default_factory=list)
    escalations: list[dict[str, Any]] = field(default_factory=list)
    sent_keys: set = field(default_factory=set)
    change: dict[str, Any] | None = None
    late: bool = False

    @property
    def state(self) -> str:
        return self.case["state"]

    def uuid(self, kind: str, n: object = "") -> str:
        return plan.demo_uuid(self.ctx.seed, kind, f"{self.case['case_number']}:{n}")

    def until(self, at: datetime) -> datetime:
        """``at`` if the history reaches it; else the case stops here."""
        if at >= self.ctx.end:
            raise _Stop
        return at

    def entry(self, at: datetime, action: str, actor_sub: str, actor_role: str,
              **fields: Any) -> None:
        """P5.3.4: one step of the file; every entry says it is demo history (docs/DEMO.md)."""
        data = {**fields.pop("data", {}), "demo_history": self.ctx.seed}
        self.entries.append(casefile.Entry(seq=len(self.entries) + 1, at=at,
                                           actor_sub=actor_sub, actor_role=actor_role,
                                           action=action, data=data, **fields))

    def move(self, transition: TransitionName, actor: str, at: datetime, actor_sub: str,
             actor_role: str, values: dict[str, Any] | None = None,
             on_time: bool | None = None, **context: Any) -> str:
        """The state machine's answer, stored on the case (``actions.record``'s part)."""
        target = states.apply(self.state, transition, actor, **context).value
        self.change = {"from_state": self.state, "to_state": target, "at": at,
                       "actor_role": actor_role, "on_time": on_time}
        self.case.update(values or {}, state=target, updated_at=at)
        return target

    def active(self) -> list[dict[str, Any]]:
        return [a for a in self.assignments if a["state"] in states.ACTIVE_ASSIGNMENT_STATES]

    def departments(self) -> list[str]:
        kept = [a for a in self.assignments if a["state"] not in _SETTLED]
        kept.sort(key=lambda a: (a["sent_at"], a["role"] != "lead", a["department"]))
        return list(dict.fromkeys(a["department"] for a in kept))


def _natural_share(start: datetime, due: datetime, share: float) -> datetime:
    return start + (due - start) * share


def _after(flow: _Flow, due: datetime, hours: tuple[float, float]) -> datetime:
    """Some working hours after ``due``: a late stage (P5.3.3)."""
    return flow.ctx.calendar.add_working_time(due, round(flow.r.uniform(*hours), 2),
                                              "working_hours")


# --- the flow, step by step ----------------------------------------------------------------

def play(session: Session, ctx: _Context, report: plan.Report) -> _Flow:
    """File the case as ``filing.file_reported`` does, then live its life until the end."""
    r = plan.fate(ctx.seed, report.case_number)
    catalogue_version, rule = ctx.rule_for(session, report)
    filed_at = report.reported_at + timedelta(seconds=r.uniform(*FILING_SECONDS))
    case = _case_row(ctx, report, rule, catalogue_version, filed_at)
    flow = _Flow(ctx, report, rule, case, r)
    flow.entry(filed_at, "filed", SYSTEM, SYSTEM, to_state=CaseState.FILED.value,
               data={"source": case["source"], "rule_id": rule.id,
                     "rule_version": ctx.rule_set.version,
                     "message_id": flow.uuid("reported")})
    flow.change = {"from_state": None, "to_state": CaseState.FILED.value, "at": filed_at,
                   "actor_role": SYSTEM, "on_time": None}
    try:
        _triage(flow, filed_at)
    except _Stop:
        pass
    return flow


def _case_row(ctx: _Context, report: plan.Report, rule: triage.Rule,
              catalogue_version: int | None, filed_at: datetime) -> dict[str, Any]:
    return {
        "case_id": report.case_id, "case_number": report.case_number,
        "state": CaseState.FILED.value, "handling_level": rule.handling_level.value,
        "grid_code": report.grid_code, "town_code": report.town_code,
        "source": Source.APP.value, "work_category": report.work_category,
        "info_class": report.info_class, "subcategory": report.subcategory,
        "severity": report.severity, "priority": rule.priority.value,
        "description": report.description,
        "location": {"lon": report.lon, "lat": report.lat}, "private": False,
        "handled_on_spot": report.handled_on_spot, "duplicate_of": None,
        "rule_id": rule.id, "rule_version": ctx.rule_set.version,
        "escalation_version": ctx.policy.version, "reported_at": report.reported_at,
        "filed_at": filed_at, "updated_at": filed_at, "reporter_sub": report.reporter_sub,
        "sensitive": report.sensitive, "building_id": None, "photos": [],
        "catalogue_version": catalogue_version, "handled_locally": False,
        "rework_count": 0, "return_count": 0, "satisfaction": None, "handle_due_at": None,
        "resolved_at": None, "closed_at": None,
    }


def _triage(flow: _Flow, at: datetime) -> None:
    """P5.1.5 on the spot, P5.3.2 own level, or P2.2 the town whistles (system triage)."""
    rule = flow.rule
    facts = {"rule_id": rule.id, "handling_level": flow.case["handling_level"]}
    if flow.report.handled_on_spot:
        flow.move(TransitionName.CLOSE_ON_SPOT, SYSTEM, at, SYSTEM, SYSTEM,
                  values={"closed_at": at})
        flow.entry(at, TransitionName.CLOSE_ON_SPOT.value, SYSTEM, SYSTEM,
                   from_state=CaseState.FILED.value, to_state=flow.state,
                   data={**facts, "departments": []})
        return
    if rule.outcome == triage.Outcome.LOCAL:
        _, due = triage.deadlines(rule, at, flow.ctx.calendar)
        flow.move(TransitionName.TRIAGE_LOCAL, SYSTEM, at, SYSTEM, SYSTEM,
                  values={"handled_locally": True, "handle_due_at": due})
        flow.entry(at, TransitionName.TRIAGE_LOCAL.value, SYSTEM, SYSTEM,
                   from_state=CaseState.FILED.value, to_state=flow.state,
                   data={**facts, "departments": []})
        _local_round(flow, at)
    else:
        notifications = _assign(flow, at, 0)
        flow.move(TransitionName.DISPATCH, SYSTEM, at, SYSTEM, SYSTEM)
        flow.entry(at, TransitionName.DISPATCH.value, SYSTEM, SYSTEM,
                   from_state=CaseState.FILED.value, to_state=flow.state,
                   notifications=notifications,
                   data={**facts, "departments": list(flow.rule.departments)})
        _department_round(flow, at, first=True)
    _return_visit(flow)


def _assign(flow: _Flow, at: datetime, rework: int) -> list[dict[str, Any]]:
    """``case_store.assign`` for each of the rule's departments: rows and the notifications
    the step names (P2.2, routing key per department)."""
    ack_due, handle_due = triage.deadlines(flow.rule, at, flow.ctx.calendar)
    out = []
    for department in flow.rule.departments:
        role = (AssignmentRole.LEAD if department == flow.rule.lead
                else AssignmentRole.ASSIST).value
        n = len(flow.assignments)
        key = dispatch_key(department, flow.case["town_code"], flow.case["work_category"],
                           flow.case["priority"])
        row = {"assignment_id": flow.uuid("assignment", n), "case_id": flow.case["case_id"],
               "department": department, "role": role,
               "state": AssignmentState.SENT.value, "routing_key": key, "rework": rework,
               "sent_at": at, "ack_due_at": ack_due, "acked_at": None, "ack_on_time": None,
               "handle_due_at": handle_due, "reported_at": None, "handle_on_time": None,
               "resolved": None, "department_ref": None, "unroutable": False}
        flow.assignments.append(row)
        out.append({"channel": "amqp", "exchange": DISPATCH_EXCHANGE, "routing_key": key,
                    "message_id": flow.uuid("assignment-message", n),
                    "assignment_id": row["assignment_id"], "department": department,
                    "role": role})
    return out


def _escalate(flow: _Flow, now: datetime) -> None:
    """P6.2: what the supervision timer would have raised by ``now`` (escalating._record)."""
    view = CaseView(
        case_id=flow.case["case_id"], case_number=flow.case["case_number"],
        state=CaseState(flow.state), priority=flow.case["priority"],
        grid_code=flow.case["grid_code"], town_code=flow.case["town_code"],
        policy_version=flow.ctx.policy.version, handle_due_at=flow.case["handle_due_at"],
        assignments=tuple(AssignmentView(a["assignment_id"], a["department"],
                                         AssignmentRole(a["role"]),
                                         AssignmentState(a["state"]), a["ack_due_at"],
                                         a["handle_due_at"]) for a in flow.active()))
    for e in next_escalations(view, now, flow.ctx.calendar, flow.sent_keys, flow.ctx.policy,
                              flow.ctx.names):
        flow.sent_keys.add(e.key)
        card = e.card.value if e.card else None
        flow.escalations.append({
            "case_id": e.case_id, "assignment_id": e.assignment_id, "kind": e.kind.value,
            "level": e.level, "card": card, "target_role": e.target_role.value,
            "target_scope": e.target_scope, "department": e.department, "reason": e.reason,
            "policy_version": e.policy_version, "due_at": e.due_at, "at": e.at})
        flow.entry(e.at, "escalation", SYSTEM, SYSTEM, reason=e.reason, deadline=e.due_at,
                   notifications=[{"channel": "amqp", "exchange": EVENTS_EXCHANGE,
                                   "routing_key": "dispatch.escalation",
                                   "type": "dispatch.escalation",
                                   "message_id": flow.uuid("escalation", len(flow.escalations)),
                                   "to": f"{e.target_role.value}@{e.target_scope}"}],
                   data={"kind": e.kind.value, "level": e.level, "card": card,
                         "target_role": e.target_role.value, "target_scope": e.target_scope,
                         "assignment_id": e.assignment_id, "department": e.department,
                         "scheduled_at": e.at, "policy_version": e.policy_version})


def _local_round(flow: _Flow, start: datetime) -> None:
    """P5.3.3: the level handles it within its own limit (actions.local_result)."""
    due = flow.case["handle_due_at"]
    late = flow.r.random() < LOCAL_LATE
    at = (_after(flow, due, (1, 16)) if late
          else _natural_share(start, due, flow.r.uniform(0.1, 0.9)))
    at = flow.until(at)
    _escalate(flow, at)
    person = _local_handler(flow)
    on_time = casefile.stage_outcome(due, at)
    flow.late |= not on_time
    flow.move(TransitionName.LOCAL_RESULT, person.role, at, person.subject, person.role,
              values={"resolved_at": at}, on_time=on_time)
    flow.entry(at, TransitionName.LOCAL_RESULT.value, person.subject, person.role,
               from_state=CaseState.HANDLING_LOCAL.value, to_state=flow.state,
               deadline=due, on_time=on_time,
               data={"note": f"{plan.MARK}已现场处理完毕", "resolved": True})


def _local_handler(flow: _Flow) -> plan.Person:
    """Who handles a case at its own level (P5.0): the grid's worker, the community grid
    chief, the town grid chief."""
    level = flow.case["handling_level"]
    if level == states.HandlingLevel.GRID:
        return flow.ctx.person(Role.NEIGHBOURHOOD_GRID_WORKER, flow.case["grid_code"])
    if level == states.HandlingLevel.COMMUNITY:
        return flow.ctx.person(Role.COMMUNITY_GRID_CHIEF, flow.case["grid_code"][:12])
    return flow.ctx.person(Role.TOWN_GRID_CHIEF, flow.case["town_code"])


def _department_round(flow: _Flow, sent_at: datetime, first: bool = False) -> None:
    """P2.2 report in, P5.3.3 handle and report: each department's ack and result, in time
    order, as ``reports.apply_report`` applies them; the lead may return it (退办)."""
    if first and flow.r.random() < RETURNED:
        _returned(flow, sent_at)
        return
    steps = []
    for a in flow.active():
        ack = _ack_time(flow, a)
        steps.append((ack, 0, "ack", a))
        if a["role"] == "lead" and flow.r.random() < STUCK:
            continue  # never reports: open and overdue at the end
        result = _result_time(flow, a, ack)
        steps.append((result, 1 if a["role"] == "lead" else 0, "result", a))
    for at, _, kind, a in sorted(steps, key=lambda s: (s[0], s[1])):
        at = flow.until(at)
        _escalate(flow, at)
        (_ack if kind == "ack" else _result)(flow, a, at)
    if flow.state != CaseState.RESOLVED:
        raise _Stop  # the lead's result is still to come


def _ack_time(flow: _Flow, a: dict[str, Any]) -> datetime:
    if flow.r.random() < ACK_LATE:
        return _after(flow, a["ack_due_at"], (0.3, 6))
    return _natural_share(a["sent_at"], a["ack_due_at"], flow.r.uniform(0.05, 0.9))


def _result_time(flow: _Flow, a: dict[str, Any], acked: datetime) -> datetime:
    due = a["handle_due_at"]
    if flow.r.random() < HANDLE_LATE or due <= acked:
        return max(_after(flow, due, (1, 24)), acked + timedelta(minutes=30))
    return _natural_share(acked, due, flow.r.uniform(0.15, 0.95))


def _report_data(flow: _Flow, a: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"assignment_id": a["assignment_id"], "department": a["department"],
            "role": a["role"], "message_id": flow.uuid("report", f"{a['assignment_id']}:"
                                                       f"{len(flow.entries)}"), **extra}


def _ack(flow: _Flow, a: dict[str, Any], at: datetime) -> None:
    """P2.2 report in (reports._ack): the lead's ack moves the case, an assist's does not."""
    on_time = casefile.stage_outcome(a["ack_due_at"], at)
    flow.late |= not on_time
    ref = f"{plan.CASE_PREFIX}-{a['department']}-{flow.case['case_number'][-6:]}"
    a.update(state=AssignmentState.ACKED.value, acked_at=at, ack_on_time=on_time,
             department_ref=ref)
    before = flow.state
    target = None
    if a["role"] == "lead":
        target = flow.move(TransitionName.ACK, DEPARTMENT, at, a["department"], DEPARTMENT,
                           on_time=on_time, assignment_role=a["role"])
    flow.entry(at, "ack", a["department"], DEPARTMENT, from_state=before if target else None,
               to_state=target, deadline=a["ack_due_at"], on_time=on_time,
               data=_report_data(flow, a, department_ref=ref))


def _result(flow: _Flow, a: dict[str, Any], at: datetime) -> None:
    """P5.3.3 (reports._result): resolved when the lead and every assist reported."""
    on_time = casefile.stage_outcome(a["handle_due_at"], at)
    flow.late |= not on_time
    a.update(state=AssignmentState.REPORTED.value, reported_at=at, handle_on_time=on_time,
             resolved=True)
    before, target = flow.state, None
    if before == CaseState.IN_PROGRESS:
        statuses = [AssignmentStatus(x["department"], AssignmentRole(x["role"]),
                                     AssignmentState(x["state"]))
                    for x in flow.assignments if x["state"] not in _SETTLED]
        try:
            target = flow.move(TransitionName.DEPARTMENT_RESULT, DEPARTMENT, at,
                               a["department"], DEPARTMENT, values={"resolved_at": at},
                               on_time=on_time, assignments=statuses)
        except IllegalTransition as exc:
            if exc.code != "results_pending":
                raise
    flow.entry(at, "department_result", a["department"], DEPARTMENT,
               from_state=before if target else None, to_state=target,
               deadline=a["handle_due_at"], on_time=on_time,
               data=_report_data(flow, a, department_ref=a["department_ref"],
                                 note=f"{plan.MARK}已处理完毕", resolved=True))


def _returned(flow: _Flow, sent_at: datetime) -> None:
    """退办 (reports._return) by the lead, then the town grid chief whistles again by hand
    (actions.triage_case, P5.3.2)."""
    lead = next(a for a in flow.assignments if a["role"] == "lead")
    at = flow.until(_natural_share(sent_at, lead["ack_due_at"], flow.r.uniform(0.1, 0.9)))
    before = flow.state
    flow.move(TransitionName.DEPARTMENT_RETURN, DEPARTMENT, at, lead["department"],
              DEPARTMENT, assignment_role="lead", reason=RETURN_REASON)
    lead["state"] = AssignmentState.RETURNED.value
    for a in flow.active():
        a["state"] = AssignmentState.WITHDRAWN.value
    flow.case["return_count"] += 1
    flow.entry(at, "department_return", lead["department"], DEPARTMENT, from_state=before,
               to_state=flow.state, reason=RETURN_REASON, data=_report_data(flow, lead))
    chief = flow.ctx.person(Role.TOWN_GRID_CHIEF, flow.case["town_code"])
    again = flow.until(_after(flow, at, (0.5, 4)))
    notifications = _assign(flow, again, 0)
    fresh = flow.assignments[-len(notifications):]
    flow.move(TransitionName.DISPATCH, chief.role, again, chief.subject, chief.role,
              values={"handled_locally": False, "handle_due_at": None},
              reason=RETRIAGE_REASON)
    flow.entry(again, TransitionName.DISPATCH.value, chief.subject, chief.role,
               from_state=CaseState.FILED.value, to_state=flow.state, reason=RETRIAGE_REASON,
               deadline=fresh[0]["handle_due_at"], notifications=notifications,
               data={"rule_id": flow.rule.id, "rule_version": flow.ctx.rule_set.version,
                     "handling_level": flow.case["handling_level"],
                     "departments": list(flow.rule.departments), "chosen_by": "rule",
                     "ack_due_at": fresh[0]["ack_due_at"].isoformat()})
    _department_round(flow, again)


def _visitor(flow: _Flow) -> plan.Person:
    """P5.2.1: the grid's worker goes back to the resident; for a sensitive case the
    community grid chief (P5.2.5, notices.SENSITIVE_VISITORS)."""
    if flow.case["sensitive"] or flow.r.random() < 0.2:
        return flow.ctx.person(Role.COMMUNITY_GRID_CHIEF, flow.case["grid_code"][:12])
    return flow.ctx.person(Role.NEIGHBOURHOOD_GRID_WORKER, flow.case["grid_code"])


def _return_visit(flow: _Flow) -> None:
    """回访 (rework.return_visit): satisfied closes, not satisfied sends it back once."""
    while flow.state == CaseState.RESOLVED:
        at = flow.until(flow.ctx.calendar.add_working_time(
            flow.case["resolved_at"],
            round(flow.r.uniform(0.5, notices.RETURN_VISIT_WORKING_HOURS - 2), 2),
            "working_hours"))
        person = _visitor(flow)
        satisfied = flow.case["rework_count"] > 0 or flow.r.random() < SATISFIED
        score = (flow.r.choices((5, 4, 3), (0.6, 0.33, 0.07))[0] if satisfied
                 else flow.r.choice((1, 2)))
        method = "phone" if flow.r.random() < 0.7 else "visit"
        note = f"{plan.MARK}居民表示满意" if satisfied else REWORK_NOTE
        data = {"satisfied": satisfied, "satisfaction": score, "method": method, "note": note}
        if satisfied:
            flow.move(TransitionName.RETURN_VISIT_SATISFIED, person.role, at, person.subject,
                      person.role, values={"closed_at": at, "satisfaction": score})
            flow.entry(at, TransitionName.RETURN_VISIT_SATISFIED.value, person.subject,
                       person.role, from_state=CaseState.RESOLVED.value, to_state=flow.state,
                       reason=note, data=data)
            return
        _rework(flow, person, at, score, data)


def _rework(flow: _Flow, person: plan.Person, at: datetime, score: int,
            data: dict[str, Any]) -> None:
    """返工: back to whoever handled it, with new deadlines (rework._rework)."""
    count = flow.case["rework_count"] + 1
    values = {"rework_count": count, "satisfaction": score, "resolved_at": None}
    data = {**data, "rework": count, "rule_id": flow.rule.id,
            "rule_version": flow.ctx.rule_set.version}
    local = flow.case["handled_locally"]
    notifications: list[dict[str, Any]] = []
    if local:
        _, due = triage.deadlines(flow.rule, at, flow.ctx.calendar)
        values["handle_due_at"] = due
    else:
        notifications = _assign(flow, at, count)
        due = flow.assignments[-1]["handle_due_at"]
        data.update(departments=list(flow.rule.departments),
                    ack_due_at=flow.assignments[-1]["ack_due_at"].isoformat())
    flow.move(TransitionName.RETURN_VISIT_UNSATISFIED, person.role, at, person.subject,
              person.role, values=values, handled_locally=local, reason=REWORK_NOTE)
    flow.entry(at, TransitionName.RETURN_VISIT_UNSATISFIED.value, person.subject, person.role,
               from_state=CaseState.RESOLVED.value, to_state=flow.state, reason=REWORK_NOTE,
               deadline=due, notifications=notifications, data=data)
    if local:
        _local_round(flow, at)
    else:
        _department_round(flow, at)


# --- writing -----------------------------------------------------------------------------

def demo_cases(session: Session) -> int:
    """How many demo cases dispatch holds (the marker: DEMO numbers, docs/DEMO.md)."""
    return session.execute(sa.select(sa.func.count()).select_from(cases).where(
        cases.c.case_number.startswith(plan.CASE_PREFIX))).scalar_one()


def context(session: Session, district: plan.District, seed: int, end: datetime
            ) -> _Context:
    """Dispatch's stored rules, policy and calendar, as filing reads them."""
    codes = {code for rule in config_store.rule_set(session).rules for code in rule.departments}
    names = {code: zh for code, (zh, _) in department_register.names_both(
        session, departments, codes).items()}
    return _Context(seed, district, end, config_store.work_calendar(session),
                    config_store.rule_set(session), config_store.escalation_policy(session),
                    names)


def load(session: Session, district: plan.District, *, seed: int = plan.SEED,
         until: date, days: int = plan.DAYS, if_empty: bool = False) -> dict[str, Any]:
    """Play and write the plan's cases once: loading again finds them and adds nothing."""
    if demo_cases(session):
        return {"loaded": False, "reason": "demo history already loaded", "cases": 0}
    if if_empty and session.execute(sa.select(sa.func.count()).select_from(cases)).scalar():
        return {"loaded": False, "reason": "dispatch already holds cases", "cases": 0}
    first, last = plan.window(until, days)
    ctx = context(session, district, seed, plan.end_of(last))
    flows = [play(session, ctx, report) for report in plan.reports(district, first, last, seed)]
    counts = write(session, flows)
    return {"loaded": True, "first_day": first.isoformat(), "last_day": last.isoformat(),
            **counts}


def write(session: Session, flows: list[_Flow]) -> dict[str, Any]:
    """Bulk inserts, then each case's last change for events to follow (outbox)."""
    case_rows, assignment_rows, file_rows, escalation_rows = [], [], [], []
    for flow in flows:
        case_rows.append(flow.case)
        assignment_rows += flow.assignments
        escalation_rows += flow.escalations
        ordered = sorted(flow.entries, key=lambda e: (e.at, e.seq))
        renumbered = [replace(e, seq=n) for n, e in enumerate(ordered, start=1)]
        file_rows += [{"case_id": flow.case["case_id"], "seq": e.seq, "entry": e.body(),
                       "prev_hash": e.prev_hash, "hash": e.hash}
                      for e in casefile.chain(renumbered)]
    case_store.load_history(session, case_rows, assignment_rows, file_rows)
    if escalation_rows:
        session.execute(escalations.insert(), escalation_rows)
    for flow in flows:
        _announce(session, flow)
    states_count = Counter(f.state for f in flows)
    return {"cases": len(flows), "states": dict(sorted(states_count.items())),
            "late": sum(f.late for f in flows),
            "escalated_cases": sum(bool(f.escalations) for f in flows),
            "reworked": sum(f.case["rework_count"] > 0 for f in flows),
            "returned": sum(f.case["return_count"] > 0 for f in flows),
            "assignments": len(assignment_rows), "case_file_entries": len(file_rows),
            "escalations": len(escalation_rows)}


def _announce(session: Session, flow: _Flow) -> None:
    """``dispatch.case.changed`` v2 of the case's last move (case_store.case_changed)."""
    change = flow.change
    due = None
    if flow.state in (CaseState.HANDLING_LOCAL, CaseState.DISPATCHED, CaseState.IN_PROGRESS):
        dues = [a["handle_due_at"] for a in flow.active()]
        due = max(dues) if dues else flow.case["handle_due_at"]
    add_event(session, "dispatch.case.changed", {
        "case_id": flow.case["case_id"], "case_number": flow.case["case_number"],
        "from_state": change["from_state"], "to_state": change["to_state"],
        "at": change["at"], "actor_role": change["actor_role"],
        "grid_code": flow.case["grid_code"], "town_code": flow.case["town_code"],
        "departments": flow.departments(), "on_time": change["on_time"], "due_at": due,
    }, "dispatch", schema=SCHEMA)


def main(argv: list[str] | None = None) -> int:
    return plan.run("dispatch", "past cases (dispatch's side)", argv, load)


if __name__ == "__main__":
    sys.exit(main())

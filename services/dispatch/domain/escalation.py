"""The supervision (督办) escalation ladder (P6.2, P2.2, P5.3.3).

Modelled on PagerDuty/Opsgenie escalation policies (DOMAIN-REFERENCES §4): ordered levels
each with a wait, separate rules for "not acknowledged" (``ack_timeout``: a department did
not report in by ``ack_due_at``) and "not closed" (``overdue``: no result by
``handle_due_at``), an ack timeout that re-triggers while nobody reports in, and policies
that are versioned so that editing one never changes cases already running.

The ladder follows the policy's chain of grid leads (P5.0, P5.1.1–P5.1.3): the community
grid chief of the case's community, then its grid instructor, then the town grid chief.
Cards follow the platform's supervision practice: ordinary → yellow → red.

``next_escalations`` is a pure function of its inputs: every escalation carries the
instant it was scheduled for (not "now"), and its key (kind, level, assignment) is never
returned once it is in ``already_sent``.  Several replicas of the service's timer may run it
on the same case (SKIP LOCKED, plus the unique index on escalations) and agree.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from gridgov_common.contract.cases import AssignmentRole, Card, EscalationKind
from gridgov_common.contract.routing import Priority
from gridgov_common.kernel.area import community_of, district_of
from gridgov_common.kernel.roles import ROLE_SCOPE, Role, ScopeLevel
from gridgov_common.kernel.work_calendar import TimeLimit, WorkCalendar
from services.dispatch.domain.states import ACTIVE_ASSIGNMENT_STATES, AssignmentState, CaseState

__all__ = [
    "DEFAULT_POLICY_PATH", "AssignmentView", "CaseView", "Escalation", "EscalationPolicy",
    "EscalationStep", "KindRule", "LadderLevel", "PolicyBook", "PolicyError",
    "next_escalations", "target_scope",
]

DEFAULT_POLICY_PATH = Path(__file__).resolve().parent / "default_escalation.json"
URGENT_PRIORITIES = frozenset({Priority.URGENT, Priority.MAJOR})  # P2.1 rapid response
CARD_LABELS = {Card.ORDINARY: "普通督办", Card.YELLOW: "黄牌督办", Card.RED: "红牌督办"}

EscalationKey = tuple[str, int, str | None]  # (kind, level, assignment_id or None)


class PolicyError(ValueError):
    """An escalation policy failed validation, or a version conflict."""

    def __init__(self, message: str, errors: Mapping[str, Any] | None = None) -> None:
        super().__init__(message)
        self.errors = dict(errors or {})


@dataclass(frozen=True, slots=True)
class LadderLevel:
    """One rung: who is told.  The scope is the role's own (``ROLE_SCOPE``) taken from the
    case's grid code, e.g. ``community:320505001001``."""

    level: int
    role: Role

    @property
    def scope(self) -> ScopeLevel:
        return ROLE_SCOPE[self.role]


@dataclass(frozen=True, slots=True)
class KindRule:
    """How one kind escalates.  ``waits[i]`` is the wait before level i+1, counted from the
    previous level (level 1: from the missed due time); urgent and major cases use
    ``urgent_waits`` (natural minutes, P2.1).  After the last level, the top rung is told
    again every ``repeat_every``, at most ``max_repeats`` times (as levels n+1, n+2, …)."""

    waits: tuple[TimeLimit, ...]
    urgent_waits: tuple[TimeLimit, ...]
    cards: tuple[Card | None, ...]
    repeat_every: TimeLimit | None
    urgent_repeat_every: TimeLimit | None
    max_repeats: int

    def plan(self, urgent: bool) -> tuple[tuple[TimeLimit, ...], TimeLimit | None]:
        if urgent:
            return self.urgent_waits, self.urgent_repeat_every
        return self.waits, self.repeat_every

    def to_dict(self) -> dict[str, Any]:
        return {
            "waits": [w.to_dict() for w in self.waits],
            "urgent_waits": [w.to_dict() for w in self.urgent_waits],
            "cards": [c.value if c else None for c in self.cards],
            "repeat_every": self.repeat_every.to_dict() if self.repeat_every else None,
            "urgent_repeat_every": (self.urgent_repeat_every.to_dict()
                                    if self.urgent_repeat_every else None),
            "max_repeats": self.max_repeats,
        }


@dataclass(frozen=True, slots=True)
class EscalationStep:
    """A scheduled escalation of one kind for one due time."""

    level: int
    at: datetime
    role: Role
    scope: ScopeLevel
    card: Card | None


@dataclass(frozen=True, slots=True)
class EscalationPolicy:
    version: int
    ladder: tuple[LadderLevel, ...]
    ack_timeout: KindRule
    overdue: KindRule
    description: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version, "description": self.description,
            "ladder": [{"level": r.level, "role": r.role.value} for r in self.ladder],
            "ack_timeout": self.ack_timeout.to_dict(), "overdue": self.overdue.to_dict(),
        }

    def rule_for(self, kind: EscalationKind) -> KindRule:
        if kind == EscalationKind.ACK_TIMEOUT:
            return self.ack_timeout
        if kind == EscalationKind.OVERDUE:
            return self.overdue
        raise ValueError(f"{kind} is not scheduled by time")

    def schedule(self, kind: EscalationKind | str, due_at: datetime, priority: Priority | str,
                 calendar: WorkCalendar) -> list[EscalationStep]:
        """Every step of ``kind`` for a stage due at ``due_at``, in order."""
        rule = self.rule_for(EscalationKind(kind))
        waits, repeat_every = rule.plan(Priority(priority) in URGENT_PRIORITIES)
        steps: list[EscalationStep] = []
        at = due_at
        for rung, wait, card in zip(self.ladder, waits, rule.cards, strict=True):
            at = calendar.add(at, wait)
            steps.append(EscalationStep(rung.level, at, rung.role, rung.scope, card))
        top = steps[-1]
        if repeat_every is None:
            return steps
        for repeat in range(1, rule.max_repeats + 1):
            at = calendar.add(at, repeat_every)
            steps.append(EscalationStep(top.level + repeat, at, top.role, top.scope, top.card))
        return steps


class PolicyBook:
    """Every policy version; a running case is escalated under the version it carries."""

    def __init__(self, policies: Iterable[EscalationPolicy] = ()) -> None:
        self._policies: dict[int, EscalationPolicy] = {}
        for policy in policies:
            self.add(policy)

    def add(self, policy: EscalationPolicy) -> None:
        existing = self._policies.get(policy.version)
        if existing is not None and existing != policy:
            raise PolicyError(f"escalation policy version {policy.version} already exists "
                              "with different content; publish a new version instead")
        self._policies[policy.version] = policy

    @property
    def current(self) -> EscalationPolicy:
        if not self._policies:
            raise LookupError("no escalation policy loaded")
        return self._policies[max(self._policies)]

    def get(self, version: int) -> EscalationPolicy:
        try:
            return self._policies[version]
        except KeyError:
            raise LookupError(f"no escalation policy version {version}") from None


# --- cases and escalations ----------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class AssignmentView:
    """What escalation needs of one department's assignment."""

    assignment_id: str
    department: str
    role: AssignmentRole
    state: AssignmentState
    ack_due_at: datetime
    handle_due_at: datetime


@dataclass(frozen=True, slots=True)
class CaseView:
    """What escalation needs of a case.  ``handle_due_at`` is the local-handling due time
    (state ``handling_local``); departments' due times are on their assignments."""

    case_id: str
    case_number: str
    state: CaseState
    priority: Priority
    grid_code: str
    town_code: str
    policy_version: int
    assignments: tuple[AssignmentView, ...] = ()
    handle_due_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Escalation:
    """One escalation to send (the ``dispatch.escalation`` message and its table row)."""

    case_id: str
    case_number: str
    assignment_id: str | None
    department: str | None
    kind: EscalationKind
    level: int
    card: Card | None
    target_role: Role
    target_scope: str
    reason: str
    at: datetime  # the scheduled instant, identical on every replica
    due_at: datetime | None  # the missed due time (None: unroutable, no deadline)
    policy_version: int

    @property
    def key(self) -> EscalationKey:
        return (self.kind.value, self.level, self.assignment_id)

    def payload(self) -> dict[str, Any]:
        """Fields of ``EscalationV1`` (dump it with that schema)."""
        return {
            "case_id": self.case_id, "case_number": self.case_number,
            "assignment_id": self.assignment_id, "department": self.department,
            "kind": self.kind.value, "card": self.card.value if self.card else None,
            "level": self.level, "target_role": self.target_role.value,
            "target_scope": self.target_scope, "reason": self.reason, "at": self.at,
        }


def target_scope(scope: ScopeLevel, grid_code: str, town_code: str) -> str:
    """The scope string of the person to tell, from the case's codes (P4.1 codes nest)."""
    codes = {
        ScopeLevel.GRID: grid_code,
        ScopeLevel.COMMUNITY: community_of(grid_code),
        ScopeLevel.TOWN: town_code,
        ScopeLevel.DISTRICT: district_of(town_code),
    }
    if scope not in codes:
        raise ValueError(f"no case scope for {scope}")
    return f"{scope.value}:{codes[scope]}"


def _normalise_keys(already_sent: Iterable[tuple[Any, ...]]) -> set[EscalationKey]:
    return {
        (EscalationKind(str(kind)).value, int(level), None if aid is None else str(aid))
        for kind, level, aid in already_sent
    }


def _reason(kind: EscalationKind, department: str | None, due_at: datetime, level: int,
            card: Card | None, calendar: WorkCalendar,
            names: Mapping[str, str] | None = None) -> str:
    """A sentence for the person told (zh, as the platform's users read it); a department
    by the register's name (``names``), by its code while the register does not know it."""
    due = due_at.astimezone(calendar.tz).strftime("%Y-%m-%d %H:%M")
    name = (names or {}).get(department or "")
    who = name or (f"{department} 部门" if department else "承办网格/社区")
    if kind == EscalationKind.ACK_TIMEOUT:
        what = f"{who}未在签收时限内报到（应于 {due} 前签收）"
    else:
        what = f"{who}超过办理时限未报告结果（应于 {due} 前办结）"
    label = CARD_LABELS.get(card, "督办") if card else "督办"
    return f"{what}；第 {level} 级{label}"


@dataclass(frozen=True, slots=True)
class _Stage:
    kind: EscalationKind
    due_at: datetime
    assignment_id: str | None
    department: str | None


def _open_stages(case: CaseView) -> list[_Stage]:
    """Stages still owed: P2.2 report-in and P5.3.3 result, per active assignment; the
    result of local handling.  Suspended, resolved and finished cases owe nothing."""
    if case.state == CaseState.HANDLING_LOCAL and case.handle_due_at is not None:
        return [_Stage(EscalationKind.OVERDUE, case.handle_due_at, None, None)]
    if case.state not in (CaseState.DISPATCHED, CaseState.IN_PROGRESS):
        return []
    stages = []
    for a in case.assignments:
        if AssignmentState(a.state) not in ACTIVE_ASSIGNMENT_STATES:
            continue
        if AssignmentState(a.state) == AssignmentState.SENT:
            stages.append(_Stage(EscalationKind.ACK_TIMEOUT, a.ack_due_at,
                                 str(a.assignment_id), a.department))
        stages.append(_Stage(EscalationKind.OVERDUE, a.handle_due_at,
                             str(a.assignment_id), a.department))
    return stages


def next_escalations(case: CaseView, now: datetime, calendar: WorkCalendar,
                     already_sent: Iterable[tuple[Any, ...]],
                     policy: EscalationPolicy,
                     names: Mapping[str, str] | None = None) -> list[Escalation]:
    """Escalations due at ``now`` and not yet sent, oldest first (P6.2 督办).

    ``already_sent``: keys (kind, level, assignment_id or None) of escalations recorded
    for this case.  ``policy`` must be the version the case carries (``PolicyBook.get``).
    Levels missed while no timer ran are all returned, each with its own scheduled ``at``.
    """
    if policy.version != case.policy_version:
        raise ValueError(f"case {case.case_number} runs under escalation policy "
                         f"{case.policy_version}, not {policy.version}")
    sent = _normalise_keys(already_sent)
    result = []
    for stage in _open_stages(case):
        for step in policy.schedule(stage.kind, stage.due_at, case.priority, calendar):
            key = (stage.kind.value, step.level, stage.assignment_id)
            if step.at > now or key in sent:
                continue
            sent.add(key)
            result.append(Escalation(
                case.case_id, case.case_number, stage.assignment_id, stage.department,
                stage.kind, step.level, step.card, step.role,
                target_scope(step.scope, case.grid_code, case.town_code),
                _reason(stage.kind, stage.department, stage.due_at, step.level, step.card,
                        calendar, names),
                step.at, stage.due_at, policy.version,
            ))
    return sorted(result, key=lambda e: (e.at, e.kind.value, e.assignment_id or "", e.level))

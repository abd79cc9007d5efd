"""The case state machine of the dispatch service (P2.2, P5.1.5, P5.2, P5.3).

One table, ``TRANSITIONS``, lists every allowed move: its name, the states it leaves, the
state it reaches and who may make it.  The service never sets ``cases.state`` any other way,
so what the table says (and what ``render_markdown`` prints for the docs) is what happens.

Actors are the roles of ``gridgov_common.kernel.roles`` plus two pseudo-actors: ``system`` (the
service itself, e.g. automatic triage) and ``department`` (a department reporting in over
the bus, or a department officer acting for it).  Scope checks (is this town chief the
chief of the case's town?) are the service's job: this module only knows roles.

The flow follows the standard digital city-management case flow (DOMAIN-REFERENCES §1):
file → triage (own level, lower/upper level, or departments) → report in → handle →
report the result → return visit → close, with rework, cancellation (注销) and suspension
(挂账) on the side.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from gridgov_common.contract.cases import AssignmentRole
from gridgov_common.kernel.roles import STAFF_ROLES, Role

__all__ = [
    "ACTIVE_ASSIGNMENT_STATES", "OPEN_STATES", "TERMINAL_STATES", "TRANSITIONS",
    "TRANSITIONS_BY_NAME", "Actor", "AssignmentState", "AssignmentStatus", "CaseState",
    "HandlingLevel", "IllegalTransition", "PseudoActor", "TransitionName", "TransitionRule",
    "allowed", "apply", "merged_end", "normalise_actor", "render_markdown", "shift_level",
    "unmerge_target",
]


class CaseState(StrEnum):
    """States of a case (P5.3)."""

    FILED = "filed"  # received, awaiting triage at its handling level (P5.3.1)
    HANDLING_LOCAL = "handling_local"  # handled at its own level by grid staff (P5.3.2)
    DISPATCHED = "dispatched"  # the town whistled; awaiting the lead's report-in (P2.2)
    IN_PROGRESS = "in_progress"  # the lead department reported in (acked)
    RESOLVED = "resolved"  # result reported; awaiting the return visit (P5.3.3)
    CLOSED = "closed"
    SUSPENDED = "suspended"  # 挂账: cannot be solved now, with approval
    CANCELLED = "cancelled"  # 注销: fails the filing conditions
    MERGED = "merged"  # 并案: a confirmed duplicate, finished with its original (P5.3.1)


class PseudoActor(StrEnum):
    """Actors that are not a person's role."""

    SYSTEM = "system"  # the dispatch service itself (automatic triage, on-spot closure)
    DEPARTMENT = "department"  # P2.2: a department reporting in


Actor = Role | PseudoActor


class HandlingLevel(StrEnum):
    """P5.0/P5.3.2: the level that currently owns the case, lowest first."""

    GRID = "grid"
    COMMUNITY = "community"
    TOWN = "town"
    DISTRICT = "district"


class TransitionName(StrEnum):
    TRIAGE_LOCAL = "triage_local"
    DISPATCH = "dispatch"
    REPORT_UP = "report_up"
    ASSIGN_DOWN = "assign_down"
    CANCEL = "cancel"
    CLOSE_ON_SPOT = "close_on_spot"
    ACK = "ack"
    DEPARTMENT_RETURN = "department_return"
    LOCAL_RESULT = "local_result"
    DEPARTMENT_RESULT = "department_result"
    RETURN_VISIT_SATISFIED = "return_visit_satisfied"
    RETURN_VISIT_UNSATISFIED = "return_visit_unsatisfied"
    SUSPEND = "suspend"
    RESUME = "resume"
    MERGE = "merge"
    UNMERGE = "unmerge"
    CLOSE_MERGED = "close_merged"


class AssignmentState(StrEnum):
    """One department's work order on a case (DOMAIN-REFERENCES §4, case vs work orders)."""

    SENT = "sent"
    ACKED = "acked"
    REPORTED = "reported"  # result reported
    RETURNED = "returned"  # 退办: "not ours", with a reason
    WITHDRAWN = "withdrawn"  # the case was re-triaged, suspended or cancelled


# Assignments that still owe the case something (a report-in or a result).
ACTIVE_ASSIGNMENT_STATES = frozenset({AssignmentState.SENT, AssignmentState.ACKED})

# "Open" = the case still needs work; suspended cases are parked, merged ones wait for
# their original, terminal ones are done.
OPEN_STATES = frozenset({
    CaseState.FILED, CaseState.HANDLING_LOCAL, CaseState.DISPATCHED, CaseState.IN_PROGRESS,
    CaseState.RESOLVED,
})
TERMINAL_STATES = frozenset({CaseState.CLOSED, CaseState.CANCELLED})


class IllegalTransition(Exception):
    """A transition the table (or one of its conditions) refuses.

    ``code`` is stable and machine-readable (``unknown_transition``, ``unknown_actor``,
    ``wrong_state``, ``actor_not_allowed``, ``lead_only``, ``results_pending``,
    ``reason_required``, ``context_required``, ``no_level_above``, ``no_level_below``);
    ``message`` says which transition, which state and who may.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


@dataclass(frozen=True, slots=True)
class TransitionRule:
    """One row of the table.  ``target`` is None where the condition decides it
    (``return_visit_unsatisfied`` goes back to whoever handled the case)."""

    name: TransitionName
    sources: frozenset[CaseState]
    target: CaseState | None
    actors: frozenset[Actor]
    clause: str
    note: str
    lead_only: bool = False
    reason_required: bool = False
    counts_rework: bool = False
    target_note: str = ""  # where a context-decided target goes (the docs' table)


@dataclass(frozen=True, slots=True)
class AssignmentStatus:
    """What ``department_result`` needs to know about each assignment of the case."""

    department: str
    role: AssignmentRole
    state: AssignmentState


_S = CaseState
_SYSTEM = PseudoActor.SYSTEM
_DEPARTMENT = PseudoActor.DEPARTMENT
# P5.1.5/P5.2.1: the people who go back to the resident
_VISITORS = frozenset({
    Role.NEIGHBOURHOOD_GRID_WORKER, Role.COMMUNITY_GRID_WORKER, Role.COMMUNITY_GRID_CHIEF,
})
_APPROVERS = frozenset({Role.TOWN_GRID_CHIEF, Role.DISTRICT_ADMIN})  # 挂账 needs approval


def _rule(name: TransitionName, sources: Iterable[CaseState], target: CaseState | None,
          actors: Iterable[Actor], clause: str, note: str, **flags: bool | str,
          ) -> TransitionRule:
    return TransitionRule(name, frozenset(sources), target, frozenset(actors), clause, note,
                          **flags)  # type: ignore[arg-type]


TRANSITIONS: tuple[TransitionRule, ...] = (
    # P5.3.2: handle at own level
    _rule(TransitionName.TRIAGE_LOCAL, [_S.FILED], _S.HANDLING_LOCAL,
          [_SYSTEM, Role.COMMUNITY_GRID_CHIEF, Role.COMMUNITY_GRID_WORKER,
           Role.TOWN_GRID_CHIEF, Role.DISTRICT_ADMIN],
          "P5.3.2", "handle at own level"),
    # P2.2/P5.3.2: the town whistles, departments must report in; the clock starts
    _rule(TransitionName.DISPATCH, [_S.FILED], _S.DISPATCHED,
          [_SYSTEM, Role.COMMUNITY_GRID_CHIEF, Role.TOWN_GRID_CHIEF, Role.DISTRICT_ADMIN],
          "P2.2, P5.3.2", "assignments sent to the departments"),
    # P5.3.1/P5.3.2: report upward level by level, or ask the level above to coordinate
    _rule(TransitionName.REPORT_UP, [_S.FILED], _S.FILED,
          [Role.COMMUNITY_GRID_CHIEF, Role.COMMUNITY_GRID_WORKER, Role.GRID_INSTRUCTOR,
           Role.TOWN_GRID_CHIEF],
          "P5.3.1, P5.3.2", "handling level one up (grid → community → town → district)"),
    # P5.3.2: assign down to a lower level
    _rule(TransitionName.ASSIGN_DOWN, [_S.FILED], _S.FILED,
          [Role.TOWN_GRID_CHIEF, Role.DISTRICT_ADMIN, Role.COMMUNITY_GRID_CHIEF],
          "P5.3.2", "handling level one down"),
    # DOMAIN-REFERENCES §1: cases failing the filing conditions are cancelled (注销)
    _rule(TransitionName.CANCEL, [_S.FILED], _S.CANCELLED,
          [Role.COMMUNITY_GRID_CHIEF, Role.TOWN_GRID_CHIEF, Role.DISTRICT_ADMIN],
          "P5.3.1", "fails the filing conditions (注销)", reason_required=True),
    # P5.1.5: small problems do not leave the grid — reported as already handled on the spot
    _rule(TransitionName.CLOSE_ON_SPOT, [_S.FILED], _S.CLOSED, [_SYSTEM],
          "P5.1.5", "handled on the spot (自办自结)"),
    # P2.2: the lead department reports in
    _rule(TransitionName.ACK, [_S.DISPATCHED], _S.IN_PROGRESS, [_DEPARTMENT],
          "P2.2", "lead department reported in (签收)", lead_only=True),
    # DOMAIN-REFERENCES §1: a unit that is not responsible returns the case (退办) → re-triage
    _rule(TransitionName.DEPARTMENT_RETURN, [_S.DISPATCHED, _S.IN_PROGRESS], _S.FILED,
          [_DEPARTMENT], "P5.3.2", "lead department returned it (退办); re-triage",
          lead_only=True, reason_required=True),
    # P5.3.3: finished at own level within the time limit
    _rule(TransitionName.LOCAL_RESULT, [_S.HANDLING_LOCAL], _S.RESOLVED, STAFF_ROLES,
          "P5.3.3", "result of local handling reported"),
    # P5.3.2/P5.3.3: several departments coordinate — resolved only when all reported
    # (whichever department's result completes the set makes the move, lead or assist)
    _rule(TransitionName.DEPARTMENT_RESULT, [_S.IN_PROGRESS], _S.RESOLVED, [_DEPARTMENT],
          "P5.3.2, P5.3.3", "the lead and every assisting department reported a result"),
    # P5.2.1/P5.3.3: the result goes back to the resident; only their confirmation closes
    _rule(TransitionName.RETURN_VISIT_SATISFIED, [_S.RESOLVED], _S.CLOSED, _VISITORS,
          "P5.2.1, P5.3.3", "return visit (回访): resident satisfied"),
    _rule(TransitionName.RETURN_VISIT_UNSATISFIED, [_S.RESOLVED], None, _VISITORS,
          "P5.2.1, P5.3.3",
          "return visit: not solved → rework (返工), back to whoever handled it",
          reason_required=True, counts_rework=True),
    # DOMAIN-REFERENCES §1: unresolvable cases may be suspended (挂账) after approval
    _rule(TransitionName.SUSPEND, OPEN_STATES, _S.SUSPENDED, _APPROVERS,
          "P5.3.2, P6.2", "suspended (挂账) with an approval reason", reason_required=True),
    _rule(TransitionName.RESUME, [_S.SUSPENDED], _S.FILED, _APPROVERS,
          "P5.3.2", "resumed; re-triage"),
    # P5.3.1: a grid worker confirmed the case duplicates another (collect and archive by
    # class): it joins the original's flow; its own deadlines and escalations stop
    _rule(TransitionName.MERGE, [*OPEN_STATES, _S.SUSPENDED], _S.MERGED, [_SYSTEM],
          "P5.3.1", "confirmed duplicate merged into its original (并案); open assignments "
          "withdrawn, own deadlines stop"),
    # P5.3.1/P5.3.3: the link was undone before the original finished: back to its own
    # flow, where it was, with deadlines counted again from now
    _rule(TransitionName.UNMERGE, [_S.MERGED], None, [_SYSTEM], "P5.3.1, P5.3.3",
          "duplicate link undone before the original finished; own deadlines from now",
          target_note="the state it was merged from (`dispatched` again if it was "
                      "`in_progress`: the departments get new assignments)"),
    # P5.3.3: the original's result is the duplicate's; it goes back to its reporter too
    _rule(TransitionName.CLOSE_MERGED, [_S.MERGED], None, [_SYSTEM], "P5.3.3",
          "the original was closed or cancelled: the duplicate ends with it",
          target_note="`closed` (`cancelled` if the original was cancelled)"),
)

TRANSITIONS_BY_NAME: dict[TransitionName, TransitionRule] = {t.name: t for t in TRANSITIONS}

_LEVELS: tuple[HandlingLevel, ...] = tuple(HandlingLevel)
_PSEUDO_VALUES = frozenset(p.value for p in PseudoActor)


def normalise_actor(actor: Actor | str) -> Actor:
    """Map a role or pseudo-actor code to its enum.

    A ``department_officer`` acting through the API speaks for its department, so it is the
    ``department`` pseudo-actor here (P2.2); the service checks which department.
    """
    value = str(actor)
    if value == Role.DEPARTMENT_OFFICER:
        return PseudoActor.DEPARTMENT
    if value in _PSEUDO_VALUES:
        return PseudoActor(value)
    try:
        return Role(value)
    except ValueError:
        raise IllegalTransition("unknown_actor", f"unknown actor {value!r}") from None


def _rule_for(transition: TransitionName | str) -> TransitionRule:
    try:
        return TRANSITIONS_BY_NAME[TransitionName(str(transition))]
    except ValueError:
        known = ", ".join(TransitionName)
        raise IllegalTransition(
            "unknown_transition", f"unknown transition {transition!r} (known: {known})"
        ) from None


def _state(state: CaseState | str) -> CaseState:
    try:
        return CaseState(str(state))
    except ValueError:
        raise IllegalTransition("wrong_state", f"unknown case state {state!r}") from None


def _names(values: Iterable[str]) -> str:
    return ", ".join(sorted(str(v) for v in values))


def _check_table(rule: TransitionRule, state: CaseState, actor: Actor) -> None:
    """The table's own checks: source state and actor."""
    if state not in rule.sources:
        raise IllegalTransition(
            "wrong_state",
            f"{rule.name} is not allowed from state {state}; only from {_names(rule.sources)}",
        )
    if actor not in rule.actors:
        raise IllegalTransition(
            "actor_not_allowed",
            f"{actor} may not {rule.name} a case in state {state}; "
            f"allowed: {_names(rule.actors)}",
        )


def _check_lead(rule: TransitionRule, assignment_role: AssignmentRole | str | None) -> None:
    """P5.3.2: with several departments, only the lead moves the case (an assist's ack or
    return is recorded on its own assignment and leaves the case where it is)."""
    if not rule.lead_only:
        return
    if assignment_role is None:
        raise IllegalTransition("context_required",
                                f"{rule.name} needs the department's assignment role")
    if AssignmentRole(str(assignment_role)) != AssignmentRole.LEAD:
        raise IllegalTransition(
            "lead_only",
            f"only the lead department's {rule.name} moves the case; an assisting "
            "department's report is recorded on its assignment only",
        )


def _check_results(assignments: Sequence[AssignmentStatus] | None) -> None:
    """P5.3.2/P5.3.3 multi-department rule: a case is resolved only when the lead AND every
    assisting department still on the case have reported a result (returned or withdrawn
    assignments owe nothing)."""
    if assignments is None:
        raise IllegalTransition("context_required",
                                "department_result needs the case's assignments")
    leads = [a for a in assignments if a.role == AssignmentRole.LEAD]
    if not leads:
        raise IllegalTransition("results_pending", "the case has no lead assignment")
    pending = sorted(
        f"{a.department} ({a.role})" for a in assignments
        if a.state in ACTIVE_ASSIGNMENT_STATES
        or (a.role == AssignmentRole.LEAD and a.state != AssignmentState.REPORTED)
    )
    if pending:
        raise IllegalTransition(
            "results_pending", "department_result needs a result from every department "
            f"on the case; still waiting for: {', '.join(pending)}",
        )


def _check_reason(rule: TransitionRule, reason: str | None) -> None:
    # P5.3.4: every step is kept in the case file; these steps must say why
    if rule.reason_required and not (reason and reason.strip()):
        raise IllegalTransition("reason_required", f"{rule.name} needs a reason")


def unmerge_target(merged_from: CaseState | str | None) -> CaseState:
    """P5.3.1/P5.3.3: an undone duplicate returns to where it was merged from; a case the
    lead department had acknowledged goes back to ``dispatched``, since its departments
    receive new assignments (the merge withdrew the old ones) and report in again."""
    if merged_from is None:
        raise IllegalTransition("context_required",
                                "unmerge needs the state the case was merged from")
    state = _state(merged_from)
    if state in (CaseState.MERGED, *TERMINAL_STATES):
        raise IllegalTransition("wrong_state", f"a case is never merged from {state}")
    return CaseState.DISPATCHED if state == CaseState.IN_PROGRESS else state


def merged_end(original_state: CaseState | str | None) -> CaseState:
    """P5.3.3: a merged duplicate ends as its original ended, closed or cancelled."""
    if original_state is None:
        raise IllegalTransition("context_required",
                                "close_merged needs the original case's state")
    state = _state(original_state)
    if state not in TERMINAL_STATES:
        raise IllegalTransition("original_open",
                                f"the original case is {state}, not closed or cancelled")
    return state


def _target(rule: TransitionRule, handled_locally: bool | None,
            merged_from: CaseState | str | None = None,
            original_state: CaseState | str | None = None) -> CaseState:
    """Where the transition goes; rework returns to whoever handled the case, an undone
    merge to where the case was, a merged duplicate ends as its original did."""
    if rule.target is not None:
        return rule.target
    if rule.name == TransitionName.UNMERGE:
        return unmerge_target(merged_from)
    if rule.name == TransitionName.CLOSE_MERGED:
        return merged_end(original_state)
    if handled_locally is None:
        raise IllegalTransition(
            "context_required",
            f"{rule.name} needs to know whether the case was handled locally",
        )
    return CaseState.HANDLING_LOCAL if handled_locally else CaseState.DISPATCHED


def apply(state: CaseState | str, transition: TransitionName | str, actor: Actor | str, *,
          assignment_role: AssignmentRole | str | None = None,
          assignments: Sequence[AssignmentStatus] | None = None,
          handled_locally: bool | None = None,
          reason: str | None = None,
          merged_from: CaseState | str | None = None,
          original_state: CaseState | str | None = None) -> CaseState:
    """Return the state ``transition`` leads to from ``state`` when ``actor`` makes it.

    Context, needed only by some transitions: ``assignment_role`` — the reporting
    department's role (``ack`` and ``department_return`` move the case only for the lead);
    ``assignments`` — every assignment of the case (``department_result``);
    ``handled_locally`` — was it handled at own level (``return_visit_unsatisfied``);
    ``reason`` — required by cancel, department_return, return_visit_unsatisfied, suspend;
    ``merged_from`` — the state a merged case left (``unmerge``); ``original_state`` —
    the state of the case a merged duplicate belongs to (``close_merged``).
    Raises ``IllegalTransition``.
    """
    rule = _rule_for(transition)
    current = _state(state)
    _check_table(rule, current, normalise_actor(actor))
    _check_lead(rule, assignment_role)
    if rule.name == TransitionName.DEPARTMENT_RESULT:
        _check_results(assignments)
    _check_reason(rule, reason)
    return _target(rule, handled_locally, merged_from, original_state)


def allowed(state: CaseState | str, actor: Actor | str) -> list[TransitionName]:
    """Transitions ``actor`` may attempt from ``state``, in table order (for UIs: which
    buttons to show).  Conditions on context (lead only, results, reason) are not checked."""
    current = _state(state)
    who = normalise_actor(actor)
    return [t.name for t in TRANSITIONS if current in t.sources and who in t.actors]


def shift_level(level: HandlingLevel | str, transition: TransitionName | str) -> HandlingLevel:
    """P5.3.2: the handling level after ``report_up`` (one up) or ``assign_down`` (one down)."""
    name = _rule_for(transition).name
    index = _LEVELS.index(HandlingLevel(str(level)))
    if name == TransitionName.REPORT_UP:
        if index == len(_LEVELS) - 1:
            raise IllegalTransition("no_level_above",
                                    f"report_up: there is no level above {_LEVELS[index]}")
        return _LEVELS[index + 1]
    if name == TransitionName.ASSIGN_DOWN:
        if index == 0:
            raise IllegalTransition("no_level_below",
                                    f"assign_down: there is no level below {_LEVELS[index]}")
        return _LEVELS[index - 1]
    raise IllegalTransition("unknown_transition", f"{name} does not change the handling level")


# P5.0/P5.3.2: the level each grid role works at. A case belongs to its handling level:
# staff of that level or above triage it, staff below do not (once reported up, a case is
# out of the grid worker's hands until it is assigned down again).
ROLE_LEVEL: dict[Role, HandlingLevel] = {
    Role.NEIGHBOURHOOD_GRID_WORKER: HandlingLevel.GRID,
    Role.COMMUNITY_GRID_WORKER: HandlingLevel.GRID,
    Role.COMMUNITY_GRID_CHIEF: HandlingLevel.COMMUNITY,
    Role.GRID_INSTRUCTOR: HandlingLevel.COMMUNITY,
    Role.TOWN_GRID_CHIEF: HandlingLevel.TOWN,
    Role.DISTRICT_ADMIN: HandlingLevel.DISTRICT,
}


def require_level(level: HandlingLevel | str, role: Role | str) -> None:
    """P5.3.2: refuse a triage by staff below the case's handling level."""
    case_level = HandlingLevel(str(level))
    role_level = ROLE_LEVEL.get(str(role))  # type: ignore[call-overload]
    if role_level is None or _LEVELS.index(role_level) >= _LEVELS.index(case_level):
        return  # non-staff actors are checked by the transition table
    raise IllegalTransition(
        "below_handling_level",
        f"the case is handled at {case_level} level; {role} works at {role_level} level")


def _cell_target(rule: TransitionRule) -> str:
    if rule.target is not None:
        return f"`{rule.target}`"
    return rule.target_note or "`dispatched` (or `handling_local` if handled locally)"


def _cell_conditions(rule: TransitionRule) -> str:
    flags = [label for flag, label in (
        (rule.lead_only, "lead department only"),
        (rule.reason_required, "reason required"),
        (rule.counts_rework, "counts as rework"),
    ) if flag]
    return "; ".join([rule.note, *flags])


def render_markdown() -> str:
    """The transition table as Markdown, for docs/ (generated, so it cannot drift)."""
    lines = [
        "| transition | from | to | who | conditions | clause |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for rule in TRANSITIONS:
        sources = ", ".join(f"`{s}`" for s in CaseState if s in rule.sources)
        actors = ", ".join(f"`{a}`" for a in sorted(str(a) for a in rule.actors))
        lines.append(
            f"| `{rule.name}` | {sources} | {_cell_target(rule)} | {actors} | "
            f"{_cell_conditions(rule)} | {rule.clause} |"
        )
    return "\n".join(lines) + "\n"

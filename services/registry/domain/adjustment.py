"""The staff adjustment flow (P5.4.1 "those failing assessment are adjusted: community
proposes, town approves") as a plain state machine, separate from the tables.

An adjustment is opened when a published half-year assessment (P5.4.6) flags a person
(``assessment.staff.flagged``)::

    unmatched ──match──▶ flagged ──propose──▶ proposed ──approve──▶ approved ──apply──▶ applied
                                     ▲                  │
                                     └────propose────── rejected ◀──reject──┘

``unmatched``: the registry knows no active staff member with the flagged token subject; the
row stays visible until the subject is tied to a record. ``approved`` is passed through in
the transaction that applies the measure, so stored rows rest in ``applied``.

Measures map onto what the registry can do to a staff record (docs/STAFF-ADJUSTMENT.md):
``keep_with_training`` changes nothing in the record; ``reassign`` replaces the grids the
person answers for (P5.1.4); ``dismiss`` runs the neighbourhood grid worker's lifecycle
(``domain/staff.py``: propose_adjustment → approve_adjustment / reject_adjustment).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from gridgov_common.kernel.roles import Role


class State(StrEnum):
    UNMATCHED = "unmatched"
    FLAGGED = "flagged"
    PROPOSED = "proposed"
    APPROVED = "approved"
    REJECTED = "rejected"
    APPLIED = "applied"


class Action(StrEnum):
    MATCH = "match"
    PROPOSE = "propose"
    APPROVE = "approve"
    REJECT = "reject"
    APPLY = "apply"


class Measure(StrEnum):
    KEEP_WITH_TRAINING = "keep_with_training"
    REASSIGN = "reassign"
    DISMISS = "dismiss"


# P5.4.1 "the community proposes": the community grid chief (P5.1.3) or the community's grid
# instructor (P5.1.2, the town's leader posted to the community); "the town approves": the
# town grid chief (P5.1.1).  ``None``: done by the registry itself, never by a caller.
PROPOSERS = frozenset({Role.COMMUNITY_GRID_CHIEF, Role.GRID_INSTRUCTOR})
APPROVERS = frozenset({Role.TOWN_GRID_CHIEF})


@dataclass(frozen=True, slots=True)
class Step:
    target: State
    roles: frozenset[Role] | None


TRANSITIONS: dict[tuple[State, Action], Step] = {
    (State.UNMATCHED, Action.MATCH): Step(State.FLAGGED, None),
    (State.FLAGGED, Action.PROPOSE): Step(State.PROPOSED, PROPOSERS),
    (State.REJECTED, Action.PROPOSE): Step(State.PROPOSED, PROPOSERS),  # propose again
    (State.PROPOSED, Action.APPROVE): Step(State.APPROVED, APPROVERS),
    (State.PROPOSED, Action.REJECT): Step(State.REJECTED, APPROVERS),
    (State.APPROVED, Action.APPLY): Step(State.APPLIED, None),
}


class AdjustmentError(ValueError):
    """``code``: ``illegal_transition`` (409) or ``forbidden_role`` (403)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def transition(state: str, action: str, role: str | None = None) -> str:
    """The state after ``action``; ``role`` is the caller's (None: the registry itself).

    The error names the possible actions, so a caller sees what it can do instead.
    """
    current, act = State(state), Action(action)
    step = TRANSITIONS.get((current, act))
    if step is None:
        possible = ", ".join(a.value for (s, a) in TRANSITIONS if s == current) or "none"
        raise AdjustmentError("illegal_transition",
                              f"cannot {act} an adjustment in state {current}; "
                              f"possible: {possible}")
    if step.roles is not None and (role is None or role not in step.roles):
        who = ", ".join(sorted(r.value for r in step.roles))
        raise AdjustmentError("forbidden_role",
                              f"{role} may not {act} an adjustment (P5.4.1: only {who})")
    return step.target.value


# The staff lifecycle steps (domain/staff.py) a dismissal runs, per adjustment action.
DISMISS_LIFECYCLE: dict[Action, str] = {
    Action.PROPOSE: "propose_adjustment",
    Action.APPROVE: "approve_adjustment",
    Action.REJECT: "reject_adjustment",
}

"""Merging a confirmed duplicate into its original's flow (并案; P5.3.1, P5.3.3): what a
grid worker's decision does to the duplicate, as a pure function of the two cases' states.

A grid worker confirms that a case reports the same problem as another (events,
``events.case.duplicate_decided``). The duplicate then stops being a case of its own: its
deadlines and escalations stop, and it finishes when the original finishes, with the
original's result (closed, or cancelled), which goes back to its reporter too (P5.3.3).
Undone before that, it goes back to its own flow. The state moves themselves are the state
machine's (``states``: ``merge``, ``unmerge``, ``close_merged``); this module only says
which of them a decision calls for, so the service and the tests share one rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from services.dispatch.domain.states import TERMINAL_STATES, CaseState, TransitionName

__all__ = ["Decision", "Plan", "Skip", "plan", "is_newer"]


class Decision(StrEnum):
    CONFIRMED = "confirmed"
    UNDONE = "undone"


class Skip(StrEnum):
    """Why a decision moves nothing; each but ``nothing_to_undo`` and ``already_merged``
    is still written into the duplicate's case file (P5.3.4: every step is kept)."""

    ALREADY_MERGED = "already_merged"  # the same confirmation again (idempotent)
    NOTHING_TO_UNDO = "nothing_to_undo"  # undone while never merged (a suggestion only)
    FINISHED = "finished"  # the duplicate closed or was cancelled on its own first
    TOO_LATE = "too_late"  # undone after it closed with its original: the result stands


@dataclass(frozen=True)
class Plan:
    """The moves a decision calls for, in order, or why there are none (``skip``)."""

    moves: tuple[TransitionName, ...] = ()
    skip: Skip | None = None


def plan(decision: Decision | str, duplicate_state: CaseState | str,
         merged_into: str | None, original_id: str,
         original_state: CaseState | str) -> Plan:
    """The moves ``decision`` calls for on a duplicate in ``duplicate_state`` (merged into
    ``merged_into`` so far, None if not merged) whose original ``original_id`` is in
    ``original_state``."""
    duplicate = CaseState(str(duplicate_state))
    original = CaseState(str(original_state))
    if Decision(str(decision)) == Decision.CONFIRMED:
        if duplicate == CaseState.MERGED and merged_into == original_id:
            return Plan(skip=Skip.ALREADY_MERGED)
        if duplicate in TERMINAL_STATES:
            # P5.3.3: it was finished and its result told; a merge cannot undo that
            return Plan(skip=Skip.FINISHED)
        if original in TERMINAL_STATES:
            # P5.3.1/P5.3.3: the original is finished: the duplicate ends now, as it did
            return Plan((TransitionName.MERGE, TransitionName.CLOSE_MERGED))
        return Plan((TransitionName.MERGE,))  # P5.3.1: closed when the original closes
    if duplicate == CaseState.MERGED:
        return Plan((TransitionName.UNMERGE,))  # P5.3.1: back to its own flow
    if merged_into is not None and duplicate in TERMINAL_STATES:
        return Plan(skip=Skip.TOO_LATE)
    return Plan(skip=Skip.NOTHING_TO_UNDO)


def is_newer(decided_at: datetime, last_decided_at: datetime | None) -> bool:
    """Decisions on one case apply in the order they were made, whatever order the bus
    delivers them in: a confirm arriving after its own undo changes nothing."""
    return last_decided_at is None or decided_at > last_decided_at

"""Merging confirmed duplicates (P5.3.1, P5.3.3; issue 11 M9): the pure rule of
``services/dispatch/domain/merging.py``, the state machine's merge moves and the case
file's merge entries. No broker, no database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.dispatch.domain import merging, states
from services.dispatch.domain.casefile import Entry, chain, verify
from services.dispatch.domain.casefile_page import render_page
from services.dispatch.domain.merging import Plan, Skip, plan
from services.dispatch.domain.states import CaseState, IllegalTransition, TransitionName
from tests.unit.test_casefile_page import visible

ORIGINAL = "5d1c7a58-8f0e-4c1b-9a3e-2b6f0d4e9a11"
OTHER = "7c2e9a14-5b3d-4f6e-8a1b-2c3d4e5f6a7b"
MERGE, CLOSE, UNMERGE = (TransitionName.MERGE, TransitionName.CLOSE_MERGED,
                         TransitionName.UNMERGE)
WORKING = ("filed", "handling_local", "dispatched", "in_progress", "resolved", "suspended")


@pytest.mark.parametrize("state", WORKING)
def test_a_confirmed_duplicate_joins_an_open_original(state):
    """P5.3.1: from wherever it stands, it waits for the original (closed with it)."""
    assert plan("confirmed", state, None, ORIGINAL, "in_progress") == Plan((MERGE,))
    assert states.apply(state, MERGE, "system") == CaseState.MERGED


@pytest.mark.parametrize("original", ["closed", "cancelled"])
def test_a_duplicate_of_a_finished_original_ends_at_once_as_it_did(original):
    """P5.3.3: the original's result is the duplicate's, now."""
    assert plan("confirmed", "dispatched", None, ORIGINAL, original) == Plan((MERGE, CLOSE))
    assert states.apply("merged", CLOSE, "system", original_state=original) == original


def test_an_original_that_waits_itself_keeps_the_duplicate_waiting():
    """A chain: the original was merged into a third case; both end when that one ends."""
    assert plan("confirmed", "filed", None, ORIGINAL, "merged") == Plan((MERGE,))
    assert plan("confirmed", "filed", None, ORIGINAL, "suspended") == Plan((MERGE,))


def test_confirming_twice_changes_nothing():
    assert plan("confirmed", "merged", ORIGINAL, ORIGINAL, "dispatched") == Plan(
        skip=Skip.ALREADY_MERGED)


@pytest.mark.parametrize("state", ["closed", "cancelled"])
def test_a_duplicate_finished_on_its_own_is_not_merged(state):
    """P5.3.3: its result went back to its reporter already; the merge cannot undo it."""
    assert plan("confirmed", state, None, ORIGINAL, "dispatched") == Plan(skip=Skip.FINISHED)


def test_an_undo_takes_a_waiting_duplicate_back_and_is_too_late_after_the_end():
    assert plan("undone", "merged", ORIGINAL, ORIGINAL, "in_progress") == Plan((UNMERGE,))
    assert plan("undone", "closed", ORIGINAL, ORIGINAL, "closed") == Plan(skip=Skip.TOO_LATE)
    # an undone suggestion that was never confirmed: nothing to take back
    assert plan("undone", "dispatched", None, ORIGINAL, "dispatched") == Plan(
        skip=Skip.NOTHING_TO_UNDO)
    assert plan("undone", "closed", None, ORIGINAL, "closed") == Plan(
        skip=Skip.NOTHING_TO_UNDO)


@pytest.mark.parametrize(("merged_from", "back_to"), [
    ("filed", "filed"), ("handling_local", "handling_local"), ("dispatched", "dispatched"),
    ("in_progress", "dispatched"), ("resolved", "resolved"), ("suspended", "suspended"),
])
def test_an_undone_merge_returns_where_it_was(merged_from, back_to):
    """P5.3.1/P5.3.3: its own flow again; the departments report in again on new
    assignments, so an acknowledged case is dispatched again, not in progress."""
    assert states.apply("merged", UNMERGE, "system", merged_from=merged_from) == back_to


def test_the_merge_moves_refuse_what_cannot_be():
    with pytest.raises(IllegalTransition) as refused:
        states.apply("merged", CLOSE, "system", original_state="in_progress")
    assert refused.value.code == "original_open"
    for missing in ({}, {"merged_from": None}):
        with pytest.raises(IllegalTransition) as refused:
            states.apply("merged", UNMERGE, "system", **missing)
        assert refused.value.code == "context_required"
    with pytest.raises(IllegalTransition) as refused:
        states.unmerge_target("closed")
    assert refused.value.code == "wrong_state"
    for state in ("closed", "cancelled", "merged"):  # nothing final is merged again
        with pytest.raises(IllegalTransition) as refused:
            states.apply(state, MERGE, "system")
        assert refused.value.code == "wrong_state"
    with pytest.raises(IllegalTransition) as refused:  # people never merge by hand
        states.apply("dispatched", MERGE, "town_grid_chief")
    assert refused.value.code == "actor_not_allowed"


def test_a_merged_case_is_neither_open_nor_final():
    """No deadline runs for it, and it is not finished until its original is."""
    assert CaseState.MERGED not in states.OPEN_STATES
    assert CaseState.MERGED not in states.TERMINAL_STATES


def test_decisions_apply_in_the_order_they_were_made():
    made = datetime(2026, 11, 28, 2, 40, tzinfo=UTC)
    assert merging.is_newer(made, None)
    assert merging.is_newer(made, made - timedelta(microseconds=1))
    assert not merging.is_newer(made, made)  # the same decision again
    assert not merging.is_newer(made - timedelta(seconds=1), made)  # overtaken by its undo


def test_the_case_file_names_the_original_in_both_languages():
    """P5.3.4: the merge is a hash-chained entry; the page reads 并案 GS… / Merged into
    case GS…, and the original's file names its duplicate."""
    at = datetime(2026, 11, 28, 2, 40, tzinfo=UTC)
    entries = chain([
        Entry(seq=1, at=at, actor_sub="system", actor_role="system", action="filed",
              to_state="filed"),
        Entry(seq=2, at=at, actor_sub="system", actor_role="system", action="merged_into",
              from_state="dispatched", to_state="merged",
              data={"original_case_number": "GS20261128-000123", "decided_by_sub": "w-1"}),
        Entry(seq=3, at=at, actor_sub="system", actor_role="system",
              action="closed_with_original", from_state="merged", to_state="closed",
              data={"original_case_number": "GS20261128-000123"}),
    ])
    assert verify(entries) == (True, None)
    case = {"case_number": "GS20261128-000124", "state": "closed"}
    zh, en = (visible(render_page(case, entries, lang=lang)) for lang in ("zh-CN", "en"))
    assert "系统：并案 GS20261128-000123，案件已并案，随原案办理" in zh
    assert "随原案结案 GS20261128-000123，案件已结案" in zh
    assert "Merged into case GS20261128-000123" in en
    assert "Closed with the original case GS20261128-000123" in en
    assert "已并案，随原案办理" in visible(render_page({"state": "merged"}, entries))
    original = chain([Entry(seq=1, at=at, actor_sub="system", actor_role="system",
                            action="duplicate_merged",
                            data={"duplicate_case_number": "GS20261128-000124"})])
    assert "Duplicate merged into this case GS20261128-000124" in visible(render_page(
        {}, original, lang="en"))

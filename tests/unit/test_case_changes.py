"""dispatch.case.changed keeps each case's changes in the order they were committed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.dispatch.case_store import announced_at


def test_a_case_change_is_never_announced_before_the_previous_one():
    """Followers keep the newest change by ``at``: a transaction that read the clock before
    waiting for the case's lock behind a later change announces just after that one."""
    now = datetime(2026, 12, 6, 5, 0, tzinfo=UTC)
    assert announced_at(None, now) == now
    assert announced_at(now - timedelta(seconds=1), now) == now
    assert announced_at(now, now) == now + timedelta(microseconds=1)
    assert announced_at(now + timedelta(seconds=2), now) == \
        now + timedelta(seconds=2, microseconds=1)

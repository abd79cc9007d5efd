"""The printable case file (P5.3.4) held to whole pages written once and reviewed.

The electronic file is printed, signed and archived: a district keeps the page, not our
code.  Its markup, labels, columns, local clock and verdict are a format like the stored
ones (tests/unit/test_stored_formats.py), so the whole page is compared with a committed
copy: a change to any of it (a column dropped, "On time" shown for a late step, a time on
the wrong clock, a label lost) fails here and must be made on purpose, by rewriting the
copies and reviewing the diff.

Rewrite after an intended change: ``GRIDGOV_WRITE_GOLDEN=1 pytest
tests/unit/test_casefile_page_golden.py`` writes the copies and fails (so a run that writes
never passes); review ``git diff tests/unit/golden`` and commit.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from services.dispatch.domain.casefile import Entry, chain
from services.dispatch.domain.casefile_page import render_page
from tests.unit.test_casefile_page import CONTEXT

GOLDEN = Path(__file__).parent / "golden"
T0 = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai

# Every field the case table shows, a datetime among them (shown on the local clock).
CASE = {
    "case_number": "GS20261126-000042", "state": "resolved",
    "work_category": "public_security_prevention",
    "subcategory": "fire_hazard", "severity": "major", "priority": "urgent",
    "handling_level": "town", "town_code": "320505001", "grid_code": "320505001001003",
    "reported_at": T0 - timedelta(minutes=3), "filed_at": T0, "rule_id": "fire.corridor",
    "rule_version": 3, "rework_count": 1, "resolved_at": T0 + timedelta(days=2, hours=15),
    "closed_at": None, "description": "3幢楼道<堆放>杂物 & \"电动车\"", "private": True,
}


def _entries() -> list[Entry]:
    """Each cell in each of its forms: named and unknown actions, one or two states, a
    reason that needs escaping, with and without deadline, on time / late / not judged,
    notifications, data, and a state the labels do not know."""
    return chain([
        Entry(1, T0, "svc-dispatch", "system", "filed", None, "filed",
              data={"rule_id": "fire.corridor", "rule_version": 3}),
        Entry(2, T0 + timedelta(minutes=5), "chief-7", "town_grid_chief", "dispatch",
              "filed", "dispatched", deadline=T0 + timedelta(hours=1),
              notifications=[{"to": "department:fire", "type": "dispatch.assignment"},
                             {"type": "dispatch.assignment", "to": "department:health"}]),
        Entry(3, T0 + timedelta(minutes=40), "fire-2", "department", "ack", "dispatched",
              "in_progress", deadline=T0 + timedelta(hours=1), on_time=True),
        Entry(4, T0 + timedelta(hours=30), "health-1", "department", "ack", None, None,
              deadline=T0 + timedelta(hours=1), on_time=False),
        Entry(5, T0 + timedelta(days=2), "ops", "district_admin", "archived_offsite",
              "in_progress", "somewhere_else", reason="<b>移交</b> & 存档"),
        Entry(6, T0 + timedelta(days=2, hours=15), "fire-2", "department",
              "department_result", "somewhere_else", "resolved", reason="杂物已清理",
              deadline=T0 + timedelta(days=5), on_time=True, data={"resolved": True}),
    ])


def _pages() -> dict[str, str]:
    entries = _entries()
    tampered = [*entries[:3], Entry(**{**entries[3].__dict__, "on_time": True}), *entries[4:]]
    return {
        "casefile_zh-CN.html": render_page(CASE, entries, CONTEXT),
        "casefile_en.html": render_page(CASE, [e.to_dict() for e in entries], CONTEXT,
                                        lang="en"),
        "casefile_broken_zh-CN.html": render_page({**CASE, "state": "closed"}, tampered),
        "casefile_broken_en.html": render_page({"case_number": "GS-1", "state": "odd"},
                                               tampered, lang="en", tz="UTC"),
    }


@pytest.mark.parametrize("name", sorted(_pages()))
def test_page_is_the_reviewed_page(name):
    page = _pages()[name]
    path = GOLDEN / name
    if os.environ.get("GRIDGOV_WRITE_GOLDEN") == "1":
        path.write_text(page, encoding="utf-8")
        pytest.fail(f"wrote {path}: review the diff and commit; then run without "
                    f"GRIDGOV_WRITE_GOLDEN")
    assert page == path.read_text(encoding="utf-8")

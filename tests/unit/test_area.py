"""P4.1: area codes nest (district 6, town 9, community 12, grid 15 digits); one module
says which place a code is in, and the district's clock (issue 11)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from gridgov_common.kernel import area
from gridgov_common.kernel.area import Level

GRID = "320505001001003"


def test_levels_by_length():
    assert [area.level_of(GRID[:n]) for n in (6, 9, 12, 15)] == [
        Level.DISTRICT, Level.TOWN, Level.COMMUNITY, Level.GRID]
    for bad in ("32050", "3205050011", "32050500100100a", "３２０５０５", "", "320505001001003 "):
        with pytest.raises(ValueError):
            area.level_of(bad)
        assert not area.is_code(bad)
    assert area.is_code(GRID) and area.is_code(GRID, Level.GRID)
    assert not area.is_code(GRID, Level.TOWN)


def test_the_enclosing_places():
    assert (area.district_of(GRID), area.town_of(GRID), area.community_of(GRID)) == (
        "320505", "320505001", "320505001001")
    assert area.parent(GRID, Level.GRID) == GRID
    assert area.town_of("320505001") == "320505001"  # itself at its own level
    with pytest.raises(ValueError):
        area.community_of("320505001")  # a town is in no community
    with pytest.raises(ValueError):
        area.town_of("fire")
    assert area.parent_or_none("320505", Level.TOWN) is None
    assert area.parent_or_none("civil_affairs", Level.TOWN) is None  # a department's scope
    assert area.parent_or_none(GRID, Level.COMMUNITY) == "320505001001"


def test_within():
    assert area.is_within(GRID, "320505001") and area.is_within(GRID, GRID)
    assert not area.is_within("320505001", GRID)  # the town is not inside its grid
    assert not area.is_within(GRID, "320506")
    assert not area.is_within(GRID, "3205")  # not an area code


def test_the_districts_clock():
    assert area.TZ.key == area.TZ_NAME == "Asia/Shanghai"
    late = datetime(2026, 12, 5, 17, 30, tzinfo=UTC)  # 01:30 the next day in Shanghai
    assert late.astimezone(area.TZ).date().isoformat() == "2026-12-06"

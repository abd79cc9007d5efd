"""The small facts every service shares about the district, owned here once (issue 11:
"area codes are sliced as bare strings in 20+ places; the time zone is written in 6"):

- **area codes** (P4.1): a grid's code holds its community's, which holds its town's, which
  holds its district's — district 6 digits (GB/T 2260), town 9 (+ GB/T 10114), community 12,
  grid 15. ``parent``/``town_of``… say which enclosing place a code is in, instead of
  ``code[:9]`` at every call site;
- **the district's clock**: local days (KPIs, deadlines, patrol days, case numbers) are
  days on this clock; instants are stored in UTC.
"""

from __future__ import annotations

from enum import StrEnum
from zoneinfo import ZoneInfo

TZ_NAME = "Asia/Shanghai"  # China Standard Time, the one official clock (UTC+8)
TZ = ZoneInfo(TZ_NAME)


class Level(StrEnum):
    """P4.1: the levels of the nested area codes, largest first."""

    DISTRICT = "district"
    TOWN = "town"
    COMMUNITY = "community"
    GRID = "grid"


LENGTHS: dict[Level, int] = {Level.DISTRICT: 6, Level.TOWN: 9, Level.COMMUNITY: 12,
                             Level.GRID: 15}
_BY_LENGTH = {length: level for level, length in LENGTHS.items()}


def code_pattern(*levels: Level) -> str:
    """The regular expression of a code of one of ``levels`` (one validation, not a regex
    per schema): ``code_pattern(Level.GRID)`` is ``^\\d{15}$``."""
    digits = [rf"\d{{{LENGTHS[level]}}}" for level in levels]
    return f"^{digits[0]}$" if len(digits) == 1 else f"^(?:{'|'.join(digits)})$"


def scope_pattern(*levels: Level) -> str:
    """The regular expression of a ``<level>:<code>`` scope of one of ``levels``."""
    return "^(" + "|".join(rf"{level}:\d{{{LENGTHS[level]}}}" for level in levels) + ")$"


def level_of(code: str) -> Level:
    """The level a code names, by its length (ValueError: not an area code)."""
    level = _BY_LENGTH.get(len(code)) if code.isascii() and code.isdigit() else None
    if level is None:
        raise ValueError(f"{code!r} is not a 6, 9, 12 or 15-digit area code")
    return level


def is_code(code: str, level: Level | None = None) -> bool:
    """Whether ``code`` is an area code (of ``level``, when given)."""
    try:
        found = level_of(code)
    except ValueError:
        return False
    return level is None or found == level


def parent(code: str, level: Level) -> str:
    """The code of the place at ``level`` that holds ``code`` (itself at its own level);
    ValueError when ``code`` is above ``level`` (a town has no community)."""
    if LENGTHS[level_of(code)] < LENGTHS[level]:
        raise ValueError(f"{code} is a {level_of(code)}: it is in no {level}")
    return code[:LENGTHS[level]]


def parent_or_none(code: str, level: Level) -> str | None:
    """``parent``, or None for a code above ``level`` or not an area code at all (a
    department's scope)."""
    try:
        return parent(code, level)
    except ValueError:
        return None


def district_of(code: str) -> str:
    return parent(code, Level.DISTRICT)


def town_of(code: str) -> str:
    return parent(code, Level.TOWN)


def community_of(code: str) -> str:
    return parent(code, Level.COMMUNITY)


def is_within(code: str, ancestor: str) -> bool:
    """Whether ``code`` is ``ancestor`` or a place inside it (P4.1 nesting)."""
    return (is_code(code) and is_code(ancestor) and len(ancestor) <= len(code)
            and code.startswith(ancestor))

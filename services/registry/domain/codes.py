"""Administrative and grid codes: the nested keys of every place in the registry.

A district (county-level) code is 6 digits (GB/T 2260: province 2 + prefecture 2 + county
2); the 12-digit statistical division code of a community adds a 3-digit township (GB/T
10114) and a 3-digit village-level part, each 001–999; a grid code adds a 3-digit sequence
(P4.1).  Which codes exist, when, and under which names is data, not a rule here: the
registry's versioned division table (services/registry/divisions.py, docs/PLACES.md).
Because each level's code starts with its parent's code, access scopes are plain prefix
tests (``is_within``).

Grid codes are issued centrally by the registry and nowhere else (P4.1): ``next_grid_code``
is the only function that makes one, and it never hands out a code that was ever issued,
so a retired grid's code keeps meaning that grid in old case files.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from enum import StrEnum

DISTRICT_CODE_LENGTH = 6
TOWN_CODE_LENGTH = 9
COMMUNITY_CODE_LENGTH = 12
# P4.1: grid code = 12-digit community code + 3-digit sequence = 15 digits (GB/T 30428.1
# layout as restated by local standards).  Some localities use 16–20 digits (longer
# sequences or an extra level); the sequence width below is the single place to change,
# and GRID_CODE_LENGTH / MAX_GRID_SEQUENCE follow from it.
GRID_SEQUENCE_LENGTH = 3
GRID_CODE_LENGTH = COMMUNITY_CODE_LENGTH + GRID_SEQUENCE_LENGTH
MAX_GRID_SEQUENCE = 10**GRID_SEQUENCE_LENGTH - 1

# GB/T 2260 province-level prefixes (first two digits of every county code).
PROVINCE_PREFIXES = frozenset({
    "11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37",
    "41", "42", "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64",
    "65", "71", "81", "82",
})

# GB/T 2260 prefecture-level cities with no county level: their towns sit directly under
# the prefecture's code (county part 00).  Data of the standard, kept short on purpose.
PREFECTURES_WITHOUT_COUNTIES = frozenset({"441900", "442000", "460400"})  # 东莞 中山 儋州

_DIGITS = {n: re.compile(rf"[0-9]{{{n}}}") for n in (6, 9, 12, GRID_CODE_LENGTH)}


class CodeError(ValueError):
    """A code is malformed; ``field`` names the input it came from (for 422 responses)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


class TownKind(StrEnum):
    """Township-level unit type, read from the township part of a statistical code."""

    STREET = "street"  # 街道 001–099
    TOWN = "town"  # 镇 100–199
    TOWNSHIP = "township"  # 乡 200–399
    ZONE = "zone"  # 400–599: development zones and similar units
    UNKNOWN = "unknown"


def _digits(code: object, length: int, field: str, what: str) -> str:
    """Return ``code`` stripped if it is exactly ``length`` ASCII digits, else raise."""
    if not isinstance(code, str):
        raise CodeError(field, f"{what} must be a string of {length} digits")
    code = code.strip()
    if not _DIGITS[length].fullmatch(code):
        raise CodeError(field, f"{what} must be exactly {length} digits, got {code!r}")
    return code


def validate_district_code(code: str, field: str = "code") -> str:
    """Check a 6-digit county-level code (GB/T 2260) and return it stripped.

    The code is province (2) + prefecture (2) + county (2).  The province must be one of
    GB/T 2260's; a prefecture part ``00`` is the province itself and a county part ``00``
    the prefecture itself, neither of which holds towns, so both are refused, except for
    the prefecture-level cities that have no county level at all and hold their towns
    directly (``PREFECTURES_WITHOUT_COUNTIES``: 441900 Dongguan, …).  Beyond that the
    code table is data (the ``districts`` rows with their validity), not a rule here: a
    newly created or abolished county code still passes (DOMAIN-REFERENCES §2: no hard
    failure on range heuristics).
    """
    code = _digits(code, DISTRICT_CODE_LENGTH, field, "a district code")
    if code[:2] not in PROVINCE_PREFIXES:
        raise CodeError(field, f"district code {code}: unknown province prefix {code[:2]}")
    if code[2:4] == "00":
        raise CodeError(field, f"district code {code}: prefecture part 00 is the province "
                               "itself, not a county-level unit")
    if code[4:] == "00" and code not in PREFECTURES_WITHOUT_COUNTIES:
        raise CodeError(field, f"district code {code}: county part 00 is the prefecture "
                               "itself, not a county-level unit")
    return code


def validate_town_code(code: str, field: str = "code") -> str:
    """Check a 9-digit township code: a valid district code plus a non-zero 3-digit part."""
    code = _digits(code, TOWN_CODE_LENGTH, field, "a town code")
    validate_district_code(code[:DISTRICT_CODE_LENGTH], field)
    if code[DISTRICT_CODE_LENGTH:] == "000":
        raise CodeError(field, f"town code {code}: township part 000 is the district itself")
    return code


def validate_community_code(code: str, field: str = "code") -> str:
    """Check a 12-digit statistical division code of a community (village-level unit)."""
    code = _digits(code, COMMUNITY_CODE_LENGTH, field, "a community code")
    validate_town_code(code[:TOWN_CODE_LENGTH], field)
    if code[TOWN_CODE_LENGTH:] == "000":
        raise CodeError(field, f"community code {code}: village part 000 is the town itself")
    return code


DIVISION_LEVELS = ("district", "town", "community")


def validate_division_code(level: str, code: str, field: str = "code") -> str:
    """Check the code of an administrative division of ``level`` (district, town or
    community) and return it stripped."""
    validators = {"district": validate_district_code, "town": validate_town_code,
                  "community": validate_community_code}
    if level not in validators:
        raise CodeError("level", f"{level!r} is not one of {', '.join(DIVISION_LEVELS)}")
    return validators[level](code, field)


def validate_under(code: str, parent: str | None, field: str) -> None:
    """A place's code starts with its parent's (a town's with its district's, a
    community's with its town's): the nesting the scopes' prefix tests rely on (P5.0).
    ``parent`` None means "the one the code implies"; ``field`` names the parent input."""
    if parent is None:
        return
    parent = parent.strip()
    expected = parent_code(code)
    if parent != expected:
        raise CodeError(field, f"{code} does not lie under {parent}: its first "
                               f"{len(expected or '')} digits name {expected}")


def validate_grid_code(code: str, field: str = "grid_code") -> str:
    """Check a grid code (P4.1): community code + sequence 001–999."""
    code = _digits(code, GRID_CODE_LENGTH, field, "a grid code")
    validate_community_code(code[:COMMUNITY_CODE_LENGTH], field)
    if int(code[COMMUNITY_CODE_LENGTH:]) == 0:
        raise CodeError(field, f"grid code {code}: sequence starts at 1")
    return code


def town_kind(town_code: str) -> TownKind:
    """Classify a township by its code range; ``unknown`` rather than an error.

    The ranges are a statistical convention, not a law: real tables have exceptions, so
    the result is advisory and an odd range never rejects a code.
    """
    part = town_code.strip()[DISTRICT_CODE_LENGTH:TOWN_CODE_LENGTH]
    if len(part) != 3 or not part.isdigit():
        return TownKind.UNKNOWN
    number = int(part)
    if 1 <= number <= 99:
        return TownKind.STREET
    if 100 <= number <= 199:
        return TownKind.TOWN
    if 200 <= number <= 399:
        return TownKind.TOWNSHIP
    if 400 <= number <= 599:
        return TownKind.ZONE
    return TownKind.UNKNOWN


_PARENT_LENGTH = {
    TOWN_CODE_LENGTH: DISTRICT_CODE_LENGTH,
    COMMUNITY_CODE_LENGTH: TOWN_CODE_LENGTH,
    GRID_CODE_LENGTH: COMMUNITY_CODE_LENGTH,
}


def parent_code(code: str) -> str | None:
    """The code one level up (grid → community → town → district); None for a district."""
    code = code.strip()
    if len(code) == DISTRICT_CODE_LENGTH:
        return None
    if len(code) not in _PARENT_LENGTH or not code.isdigit():
        raise CodeError("code", f"{code!r} is not a town, community or grid code")
    return code[: _PARENT_LENGTH[len(code)]]


def level_of(code: str) -> str:
    """The level a code's length denotes: district, town, community or grid."""
    levels = {DISTRICT_CODE_LENGTH: "district", TOWN_CODE_LENGTH: "town",
              COMMUNITY_CODE_LENGTH: "community", GRID_CODE_LENGTH: "grid"}
    code = code.strip()
    if len(code) not in levels or not code.isdigit():
        raise CodeError("code", f"{code!r} is not a district, town, community or grid code")
    return levels[len(code)]


def is_within(code: str, scope_code: str) -> bool:
    """True when ``code`` lies inside ``scope_code`` (or is it): a prefix test.

    Scopes are only the code lengths of real levels, so "32050500" (8 digits) never
    matches anything: a malformed scope must not silently widen someone's access.
    """
    # P5.0: district → town → community → grid; a scope covers everything below it
    if len(scope_code) not in (DISTRICT_CODE_LENGTH, TOWN_CODE_LENGTH, COMMUNITY_CODE_LENGTH,
                               GRID_CODE_LENGTH) or not scope_code.isdigit():
        return False
    return len(code) >= len(scope_code) and code.startswith(scope_code)


def grid_sequence(grid_code: str) -> int:
    """The sequence number of a grid within its community."""
    return int(validate_grid_code(grid_code)[COMMUNITY_CODE_LENGTH:])


def make_grid_code(community_code: str, sequence: int) -> str:
    """Compose a grid code; only ``next_grid_code`` should decide the sequence (P4.1)."""
    if not 1 <= sequence <= MAX_GRID_SEQUENCE:
        raise CodeError("sequence", f"grid sequence must be 1–{MAX_GRID_SEQUENCE}, got {sequence}")
    return f"{community_code}{sequence:0{GRID_SEQUENCE_LENGTH}d}"


def next_grid_code(community_code: str, used_codes: Iterable[str]) -> str:
    """Issue the next grid code of a community (P4.1: issued centrally, unique).

    ``used_codes`` must be every code ever issued in the community, retired ones too: the
    lowest sequence not among them is returned, so a retired code is never reused.  Codes of
    other communities in ``used_codes`` are ignored.  Raises ``CodeError`` when all
    ``MAX_GRID_SEQUENCE`` sequences are taken.
    """
    community_code = validate_community_code(community_code, "community_code")
    taken = {int(c[COMMUNITY_CODE_LENGTH:]) for c in used_codes
             if len(c) == GRID_CODE_LENGTH and c.startswith(community_code)
             and c[COMMUNITY_CODE_LENGTH:].isdigit()}
    # P4.1: one code, one grid, forever: skip every sequence ever issued, retired or not
    for sequence in range(1, MAX_GRID_SEQUENCE + 1):
        if sequence not in taken:
            return make_grid_code(community_code, sequence)
    raise CodeError("community_code",
                    f"community {community_code} has used all {MAX_GRID_SEQUENCE} grid codes")

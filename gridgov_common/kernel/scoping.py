"""Which places a caller may touch: one answer for every service (issue 10 item 3).

A token's scope (``district:320505``, ``town:320505001``, ``community:320505001001``,
``grid:320505001001003``) names one node of the nested administrative codes (GB/T 2260 +
statistical division codes; grid = community + 3 digits, P4.1). The codes a caller may
touch are exactly those starting with its scope code, so "the set of district, town,
community and grid codes" of a scope is a *prefix*, and every check here is a prefix test:

* **its scope** (:func:`prefix`) — personal data, records and every write: a district admin
  of 110105 reads, creates and changes only codes under 110105; a grid worker only its grid.
  There is no "district-wide sees everything" shortcut: the district is the one in the token.
* **its district** (:func:`district_prefix`) — geography without personal data (grid
  outlines and codes, address → grid, staff lists) that grid staff need beyond their own
  grid: the whole of their district, never another district.

Department scopes (``department:fire``) name no place: they cover no code (their records
are their assignments, checked by the services), and read geography unrestricted because a
department token names no district (departments locate and route cases anywhere they are
assigned). docs/SECURITY.md "Districts".
"""

from __future__ import annotations

import sqlalchemy as sa

from gridgov_common.kernel.errors import Forbidden
from gridgov_common.kernel.roles import CODE_LENGTH, ScopeLevel

DISTRICT_DIGITS = CODE_LENGTH[ScopeLevel.DISTRICT]


def geographic(principal) -> bool:
    return principal.scope_level != ScopeLevel.DEPARTMENT


def prefix(principal) -> str | None:
    """The code prefix of everything ``principal`` may touch; None for a department."""
    return principal.scope_code if geographic(principal) else None


def district(principal) -> str | None:
    """The 6-digit district the token's scope lies in; None for a department."""
    return principal.scope_code[:DISTRICT_DIGITS] if geographic(principal) else None


def district_prefix(principal) -> str:
    """The prefix of the geography ``principal`` may read: its district ("" for a
    department, which names none)."""
    return district(principal) or ""


def covers(principal, code: str | None) -> bool:
    """True if the place ``code`` (district, town, community or grid) is in the scope."""
    own = prefix(principal)
    return own is not None and code is not None and code.startswith(own)


def in_district(principal, code: str | None) -> bool:
    """True if the place ``code`` lies in the caller's district (any code for a
    department)."""
    return code is not None and code.startswith(district_prefix(principal))


def require(principal, code: str | None, what: str = "this record") -> None:
    if not covers(principal, code):
        raise Forbidden(f"{what} is outside your scope {principal.scope}")


def require_in_district(principal, code: str | None, what: str = "this place") -> None:
    if not in_district(principal, code):
        raise Forbidden(f"{what} is outside your district {district(principal)}")


def narrow(allowed: str | None, asked: str | None) -> str | None:
    """The prefix to filter by when a caller allowed ``allowed`` asks for ``asked``: the
    narrower of the two, or None when they do not meet (nothing to show). ``allowed`` None
    (no place at all) also gives None."""
    if allowed is None:
        return None
    asked = asked or ""
    if asked.startswith(allowed):
        return asked
    if allowed.startswith(asked):
        return allowed
    return None


def where(column, allowed: str | None):
    """SQL condition: ``column`` (a code) starts with ``allowed``; false for None."""
    if allowed is None:
        return sa.false()
    if allowed == "":
        return sa.true()
    return column.startswith(allowed, autoescape=True)


def where_scope(principal, column):
    """SQL condition: ``column`` lies in the caller's scope."""
    return where(column, prefix(principal))


def where_district(principal, column):
    """SQL condition: ``column`` lies in the caller's district (geography reads)."""
    return where(column, district_prefix(principal))

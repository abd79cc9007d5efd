"""Administrative divisions as versioned data: the rules of renaming and retiring a
district, town or community, free of the database.

Why versions, not overwrites: a case, a circular or an appraisal filed before a town was
renamed must still print the name it had then (DOMAIN-REFERENCES §2: keep the code table
versioned), and a code names one place for ever (P4.1 for grids; the same for divisions,
so a retired code is never given to another place).

Validity is half-open, as for grids: ``valid_from`` is the first day, ``valid_to`` the
first day no longer valid (``None``: open-ended).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True)
class NameVersion:
    """One name a division had, valid on [valid_from, valid_to)."""

    version: int
    name: str
    valid_from: date
    valid_to: date | None = None


class DivisionRefused(ValueError):
    """A change breaks a rule; ``conflict`` True: the state forbids it (409), else the
    input is wrong (422, ``field`` names it)."""

    def __init__(self, message: str, *, code: str, field: str | None = None,
                 conflict: bool = False, detail: list[str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.field = field
        self.conflict = conflict
        self.detail = detail or []


def name_on(versions: Sequence[NameVersion], on: date) -> str | None:
    """The name valid on ``on``: the version begun last on or before that day.

    A day before the first version gives the first name (a place recorded after it was
    founded keeps its first known name for older documents); a day after a retirement
    gives the last name (the place is gone, its documents still name it).  ``None`` only
    when there is no version at all.
    """
    if not versions:
        return None
    ordered = sorted(versions, key=lambda v: v.valid_from)
    begun = [v for v in ordered if v.valid_from <= on]
    return (begun[-1] if begun else ordered[0]).name


def check_rename(versions: Sequence[NameVersion], retired_on: date | None, new_name: str,
                 valid_from: date) -> None:
    """Refuse a renaming that would rewrite history or rename a retired division.

    The new name begins strictly after the current one did, so the versions stay in
    order and never overlap; a renaming with the same name records nothing new.
    """
    if retired_on is not None:
        raise DivisionRefused(f"it was retired on {retired_on}; a retired division keeps "
                              "its last name", code="division_retired", conflict=True)
    current = max(versions, key=lambda v: v.valid_from) if versions else None
    if current is None:
        return
    if new_name.strip() == current.name:
        raise DivisionRefused(f"the name is already {current.name!r}", code="name_unchanged",
                              field="name")
    if valid_from <= current.valid_from:
        raise DivisionRefused(
            f"valid_from must be after {current.valid_from}, when the current name "
            f"{current.name!r} began (a past name is history, not overwritten)",
            code="rename_out_of_order", field="valid_from")


def check_retire(place_valid_from: date, retired_on: date | None,
                 versions: Sequence[NameVersion], valid_to: date) -> None:
    """Refuse retiring twice, or on a day before the division (or its current name) began."""
    if retired_on is not None:
        raise DivisionRefused(f"it was already retired on {retired_on}",
                              code="division_retired", conflict=True)
    begun = max([place_valid_from, *(v.valid_from for v in versions)])
    if valid_to <= begun:
        raise DivisionRefused(f"valid_to must be after {begun}, when it (or its current "
                              "name) began", code="retire_before_start", field="valid_to")


def still_valid(children: Iterable[tuple[str, date | None]], on: date) -> list[str]:
    """Codes of the children (communities of a town, grids of a community) still valid on
    ``on``: they block the parent's retirement until moved or retired themselves (P3.1:
    no grid or community may be left under a division that no longer exists)."""
    return sorted(code for code, valid_to in children if valid_to is None or valid_to > on)


def parent_open_on(parent_valid_to: date | None, on: date) -> bool:
    """True when a parent division still exists on ``on`` (a new child may start then)."""
    return parent_valid_to is None or parent_valid_to > on

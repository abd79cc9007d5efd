"""What a district admin does to the subcategory catalogue over the API: add a
subcategory, change or retire one.  Each change is a whole new version
(``catalogue_store.publish``), checked against the rules of ``domain.catalogue_version``;
a broken rule is a 422 that names every problem, and nothing is stored."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from gridgov_common.kernel.errors import NotFound, Unprocessable
from services.events import catalogue_store
from services.events.domain.catalogue_version import (
    Catalogue,
    CatalogueRefused,
    subcategory_from_dict,
    subcategory_to_dict,
)


def read(session: Session) -> dict[str, Any]:
    """The current version, every subcategory (retired ones marked) in full."""
    current = catalogue_store.current(session)
    return {"version": current.version,
            "subcategories": [subcategory_to_dict(s) for s in current.subcategories]}


def add_subcategory(session: Session, data: dict[str, Any], by: str) -> dict[str, Any]:
    """A new subcategory: reportable (and routable by a rule set) once committed."""
    note = data.pop("note", "")
    current = catalogue_store.current(session)
    sub = subcategory_from_dict(data)
    return _publish(session, lambda: current.with_subcategory(sub), by,
                    note or f"added {sub.code}")


def change_subcategory(session: Session, code: str, changes: dict[str, Any],
                       by: str) -> dict[str, Any]:
    """Names, defaults, flags or attributes of ``code``; ``retired`` stops new reports."""
    note = changes.pop("note", "")
    current = catalogue_store.current(session)
    if current.get(code) is None:
        raise NotFound(f"no subcategory {code}", code="unknown_subcategory")
    if not changes:
        raise Unprocessable("nothing to change", fields={"_schema": ["give a field"]})
    return _publish(session, lambda: current.with_changes(code, changes), by,
                    note or f"changed {code}: {', '.join(sorted(changes))}")


def _publish(session: Session, build, by: str, note: str) -> dict[str, Any]:
    try:
        successor: Catalogue = build()
    except CatalogueRefused as exc:
        raise Unprocessable(str(exc), fields=exc.fields(), code="catalogue_rule") from None
    catalogue_store.publish(session, successor, by, note)
    return read(session)

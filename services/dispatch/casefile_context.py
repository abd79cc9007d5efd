"""Gather the names a case file page shows (issue 11: people read names, not codes): the
subcategory from the catalogue dispatch follows, departments from the register it follows,
and place, building and staff names from the registry (one RPC per page).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from gridgov_common.kernel import area
from gridgov_common.platform.department_register import names_both
from services.dispatch.domain.casefile import Entry, as_entry
from services.dispatch.domain.casefile_page import PageContext
from services.dispatch.master_data import subcategory_names
from services.dispatch.models import departments

# actor roles that are not people (their actor_sub is a department code or a service)
NOT_PEOPLE = frozenset({"department", "system", "notify", "svc"})

AskRegistry = Callable[[str, int | None, list[str], str | None], dict[str, Any] | None]


def page_context(session, case: dict[str, Any], assignments: Sequence[dict[str, Any]],
                 stored: Sequence[Entry | dict[str, Any]], ask_registry: AskRegistry,
                 photo_base: str) -> PageContext:
    """Everything the page names; what the registry cannot say stays a code."""
    entries = [as_entry(e) for e in stored]
    known = subcategory_names(session, [case["subcategory"]]).get(case["subcategory"])
    codes = {a["department"] for a in assignments}
    for entry in entries:
        data = dict(entry.data or {})
        codes.update(data.get("departments") or ())
        codes.update(filter(None, [data.get("department")]))
        if entry.actor_role == "department":
            codes.add(entry.actor_sub)
    subjects = sorted({e.actor_sub for e in entries if e.actor_role not in NOT_PEOPLE}
                      | ({case["reporter_sub"]} if case.get("reporter_sub") else set()))
    # the places by their names on the day the case was reported (a town renamed since
    # still prints as it was called then: division codes are dated, M1)
    reported = case.get("reported_at")
    on = reported.astimezone(area.TZ).date().isoformat() if reported else None
    found = ask_registry(case["grid_code"], case.get("building_id"), subjects, on) or {}
    return PageContext(
        subcategory=(known["zh-CN"], known["en"]) if known else None,
        departments=names_both(session, departments, codes),
        place=found.get("place"), building=found.get("building"),
        staff=found.get("staff") or {}, assignments=list(assignments),
        photo_base=photo_base)

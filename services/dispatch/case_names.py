"""The names people read beside a case's codes (issue 11, issue 14): its subcategory in
zh-CN and en from the catalogue dispatch follows, and its grid, community and town from
the registry (``place_names``).  None where unknown or the registry does not answer: the
page then shows the code, and nothing fails.  Shared by the department workbench, the one
case page (``GET /cases/<id>``) and the case lists (``GET /cases``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from services.dispatch.master_data import subcategory_names

PlaceNames = Callable[[str], dict[str, str | None]]  # grid code → its names (place_names)


def named(session, rows: list[dict[str, Any]], place: PlaceNames | None
          ) -> list[dict[str, Any]]:
    """Each row (with ``subcategory`` and ``grid_code``) with ``subcategory_name`` and
    ``place`` beside its codes."""
    known = subcategory_names(session, [row["subcategory"] for row in rows])
    return [{**row, "subcategory_name": known.get(row["subcategory"]),
             "place": place(row["grid_code"]) if place else None} for row in rows]

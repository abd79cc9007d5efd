"""The staff list as a workbench shows it (issue 14): each person's place by name (the
grid's, community's, town's or department's, not its code) and the lifecycle steps the
reader may take on them now (P5.1.5, P5.4.1), so a screen offers only what would work.

Names come in one query per level for the whole list, not one per person."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from gridgov_common.kernel.auth import Principal
from gridgov_common.kernel.roles import ROLE_SCOPE, Role, ScopeLevel
from services.registry import divisions
from services.registry.domain import staff as staff_domain
from services.registry.models import departments, grids


def _names(session: Session, level: ScopeLevel, codes: set[str], lang: str) -> dict[str, str]:
    if not codes:
        return {}
    if level == ScopeLevel.DEPARTMENT:
        column = departments.c.name_en if lang == "en" else departments.c.name_zh
        return dict(session.execute(sa.select(departments.c.code, column)
                                    .where(departments.c.code.in_(codes))).all())
    if level == ScopeLevel.GRID:
        return dict(session.execute(sa.select(grids.c.grid_code, grids.c.name)
                                    .where(grids.c.grid_code.in_(codes))).all())
    district = min(codes)[:6]
    found = divisions.names(session, level.value, district)
    return {code: found[code] for code in codes if code in found}


def named(session: Session, principal: Principal, people: list[dict[str, Any]],
          lang: str) -> list[dict[str, Any]]:
    """``people`` (staffing's views) with ``place`` and ``actions`` added."""
    by_level: dict[ScopeLevel, set[str]] = {}
    for person in people:
        by_level.setdefault(ROLE_SCOPE[Role(person["role"])], set()).add(person["scope_code"])
    names = {level: _names(session, level, codes, lang) for level, codes in by_level.items()}
    for person in people:
        level = ROLE_SCOPE[Role(person["role"])]
        person["place"] = names[level].get(person["scope_code"])
        person["actions"] = staff_domain.allowed_actions(person["lifecycle_state"],
                                                         principal.role)
    return people

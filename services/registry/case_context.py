"""What a case file page needs from the registry to speak in names (issue: people read
names, not codes): where the case is — district, town, community and grid by name, the
grid's boundary for the map, the building's address — and who the staff on it are.

Nothing here is personal data: place names and addresses are public, and staff names and
roles are what the grid's public notice board shows (P5.4.2).  ID numbers and phones are
never read.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from services.registry.divisions import dated_names
from services.registry.models import buildings, communities, districts, grids, staff, towns


def case_context(session: Session, grid_code: str, building_id: int | None,
                 subjects: list[str], on: date | None = None) -> dict[str, Any]:
    """Names and shapes for one case: ``place`` (None for an unknown grid), ``building``
    (None when not given or unknown) and ``staff`` by token subject (unknown ones left
    out; a subject reused after a dismissal names the active holder first).

    The district, town and community are named as on ``on`` (default today): a page
    asked for the day a case was filed prints the names of that day, even after a
    renaming (issue 11, M1)."""
    return {"place": _place(session, grid_code, on or date.today()),
            "building": _building(session, building_id) if building_id else None,
            "staff": _staff(session, subjects) if subjects else {}}


def _place(session: Session, grid_code: str, on: date) -> dict[str, Any] | None:
    named = {level: dated_names(level, on, grid_code[:length])
             for level, length in (("district", 6), ("town", 9), ("community", 12))}
    row = session.execute(
        sa.select(grids.c.grid_code, grids.c.name.label("grid_name"), grids.c.geometry,
                  communities.c.code.label("community_code"),
                  sa.func.coalesce(named["community"].c.name, communities.c.name)
                  .label("community_name"),
                  towns.c.code.label("town_code"),
                  sa.func.coalesce(named["town"].c.name, towns.c.name).label("town_name"),
                  districts.c.code.label("district_code"),
                  sa.func.coalesce(named["district"].c.name, districts.c.name)
                  .label("district_name"))
        .select_from(grids.join(communities, grids.c.community_code == communities.c.code)
                     .join(towns, communities.c.town_code == towns.c.code)
                     .join(districts, towns.c.district_code == districts.c.code)
                     .outerjoin(named["community"],
                                named["community"].c.code == communities.c.code)
                     .outerjoin(named["town"], named["town"].c.code == towns.c.code)
                     .outerjoin(named["district"],
                                named["district"].c.code == districts.c.code))
        .where(grids.c.grid_code == grid_code)).first()
    return None if row is None else dict(row._mapping)


def _building(session: Session, building_id: int) -> dict[str, Any] | None:
    row = session.execute(
        sa.select(buildings.c.id, buildings.c.address, buildings.c.grid_code,
                  buildings.c.lon, buildings.c.lat)
        .where(buildings.c.id == building_id)).first()
    return None if row is None else dict(row._mapping)


def _staff(session: Session, subjects: list[str]) -> dict[str, dict[str, str]]:
    rows = session.execute(
        sa.select(staff.c.subject, staff.c.name, staff.c.role)
        .where(staff.c.subject.in_(subjects))
        .order_by(staff.c.subject, staff.c.active, staff.c.changed_at)).all()
    found: dict[str, dict[str, str]] = {}
    for row in rows:  # ordered so that the active, latest holder is written last
        found[row.subject] = {"name": row.name, "role": row.role}
    return found

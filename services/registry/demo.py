"""Load a synthetic district (generator) into the registry: the demo `make up` shows and
the data benchmarks run on.  Everything goes in through the same tables, encryption and
COPY path as a real import; nothing here is visible to the services as "demo"."""

from __future__ import annotations

from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from gridgov_common.kernel import pii
from gridgov_common.platform.messaging import SESSION_SCHEMA_KEY
from services.registry import importer, people, staff_identity
from services.registry.domain import generator
from services.registry.domain.geometry import to_geojson
from services.registry.models import (
    SCHEMA,
    buildings,
    communities,
    departments,
    districts,
    grids,
    households,
    staff,
    staff_grids,
    towns,
)

SUPERVISION_PHONE = "0512-12345"
VALID_FROM = date(2024, 1, 1)


def load(session: Session, cipher: pii.PiiCipher, *, seed: int = 2026, towns: int = 2,
         communities_per_town: int = 3, grids_per_community: int = 4,
         households_per_grid: int = 40, progress: importer.Progress = importer._noop
         ) -> dict[str, Any]:
    district = generator.generate_district(
        seed, towns, communities_per_town, grids_per_community,
        households_per_grid=households_per_grid)
    _places(session, district)
    household_ids, people_total = _buildings_and_households(session, district)
    residents = _residents(session, cipher, district, household_ids, people_total, progress)
    staff_count = _staff(session, district.iter_staff())
    active = session.execute(sa.select(departments.c.code).where(
        departments.c.active.is_(True)).order_by(departments.c.code)).scalars().all()
    staff_count += _staff(session, generator.iter_office_staff(district, active))
    return {"district": district.code, "towns": len(district.towns),
            "grids": district.grid_count, "households": len(household_ids),
            "residents": residents, "staff": staff_count}


def _places(session: Session, district) -> None:
    # divisions valid from the grids' day; their name versions are recorded at their first
    # renaming or retirement (services/registry/divisions.py), the bulk seed stays cheap
    session.execute(districts.insert().values(code=district.code, name=district.name,
                                              valid_from=VALID_FROM))
    session.execute(towns.insert(), [
        {"code": t.code, "district_code": district.code, "name": t.name, "kind": t.kind,
         "valid_from": VALID_FROM} for t in district.towns])
    session.execute(communities.insert(), [
        {"code": c.code, "town_code": c.code[:9], "name": c.name,
         "boundary": to_geojson(c.geometry), "valid_from": VALID_FROM}
        for c in district.iter_communities()])
    rows = []
    for grid in district.iter_grids():
        min_lon, min_lat, max_lon, max_lat = grid.bbox
        rows.append({
            "grid_code": grid.code, "community_code": grid.community_code, "name": grid.name,
            "kind": grid.kind, "owner_org": grid.owner_org,
            "geometry": to_geojson(grid.geometry), "min_lon": min_lon, "min_lat": min_lat,
            "max_lon": max_lon, "max_lat": max_lat, "valid_from": VALID_FROM,
            "supervision_phone": SUPERVISION_PHONE})
    session.execute(grids.insert(), rows)


def _buildings_and_households(session: Session, district) -> tuple[dict[str, int], int]:
    """Insert buildings and households grid by grid; household key → id, and people."""
    household_ids: dict[str, int] = {}
    people_total = 0
    for grid in district.iter_grids():
        building_ids: dict[str, int] = {}
        for household in generator.iter_households(grid):
            building = household.building
            if building.address not in building_ids:
                building_ids[building.address] = session.execute(buildings.insert().values(
                    grid_code=grid.code, address=building.address, lon=building.lon,
                    lat=building.lat).returning(buildings.c.id)).scalar_one()
            household_ids[household.key] = session.execute(households.insert().values(
                building_id=building_ids[building.address], grid_code=grid.code,
                unit=household.unit).returning(households.c.id)).scalar_one()
            people_total += household.size
    return household_ids, people_total


def _residents(session: Session, cipher: pii.PiiCipher, district,
               household_ids: dict[str, int], total: int, progress: importer.Progress) -> int:

    def rows():
        for resident in district.iter_residents():
            c = people.encrypted_columns(cipher, resident.id_number, resident.phone, None)
            yield (household_ids[resident.household_key], resident.grid_code, resident.name,
                   c["sex"], c["birth_year"], resident.relationship,
                   *(c[col] for col in importer.COPY_COLUMNS[6:]))

    return importer.copy_residents(session, rows(), total, progress)


def demo_subject(role: str, scope_code: str, nth: int = 1) -> str:
    """The token subject of a demo staff member, ``demo-<role>-<scope code>`` (``-<n>`` for
    the n-th of a role in one scope): deterministic, so the simulated district day
    (tools/case_simulator) reports and acts as these very people, and per-grid-worker KPIs
    and the adjustment flow (P5.4.1) find them."""
    return f"demo-{role}-{scope_code}" + (f"-{nth}" if nth > 1 else "")


def _staff(session: Session, people) -> int:
    """Staff with subjects and grids, announced as ``registry.staff.changed`` (outbox) like
    any staff member created through the API, so dispatch and assessment know them."""
    session.info.setdefault(SESSION_SCHEMA_KEY, SCHEMA)
    seen: dict[tuple[str, str], int] = {}
    count = 0
    for s in people:
        nth = seen[(s.role, s.scope_code)] = seen.get((s.role, s.scope_code), 0) + 1
        staff_id = session.execute(staff.insert().values(
            name=s.name, role=s.role, scope_code=s.scope_code, work_phone=s.phone, duties="",
            lifecycle_state=s.lifecycle_state, subject=demo_subject(s.role, s.scope_code, nth),
        ).returning(staff.c.id)).scalar_one()
        if s.grid_codes:
            session.execute(staff_grids.insert(), [{"staff_id": staff_id, "grid_code": code}
                                                   for code in s.grid_codes])
        staff_identity.publish(session, staff_id, "created")
        count += 1
    return count


def is_empty(session: Session) -> bool:
    return not session.execute(sa.select(sa.func.count()).select_from(grids)).scalar()

"""Fixtures for the registry: the real service on a real vhost and database, and a small
hand-drawn district (two grids side by side in one community)."""

import json

import pytest
import sqlalchemy as sa

from services.registry.domain.identity import check_character
from services.registry.models import metadata
from services.registry.service import RegistryService

DISTRICT, TOWN, COMMUNITY = "320505", "320505001", "320505001001"
OTHER_COMMUNITY = "320505001002"
GRID_A, GRID_B = COMMUNITY + "001", COMMUNITY + "002"
ADMIN_SCOPE = f"district:{DISTRICT}"


def square(lon0, lat0, lon1, lat1):
    return {"type": "Polygon", "coordinates": [[[lon0, lat0], [lon1, lat0], [lon1, lat1],
                                                [lon0, lat1], [lon0, lat0]]]}


COMMUNITY_BOUNDARY = square(120.00, 31.00, 120.02, 31.01)
LEFT = square(120.00, 31.00, 120.01, 31.01)
RIGHT = square(120.01, 31.00, 120.02, 31.01)


def id_number(birth="19800101", seq="123"):
    """A valid 18-digit citizen ID in this district (GB 11643 check digit)."""
    body = DISTRICT + birth + seq
    return body + check_character(body)


def reset_departments(conn) -> None:
    """The register as the migrations seed it: tests add, rename and retire departments,
    and the table is kept (not truncated) because the migrations fill it."""
    from services.registry.domain.staff import DEPARTMENTS

    codes = [d.code for d in DEPARTMENTS]
    conn.execute(sa.text("DELETE FROM registry.departments WHERE NOT code = ANY(:codes)"),
                 {"codes": codes})
    for d in DEPARTMENTS:
        conn.execute(sa.text(
            "UPDATE registry.departments SET name_zh = :zh, name_en = :en, unit = code, "
            "contact_phone = NULL, contact_email = NULL, active = true, "
            "work_categories = CAST(:cats AS jsonb) WHERE code = :code"),
            {"zh": d.name_zh, "en": d.name_en, "code": d.code,
             "cats": json.dumps([str(c) for c in d.work_categories])})


@pytest.fixture
def clean_registry(db_engine):
    keep = {"departments", "alembic_version", "audit_log"}
    names = ", ".join(f"registry.{t.name}" for t in metadata.sorted_tables
                      if t.name not in keep)
    with db_engine.begin() as conn:
        conn.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        reset_departments(conn)
        # the audit log refuses TRUNCATE and young rows' DELETE even to the purge; the
        # tests' superuser empties it with triggers off (the app's role cannot do this)
        conn.execute(sa.text("SET LOCAL session_replication_role = replica"))
        conn.execute(sa.text("DELETE FROM registry.audit_log"))


@pytest.fixture
def registry(container_factory, service_config, clean_registry):
    container = container_factory(RegistryService, service_config("registry"))
    container.start()
    return container


@pytest.fixture
def admin(token):
    return token("district_admin", ADMIN_SCOPE, sub="admin-1")


@pytest.fixture
def district(registry, web_session, admin):
    """District → town → community with a boundary → grids A (west) and B (east)."""
    def post(path, body):
        response = web_session.post(path, json=body, headers=admin)
        assert response.status_code == 201, response.text
        return response.json()

    post("/districts", {"code": DISTRICT, "name": "姑苏区"})
    post("/towns", {"code": TOWN, "name": "枫桥街道"})
    post("/communities", {"code": COMMUNITY, "name": "锦绣社区", "boundary": COMMUNITY_BOUNDARY})
    post("/communities", {"code": OTHER_COMMUNITY, "name": "和平社区"})
    a = post("/grids", {"community_code": COMMUNITY, "name": "锦绣一网格", "geometry": LEFT,
                        "supervision_phone": "0512-12345"})
    b = post("/grids", {"community_code": COMMUNITY, "name": "锦绣二网格", "geometry": RIGHT})
    building = post("/buildings", {"grid_code": GRID_A, "address": "锦绣花园3幢",
                                   "lon": 120.005, "lat": 31.005})
    household = post("/households", {"building_id": building["id"], "unit": "2单元301"})
    return {"grid_a": a, "grid_b": b, "building": building, "household": household}

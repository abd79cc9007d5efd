"""Fixtures of the field-work tests: the REAL assessment service on a throw-away vhost and
the test database, with a small hand-drawn community: grids A (west) and B (east) side by
side, loaded through the service's own admin endpoint (PUT /patrol-grids)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from services.assessment.models import metadata as assessment_metadata
from services.assessment.service import AssessmentService

DISTRICT, TOWN, COMMUNITY = "320505", "320505001", "320505001001"
OTHER_COMMUNITY = "320505001002"
GRID_A, GRID_B = COMMUNITY + "001", COMMUNITY + "002"
ADMIN = ("district_admin", f"district:{DISTRICT}")


def square(lon0: float, lat0: float, lon1: float, lat1: float) -> dict:
    return {"type": "Polygon", "coordinates": [[[lon0, lat0], [lon1, lat0], [lon1, lat1],
                                                [lon0, lat1], [lon0, lat0]]]}


def feature(code: str, geometry: dict) -> dict:
    return {"type": "Feature", "properties": {"grid_code": code}, "geometry": geometry}


# grid A: 120.00–120.01 E with a hole (a walled compound) in its south-west corner;
# grid B: 120.01–120.02 E; both 31.00–31.01 N
GRID_A_SHAPE = {"type": "Polygon", "coordinates": [
    square(120.0, 31.0, 120.01, 31.01)["coordinates"][0],
    square(120.001, 31.001, 120.002, 31.002)["coordinates"][0]]}
GRIDS = {"type": "FeatureCollection", "features": [
    feature(GRID_A, GRID_A_SHAPE),
    feature(GRID_B, {"type": "MultiPolygon",
                     "coordinates": [square(120.01, 31.0, 120.02, 31.01)["coordinates"]]})]}
IN_A, IN_B, IN_HOLE = (120.005, 31.005), (120.015, 31.005), (120.0015, 31.0015)


@pytest.fixture
def clean_db(db_engine):
    names = ", ".join(f"assessment.{t.name}" for t in assessment_metadata.sorted_tables
                      if t.name != "alembic_version")
    with db_engine.begin() as conn:
        # audit tables refuse TRUNCATE (P5.4.4); the tests' superuser empties them with
        # triggers off, which the application's role cannot do
        conn.execute(sa.text("SET LOCAL session_replication_role = replica"))
        conn.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


@pytest.fixture
def start_assessment(container_factory, service_config, clean_db):
    """Start the service with config overrides; returns the container."""

    def start(**overrides):
        container = container_factory(AssessmentService, service_config("assessment",
                                                                        **overrides))
        container.start()
        return container

    return start


@pytest.fixture
def assessment(start_assessment, web_session, token):
    container = start_assessment()
    response = web_session.put("/patrol-grids", json=GRIDS, headers=token(*ADMIN, sub="admin"))
    assert response.status_code == 200, response.text
    return container

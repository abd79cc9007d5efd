"""The registry's grids and staff reach the assessment service by themselves (P5.4.3,
P6.2): the REAL registry and assessment services on one vhost and the test database. Grids
and staff are created in the registry only; patrol compliance then uses the registry's
polygons (no ``PUT /patrol-grids``) and judges every active staff member with a subject,
including one who never opened the app."""

from __future__ import annotations

from datetime import time, timedelta

import pytest
import sqlalchemy as sa

from services.assessment.models import metadata as assessment_metadata
from services.assessment.service import AssessmentService
from services.registry.models import metadata as registry_metadata
from services.registry.service import RegistryService
from tests.amqp import wait_until
from tests.assessment.tracks import recent_workday, walk
from tests.events.conftest import PrefixedSession, _truncate, free_port

DISTRICT, TOWN, COMMUNITY = "320505", "320505001", "320505001001"
GRID_A, GRID_B = COMMUNITY + "001", COMMUNITY + "002"
IN_A, IN_B = (120.005, 31.005), (120.015, 31.005)


def square(lon0, lat0, lon1, lat1):
    return {"type": "Polygon", "coordinates": [[[lon0, lat0], [lon1, lat0], [lon1, lat1],
                                                [lon0, lat1], [lon0, lat0]]]}


@pytest.fixture
def both(container_factory, service_config, db_engine):
    """Assessment first (its queues exist before the registry publishes), then registry."""
    _truncate(db_engine, "registry", registry_metadata,
              {"departments", "alembic_version", "audit_log"})
    _truncate(db_engine, "assessment", assessment_metadata, {"alembic_version"})
    container_factory(AssessmentService, service_config("assessment")).start()
    port = free_port()
    container_factory(RegistryService, service_config(
        "registry", WEB_SERVER_ADDRESS=f"127.0.0.1:{port}")).start()
    session = PrefixedSession(f"http://127.0.0.1:{port}/")
    yield session
    session.close()


def rings(db_engine) -> dict[str, tuple]:
    with db_engine.connect() as conn:
        return {r.grid_code: (r.valid_to,) for r in conn.execute(sa.text(
            "SELECT grid_code, max(valid_to) AS valid_to FROM assessment.grid_rings "
            "GROUP BY grid_code"))}


def people(db_engine) -> dict[str, tuple]:
    with db_engine.connect() as conn:
        return {r.staff_sub: (r.staff_id, r.active, r.grid_codes) for r in conn.execute(
            sa.text("SELECT staff_sub, staff_id, active, grid_codes FROM assessment.field_staff"))}


def test_registry_grids_and_staff_drive_patrol_compliance(both, web_session, token,
                                                          db_engine):
    registry = both
    admin = token("district_admin", f"district:{DISTRICT}", sub="admin-1")
    day = recent_workday()
    since = (day - timedelta(days=30)).isoformat()

    def post(path, body, headers=admin):
        response = registry.post(path, json=body, headers=headers)
        assert response.status_code in (200, 201), response.text
        return response.json()

    post("/districts", {"code": DISTRICT, "name": "姑苏区"})
    post("/towns", {"code": TOWN, "name": "枫桥街道"})
    post("/communities", {"code": COMMUNITY, "name": "锦绣社区"})
    post("/grids", {"community_code": COMMUNITY, "name": "一网格", "valid_from": since,
                    "geometry": square(120.00, 31.00, 120.01, 31.01)})
    post("/grids", {"community_code": COMMUNITY, "name": "二网格", "valid_from": since,
                    "geometry": square(120.01, 31.00, 120.02, 31.01)})
    walker = post("/staff", {"name": "甲", "role": "neighbourhood_grid_worker",
                             "scope": f"grid:{GRID_A}", "subject": "gw-a"})
    absent = post("/staff", {"name": "乙", "role": "neighbourhood_grid_worker",
                             "scope": f"grid:{GRID_B}", "subject": "gw-b"})
    lead = post("/staff", {"name": "丙", "role": "community_grid_worker",
                           "scope": f"community:{COMMUNITY}", "subject": "cw-1"})
    assert registry.put(f"/staff/{lead['id']}/grids", json={"grid_codes": [GRID_A, GRID_B]},
                        headers=admin).status_code == 200

    # both grids and all three people arrive without any call to the assessment service
    wait_until(lambda: set(rings(db_engine)) == {GRID_A, GRID_B}, timeout=20)
    wait_until(lambda: people(db_engine).get("cw-1", (0, 0, []))[2] == [GRID_A, GRID_B],
               timeout=20)
    known = people(db_engine)
    assert known["gw-a"] == (walker["id"], True, [GRID_A])
    assert known["gw-b"] == (absent["id"], True, [GRID_B])

    # gw-a walks grid A 08:30–12:00, a fix every 300 s: 42 segments × 300 s = 12,600 s
    # inside of the 32,400 s working window = 0.3889 ≥ 1/3 (P5.4.3)
    worker = token("neighbourhood_grid_worker", f"grid:{GRID_A}", sub="gw-a")
    started = web_session.post("/patrols", headers=worker, json={})
    assert started.status_code == 201, started.text
    patrol_id = started.json()["patrol_id"]
    uploaded = web_session.post(f"/patrols/{patrol_id}/points", headers=worker, json={
        "points": walk(day, time(8, 30), time(12, 0), IN_A)})
    assert uploaded.json()["stored"] == 43, uploaded.text

    chief = token("community_grid_chief", f"community:{COMMUNITY}", sub="chief")
    report = web_session.get("/compliance/patrols", headers=chief,
                             params={"date": day.isoformat()})
    assert report.status_code == 200, report.text
    rows = {r["staff_sub"]: r for r in report.json()["people"]}
    assert set(rows) == {"gw-a", "gw-b", "cw-1"}
    assert rows["gw-a"]["inside_seconds"] == 12600.0
    assert rows["gw-a"]["compliant"] is True
    # gw-b never opened the app: judged all the same (P5.4.3 daily patrol missed)
    assert (rows["gw-b"]["patrols"], rows["gw-b"]["compliant"]) == (0, False)

    # gw-b is dismissed in the registry (P5.1.5 hired and filed, P5.4.1 adjustment)
    town = token("town_grid_chief", f"town:{TOWN}", sub="town")
    for who, action in [(town, "review"), (town, "hire"), (admin, "file"),
                        (chief, "propose_adjustment"), (town, "approve_adjustment")]:
        post(f"/staff/{absent['id']}/transitions", {"action": action}, headers=who)
    wait_until(lambda: people(db_engine)["gw-b"][1] is False, timeout=20)
    report = web_session.get("/compliance/patrols", headers=chief,
                             params={"date": day.isoformat()})
    assert {r["staff_sub"] for r in report.json()["people"]} == {"gw-a", "cw-1"}

    # grid A is retired from tomorrow: its rings stay for the days it was valid
    tomorrow = (day + timedelta(days=1)).isoformat()
    post(f"/grids/{GRID_A}/retire", {"valid_to": tomorrow})
    wait_until(lambda: rings(db_engine)[GRID_A][0] is not None, timeout=20)
    again = web_session.get("/compliance/patrols", headers=chief,
                            params={"date": day.isoformat()})
    assert {r["staff_sub"]: r["inside_seconds"] for r in again.json()["people"]}["gw-a"] \
        == 12600.0

"""Fixtures for the events service: the real events service AND the real registry service
(which answers ``registry.lookup_point``) on one throw-away vhost and the test database,
with a small hand-drawn district: grids A (west) and B (east) side by side in one community.

The registry listens on its own port (``registry_http``); ``web_session`` talks to events.
"""

from __future__ import annotations

import json
from urllib.parse import urljoin

import pytest
import requests
import sqlalchemy as sa

from services.events import catalogue_store
from services.events.models import metadata as events_metadata
from services.events.service import EventsService
from services.registry.models import metadata as registry_metadata
from services.registry.service import RegistryService
from tests.amqp import bind_queue, drain
from tests.registry.conftest import reset_departments
from tools.ports import free_port

DISTRICT, TOWN, COMMUNITY = "320505", "320505001", "320505001001"
GRID_A, GRID_B = COMMUNITY + "001", COMMUNITY + "002"
IN_A = {"lon": 120.005, "lat": 31.005}
IN_B = {"lon": 120.015, "lat": 31.005}
OUTSIDE = {"lon": 121.5, "lat": 31.5}
OPEN311_KEY = "open311-test-key-0123456789"
OBSERVER = "observer"

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(256)) * 4
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
WEBP = b"RIFF\x00\x10\x00\x00WEBPVP8 " + bytes(range(256)) * 4


def square(lon0, lat0, lon1, lat1):
    return {"type": "Polygon", "coordinates": [[[lon0, lat0], [lon1, lat0], [lon1, lat1],
                                                [lon0, lat1], [lon0, lat0]]]}


def _truncate(engine, schema: str, metadata: sa.MetaData, keep: set[str]) -> None:
    names = ", ".join(f"{schema}.{t.name}" for t in metadata.sorted_tables if t.name not in keep)
    with engine.begin() as conn:
        # audit tables refuse TRUNCATE (P5.4.4); the tests' superuser empties them with
        # triggers off, which the application's role cannot do
        conn.execute(sa.text("SET LOCAL session_replication_role = replica"))
        conn.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        if schema == "registry" and "departments" in keep:
            reset_departments(conn)


@pytest.fixture
def clean_db(db_engine):
    _truncate(db_engine, "registry", registry_metadata,
              {"departments", "alembic_version", "audit_log"})  # audit log is append-only
    _truncate(db_engine, "events", events_metadata, {"alembic_version"})
    catalogue_store.forget()  # its cached versions were in the truncated table


@pytest.fixture
def registry_port():
    return free_port()


@pytest.fixture
def registry(container_factory, service_config, clean_db, registry_port):
    config = service_config("registry", WEB_SERVER_ADDRESS=f"127.0.0.1:{registry_port}")
    container = container_factory(RegistryService, config)
    container.start()
    return container


class PrefixedSession(requests.Session):
    def __init__(self, base: str) -> None:
        super().__init__()
        self.base = base

    def request(self, method, url, *args, **kwargs):
        return super().request(method, urljoin(self.base, url), *args, **kwargs)


@pytest.fixture
def registry_http(registry, registry_port):
    session = PrefixedSession(f"http://127.0.0.1:{registry_port}/")
    yield session
    session.close()


@pytest.fixture
def admin(token):
    return token("district_admin", f"district:{DISTRICT}", sub="admin-1")


@pytest.fixture
def worker_a(token):
    """P5.1.5: a neighbourhood grid worker of grid A."""
    return token("neighbourhood_grid_worker", f"grid:{GRID_A}", sub="worker-a")


@pytest.fixture
def worker_b(token):
    return token("neighbourhood_grid_worker", f"grid:{GRID_B}", sub="worker-b")


@pytest.fixture
def district(registry_http, admin):
    """District → town → community → grids A (west) and B (east), drawn in the registry."""
    def post(path, body):
        response = registry_http.post(path, json=body, headers=admin)
        assert response.status_code == 201, response.text
        return response.json()

    post("/districts", {"code": DISTRICT, "name": "姑苏区"})
    post("/towns", {"code": TOWN, "name": "枫桥街道"})
    post("/communities", {"code": COMMUNITY, "name": "锦绣社区",
                          "boundary": square(120.00, 31.00, 120.02, 31.01)})
    a = post("/grids", {"community_code": COMMUNITY, "name": "锦绣一网格",
                        "geometry": square(120.00, 31.00, 120.01, 31.01)})
    b = post("/grids", {"community_code": COMMUNITY, "name": "锦绣二网格",
                        "geometry": square(120.01, 31.00, 120.02, 31.01)})
    assert (a["grid_code"], b["grid_code"]) == (GRID_A, GRID_B)
    # Warm the registry's point index now: concurrent first lookups against a stale index
    # can answer "outside every grid" (see the registry's _locate); sequential ones cannot.
    found = registry_http.get("/lookup/point", params=IN_A, headers=admin)
    assert found.json()["grid_code"] == GRID_A, found.text
    return {"grid_a": a, "grid_b": b}


@pytest.fixture
def events_config(service_config):
    return service_config("events", OPEN311_API_KEYS=f"{OPEN311_KEY},another-key-0123456789",
                          REGISTRY_RPC_TIMEOUT=5)


@pytest.fixture
def events(container_factory, events_config, district, observer):
    container = container_factory(EventsService, events_config)
    container.start()
    return container


@pytest.fixture
def observer(rabbit_config):
    """A plain queue bound like a subscriber would: every case event and every alert."""
    uri = rabbit_config["AMQP_URI"]
    bind_queue(uri, OBSERVER, "gridgov.events", ["events.case.#"])
    bind_queue(uri, OBSERVER, "gridgov.alerts", ["#"])
    return uri


def received(uri: str, expect: int, timeout: float = 10.0, queue: str = OBSERVER):
    """(routing_key, properties, envelope) of the next ``expect`` messages, in order."""
    return [(method.routing_key, props, json.loads(body))
            for method, props, body in drain(uri, queue, expect=expect, timeout=timeout)]


_HERE = object()


def case_body(location=_HERE, **overrides):
    """A valid app report in grid A; override any field (``location=None`` drops it)."""
    body = {"location": IN_A if location is _HERE else location,
            "work_category": "public_security_prevention",
            "subcategory": "fire_hazard_corridor",
            "description": "3幢楼道堆放杂物，堵塞消防通道", "severity": "minor"}
    body.update(overrides)
    return body


def file(web_session, headers, expect=201, **kwargs):
    response = web_session.post("/cases", json=case_body(**kwargs), headers=headers)
    assert response.status_code == expect, response.text
    return response.json()


def add_resident(registry_http, headers, grid_code, serial="123", name="张三") -> int:
    """A resident registered in ``grid_code`` through the registry's API; their id."""
    from services.registry.domain.identity import check_character

    body = DISTRICT + "19800101" + serial
    response = registry_http.post("/residents", headers=headers, json={
        "grid_code": grid_code, "name": name, "id_number": body + check_character(body)})
    assert response.status_code == 201, response.text
    return response.json()["id"]

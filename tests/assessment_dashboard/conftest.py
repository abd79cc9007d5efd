"""Fixtures of the dashboard tests: the REAL registry with a small generated district
(services.registry.demo, as ``load-demo`` loads it), the REAL dispatch service with cases
inserted by SQL (cases.py), and a service made of PlatformService + DashboardRoutes (so
these tests do not wait for the assessment rewrite).
"""

from __future__ import annotations

import json
from urllib.parse import urljoin

import pytest
import requests
import sqlalchemy as sa
from sqlalchemy.orm import Session

from gridgov_common.kernel import pii
from gridgov_common.platform import service as platform
from services.assessment import dispatch_client
from services.assessment import settings as assessment_settings
from services.assessment.dashboard.routes import DashboardRoutes
from services.assessment.dashboard.sources import DashboardSources
from services.dispatch import config_store
from services.dispatch.models import metadata as dispatch_metadata
from services.dispatch.service import DispatchService
from services.registry import demo
from services.registry.models import metadata as registry_metadata
from services.registry.service import RegistryService
from tests.assessment_dashboard import cases
from tools.ports import free_port

KEEP = {"departments", "alembic_version", "audit_log"}  # seeded / append-only


class DashboardTestService(platform.PlatformService, DashboardRoutes):
    """What AssessmentService will be once it takes the mixin (docs/DASHBOARD.md)."""

    name = "assessment"
    declared_settings = assessment_settings.SETTINGS  # the assessment config it is given
    dashboard_sources = DashboardSources()
    dispatch = dispatch_client.Dispatch()


@pytest.fixture
def demo_district(db_engine, platform_secrets):
    """2 towns × 2 communities × 3 grids, loaded through the registry's own demo loader."""
    names = ", ".join(f"registry.{t.name}" for t in registry_metadata.sorted_tables
                      if t.name not in KEEP)
    with db_engine.begin() as conn:
        conn.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    cipher = pii.PiiCipher(pii.key_from_b64(platform_secrets["PII_KEY"]),
                           pii.key_from_b64(platform_secrets["PII_INDEX_KEY"]))
    with Session(db_engine) as session:
        summary = demo.load(session, cipher, towns=2, communities_per_town=2,
                            grids_per_community=3, households_per_grid=2)
        session.commit()
        grid_codes = list(session.execute(sa.text(
            "SELECT grid_code FROM registry.grids ORDER BY grid_code")).scalars())
    towns = sorted({code[:9] for code in grid_codes})
    return {"code": summary["district"], "grid_codes": grid_codes, "towns": towns}


@pytest.fixture
def seeded_cases(db_engine, demo_district):
    """The dispatch cases of tests/assessment_dashboard/cases.py, in an emptied schema."""
    names = ", ".join(f"dispatch.{t.name}" for t in dispatch_metadata.sorted_tables
                      if t.name != "alembic_version")
    with db_engine.begin() as conn:
        conn.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    config_store.forget()  # cached "current" versions refer to the truncated tables
    seeded = cases.insert(db_engine, demo_district["grid_codes"])
    with db_engine.begin() as conn:  # the catalogue dispatch follows names the feed's cases
        conn.execute(sa.text(
            "INSERT INTO dispatch.catalogue_versions (version, subcategories, published_by) "
            "VALUES (1, CAST(:s AS jsonb), 'system:packaged')"), {"s": json.dumps([{
                "code": "fire_hazard_corridor", "name_zh": "楼道堆物堵塞消防通道",
                "name_en": "Stairwell or fire exit blocked"}])})
    return {**seeded, "expected": cases.expected(seeded)}


@pytest.fixture
def registry_port():
    return free_port()


@pytest.fixture
def registry(container_factory, service_config, demo_district, registry_port):
    config = service_config("registry", WEB_SERVER_ADDRESS=f"127.0.0.1:{registry_port}")
    container = container_factory(RegistryService, config)
    container.start()
    return container


@pytest.fixture
def dispatch(container_factory, service_config, seeded_cases):
    """The REAL dispatch service (its ``case_statistics`` RPC); the escalation timer is
    slowed down so it does not add escalations to the seeded ones during a test."""
    config = service_config("dispatch", ESCALATION_POLL_SECONDS=3600,
                            WEB_SERVER_ADDRESS=f"127.0.0.1:{free_port()}")  # not the page's
    container = container_factory(DispatchService, config)
    container.start()
    return container


@pytest.fixture
def dead_url():
    """A port nothing listens on: a service that is down."""
    return f"http://127.0.0.1:{free_port()}"


@pytest.fixture
def dashboard_config(service_config, registry_port, web_config_port, dead_url):
    def build(**overrides):
        return service_config("assessment", **{
            "REGISTRY_URL": f"http://127.0.0.1:{registry_port}",
            "SERVICE_URLS": {"registry": f"http://127.0.0.1:{registry_port}",
                             "assessment": f"http://127.0.0.1:{web_config_port}",
                             "events": dead_url},
            "DASHBOARD_TIMEOUT_SECONDS": 3, **overrides})
    return build


@pytest.fixture
def dashboard(container_factory, dashboard_config, registry, dispatch):
    container = container_factory(DashboardTestService, dashboard_config())
    container.start()
    return container


@pytest.fixture
def viewer(token, demo_district):
    return token("ops_viewer", f"district:{demo_district['code']}", sub="ops-1")


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

"""Fixtures of the app's browser tests (issue 12): the REAL registry (the demo district,
sign-in), events, dispatch, assessment (which serves the built app at /app/) and notify,
behind the REAL reverse proxy (deploy/proxy/nginx.conf run by nginx with its upstreams
pointed at the services' test ports), so the page sees ONE origin exactly as in compose:
cookies, CSRF and the /api/<service>/ prefixes are the ones production has.

The app is built by scripts/build_app.sh (skipped when web/app/dist is fresh), never
taken from a dist built by hand.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from eventlet.green import subprocess

from gridgov_common.platform.db import make_engine, transaction
from services.assessment.models import metadata as assessment_metadata
from services.assessment.service import AssessmentService
from services.dispatch import config_store
from services.dispatch.models import metadata as dispatch_metadata
from services.dispatch.service import DispatchService
from services.events import catalogue_store
from services.events.models import metadata as events_metadata
from services.events.service import EventsService
from services.notify.models import metadata as notify_metadata
from services.notify.service import NotifyService
from services.registry import accounts
from services.registry.service import RegistryService
from tests.assessment_dashboard.conftest import demo_district, free_port  # noqa: F401
from tests.events.conftest import _truncate
from tools import local_proxy

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "Gridworker-2026"


def staff_with_password(proxy, token, district: str, db_url: str, subject: str, name: str,
                        role: str, scope: str) -> dict:
    """A person put on the register by the district admin over the API, with a password
    set as the accounts CLI does: what the browser tests sign in as."""
    import requests

    admin = token("district_admin", f"district:{district}", sub="admin-1")
    made = requests.post(f"{proxy['base']}/api/registry/staff", headers=admin, timeout=10,
                         json={"name": name, "role": role, "scope": scope, "subject": subject})
    assert made.status_code == 201, made.text
    engine = make_engine(db_url)
    try:
        with transaction(engine) as session:
            accounts.set_password(session, subject, PASSWORD, operator="test")
    finally:
        engine.dispose()
    return {"login": subject, "password": PASSWORD, "name": name}
BUILD_TIMEOUT = 600  # seconds: npm ci on a cold cache (a safety net)
SERVICES = ("registry", "events", "dispatch", "assessment", "notify")


@pytest.fixture(scope="session")
def app_dist():
    """web/app/dist (and web/desk/dist beside it), built now if their sources changed
    (scripts/build_app.sh)."""
    result = subprocess.run([str(ROOT / "scripts" / "build_app.sh")], cwd=ROOT,
                            capture_output=True, text=True, timeout=BUILD_TIMEOUT)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    dist = ROOT / "web" / "app" / "dist"
    assert (dist / "index.html").is_file() and (dist / "sw.js").is_file()
    assert (ROOT / "web" / "desk" / "dist" / "index.html").is_file()
    return dist


@pytest.fixture
def ports():
    return {svc: free_port() for svc in (*SERVICES, "proxy")}


@pytest.fixture
def clean_rest(db_engine):
    _truncate(db_engine, "events", events_metadata, {"alembic_version"})
    catalogue_store.forget()
    _truncate(db_engine, "dispatch", dispatch_metadata, {"alembic_version"})
    config_store.forget()
    _truncate(db_engine, "assessment", assessment_metadata, {"alembic_version"})
    _truncate(db_engine, "notify", notify_metadata, {"alembic_version"})


@pytest.fixture
def stack(container_factory, service_config, demo_district, clean_rest, ports,  # noqa: F811
          app_dist):
    """The five services on their own ports (started in the order make up uses)."""
    def address(svc):
        return f"127.0.0.1:{ports[svc]}"

    proxy = f"http://127.0.0.1:{ports['proxy']}"
    configs = {
        "registry": service_config("registry", WEB_SERVER_ADDRESS=address("registry"),
                                   AUTH_REFRESH_COOKIE_PATH="/api/registry/auth"),
        "events": service_config("events", WEB_SERVER_ADDRESS=address("events"),
                                 REGISTRY_RPC_TIMEOUT=5),
        "dispatch": service_config("dispatch", WEB_SERVER_ADDRESS=address("dispatch"),
                                   ESCALATION_POLL_SECONDS=3600),
        "assessment": service_config(
            "assessment", WEB_SERVER_ADDRESS=address("assessment"),
            REGISTRY_URL=f"{proxy}/api/registry",
            SERVICE_URLS={svc: f"{proxy}/api/{svc}" for svc in SERVICES}),
        "notify": service_config("notify", WEB_SERVER_ADDRESS=address("notify"),
                                 SEND_POLL_SECONDS=0.2),
    }
    classes = {"registry": RegistryService, "events": EventsService,
               "dispatch": DispatchService, "assessment": AssessmentService,
               "notify": NotifyService}
    containers = {}
    for svc in ("registry", "dispatch", "assessment", "notify", "events"):
        containers[svc] = container_factory(classes[svc], configs[svc])
        containers[svc].start()
    return containers


@pytest.fixture
def proxy(stack, ports, tmp_path):
    """nginx with deploy/proxy/nginx.conf, each upstream the service's test port
    (tools/local_proxy.py); its base URL. The access log is kept in tmp_path (the test
    prints it on a failure)."""
    with local_proxy.running({svc: ports[svc] for svc in SERVICES}, ports["proxy"],
                             tmp_path) as base:
        yield {"base": base, "log": tmp_path / "access.log"}


@pytest.fixture
def worker(demo_district, db_url):  # noqa: F811
    """A neighbourhood grid worker of the demo district (one grid), with a password."""
    engine = make_engine(db_url)
    try:
        with transaction(engine) as session:
            subject, scope = session.execute(sa.text(
                "SELECT subject, scope_code FROM registry.staff "
                "WHERE role = 'neighbourhood_grid_worker' AND subject IS NOT NULL "
                "AND active "
                "ORDER BY subject LIMIT 1")).one()
            accounts.set_password(session, subject, PASSWORD, operator="test")
    finally:
        engine.dispose()
    assert len(scope) == 15, scope  # a grid's code
    return {"login": subject, "password": PASSWORD, "grid": scope}

"""The stack the fuzz tests attack: the five REAL services (registry, events, dispatch,
assessment, notify), each on its own HTTP port, sharing one throw-away RabbitMQ vhost and
the test database, with a small demo district loaded through the registry's own loader.

Started once per fuzz package (starting five containers per test would cost more than the
fuzzing); the tests only talk to it over HTTP (requests) and AMQP (pika), as clients would.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import pytest
import sqlalchemy as sa
from nameko.containers import get_container_cls
from sqlalchemy.orm import Session

from gridgov_common.kernel import auth, pii
from services.assessment.service import AssessmentService
from services.dispatch import config_store
from services.dispatch.service import DispatchService
from services.events.service import EventsService
from services.notify.service import NotifyService
from services.registry import demo
from services.registry.models import metadata as registry_metadata
from services.registry.service import RegistryService
from tests.conftest import service_db_url, service_secrets
from tests.events.conftest import _truncate
from tools.ports import free_port

SERVICES = {"registry": RegistryService, "events": EventsService,
            "dispatch": DispatchService, "assessment": AssessmentService,
            "notify": NotifyService}
# FUZZ_EXAMPLES=200 make a deeper local run; the suite default keeps to a few seconds a service
FUZZ_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "0") or 0)


@dataclass
class Stack:
    """What a fuzz test needs to know about the running services."""

    amqp_uri: str
    db_engine: sa.Engine
    district: str
    grid_codes: list[str]
    jwt_secret: str
    containers: dict[str, Any] = field(default_factory=dict)
    urls: dict[str, str] = field(default_factory=dict)

    def token(self, role: str, scope: str, sub: str = "fuzz") -> dict[str, str]:
        value = auth.mint(self.jwt_secret, sub, role, scope, ttl_seconds=3600)
        return {"Authorization": f"Bearer {value}"}

    def admin(self) -> dict[str, str]:
        return self.token("district_admin", f"district:{self.district}", sub="fuzz-admin")

    def alive(self) -> dict[str, bool]:
        """A container whose managed thread crashed is killed by nameko: ``_died`` fires."""
        return {name: not container._died.ready() for name, container in
                self.containers.items()}


def _demo_district(engine: sa.Engine, secrets: dict[str, str]) -> dict[str, Any]:
    cipher = pii.PiiCipher(pii.key_from_b64(secrets["PII_KEY"]),
                           pii.key_from_b64(secrets["PII_INDEX_KEY"]))
    # always the demo district: another package may have left a district of its own,
    # whose grids do not hold the contract samples' locations
    _truncate(engine, "registry", registry_metadata,
              {"departments", "alembic_version", "audit_log"})
    with Session(engine) as session:
        code = demo.load(session, cipher, towns=1, communities_per_town=2,
                         grids_per_community=2, households_per_grid=2)["district"]
        session.commit()
        grids = list(session.execute(sa.text(
            "SELECT grid_code FROM registry.grids ORDER BY grid_code")).scalars())
    return {"code": code, "grid_codes": grids}


@pytest.fixture(scope="package")
def stack(vhost_pipeline, request, db_engine, db_url, platform_secrets):
    """The five services, running (killed at the end of the package)."""
    from urllib.parse import urlparse

    config_store.forget()
    district = _demo_district(db_engine, platform_secrets)
    uri = urlparse(request.config.getoption("RABBIT_AMQP_URI"))
    ports = {name: free_port() for name in SERVICES}
    urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    with vhost_pipeline.get() as vhost:
        amqp_uri = f"{uri.scheme}://{uri.netloc}/{vhost}"
        base = {"AMQP_URI": amqp_uri, "OUTBOX_POLL_SECONDS": 0.05}
        extra = {
            "events": {"OPEN311_API_KEYS": "open311-fuzz-key-0123456789",
                       "REGISTRY_RPC_TIMEOUT": 5},
            "dispatch": {"ESCALATION_POLL_SECONDS": 3600},
            "assessment": {"REGISTRY_URL": urls["registry"], "SERVICE_URLS": urls,
                           "DASHBOARD_TIMEOUT_SECONDS": 3},
            # nothing listens on these: e-mail and SMS fail and are retried, never sent
            "notify": {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": free_port(),
                       "SMS_GATEWAY_URL": f"http://127.0.0.1:{free_port()}/sms",
                       "SEND_POLL_SECONDS": 0.2, "HTTP_SEND_TIMEOUT": 2},
        }
        fuzz = Stack(amqp_uri=amqp_uri, db_engine=db_engine, district=district["code"],
                     grid_codes=district["grid_codes"],
                     jwt_secret=platform_secrets["JWT_SECRET"], urls=urls)
        try:
            for name, cls in SERVICES.items():
                # each service as its own database role, the PII keys only where it decrypts
                config = {**base, **service_secrets(platform_secrets, name),
                          "DB_URL": service_db_url(db_url, name), "DB_SCHEMA": name,
                          "WEB_SERVER_ADDRESS": f"127.0.0.1:{ports[name]}",
                          **extra.get(name, {})}
                container = get_container_cls(config)(cls, config)
                fuzz.containers[name] = container
                container.start()
            yield fuzz
        finally:
            for container in fuzz.containers.values():
                try:
                    container.kill()
                except Exception:  # noqa: BLE001  (teardown of a container that died)
                    pass

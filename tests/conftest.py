"""Test fixtures: a real PostgreSQL database and a real RabbitMQ vhost per test.

eventlet must patch the standard library before anything else is imported: the nameko
pytest plugin no longer does it, and without it pytest hangs on the first socket.
"""

import os

import eventlet

# `make mutation` runs only the pure unit tests inside mutmut's own process, whose worker
# threads eventlet's patched locks would break; every other run patches.
if os.environ.get("GRIDGOV_NO_MONKEY_PATCH") != "1":
    eventlet.monkey_patch()  # must run before every other import

import base64  # noqa: E402
import secrets as _secrets  # noqa: E402
from pathlib import Path  # noqa: E402
from urllib.parse import urljoin  # noqa: E402

import pytest  # noqa: E402
import requests  # noqa: E402
import sqlalchemy as sa  # noqa: E402

from gridgov_common.kernel import auth  # noqa: E402
from gridgov_common.platform import db_roles, migrate
from gridgov_common.platform.db import make_engine  # noqa: E402
from tools.ports import free_port  # noqa: E402

UNIT_DIR = Path(__file__).resolve().parent / "unit"
# Fixtures that reach a real server: a test that asks for one is an integration test and
# does not belong under tests/unit (`make test-unit` runs that directory without servers).
SERVER_FIXTURES = frozenset({"db_url", "db_engine", "rabbit_config", "rabbit_manager",
                             "container_factory", "runner_factory", "service_config",
                             "web_session", "web_config"})


def pytest_collection_modifyitems(config, items):
    """The integration marker follows the directory: everything outside tests/unit talks to
    the real RabbitMQ and PostgreSQL (or runs the services); tests/unit may not."""
    for item in items:
        if UNIT_DIR not in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.integration)
            continue
        used = SERVER_FIXTURES.intersection(getattr(item, "fixturenames", ()))
        if used:
            raise pytest.UsageError(f"{item.nodeid} is under tests/unit but uses the "
                                    f"server fixtures {sorted(used)}: move it out")


TEST_DB_URL = os.environ.get(
    "GRIDGOV_TEST_DB_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/gridgov_test")


def _recreate_database(url: str) -> None:
    target = sa.engine.make_url(url)
    admin = sa.create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{target.database}"'))
    admin.dispose()


@pytest.fixture(scope="session")
def db_url():
    """A fresh test database, migrated once per test session with every service's history,
    with each service's own role (platform/db_roles.py; cluster-wide, so made once and
    reused: no passwords, the test server trusts 127.0.0.1 as it does for postgres)."""
    _recreate_database(TEST_DB_URL)
    migrate.upgrade(TEST_DB_URL, env={})
    return TEST_DB_URL


def service_db_url(db_url: str, schema: str) -> str:
    """The URL a service connects with: its own role, which can touch only its own schema
    (a test's probe service, with no schema of its own, keeps the administrator's)."""
    if schema not in db_roles.SERVICES:
        return db_url
    return db_roles.service_url(db_url, schema, env={})


def service_secrets(platform_secrets: dict, schema: str) -> dict:
    """The keys a service is given: the PII keys only to the services that decrypt."""
    if schema in db_roles.PII_SERVICES:
        return dict(platform_secrets)
    return {k: v for k, v in platform_secrets.items() if not k.startswith("PII_")}


@pytest.fixture(scope="session")
def db_engine(db_url):
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def platform_secrets():
    """Keys as the environment would provide them (never stored in the database)."""
    return {
        "JWT_SECRET": _secrets.token_urlsafe(48),
        "PII_KEY": base64.b64encode(_secrets.token_bytes(32)).decode(),
        "PII_INDEX_KEY": base64.b64encode(_secrets.token_bytes(32)).decode(),
    }


@pytest.fixture
def service_config(rabbit_config, db_url, platform_secrets, web_config):
    """nameko config for a service under test: its own vhost, the test DB as the service's own
    role (so every test proves the role's rights are enough), test keys (the PII keys only
    for registry and notify, as in production)."""

    def build(schema: str, **extra):
        config = dict(rabbit_config)
        config.update(web_config)
        config.update(service_secrets(platform_secrets, schema))
        config.update({"DB_URL": service_db_url(db_url, schema), "DB_SCHEMA": schema,
                       "OUTBOX_POLL_SECONDS": 0.05})
        config.update(extra)
        return config

    return build


@pytest.fixture
def token(platform_secrets):
    """Mint a bearer token header for a role and scope."""

    def make(role: str, scope: str, sub: str = "tester", ttl: int = 600,
             name: str = "") -> dict:
        value = auth.mint(platform_secrets["JWT_SECRET"], sub, role, scope, name=name,
                          ttl_seconds=ttl)
        return {"Authorization": f"Bearer {value}"}

    return make


@pytest.fixture
def web_config(empty_config):
    """Replaces nameko's fixture: its port comes from tools.ports, so it is never a port
    another server of this session was given (two servers on one port split its requests)."""
    empty_config["WEB_SERVER_ADDRESS"] = f"127.0.0.1:{free_port()}"
    return empty_config


@pytest.fixture
def web_session(web_config_port):
    """Replaces nameko's fixture, which imports werkzeug.urls.url_join (gone in werkzeug 3)."""

    class PrefixedSession(requests.Session):
        def request(self, method, url, *args, **kwargs):
            base = f"http://127.0.0.1:{web_config_port}/"
            return super().request(method, urljoin(base, url), *args, **kwargs)

    session = PrefixedSession()
    yield session
    session.close()

"""Fixtures for whole case flows across services: the real registry, events and dispatch
services on one throw-away vhost and the test database, and the reference department
adapter (plain pika, as a department would run it) for each department a case goes to.

The events service answers on ``web_session``'s port, dispatch on its own (``dispatch_http``).
"""

from __future__ import annotations

import pytest

from services.dispatch import config_store
from services.dispatch.models import metadata as dispatch_metadata
from services.dispatch.service import DispatchService
from services.events import catalogue_store
from services.events.models import metadata as events_metadata
from services.notify.models import metadata as notify_metadata
from services.notify.service import NotifyService
from services.registry.models import metadata as registry_metadata
from tests.adapters import FAST, Lines, amqp_url, running
from tests.events.conftest import (  # noqa: F401  (fixtures, used by name)
    PrefixedSession,
    _truncate,
    admin,
    district,
    events_config,
    free_port,
    observer,
    registry,
    registry_http,
    registry_port,
    worker_a,
)
from tools.department_adapter.adapter import AdapterConfig

# subcategory fire_hazard_corridor: fire leads, emergency management assists (default rules)
DEPARTMENTS = ("fire", "emergency_management")


@pytest.fixture
def clean_db(db_engine):
    _truncate(db_engine, "registry", registry_metadata,
              {"departments", "alembic_version", "audit_log"})  # audit log is append-only
    _truncate(db_engine, "events", events_metadata, {"alembic_version"})
    catalogue_store.forget()  # its cached versions were in the truncated table
    _truncate(db_engine, "dispatch", dispatch_metadata, {"alembic_version"})
    config_store.forget()


@pytest.fixture
def dispatch_port():
    return free_port()


@pytest.fixture
def dispatch_config(service_config, dispatch_port):
    return service_config("dispatch", WEB_SERVER_ADDRESS=f"127.0.0.1:{dispatch_port}",
                          ESCALATION_POLL_SECONDS=0.5)


@pytest.fixture
def departments(rabbit_config):
    """Each department's reference adapter: reports in (ack) at once, its result 0.3 s later.
    Started before any case is dispatched, so assignments have a queue to go to."""
    url = amqp_url(rabbit_config)
    outputs = {code: Lines() for code in DEPARTMENTS}
    with running(AdapterConfig(department=DEPARTMENTS[0], amqp_url=url, auto_ack=True,
                               auto_result_after=0.3, **FAST), outputs[DEPARTMENTS[0]]), \
            running(AdapterConfig(department=DEPARTMENTS[1], amqp_url=url, auto_ack=True,
                                  auto_result_after=0.3, **FAST), outputs[DEPARTMENTS[1]]):
        yield outputs


@pytest.fixture
def services(container_factory, events_config, dispatch_config, district, observer,  # noqa: F811
             departments, clean_db):
    """events (with the registry of ``district``) and dispatch, running."""
    from services.events.service import EventsService

    events = container_factory(EventsService, events_config)
    dispatch = container_factory(DispatchService, dispatch_config)
    dispatch.start()  # its queues first: events announces the catalogue as it starts
    events.start()
    return {"events": events, "dispatch": dispatch}


@pytest.fixture
def dispatch_http(services, dispatch_port):
    session = PrefixedSession(f"http://127.0.0.1:{dispatch_port}/")
    yield session
    session.close()


@pytest.fixture
def notify_stack(services, container_factory, service_config, db_engine):
    """The notify service beside the flow's services: (its HTTP session, its container)."""
    _truncate(db_engine, "notify", notify_metadata, {"alembic_version"})
    port = free_port()
    container = container_factory(NotifyService, service_config(
        "notify", WEB_SERVER_ADDRESS=f"127.0.0.1:{port}", SEND_POLL_SECONDS=0.05))
    container.start()
    session = PrefixedSession(f"http://127.0.0.1:{port}/")
    yield session, container
    session.close()


@pytest.fixture
def notify_http(notify_stack):
    return notify_stack[0]

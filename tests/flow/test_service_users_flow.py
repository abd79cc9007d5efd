"""Issue 10, item 6: every service on its own broker user. The whole case flow — a case
reported in the app, whistled to the departments' queues, reported in, resolved, the
return visit asked through notify, closed — runs with registry, events, dispatch,
assessment and notify each connected as its own ``svc.<service>`` user (grants derived
from ``tools.bus_users.SERVICES``), on the real broker; and assessment keeps its
copy of the registry's grids (registry events + RPC to the registry) as its own user."""

from __future__ import annotations

import secrets
from urllib.parse import quote

import pytest
import sqlalchemy as sa

from services.assessment.models import metadata as assessment_metadata
from services.assessment.service import AssessmentService
from tests.amqp import wait_until
from tests.events.conftest import GRID_A, GRID_B, _truncate, file, free_port
from tests.flow.conftest import DEPARTMENTS
from tests.flow.test_case_flow import FLOW_WAIT, actions_of, wait_state
from tools import bus_users


@pytest.fixture
def service_users(rabbit_config):
    """svc.<service>.t<suffix> for the five services with the SERVICES grants on this
    test's vhost, after the platform's setup (exchanges, the departments' queues)."""
    api = bus_users.ManagementApi(vhost=rabbit_config["vhost"])
    api.setup(list(DEPARTMENTS))
    suffix = secrets.token_hex(4)
    users = {}
    try:
        for service in bus_users.SERVICES:
            user, password = f"svc.{service}.t{suffix}", secrets.token_urlsafe(16)
            api.create_service(service, password, user=user)
            users[service] = (user, password)
        yield users
    finally:
        for user, _ in users.values():
            api.delete_user(user)


@pytest.fixture
def service_config(service_config, service_users, rabbit_config):  # noqa: F811
    """Every service started by the flow fixtures connects as its own user."""
    vhost = quote(rabbit_config["vhost"], safe="")

    def build(schema: str, **extra):
        user, password = service_users[schema]
        uri = f"pyamqp://{quote(user, safe='')}:{quote(password, safe='')}@127.0.0.1:5672/{vhost}"
        return service_config(schema, AMQP_URI=uri, **extra)

    return build


@pytest.fixture
def assessment(container_factory, service_config, db_engine):
    """Started before the district is drawn, so the registry's grid events reach it."""
    _truncate(db_engine, "assessment", assessment_metadata, {"alembic_version"})
    container = container_factory(AssessmentService, service_config(
        "assessment", WEB_SERVER_ADDRESS=f"127.0.0.1:{free_port()}"))  # web_session: events
    container.start()
    return container


def test_the_case_flow_runs_with_each_service_on_its_own_user(
        assessment, services, registry, web_session, worker_a, dispatch_http, departments,
        notify_stack, db_engine, rabbit_config, service_users):
    notify, notify_container = notify_stack
    case = file(web_session, worker_a)  # events -> registry RPC (lookup_point), outbox
    case_id = case["case_id"]
    for code in DEPARTMENTS:  # dispatch -> gridgov.dispatch -> dept.<code>.assignments
        got = wait_until(lambda c=code: [e for e in departments[c].envelopes()
                                         if e["type"] == "dispatch.assignment"], FLOW_WAIT)
        assert got and got[0]["payload"]["case_id"] == case_id, code
    wait_state(dispatch_http, worker_a, case_id, "resolved")  # reports consumed by dispatch

    def visits():  # dispatch -> notify.request -> notify (inbox) -> notify.sent -> dispatch
        found = notify.get("/inbox", headers=worker_a)
        assert found.status_code == 200, found.text
        return [m for m in found.json()["items"] if m["kind"] == "return_visit"]

    assert wait_until(visits, FLOW_WAIT)
    visit = dispatch_http.post(f"/cases/{case_id}/return-visit", headers=worker_a,
                               json={"satisfied": True, "satisfaction": 5, "method": "phone"})
    assert visit.status_code == 200, visit.text
    wait_state(dispatch_http, worker_a, case_id, "closed")
    case_file = dispatch_http.get(f"/cases/{case_id}/file", headers=worker_a).json()
    assert case_file["verification"]["valid"] is True
    actions = actions_of(case_file)
    assert actions.count("ack") == 2 and actions.count("department_result") == 2
    assert "notification_sent" in actions and "return_visit_satisfied" in actions

    def rings():  # registry.grid.changed -> assessment, which asks the registry (RPC)
        with db_engine.connect() as conn:
            return set(conn.execute(sa.text(
                "SELECT DISTINCT grid_code FROM assessment.grid_rings")).scalars())

    assert wait_until(lambda: rings() >= {GRID_A, GRID_B}, FLOW_WAIT), rings()

    # every container still runs (a refused declare or publish would have killed it), and
    # each service's connections are its own user's
    containers = [*services.values(), registry, assessment, notify_container]
    assert not [c for c in containers if c._died.ready()]
    api = bus_users.ManagementApi(vhost=rabbit_config["vhost"])
    for user, _ in service_users.values():
        connections = api._call("GET", f"connections/username/{quote(user, safe='')}")
        assert connections, f"no connection of {user}"

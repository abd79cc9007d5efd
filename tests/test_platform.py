"""The shared HTTP/RPC layer on real nameko containers, a real broker and a real database."""

import errno
import time
import uuid

import eventlet
import pytest
import sqlalchemy as sa
from marshmallow import Schema, fields, validate
from nameko.standalone.rpc import ServiceRpcProxy

from gridgov_common.kernel.errors import Conflict
from gridgov_common.kernel.roles import Role
from gridgov_common.platform.rpc import rpc
from gridgov_common.platform.service import PlatformService
from gridgov_common.platform.web import http
from services.assessment.service import AssessmentService
from services.dispatch.service import DispatchService
from services.events.service import EventsService
from services.notify.service import NotifyService


class ItemSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=20))
    count = fields.Integer(required=True)


class ProbeService(PlatformService):
    name = "probe"

    @http("POST", "/items", roles={Role.DISTRICT_ADMIN}, body=ItemSchema, status=201)
    def create_item(self, request):
        if request.data["name"] == "taken":
            raise Conflict("name taken", fields={"name": ["exists"]})
        return {"stored": request.data, "by": request.principal.sub}

    @http("GET", "/slow")
    def slow(self, request):
        self.db.execute(sa.text("SELECT pg_sleep(1)"))
        return {"slept": 1}

    @rpc
    def echo(self, value):
        return value


@pytest.fixture
def probe(container_factory, service_config):
    container = container_factory(ProbeService, service_config("public"))
    container.start()
    return container


def admin(token):
    return token("district_admin", "district:320505")


def test_health_ready_metrics_openapi(probe, web_session):
    assert web_session.get("/healthz").json() == {"status": "ok", "service": "probe"}
    ready = web_session.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"database": "ok", "broker": "ok"}
    metrics = web_session.get("/metrics")
    assert "gridgov_http_requests_total" in metrics.text
    doc = web_session.get("/openapi.json").json()
    assert doc["openapi"] == "3.0.3"
    post = doc["paths"]["/items"]["post"]
    assert post["x-roles"] == ["district_admin"]
    assert "Item" in doc["components"]["schemas"]


def test_valid_request_and_structured_errors(probe, web_session, token):
    ok = web_session.post("/items", json={"name": "a", "count": 1}, headers=admin(token))
    assert ok.status_code == 201
    assert ok.json() == {"stored": {"name": "a", "count": 1}, "by": "tester"}

    missing = web_session.post("/items", json={"name": "a", "count": 1})
    assert missing.status_code == 401
    assert missing.json()["error"]["code"] == "unauthorized"

    worker = token("neighbourhood_grid_worker", "grid:320505001001001")
    denied = web_session.post("/items", json={"name": "a", "count": 1}, headers=worker)
    assert denied.status_code == 403

    wrong = web_session.post("/items", json={"name": 5, "count": "x"}, headers=admin(token))
    assert wrong.status_code == 422
    assert set(wrong.json()["error"]["fields"]) == {"name", "count"}

    garbage = web_session.post("/items", data=b"{not json", headers={
        **admin(token), "Content-Type": "application/json"})
    assert garbage.status_code == 400
    assert garbage.json()["error"]["code"] == "malformed_json"

    big = web_session.post("/items", data=b"x" * (1024 * 1024 + 10), headers={
        **admin(token), "Content-Type": "application/json"})
    assert big.status_code == 413

    conflict = web_session.post("/items", json={"name": "taken", "count": 1},
                                headers=admin(token))
    assert conflict.status_code == 409
    assert conflict.json()["error"]["fields"] == {"name": ["exists"]}

    assert web_session.get("/nowhere").json()["error"]["code"] == "not_found"
    assert web_session.delete("/items", headers=admin(token)).status_code == 405


def test_expired_and_forged_tokens_are_refused(probe, web_session, token, platform_secrets):
    expired = token("district_admin", "district:320505", ttl=-10)
    response = web_session.post("/items", json={"name": "a", "count": 1}, headers=expired)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "token_expired"
    forged = {"Authorization": "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0."}
    assert web_session.post("/items", json={}, headers=forged).status_code == 401


def test_slow_query_does_not_block_other_requests(probe, web_session, token):
    """psycopg 3 is green (PLATFORM-NOTES): 4 concurrent 1 s queries take ~1 s, not 4."""
    headers = token("ops_viewer", "district:320505")
    started = eventlet.hubs.get_hub().clock()
    pool = eventlet.GreenPool()
    results = list(pool.imap(lambda _: web_session.get("/slow", headers=headers).status_code,
                             range(4)))
    elapsed = eventlet.hubs.get_hub().clock() - started
    assert results == [200] * 4
    assert elapsed < 2.5, f"4 concurrent pg_sleep(1) took {elapsed:.2f}s: the hub is blocked"


def test_rpc_round_trip(probe, rabbit_config):
    with ServiceRpcProxy("probe", rabbit_config) as proxy:
        assert proxy.echo({"a": 1}) == {"a": 1}


@pytest.mark.parametrize("service_cls", [EventsService, DispatchService, AssessmentService,
                                         NotifyService])
def test_skeleton_services_serve_ops_routes(service_cls, container_factory, service_config,
                                            web_session):
    container = container_factory(service_cls, service_config(service_cls.name))
    container.start()
    assert web_session.get("/healthz").json()["service"] == service_cls.name
    assert web_session.get("/readyz").status_code == 200
    assert web_session.get("/openapi.json").json()["info"]["title"] == service_cls.title


@pytest.mark.parametrize("name", ["registry", "events", "dispatch", "assessment", "notify"])
def test_nameko_run_module_form_finds_exactly_one_service(name):
    """`nameko run services.<svc>.service` starts every class with entrypoints it finds;
    a visible base class would start a second container on the same port."""
    from nameko.cli.run import import_service  # what `nameko run` uses

    found = import_service(f"services.{name}.service")
    assert [cls.name for cls in found] == [name]


def _claims(db_engine, consumer: str) -> dict[str, int]:
    with db_engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT processed_at < now() - interval '14 days' AS old, count(*) "
            "FROM events.processed_messages WHERE consumer = :c GROUP BY 1"), {"c": consumer})
        return {("old" if old else "recent"): count for old, count in rows}


def test_every_service_forgets_idempotency_claims_past_their_retention(
        container_factory, service_config, db_engine):
    """Issue 17 (soak): processed_messages grew by 164,000 rows in 40 minutes and was never
    pruned. A timer on every service forgets claims older than the retention (14 days by
    default), a bounded batch per run, and keeps the recent ones (idempotency holds)."""
    consumer = f"prune-test-{uuid.uuid4()}"
    with db_engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO events.processed_messages (consumer, message_id, processed_at) "
            "SELECT :c, gen_random_uuid(), now() - interval '15 days' - n * interval '1 s' "
            "FROM generate_series(1, 5) AS n"), {"c": consumer})
        conn.execute(sa.text(
            "INSERT INTO events.processed_messages (consumer, message_id, processed_at) "
            "VALUES (:c, gen_random_uuid(), now() - interval '13 days')"), {"c": consumer})
    assert _claims(db_engine, consumer) == {"old": 5, "recent": 1}
    container = container_factory(ProbeService, service_config(
        "events", PRUNE_SECONDS=0.05, PRUNE_BATCH=2))
    container.start()
    deadline = time.monotonic() + 20
    while _claims(db_engine, consumer).get("old") and time.monotonic() < deadline:
        eventlet.sleep(0.05)
    assert _claims(db_engine, consumer) == {"recent": 1}


def test_a_retention_too_short_for_idempotency_stops_the_service(container_factory,
                                                                   service_config):
    container = container_factory(ProbeService, service_config(
        "events", PROCESSED_MESSAGES_RETENTION_HOURS=2))
    with pytest.raises(RuntimeError, match="PROCESSED_MESSAGES_RETENTION_HOURS"):
        container.start()


class OtherService(PlatformService):
    name = "other_probe"


def test_a_second_server_on_a_taken_port_refuses_to_start(probe, container_factory,
                                                          service_config, web_session):
    """Without SO_REUSEPORT: a second service given the probe's address fails to start
    (EADDRINUSE) instead of taking half of the probe's connections and answering them
    404 (what two services given one port did)."""
    taken = container_factory(OtherService, service_config("public"))  # the same address
    with pytest.raises(OSError) as refused:
        taken.start()

    assert refused.value.errno == errno.EADDRINUSE
    for _ in range(20):  # every new connection still reaches the probe
        doc = web_session.get("/openapi.json", headers={"Connection": "close"}).json()
        assert "/items" in doc["paths"]

"""Issue 10, item 6: one broker user per service instead of one administrator for all.
The SERVICES table of tools/bus_users.py is what the code does (consumers, RPC);
each svc.<service> user, on the real broker with plain pika, can publish exactly the keys
its service produces and is refused the rest (e.g. notify cannot publish to
gridgov.intake). The whole case flow under these users: tests/flow/test_service_users_flow.py.
"""

from __future__ import annotations

import inspect
import secrets
import uuid
from urllib.parse import quote

import pika
import pytest
import requests
from pika.exceptions import ChannelClosedByBroker

from gridgov_common.contract.routing import (
    ALERTS_EXCHANGE,
    DEAD_LETTER_EXCHANGE,
    DISPATCH_EXCHANGE,
    EVENTS_EXCHANGE,
    EXCHANGES,
    INTAKE_EXCHANGE,
)
from gridgov_common.platform.messaging import DEFAULT_MAX_REDELIVERIES
from gridgov_common.platform.rpc import TimedRpcProxy
from services.assessment.dashboard.rabbit import fetch_queues
from tests.bus_topology import SERVICE_NAMES, consumers, delivery_limits, service_class
from tools import bus_users

RPC = bus_users.RPC_EXCHANGE
UUID_KEY = str(uuid.uuid4())
PROPS = pika.BasicProperties(content_type="application/json", delivery_mode=2)
# one key of every kind any producer publishes, on every exchange
KEYS = ("registry.grid.changed", "events.case.reported", "dispatch.case.changed",
        "notify.request", "notify.sent", "assessment.circular.published",
        "fire.rejections", "fire.decisions", "fire.320505001.other.normal", "fire.ack",
        "fire.resident.updated", "320505001.major.fire", "registry.intake.dlq",
        "events.intake.dlq", "dispatch.reports.dlq", "notify.requests.dlq",
        "assessment.registry_grids.dlq", "registry.lookup_point", "dispatch.statistics",
        UUID_KEY)

# What each service publishes, written out by hand (not read from SERVICES); besides,
# each publishes any event of its own on gridgov.events (<service>.…: the event types it
# produces, gridgov_common.platform.outbox.add_event checks the prefix).
ALLOWED_PUBLISH = {
    "registry": {(EVENTS_EXCHANGE, "registry.grid.changed"), (DISPATCH_EXCHANGE, "fire.rejections"),
                 (DEAD_LETTER_EXCHANGE, "registry.intake.dlq"), (RPC, UUID_KEY),
                 # calls notify (sign-in codes): any notify.<method> on nameko-rpc
                 (RPC, "notify.request"), (RPC, "notify.sent")},
    "events": {(EVENTS_EXCHANGE, "events.case.reported"), (ALERTS_EXCHANGE, "320505001.major.fire"),
               (DISPATCH_EXCHANGE, "fire.rejections"), (DEAD_LETTER_EXCHANGE, "events.intake.dlq"),
               (RPC, "registry.lookup_point")},
    "dispatch": {(EVENTS_EXCHANGE, "dispatch.case.changed"), (EVENTS_EXCHANGE, "notify.request"),
                 (DISPATCH_EXCHANGE, "fire.rejections"), (DISPATCH_EXCHANGE, "fire.decisions"),
                 (DISPATCH_EXCHANGE, "fire.320505001.other.normal"),
                 (DEAD_LETTER_EXCHANGE, "dispatch.reports.dlq"), (RPC, UUID_KEY),
                 (RPC, "registry.lookup_point")},  # asks the registry for town names
    "assessment": {(EVENTS_EXCHANGE, "assessment.circular.published"),
                   (DEAD_LETTER_EXCHANGE, "assessment.registry_grids.dlq"),
                   (RPC, "registry.lookup_point"), (RPC, "dispatch.statistics")},
    "notify": {(EVENTS_EXCHANGE, "notify.sent"), (DEAD_LETTER_EXCHANGE, "notify.requests.dlq"),
               (RPC, UUID_KEY)},  # replies to the registry's send_sign_in_code
}


def _rpc_targets(service: str) -> tuple[bool, set[str]]:
    cls = service_class(service)
    serves = any(type(ep).__name__ == "Rpc" for _, method in inspect.getmembers(
        cls, inspect.isfunction) for ep in getattr(method, "nameko_entrypoints", ()))
    calls = {dep.target_service for _, dep in inspect.getmembers(cls)
             if isinstance(dep, TimedRpcProxy)}
    return serves, calls


@pytest.mark.parametrize("service", SERVICE_NAMES)
def test_services_table_is_what_the_code_does(service):
    bus = bus_users.SERVICES[service]
    assert {q: (x, tuple(k)) for q, x, k in bus.consumes} == consumers(service)
    # the platform declares them with gridgov's default delivery limit (service_queues)
    assert set(delivery_limits(service).values()) == {DEFAULT_MAX_REDELIVERIES}
    serves, calls = _rpc_targets(service)
    assert bus.rpc_serves == serves and set(bus.rpc_calls) == calls
    assert set(bus_users.SERVICES) == set(SERVICE_NAMES)


@pytest.fixture
def service_users(rabbit_config):
    vhost = rabbit_config["vhost"]
    api = bus_users.ManagementApi(vhost=vhost)
    api.setup([])  # the platform: exchanges, policy, every service's queues
    suffix, users = secrets.token_hex(4), {}
    try:
        for service in bus_users.SERVICES:
            user, password = f"svc.{service}.t{suffix}", secrets.token_urlsafe(16)
            api.create_service(service, password, user=user)
            users[service] = pika.BlockingConnection(pika.URLParameters(
                f"amqp://{quote(user, safe='')}:{quote(password, safe='')}@127.0.0.1:5672/"
                f"{quote(vhost, safe='')}"))
        yield users
    finally:
        for conn in users.values():
            conn.close()
        for service in users:
            api.delete_user(f"svc.{service}.t{suffix}")


def _attempt(conn, action) -> int:
    channel = conn.channel()
    try:
        action(channel)
    except ChannelClosedByBroker as exc:
        return exc.reply_code
    channel.close()
    return 0


def _publish(channel, exchange: str, key: str) -> None:
    channel.confirm_delivery()
    channel.basic_publish(exchange, key, b"{}", PROPS)


def test_each_service_user_publishes_only_its_own_keys(service_users):
    """Every gridgov exchange and nameko-rpc x one key of every producer, for each of the
    five users: allowed exactly where written above (notify on gridgov.intake: 403)."""
    wrong = {}
    for service, conn in service_users.items():
        for exchange in (*EXCHANGES, RPC):
            for key in KEYS:
                got = _attempt(conn, lambda ch, x=exchange, k=key: _publish(ch, x, k))
                own_event = exchange == EVENTS_EXCHANGE and key.startswith(f"{service}.")
                allowed = own_event or (exchange, key) in ALLOWED_PUBLISH[service]
                expected = 0 if allowed else 403
                if got != expected:
                    wrong[(service, exchange, key)] = (got, expected)
    assert not wrong, wrong
    notify = service_users["notify"]
    assert _attempt(notify, lambda ch: _publish(ch, INTAKE_EXCHANGE,
                                                "civil_affairs.resident.updated")) == 403


def test_each_service_user_touches_only_its_own_queues(service_users):
    """Consume: its own queues only (and its RPC queue). Declare: nothing — no gridgov
    exchange (passive checks only), no queue, its own included (the platform declares
    them from SERVICES). Bind: nothing, so no exchange-to-exchange routing either."""
    queues = {spec.name: service for service in bus_users.SERVICES
              for spec in bus_users.service_queues(service)}
    wrong = {}
    for service, conn in service_users.items():
        for queue, owner in queues.items():
            readable = owner == service and not queue.endswith(".dlq")
            got = _attempt(conn, lambda ch, q=queue: ch.basic_get(q))
            if got != (0 if readable else 403):
                wrong[(service, "get", queue)] = got
            got = _attempt(conn, lambda ch, q=queue: ch.queue_declare(q, durable=True))
            if got != 403:
                wrong[(service, "declare", queue)] = got
            if not _attempt(conn, lambda ch, q=queue: ch.queue_declare(q, passive=True)) == 0:
                wrong[(service, "passive", queue)] = "refused"
            for exchange in (*EXCHANGES, RPC):
                got = _attempt(conn, lambda ch, q=queue, x=exchange: ch.queue_bind(q, x, "#"))
                if got != 403:
                    wrong[(service, "bind", queue, exchange)] = got
            got = _attempt(conn, lambda ch, q=queue: ch.exchange_declare(q, "topic"))
            if got != 403:  # an exchange named like a queue (the department hole)
                wrong[(service, "declare_exchange", queue)] = got
        for exchange in EXCHANGES:
            got = _attempt(conn, lambda ch, x=exchange: ch.exchange_declare(x, "topic",
                                                                            durable=True))
            if got != 403:
                wrong[(service, "declare_exchange", exchange)] = got
            if _attempt(conn, lambda ch, x=exchange: ch.exchange_declare(x, passive=True)):
                wrong[(service, "passive", exchange)] = "refused"
            for destination in (*EXCHANGES, RPC):
                got = _attempt(conn, lambda ch, d=destination, x=exchange:
                               ch.exchange_bind(d, x, "#"))
                if got != 403:
                    wrong[(service, "bind_exchange", destination, exchange)] = got
    assert not wrong, wrong


def test_known_residual_rpc_clients_may_name_an_exchange_like_their_reply_queues(
        service_users):
    """RabbitMQ's permissions name resources without saying whether they are queues or
    exchanges, and nameko declares each RPC client's reply queue rpc.reply-<service>-<uuid>
    itself: the RPC clients (events, dispatch, assessment) may therefore declare an
    *exchange* of such a name (docs/BUS-SECURITY.md, residuals). No other service, and
    no department, can declare anything. Kept here so that closing it updates the docs."""
    name = f"rpc.reply-{{}}-{uuid.uuid4()}"
    for service, conn in service_users.items():
        got = _attempt(conn, lambda ch, s=service: ch.exchange_declare(name.format(s), "topic"))
        assert got == (0 if bus_users.SERVICES[service].rpc_calls else 403), service
        if got == 0:
            assert _attempt(conn, lambda ch, s=service: ch.exchange_delete(name.format(s))) == 0


def test_assessment_user_reads_the_queue_depths_for_the_dashboard(rabbit_config):
    """compose and Kubernetes give the dashboard svc.assessment for the management API
    (tag management): it lists every queue of the vhost, and no other user can log in."""
    vhost = rabbit_config["vhost"]
    api = bus_users.ManagementApi(vhost=vhost)
    suffix = secrets.token_hex(4)
    users = {service: (f"svc.{service}.t{suffix}", secrets.token_urlsafe(16))
             for service in ("assessment", "notify")}
    try:
        for service, (user, password) in users.items():
            api.create_service(service, password, user=user)
        api.setup(["fire"])
        user, password = users["assessment"]
        url = (f"http://{quote(user, safe='')}:{quote(password, safe='')}@127.0.0.1:15672"
               f"/api/queues/{quote(vhost, safe='')}")
        names = {queue["name"] for queue in fetch_queues(url, 10.0)}
        assert {"dept.fire.assignments", "dept.fire.assignments.dlq"} <= names
        user, password = users["notify"]
        with pytest.raises(requests.HTTPError):
            fetch_queues(url.replace(quote(users["assessment"][0], safe=""),
                                     quote(user, safe="")).replace(
                quote(users["assessment"][1], safe=""), quote(password, safe="")), 10.0)
    finally:
        for user, _ in users.values():
            api.delete_user(user)

"""Message consumers leave HTTP its share of the worker pool (WorkerSlots in
gridgov_common/platform/messaging.py): with every consumer worker stuck, a request still
answers. Before, a flood of messages took all ``max_workers`` slots and /readyz waited 4-10
s for one (the kill test of tests/compose, issue 15), past the probes' timeouts.

Against the real RabbitMQ: handlers block on a gate the test opens only after the HTTP
request has answered, so a starved request would hang the test (its timeout fails it)."""

from __future__ import annotations

import eventlet.event
import pytest
import requests
from nameko.web.handlers import http

from gridgov_common.contract import INTAKE_EXCHANGE, Envelope, encode
from gridgov_common.platform.batching import consume_contract_batch
from gridgov_common.platform.messaging import HTTP_RESERVED_WORKERS, consume_contract
from tests._messaging_conftest_helpers import (
    fresh_sample,
    pika_connection,
    publish,
    queue_depth,
    wait_for,
)
from tests.events.conftest import free_port

MAX_WORKERS = 4
QUEUE, BATCH_QUEUE = "slotstest.one", "slotstest.batch"
entered: list[str] = []
gate: list[eventlet.event.Event] = []


class Flooded:
    name = "slotstest"

    @consume_contract(QUEUE, INTAKE_EXCHANGE, ["*.resident.moved_out"], retry_delay=0,
                      message_types=["intake.resident.moved_out"])
    def one(self, envelope: Envelope) -> None:
        entered.append(envelope.message_id)
        gate[0].wait()

    @consume_contract_batch(BATCH_QUEUE, INTAKE_EXCHANGE, ["*.resident.updated"],
                            batch_size=1, batch_wait=0, retry_delay=0,
                            message_types=["intake.resident.updated"])
    def batch(self, envelopes: list[Envelope]) -> None:
        entered.extend(envelope.message_id for envelope in envelopes)
        gate[0].wait()

    @http("GET", "/ping")
    def ping(self, request):
        return "pong"


@pytest.fixture
def service(rabbit_config, container_factory):
    entered.clear()
    gate[:] = [eventlet.event.Event()]
    port = free_port()
    container = container_factory(Flooded, {**rabbit_config, "max_workers": MAX_WORKERS,
                                            "WEB_SERVER_ADDRESS": f"127.0.0.1:{port}"})
    container.start()
    yield f"http://127.0.0.1:{port}"
    if not gate[0].ready():
        gate[0].send()


@pytest.mark.timeout(60)
def test_http_answers_while_every_consumer_worker_is_busy(service, rabbit_config):
    connection = pika_connection(rabbit_config["AMQP_URI"])
    channel = connection.channel()
    channel.confirm_delivery()
    sent = [fresh_sample("intake.resident.moved_out") for _ in range(5)]
    sent += [fresh_sample("intake.resident.updated") for _ in range(5)]
    for envelope in sent:
        key = "civil_affairs." + envelope["type"].removeprefix("intake.")
        publish(channel, INTAKE_EXCHANGE, key, encode(envelope))

    share = MAX_WORKERS - HTTP_RESERVED_WORKERS
    wait_for(lambda: len(entered) == share)  # the consumers' share, all stuck on the gate
    answer = requests.get(f"{service}/ping", timeout=10)
    assert (answer.status_code, answer.text) == (200, "pong")
    assert len(entered) == share  # the request took a reserved slot, not a consumer's

    gate[0].send()  # every message is then handled, none lost
    wait_for(lambda: len(entered) == len(sent))
    assert sorted(entered) == sorted(envelope["message_id"] for envelope in sent)
    wait_for(lambda: queue_depth(channel, QUEUE) == queue_depth(channel, BATCH_QUEUE) == 0)
    connection.close()

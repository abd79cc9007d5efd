"""bench_05's stand-ins for the hotline and the departments, against the real RabbitMQ on the
test's vhost: the hotline pipelines its publisher confirms (issue 16: a publish waiting for
its own confirm cost the broker and the bench a round trip per report) yet still gets every
report confirmed or fails loudly; a department acks what it took in grouped acks and leaves
nothing unacked.

Not in tests/unit: it uses the broker, and `make mutation` copies only services/ and
gridgov_common/.
"""

from __future__ import annotations

import time

import pytest

from bench.bench_05_case_flow import Hotline, Sink
from tests._messaging_conftest_helpers import pika_connection

POINT = {"lon": 120.5712, "lat": 31.2989}


def _intake_queue(amqp_uri: str, name: str, **arguments) -> None:
    with pika_connection(amqp_uri) as connection:
        channel = connection.channel()
        channel.exchange_declare("gridgov.intake", "topic", durable=True)
        channel.queue_declare(name, durable=True,
                              arguments={"x-queue-type": "quorum", **arguments})
        channel.queue_bind(name, "gridgov.intake", "hotline_12345.#")


def _ready(amqp_uri: str, name: str) -> int:
    with pika_connection(amqp_uri) as connection:
        return connection.channel().queue_declare(name, passive=True).method.message_count


def test_hotline_keeps_at_most_a_window_unconfirmed_and_ends_with_all_confirmed(
        rabbit_config):
    uri = rabbit_config["AMQP_URI"]
    _intake_queue(uri, "hotline.all")
    hotline = Hotline(uri, POINT)
    sent = 2 * Hotline.WINDOW + 7
    for number in range(sent):
        hotline.send(number, time.time())
        assert len(hotline.unconfirmed) < Hotline.WINDOW
    hotline.close()  # raises unless every report was confirmed
    assert hotline.published == sent
    assert hotline.unconfirmed == set() and hotline.nacked == 0
    assert _ready(uri, "hotline.all") == sent


def test_hotline_reports_what_the_broker_refused(rabbit_config):
    uri = rabbit_config["AMQP_URI"]
    # a classic queue: its length limit is exact (a quorum queue's is applied lazily)
    _intake_queue(uri, "hotline.full", **{"x-queue-type": "classic", "x-max-length": 5,
                                          "x-overflow": "reject-publish"})
    hotline = Hotline(uri, POINT)
    for number in range(8):
        hotline.send(number, time.time())
    with pytest.raises(RuntimeError, match="3 refused by the broker"):
        hotline.flush()
    assert hotline.unconfirmed == set()
    hotline.connection.close()
    assert _ready(uri, "hotline.full") == 5


def test_a_department_acks_everything_it_took(rabbit_config):
    uri = rabbit_config["AMQP_URI"]
    _intake_queue(uri, "hotline.feed")
    department = Sink(uri, "gridgov.intake", ["hotline_12345.#"], "bench.department")
    department.start()
    hotline = Hotline(uri, POINT)
    for number in range(120):
        hotline.send(number, time.time())
    hotline.close()
    deadline = time.monotonic() + 30
    while len(department.taken()) < 120 and time.monotonic() < deadline:
        time.sleep(0.05)
    department.stopping = True
    department.join(10)
    assert not department.is_alive()
    assert len(department.taken()) == 120
    # an unacked delivery would be back in the queue once the consumer's connection closed
    assert _ready(uri, "bench.department") == 0

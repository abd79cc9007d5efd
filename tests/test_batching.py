"""BatchConsumer against the real RabbitMQ and PostgreSQL: messages are handled many to a
worker and a transaction; a batch that fails is replayed one message at a time, so only the
bad message is retried or dead-lettered; malformed bodies never join a batch."""

from __future__ import annotations

import eventlet
import eventlet.event
import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from gridgov_common.contract import (
    INTAKE_EXCHANGE,
    INVALID_JSON,
    Envelope,
    dlq_name,
    encode,
    parse_envelope,
)
from gridgov_common.platform.batching import BatchConsumer, consume_contract_batch
from gridgov_common.platform.db import Database
from gridgov_common.platform.messaging import (
    ERROR_CODE_HEADER,
    PermanentError,
    claim_message,
    claim_messages,
)
from tests._messaging_conftest_helpers import (
    TEST_DB_URL,
    create_schema,
    drain,
    drop_schema,
    fresh_sample,
    new_schema_name,
    pika_connection,
    publish,
    queue_depth,
    wait_for,
)

SCHEMA = new_schema_name("batchtest")
QUEUE = "batchtest.intake"
DLQ = dlq_name(QUEUE)
KEY = "civil_affairs.resident.moved_out"
batches: list[list[Envelope]] = []
held = eventlet.event.Event()  # a batch holding a message with reason "hold" waits for it


def _tables(metadata: sa.MetaData) -> None:
    sa.Table("applied", metadata,
             sa.Column("message_id", sa.Uuid(as_uuid=False), primary_key=True),
             sa.Column("id_number", sa.Text, nullable=False))


class BatchedIntake:
    """Applies moved-out reports in batches; ``reason`` steers failures."""

    name = "batchtest_intake"
    db = Database()

    @consume_contract_batch(QUEUE, INTAKE_EXCHANGE, ["*.resident.moved_out"],
                            max_redeliveries=2, retry_delay=0, batch_size=10,
                            batch_wait=0.3, message_types=["intake.resident.moved_out"])
    def handle(self, envelopes: list[Envelope]) -> None:
        batches.append(envelopes)
        if any(envelope.payload.get("reason") == "hold" for envelope in envelopes):
            held.wait()
        for envelope in envelopes:
            if not claim_message(self.db, envelope.message_id, QUEUE, schema=SCHEMA):
                continue
            self.db.execute(sa.text(f'INSERT INTO "{SCHEMA}".applied VALUES (:m, :i)'),
                            {"m": envelope.message_id, "i": envelope.payload["id_number"]})
            if envelope.payload.get("reason") == "permanent":
                raise PermanentError("unknown_resident", "no such resident")


@pytest.fixture(scope="module")
def db():
    engine, _ = create_schema(SCHEMA, _tables)
    yield engine
    drop_schema(engine, SCHEMA)


@pytest.fixture
def service(db, rabbit_config, container_factory):
    batches.clear()
    container = container_factory(BatchedIntake, {**rabbit_config, "DB_URL": TEST_DB_URL})
    container.start()
    return container


@pytest.fixture
def channel(rabbit_config):
    connection = pika_connection(rabbit_config["AMQP_URI"])
    chan = connection.channel()
    chan.confirm_delivery()
    yield chan
    connection.close()


def _applied(engine) -> set[str]:
    with engine.connect() as conn:
        return set(conn.execute(sa.text(f'SELECT message_id::text FROM "{SCHEMA}".applied'))
                   .scalars())


def test_messages_are_handled_many_to_a_worker_each_once(service, channel, db):
    sent = [fresh_sample("intake.resident.moved_out") for _ in range(25)]
    for envelope in sent:
        publish(channel, INTAKE_EXCHANGE, KEY, encode(envelope))
    publish(channel, INTAKE_EXCHANGE, KEY, encode(sent[0]))  # a redelivery of the first
    ids = {envelope["message_id"] for envelope in sent}
    wait_for(lambda: _applied(db) >= ids)
    service.stop()  # an unacked message would go back to the queue now
    assert _applied(db) == ids
    assert max(len(batch) for batch in batches) == 10  # batch_size caps a batch
    assert sum(len(batch) for batch in batches) == 26  # each delivery handled once
    assert queue_depth(channel, QUEUE) == 0 and queue_depth(channel, DLQ) == 0


def test_while_a_batch_runs_the_next_collects_until_it_ends(service, channel, db):
    """No timer cuts the next batch while one runs (issue 16): what arrives meanwhile goes
    as one batch when the running one ends, not in pieces every ``batch_wait``."""
    global held
    held = eventlet.event.Event()
    consumer = next(e for e in service.entrypoints if isinstance(e, BatchConsumer))
    first = fresh_sample("intake.resident.moved_out", reason="hold")
    publish(channel, INTAKE_EXCHANGE, KEY, encode(first))
    wait_for(lambda: len(batches) == 1)  # running, and held
    rest = [fresh_sample("intake.resident.moved_out") for _ in range(7)]
    for envelope in rest:
        publish(channel, INTAKE_EXCHANGE, KEY, encode(envelope))
    wait_for(lambda: len(consumer._pending) == 7)
    eventlet.sleep(3 * consumer.batch_wait)  # a timer would have flushed them by now
    assert len(batches) == 1 and len(consumer._pending) == 7
    held.send()
    ids = {envelope["message_id"] for envelope in [first, *rest]}
    wait_for(lambda: _applied(db) >= ids)
    assert [len(batch) for batch in batches] == [1, 7]
    assert [e.message_id for e in batches[1]] == [e["message_id"] for e in rest]


def test_a_failing_batch_is_replayed_alone_and_only_the_bad_message_is_dead_lettered(
        service, channel, db):
    good = [fresh_sample("intake.resident.moved_out") for _ in range(4)]
    bad = fresh_sample("intake.resident.moved_out", reason="permanent")
    for envelope in [*good[:2], bad, *good[2:]]:
        publish(channel, INTAKE_EXCHANGE, KEY, encode(envelope))
    [(_method, properties, body)] = drain(channel, DLQ, expected=1, settle=0.5)
    assert properties.headers[ERROR_CODE_HEADER] == "unknown_resident"
    assert body == encode(bad)
    wait_for(lambda: _applied(db) >= {e["message_id"] for e in good})
    service.stop()
    assert bad["message_id"] not in _applied(db)  # its batch and its own try rolled back
    with_bad = [[e.message_id for e in batch] for batch in batches
                if bad["message_id"] in {e.message_id for e in batch}]
    assert len(with_bad[0]) > 1  # it came in a batch with others…
    assert with_bad[1:] == [[bad["message_id"]]]  # …which was replayed one by one
    assert queue_depth(channel, QUEUE) == 0


def test_a_malformed_body_is_dead_lettered_and_never_joins_a_batch(service, channel, db):
    good = fresh_sample("intake.resident.moved_out")
    publish(channel, INTAKE_EXCHANGE, KEY, b"\x00not json")
    publish(channel, INTAKE_EXCHANGE, KEY, encode(good))
    [(_method, properties, _body)] = drain(channel, DLQ, expected=1, settle=0.5)
    assert properties.headers[ERROR_CODE_HEADER] == INVALID_JSON
    wait_for(lambda: good["message_id"] in _applied(db))
    service.stop()
    assert [len(batch) for batch in batches] == [1]


def test_claim_messages_returns_each_first_sighting_once_in_order(db):
    first, second, third = (parse_envelope(fresh_sample("intake.resident.moved_out"))
                            for _ in range(3))
    with Session(bind=db) as session:
        assert claim_messages(session, [first], QUEUE, schema=SCHEMA) == [first]
        session.commit()
        batch = [second, first, third, second]  # first: seen before; second: twice here
        assert claim_messages(session, batch, QUEUE, schema=SCHEMA) == [second, third]
        assert claim_messages(session, [], QUEUE, schema=SCHEMA) == []
        session.rollback()


def test_a_batchs_acks_reach_the_broker_in_one_write(rabbit_config):
    """ack_all_if_alive: a batch of 20 deliveries acked with one socket write, and the broker
    holds none of them afterwards (unacked, closing the connection would requeue them)."""
    from kombu import Connection, Queue

    from gridgov_common.platform.messaging import ack_all_if_alive

    queue = Queue("test.batch_acks", durable=False, auto_delete=False)
    with Connection(rabbit_config["AMQP_URI"]) as conn:
        producer = conn.Producer()
        for n in range(20):
            producer.publish({"n": n}, routing_key=queue.name, declare=[queue])
        received: list = []
        with conn.Consumer(queue, callbacks=[lambda body, message: received.append(message)],
                           prefetch_count=20):
            while len(received) < 20:
                conn.drain_events(timeout=5)
        transport = conn.connection.transport
        writes: list[bytes] = []
        real_write = transport._write
        transport._write = lambda data: (writes.append(bytes(data)), real_write(data))[1]
        try:
            ack_all_if_alive(received)
        finally:
            transport._write = real_write

    assert len(writes) == 1 and len(writes[0]) > 0
    assert all(message.acknowledged for message in received)
    with Connection(rabbit_config["AMQP_URI"]) as conn:
        left = queue.bind(conn.default_channel).queue_declare(passive=True).message_count
    assert left == 0  # acked: not requeued when the first connection closed

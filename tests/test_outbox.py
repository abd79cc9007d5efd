"""Transactional outbox against the real RabbitMQ and PostgreSQL."""

from __future__ import annotations

import json
import time

import eventlet
import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from gridgov_common.contract import (
    EVENTS_EXCHANGE,
    INTAKE_EXCHANGE,
    MAX_MESSAGE_BYTES,
    ContractError,
    Envelope,
    RoutingKeyError,
    make_envelope,
    parse_envelope,
)
from gridgov_common.platform.db import Database, make_engine
from gridgov_common.platform.messaging import claim_message, consume_contract, tables_for
from gridgov_common.platform.outbox import (
    BatchPublisher,
    OutboxPublishError,
    OutboxPump,
    OutboxRelay,
    add_event,
    add_to_outbox,
    backoff,
)
from tests._messaging_conftest_helpers import (
    TEST_DB_URL,
    bind_sink,
    count_rows,
    create_schema,
    drain,
    drop_schema,
    fresh_sample,
    new_schema_name,
    pika_connection,
    publish,
    wait_for,
)

SCHEMA = new_schema_name("outboxtest")
RESIDENT = {"resident_id": 7, "household_id": None, "grid_code": "610113001001003",
            "action": "registered"}


@pytest.fixture(scope="module")
def engine():
    engine, _ = create_schema(SCHEMA)
    yield engine
    drop_schema(engine, SCHEMA)


@pytest.fixture
def outbox(engine):
    table = tables_for(SCHEMA)["outbox"]
    with engine.begin() as conn:
        conn.execute(sa.delete(table))
    return table


@pytest.fixture
def channel(rabbit_config):
    connection = pika_connection(rabbit_config["AMQP_URI"])
    chan = connection.channel()
    yield chan
    connection.close()


@pytest.fixture
def sink(channel, rabbit_config):
    """A queue receiving everything on gridgov.events (exchanges declared first)."""
    publisher = BatchPublisher(rabbit_config["AMQP_URI"])
    publisher._ensure_channel()  # declares the topology
    publisher.close()
    return bind_sink(channel, EVENTS_EXCHANGE, "#")


@pytest.fixture
def pump(engine, rabbit_config):
    pumps: list[OutboxPump] = []

    def make(amqp_uri: str | None = None, batch_size: int = 500,
             own_engine: bool = False) -> OutboxPump:
        pump_engine = make_engine(TEST_DB_URL, pool_size=2) if own_engine else engine
        publisher = BatchPublisher(amqp_uri or rabbit_config["AMQP_URI"], confirm_timeout=5)
        made = OutboxPump(pump_engine, SCHEMA, publisher, batch_size=batch_size)
        pumps.append(made)
        return made

    yield make
    for made in pumps:
        made.close()
        if made.engine is not engine:
            made.engine.dispose()


def _add_events(engine, count: int) -> list[str]:
    """``count`` resident events in one committed transaction; their message ids."""
    ids = []
    with Session(bind=engine, info={"db_schema": SCHEMA}) as session:
        for index in range(count):
            envelope = add_event(session, "registry.resident.changed",
                                 {**RESIDENT, "resident_id": index + 1}, "registry")
            ids.append(envelope["message_id"])
        session.commit()
    return ids


def test_committed_rows_are_published_with_properties_and_deleted(engine, outbox, pump,
                                                                   channel, sink):
    ids = _add_events(engine, 20)
    assert pump().relay_once() == 20
    assert count_rows(engine, outbox) == 0
    received = drain(channel, sink, expected=20, settle=0.1)
    assert [props.message_id for _, props, _ in received] == ids  # in outbox order
    method, props, body = received[0]
    assert method.routing_key == "registry.resident.changed"
    assert props.delivery_mode == 2 and props.content_type == "application/json"
    assert props.type == "registry.resident.changed" and props.app_id == "registry"
    envelope = parse_envelope(body)
    assert envelope.message_id == ids[0] and envelope.payload["resident_id"] == 1


def test_rows_of_a_rolled_back_transaction_are_never_published(engine, outbox, pump,
                                                               channel, sink):
    with Session(bind=engine) as session:
        envelope = make_envelope("registry.resident.changed", RESIDENT, "registry")
        add_to_outbox(session, EVENTS_EXCHANGE, "registry.resident.changed", envelope,
                      schema=SCHEMA)
        session.rollback()
    assert pump().relay_once() == 0
    time.sleep(0.2)
    assert channel.basic_get(sink, auto_ack=True)[0] is None


def test_two_relays_publish_every_row_exactly_once(engine, outbox, pump, channel, sink):
    ids = _add_events(engine, 600)
    relays = [pump(batch_size=50, own_engine=True) for _ in range(2)]
    counts = [0, 0]

    def run(index: int) -> None:
        while (published := relays[index].relay_once()) > 0:
            counts[index] += published

    workers = [eventlet.spawn(run, index) for index in range(2)]
    with eventlet.Timeout(20):
        for worker in workers:
            worker.wait()
    received = drain(channel, sink, expected=600, settle=0.3)
    message_ids = [props.message_id for _, props, _ in received]
    assert len(message_ids) == 600 and set(message_ids) == set(ids)
    assert sum(counts) == 600 and all(counts), counts  # both worked, no row twice
    assert count_rows(engine, outbox) == 0


def test_rows_stay_while_the_broker_is_unreachable_and_go_out_later(engine, outbox, pump,
                                                                    channel, sink,
                                                                    rabbit_config):
    ids = _add_events(engine, 5)
    unreachable = rabbit_config["AMQP_URI"].replace(":5672", ":5999")
    for attempt in (1, 2):
        with pytest.raises(OutboxPublishError):
            pump(amqp_uri=unreachable).relay_once()
        with engine.connect() as conn:
            rows = conn.execute(sa.select(outbox.c.attempts, outbox.c.last_error)).all()
        assert len(rows) == 5
        assert all(row.attempts == attempt and row.last_error for row in rows)
    assert pump().relay_once() == 5
    received = drain(channel, sink, expected=5, settle=0.1)
    assert [props.message_id for _, props, _ in received] == ids


def test_add_to_outbox_validates_before_writing():
    envelope = make_envelope("registry.resident.changed", RESIDENT, "registry")
    with Session() as session:
        with pytest.raises(RoutingKeyError):
            add_to_outbox(session, EVENTS_EXCHANGE, "registry", envelope, schema=SCHEMA)
        with pytest.raises(RoutingKeyError):
            add_to_outbox(session, "gridgov.dlx", "x.dlq", envelope, schema=SCHEMA)
        with pytest.raises(ContractError):
            add_to_outbox(session, EVENTS_EXCHANGE, "registry.resident.changed",
                          {**envelope, "payload": {"resident_id": 1}}, schema=SCHEMA)
        with pytest.raises(ValueError):  # no schema given and none in session.info
            add_to_outbox(session, EVENTS_EXCHANGE, "registry.resident.changed", envelope)
        with pytest.raises(ValueError):
            add_event(session, "registry.resident.changed", RESIDENT, "dispatch",
                      schema=SCHEMA)


def test_backoff_doubles_after_failures_and_is_capped():
    assert backoff(0.2, 0) == 0.2
    assert backoff(0.2, 1) == 0.4
    assert backoff(0.2, 10) == 5.0


class RelayOnly:
    name = "outboxtest_relay"
    relay = OutboxRelay()


def test_the_relay_runs_in_the_container_and_stops_cleanly(engine, outbox, channel, sink,
                                                           rabbit_config, container_factory):
    config = {**rabbit_config, "DB_URL": TEST_DB_URL, "DB_SCHEMA": SCHEMA,
              "OUTBOX_POLL_SECONDS": 0.05, "OUTBOX_BATCH": 100}
    container = container_factory(RelayOnly, config)
    container.start()
    ids = _add_events(engine, 250)
    received = drain(channel, sink, expected=250, timeout=10)
    assert {props.message_id for _, props, _ in received} == set(ids)
    started = time.monotonic()
    container.stop()
    assert time.monotonic() - started < 3
    assert count_rows(engine, outbox) == 0


class RegistryLike:
    """Consumes an intake message and emits a domain event through the outbox."""

    name = "outboxtest_registry"
    db = Database()
    relay = OutboxRelay()

    @consume_contract("outboxtest.intake", INTAKE_EXCHANGE, ["*.resident.moved_out"],
                      retry_delay=0)
    def moved_out(self, envelope: Envelope) -> None:
        # no schema=: found from the Database engine and the container's DB_SCHEMA
        if not claim_message(self.db, envelope.message_id, "outboxtest"):
            return
        add_event(self.db, "registry.resident.changed", {**RESIDENT, "action": "moved_out"},
                  "registry", correlation_id=envelope.message_id)


def test_intake_message_in_domain_event_out(engine, outbox, channel, sink, rabbit_config,
                                            container_factory):
    config = {**rabbit_config, "DB_URL": TEST_DB_URL, "DB_SCHEMA": SCHEMA,
              "OUTBOX_POLL_SECONDS": 0.05}
    container = container_factory(RegistryLike, config)
    container.start()
    intake = fresh_sample("intake.resident.moved_out")
    channel.confirm_delivery()
    for _ in range(2):  # a duplicate delivery must not emit a second event
        publish(channel, INTAKE_EXCHANGE, "civil_affairs.resident.moved_out",
                json.dumps(intake).encode())
    [(method, props, body)] = drain(channel, sink, expected=1, settle=0.5)
    event = parse_envelope(body)
    assert event.type == "registry.resident.changed"
    assert event.correlation_id == intake["message_id"]
    assert event.payload["action"] == "moved_out"
    wait_for(lambda: count_rows(engine, outbox) == 0)


def test_the_relay_survives_an_unreachable_broker(engine, outbox, rabbit_config,
                                                  container_factory):
    config = {"AMQP_URI": rabbit_config["AMQP_URI"].replace(":5672", ":5999"),
              "DB_URL": TEST_DB_URL, "DB_SCHEMA": SCHEMA, "OUTBOX_POLL_SECONDS": 0.05}
    container = container_factory(RelayOnly, config)
    container.start()
    _add_events(engine, 3)

    def attempts() -> int:
        with engine.connect() as conn:
            return conn.execute(sa.select(sa.func.min(outbox.c.attempts))).scalar_one() or 0

    wait_for(lambda: attempts() >= 2, timeout=5)
    assert not container._died.ready()
    started = time.monotonic()
    container.stop()  # wakes the relay out of its back-off
    assert time.monotonic() - started < 2
    assert count_rows(engine, outbox) == 3


def test_unroutable_mandatory_messages_are_handed_back_in_the_same_transaction(
        engine, outbox, rabbit_config, channel, sink):
    """An assignment no department queue is bound for is not lost: the handler records it
    in the transaction that deletes its outbox row (dispatch escalates it)."""
    seen = []

    def on_returned(conn, returned):
        seen.extend(returned)
        conn.execute(sa.text("SELECT 1"))  # runs inside the pump's transaction

    publisher = BatchPublisher(rabbit_config["AMQP_URI"], confirm_timeout=5,
                               mandatory_exchanges=frozenset({EVENTS_EXCHANGE}))
    made = OutboxPump(engine, SCHEMA, publisher, on_returned=on_returned)
    try:
        channel.queue_unbind(sink, EVENTS_EXCHANGE, "#")
        channel.queue_bind(sink, EVENTS_EXCHANGE, "registry.resident.changed")
        with Session(bind=engine, info={"db_schema": SCHEMA}) as session:
            add_event(session, "registry.resident.changed", RESIDENT, "registry")
            add_event(session, "registry.grid.changed", {
                "grid_code": "610113001001003", "community_code": "610113001001",
                "action": "created", "valid_from": "2026-12-01", "valid_to": None}, "registry")
            session.commit()
        assert made.relay_once() == 2
    finally:
        made.close()
    assert [(r.exchange, r.routing_key, r.body["type"]) for r in seen] == [
        (EVENTS_EXCHANGE, "registry.grid.changed", "registry.grid.changed")]
    assert "NO_ROUTE" in seen[0].reply_text
    assert count_rows(engine, outbox) == 0
    assert len(drain(channel, sink, expected=1, settle=0.1)) == 1


def test_a_row_goes_out_as_postgresql_prints_it_with_its_properties(engine, outbox, pump,
                                                                     channel, sink):
    """The relay publishes the stored body's text, not a re-encoding of it parsed into
    Python (issue 16): the bytes are PostgreSQL's, the properties come from the body."""
    with Session(bind=engine, info={"db_schema": SCHEMA}) as session:
        sent = add_event(session, "registry.resident.changed", RESIDENT, "registry",
                         correlation_id="hotline-2026-000123")
        session.commit()
    with engine.connect() as conn:
        stored = conn.execute(sa.select(sa.cast(outbox.c.body, sa.Text))).scalar_one()
    assert pump().relay_once() == 1
    [(_, props, body)] = drain(channel, sink, expected=1, settle=0.1)
    assert body == stored.encode("utf-8")
    assert props.message_id == sent["message_id"] and props.app_id == "registry"
    assert props.type == "registry.resident.changed"
    assert props.correlation_id == "hotline-2026-000123"
    received = parse_envelope(body)
    assert received.payload == parse_envelope(sent.wire).payload


def test_a_body_the_printed_spaces_take_past_the_limit_goes_out_compact(engine, outbox,
                                                                        pump, channel, sink):
    """PostgreSQL prints a space after every ``,`` and ``:``; a body within the size limit
    compact but not printed is sent compact, so no consumer refuses it as too large."""
    envelope = make_envelope("registry.resident.changed", RESIDENT, "registry")
    body = {**envelope, "payload": {"filler": [1] * 100_000}}  # 200 KB compact, 300 printed
    with engine.begin() as conn:
        conn.execute(sa.insert(outbox).values(message_id=envelope["message_id"],
                                              exchange=EVENTS_EXCHANGE,
                                              routing_key="registry.resident.changed",
                                              body=body))
    assert pump().relay_once() == 1
    [(_, props, wire)] = drain(channel, sink, expected=1, settle=0.1)
    assert len(wire) <= MAX_MESSAGE_BYTES < len(json.dumps(body).encode("utf-8"))
    assert json.loads(wire) == body and props.message_id == envelope["message_id"]


def test_rows_are_written_when_the_session_commits_and_vanish_on_rollback(engine, outbox):
    """One multi-row INSERT at commit; a rolled-back transaction leaves no row behind."""
    with Session(bind=engine, info={"db_schema": SCHEMA}) as session:
        add_event(session, "registry.resident.changed", RESIDENT, "registry")
        assert count_rows(engine, outbox) == 0  # not before the commit
        session.rollback()
        add_event(session, "registry.resident.changed", {**RESIDENT, "resident_id": 8},
                  "registry")
        add_event(session, "registry.resident.changed", {**RESIDENT, "resident_id": 9},
                  "registry")
        session.commit()
    with engine.connect() as conn:
        bodies = conn.execute(sa.select(outbox.c.body).order_by(outbox.c.id)).scalars().all()
    assert [body["payload"]["resident_id"] for body in bodies] == [8, 9]


def test_a_commit_wakes_the_relay_of_its_schema(engine, outbox, channel, sink, rabbit_config,
                                                container_factory):
    """The relay polls once a minute here: the event still leaves at once, because the
    commit that wrote it wakes the relay of this process."""
    config = {**rabbit_config, "DB_URL": TEST_DB_URL, "DB_SCHEMA": SCHEMA,
              "OUTBOX_POLL_SECONDS": 60}
    container = container_factory(RegistryLike, config)
    container.start()
    eventlet.sleep(0.5)  # the relay's first poll has run; the next one is a minute away
    [message_id] = _add_events(engine, 1)
    [(_method, _props, body)] = drain(channel, sink, expected=1, settle=0.2, timeout=10)
    assert parse_envelope(body).message_id == message_id


def test_a_message_the_broker_refuses_does_not_hold_back_its_batch(engine, outbox, pump,
                                                                   channel, sink):
    """A full queue that rejects publishes makes the broker nack the messages routed to it
    (here every ``registry.grid.changed``): those rows stay, counted, and are retried; the
    rest of the batch goes out at once."""
    channel.queue_declare("outboxtest.full", durable=True, arguments={
        "x-queue-type": "classic", "x-max-length": 0, "x-overflow": "reject-publish"})
    channel.queue_bind("outboxtest.full", EVENTS_EXCHANGE, "registry.grid.changed")
    grid = fresh_sample("registry.grid.changed")
    with Session(bind=engine, info={"db_schema": SCHEMA}) as session:
        first = add_event(session, "registry.resident.changed", RESIDENT, "registry")
        add_to_outbox(session, EVENTS_EXCHANGE, "registry.grid.changed", grid)
        last = add_event(session, "registry.resident.changed",
                         {**RESIDENT, "resident_id": 8}, "registry")
        session.commit()
    assert pump().relay_once() == 2
    received = drain(channel, sink, expected=3, settle=0.1)  # the sink got the nacked one too
    assert {first["message_id"], last["message_id"]} <= {p.message_id for _, p, _ in received}
    with engine.connect() as conn:
        kept = conn.execute(sa.select(outbox.c.message_id, outbox.c.attempts,
                                      outbox.c.last_error)).all()
    assert [(row.message_id, row.attempts) for row in kept] == [(grid["message_id"], 1)]
    assert "nacked" in kept[0].last_error
    with pytest.raises(OutboxPublishError):  # alone in its batch: a failure, backed off
        pump().relay_once()

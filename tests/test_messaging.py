"""ReliableConsumer against the real RabbitMQ and PostgreSQL.

Messages are published with a plain pika client (as a department system would) and the
dead-letter queue is read back over AMQP.
"""

from __future__ import annotations

import json
import lzma
import uuid
import zlib
from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from gridgov_common.contract import (
    INTAKE_EXCHANGE,
    INVALID_JSON,
    INVALID_PAYLOAD,
    MAX_MESSAGE_BYTES,
    MESSAGE_TOO_LARGE,
    Envelope,
    dlq_name,
    encode,
)
from gridgov_common.platform.db import Database
from gridgov_common.platform.messaging import (
    CONSUMER_HEADER,
    DELIVERY_LIMIT,
    ERROR_CODE_HEADER,
    ERROR_FIELDS_HEADER,
    ERROR_MESSAGE_HEADER,
    ORIGINAL_ROUTING_KEY_HEADER,
    UNDECODABLE,
    UNEXPECTED_TYPE,
    PermanentError,
    claim_message,
    consume_contract,
    messaging_tables,
    prune_processed_messages,
    retry_delay,
    tables_for,
)
from tests._messaging_conftest_helpers import (
    TEST_DB_URL,
    count_rows,
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

SCHEMA = new_schema_name("msgtest")
QUEUE = "registry.intake"
DLQ = dlq_name(QUEUE)
MOVED_OUT_KEY = "civil_affairs.resident.moved_out"
MAX_REDELIVERIES = 2
calls: list[Envelope] = []


def _test_tables(metadata: sa.MetaData) -> None:
    sa.Table("applied", metadata,
             sa.Column("message_id", sa.Uuid(as_uuid=False), primary_key=True),
             sa.Column("id_number", sa.Text, nullable=False))
    sa.Table("deferred_check", metadata,
             sa.Column("id", sa.Integer, primary_key=True),
             sa.Column("token", sa.Text, nullable=False),
             sa.UniqueConstraint("token", deferrable=True, initially="DEFERRED"))


@pytest.fixture(scope="module")
def db():
    engine, metadata = create_schema(SCHEMA, _test_tables)
    yield engine, metadata
    drop_schema(engine, SCHEMA)


def _table(metadata: sa.MetaData, name: str) -> sa.Table:
    return metadata.tables[f"{SCHEMA}.{name}"]


class IntakeService:
    """Applies moved-out reports once; the ``reason`` field steers failures in tests."""

    name = "msgtest_intake"
    db = Database()

    @consume_contract(QUEUE, INTAKE_EXCHANGE, ["*.resident.moved_out", "*.resident.updated"],
                      max_redeliveries=MAX_REDELIVERIES, retry_delay=0,
                      message_types=["intake.resident.moved_out", "intake.resident.updated"])
    def handle(self, envelope: Envelope) -> None:
        calls.append(envelope)
        if not claim_message(self.db, envelope.message_id, QUEUE, schema=SCHEMA):
            return
        reason = envelope.payload.get("reason")
        if reason == "transient":
            raise RuntimeError("database is down")
        self.db.execute(sa.text(f'INSERT INTO "{SCHEMA}".applied VALUES (:m, :i)'),
                        {"m": envelope.message_id, "i": envelope.payload["id_number"]})
        if reason == "permanent":
            raise PermanentError("unknown_resident", "no such resident",
                                 {"id_number": ["unknown"]})
        if reason == "commit_fails":  # a deferred constraint fails at COMMIT, after the body
            for _ in range(2):
                self.db.execute(sa.text(f'INSERT INTO "{SCHEMA}".deferred_check (token) '
                                        "VALUES ('same')"))


@pytest.fixture
def service(db, rabbit_config, container_factory):
    calls.clear()
    config = {**rabbit_config, "DB_URL": TEST_DB_URL, "max_workers": 4}
    container = container_factory(IntakeService, config)
    container.start()
    return container


@pytest.fixture
def channel(rabbit_config):
    connection = pika_connection(rabbit_config["AMQP_URI"])
    chan = connection.channel()
    chan.confirm_delivery()
    yield chan
    connection.close()


def _applied(db, message_id: str) -> int:
    engine, metadata = db
    table = _table(metadata, "applied")
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table)
                            .where(table.c.message_id == message_id)).scalar_one()


def _headers(properties) -> dict:
    return properties.headers or {}


def test_queue_is_a_quorum_queue_with_a_delivery_limit_and_a_dlq(service, rabbit_config,
                                                                   rabbit_manager):
    vhost = rabbit_config["vhost"]
    queue = rabbit_manager.get_queue(vhost, QUEUE)
    assert queue["type"] == "quorum" and queue["durable"]
    assert queue["arguments"]["x-delivery-limit"] == MAX_REDELIVERIES
    assert queue["arguments"]["x-dead-letter-exchange"] == "gridgov.dlx"
    assert queue["arguments"]["x-dead-letter-routing-key"] == DLQ
    keys = {b["routing_key"] for b in rabbit_manager.get_queue_bindings(vhost, QUEUE)
            if b["source"] == INTAKE_EXCHANGE}
    assert keys == {"*.resident.moved_out", "*.resident.updated"}
    assert rabbit_manager.get_queue(vhost, DLQ)["durable"]


def test_a_valid_message_is_handled_once_and_acked(service, channel, db):
    envelope = fresh_sample("intake.resident.moved_out")
    publish(channel, INTAKE_EXCHANGE, MOVED_OUT_KEY, encode(envelope))
    wait_for(lambda: _applied(db, envelope["message_id"]) == 1)
    received = calls[0]
    assert received.message_id == envelope["message_id"]
    assert received.routing_key == MOVED_OUT_KEY
    assert received.payload["moved_out_on"].isoformat() == "2026-11-20"
    service.stop()  # an unacked message would go back to the queue now
    assert queue_depth(channel, QUEUE) == 0
    assert queue_depth(channel, DLQ) == 0
    assert len(calls) == 1


def test_the_same_message_id_twice_is_applied_once(service, channel, db):
    engine, _ = db
    envelope = fresh_sample("intake.resident.moved_out")
    for _ in range(2):
        publish(channel, INTAKE_EXCHANGE, MOVED_OUT_KEY, encode(envelope))
    wait_for(lambda: len(calls) == 2)
    service.stop()
    assert _applied(db, envelope["message_id"]) == 1
    processed = tables_for(SCHEMA)["processed_messages"]
    with engine.connect() as conn:
        claims = conn.execute(sa.select(processed.c.consumer)
                              .where(processed.c.message_id == envelope["message_id"])).all()
    assert [row.consumer for row in claims] == [QUEUE]


def test_bad_messages_are_dead_lettered_with_reasons_and_the_consumer_goes_on(
        service, channel, db):
    bad_payload = fresh_sample("intake.resident.moved_out", moved_out_on=20261120)
    wrong_type = fresh_sample("registry.grid.changed")
    oversized = b'{"x": "' + b"y" * MAX_MESSAGE_BYTES + b'"}'
    bodies = {
        INVALID_JSON: b"\x00not json at all",
        INVALID_PAYLOAD: encode(bad_payload),
        MESSAGE_TOO_LARGE: oversized,
        UNEXPECTED_TYPE: encode(wrong_type),
    }
    for body in bodies.values():
        publish(channel, INTAKE_EXCHANGE, MOVED_OUT_KEY, body)
    # a gzip header on a body that is not gzip: kombu fails before our code sees it
    publish(channel, INTAKE_EXCHANGE, MOVED_OUT_KEY, b"garbage",
            headers={"compression": "application/x-gzip"})
    good = fresh_sample("intake.resident.moved_out")
    publish(channel, INTAKE_EXCHANGE, MOVED_OUT_KEY, encode(good))

    dead = drain(channel, DLQ, expected=5, settle=0.2)
    by_code = {_headers(props)[ERROR_CODE_HEADER]: (props, body) for _, props, body in dead}
    assert set(by_code) == {*bodies, UNDECODABLE}
    for code, sent in bodies.items():
        props, body = by_code[code]
        headers = _headers(props)
        assert body == sent  # the original body, unchanged
        assert headers[ORIGINAL_ROUTING_KEY_HEADER] == MOVED_OUT_KEY
        assert headers[CONSUMER_HEADER] == QUEUE
        assert headers[ERROR_MESSAGE_HEADER]
        assert isinstance(json.loads(headers[ERROR_FIELDS_HEADER]), dict)
        assert props.delivery_mode == 2
    payload_fields = json.loads(_headers(by_code[INVALID_PAYLOAD][0])[ERROR_FIELDS_HEADER])
    assert payload_fields == {"moved_out_on": ["Not a valid date."]}
    wait_for(lambda: _applied(db, good["message_id"]) == 1)
    assert [c.message_id for c in calls] == [good["message_id"]]
    assert service._died.ready() is False


def test_a_transient_error_is_redelivered_then_dead_lettered(service, channel, db):
    failing = fresh_sample("intake.resident.moved_out", reason="transient")
    publish(channel, INTAKE_EXCHANGE, MOVED_OUT_KEY, encode(failing))
    [(_, props, body)] = drain(channel, DLQ, expected=1)
    assert len(calls) == MAX_REDELIVERIES + 1
    assert body == encode(failing)
    headers = _headers(props)
    assert headers[ERROR_CODE_HEADER] == DELIVERY_LIMIT
    assert "database is down" in headers[ERROR_MESSAGE_HEADER]
    assert json.loads(headers[ERROR_FIELDS_HEADER]) == {"exception": "RuntimeError"}
    # the claim was rolled back with the failed attempts, and the consumer goes on
    good = fresh_sample("intake.resident.moved_out")
    publish(channel, INTAKE_EXCHANGE, MOVED_OUT_KEY, encode(good))
    wait_for(lambda: _applied(db, good["message_id"]) == 1)


def test_a_permanent_error_is_dead_lettered_at_once_and_rolled_back(service, channel, db):
    refused = fresh_sample("intake.resident.moved_out", reason="permanent")
    publish(channel, INTAKE_EXCHANGE, MOVED_OUT_KEY, encode(refused))
    [(_, props, _)] = drain(channel, DLQ, expected=1)
    headers = _headers(props)
    assert headers[ERROR_CODE_HEADER] == "unknown_resident"
    assert json.loads(headers[ERROR_FIELDS_HEADER]) == {"id_number": ["unknown"]}
    assert len(calls) == 1
    assert _applied(db, refused["message_id"]) == 0


def test_a_failed_commit_is_never_acked(service, channel, db):
    """The commit happens before the ack: a commit failure counts as a failed delivery."""
    engine, metadata = db
    message = fresh_sample("intake.resident.moved_out", reason="commit_fails")
    publish(channel, INTAKE_EXCHANGE, MOVED_OUT_KEY, encode(message))
    [(_, props, _)] = drain(channel, DLQ, expected=1)
    assert _headers(props)[ERROR_CODE_HEADER] == DELIVERY_LIMIT
    assert "IntegrityError" in _headers(props)[ERROR_MESSAGE_HEADER]
    assert len(calls) == MAX_REDELIVERIES + 1
    assert _applied(db, message["message_id"]) == 0
    assert count_rows(engine, _table(metadata, "deferred_check")) == 0


def test_claim_message_and_pruning(db):
    engine, _ = db
    message_id = str(uuid.uuid4())
    with engine.begin() as conn:
        assert claim_message(conn, message_id, "a", schema=SCHEMA) is True
        assert claim_message(conn, message_id, "a", schema=SCHEMA) is False
        assert claim_message(conn, message_id, "b", schema=SCHEMA) is True
    with Session(bind=engine) as session, pytest.raises(ValueError):
        claim_message(session, message_id, "a")  # which schema? none given
    with Session(bind=engine, info={"db_schema": SCHEMA}) as session:
        assert claim_message(session, message_id, "a") is False
        assert prune_processed_messages(session, timedelta(0)) >= 2
        session.commit()


def test_messaging_tables_use_the_metadata_schema():
    metadata = sa.MetaData(schema="registry")
    messaging_tables(metadata)
    messaging_tables(metadata)  # idempotent
    assert set(metadata.tables) == {"registry.processed_messages", "registry.outbox"}
    outbox = metadata.tables["registry.outbox"]
    assert [c.name for c in outbox.primary_key] == ["id"]
    processed = metadata.tables["registry.processed_messages"]
    assert {c.name for c in processed.primary_key} == {"consumer", "message_id"}


def test_retry_delay_backs_off_and_is_capped():
    assert retry_delay(0, 0.5) == 0.5
    assert retry_delay(2, 0.5) == 2.0
    assert retry_delay(10, 0.5) == 5.0
    assert retry_delay(3, 0) == 0.0


def test_consume_contract_validates_its_arguments():
    for args in [("q", "gridgov.dlx", ["x"]), ("q", "nope", ["x"]),
                 ("q", INTAKE_EXCHANGE, "a.b.c"), ("q", INTAKE_EXCHANGE, [])]:
        with pytest.raises(ValueError):

            class Broken:
                name = "broken"

                @consume_contract(*args)
                def handle(self, envelope):
                    pass


def test_a_compressed_body_is_decompressed_only_up_to_the_size_limit(service, channel, db):
    """kombu decompresses before our checks: a zip bomb must stop at MAX_MESSAGE_BYTES."""
    bomb = zlib.compress(b" " * (MAX_MESSAGE_BYTES * 50))  # ~50 kB expanding to 50 MB
    publish(channel, INTAKE_EXCHANGE, MOVED_OUT_KEY, bomb,
            headers={"compression": "application/x-gzip"})
    good = fresh_sample("intake.resident.moved_out")
    publish(channel, INTAKE_EXCHANGE, MOVED_OUT_KEY, lzma.compress(encode(good)),
            headers={"compression": "application/x-lzma"})
    [(_, props, body)] = drain(channel, DLQ, expected=1, settle=0.2)
    assert _headers(props)[ERROR_CODE_HEADER] == MESSAGE_TOO_LARGE
    assert _headers(props)["compression"] == "application/x-gzip"  # replayable as sent
    assert body == bomb
    wait_for(lambda: _applied(db, good["message_id"]) == 1)  # a small one is accepted

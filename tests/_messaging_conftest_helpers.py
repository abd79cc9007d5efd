"""Helpers shared by tests/test_messaging.py and tests/test_outbox.py.

Kept out of conftest.py (the lead's file): a throw-away schema in the test database, and a
plain pika client on the test's RabbitMQ vhost — deliberately not nameko or kombu, to
prove that any AMQP client can talk to the bus.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable
from urllib.parse import urlparse

import pika
import sqlalchemy as sa

from gridgov_common.contract import load_sample
from gridgov_common.platform.db import make_engine
from gridgov_common.platform.messaging import messaging_tables
from gridgov_common.platform.migrate import ensure_database

TEST_DB_URL = os.environ.get(
    "GRIDGOV_TEST_DB_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/gridgov_test")
WAIT_SECONDS = 10.0


def new_schema_name(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


def create_schema(schema: str, extra: Callable[[sa.MetaData], None] | None = None,
                  ) -> tuple[sa.Engine, sa.MetaData]:
    """A fresh schema holding the messaging tables (and ``extra`` ones)."""
    ensure_database(TEST_DB_URL)
    engine = make_engine(TEST_DB_URL, pool_size=5)
    metadata = sa.MetaData(schema=schema)
    messaging_tables(metadata)
    if extra is not None:
        extra(metadata)
    with engine.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        metadata.create_all(conn)
    return engine, metadata


def drop_schema(engine: sa.Engine, schema: str) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    engine.dispose()


def count_rows(engine: sa.Engine, table: sa.Table) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()


def wait_for(predicate: Callable[[], object], timeout: float = WAIT_SECONDS,
              interval: float = 0.02) -> object:
    """Poll until ``predicate()`` is truthy; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {predicate}")
        time.sleep(interval)


def pika_connection(amqp_uri: str) -> pika.BlockingConnection:
    """A plain pika connection to the vhost of nameko's ``rabbit_config``."""
    parts = urlparse(amqp_uri)
    credentials = pika.PlainCredentials(parts.username or "guest", parts.password or "guest")
    params = pika.ConnectionParameters(
        host=parts.hostname or "127.0.0.1", port=parts.port or 5672,
        virtual_host=parts.path.lstrip("/") or "/", credentials=credentials,
        connection_attempts=3, retry_delay=0.2, socket_timeout=5, blocked_connection_timeout=5)
    return pika.BlockingConnection(params)


def publish(channel, exchange: str, routing_key: str, body: bytes, **properties) -> None:
    """Publish persistently with confirms and ``mandatory`` (unroutable raises)."""
    properties.setdefault("delivery_mode", 2)
    properties.setdefault("content_type", "application/json")
    channel.basic_publish(exchange, routing_key, body, pika.BasicProperties(**properties),
                          mandatory=True)


def drain(channel, queue: str, expected: int, timeout: float = WAIT_SECONDS,
          settle: float = 0.0) -> list[tuple]:
    """Get (and ack) ``expected`` messages with basic_get; then wait ``settle`` seconds to
    make sure no more arrive. Returns (method, properties, body) triples."""
    got: list[tuple] = []
    deadline = time.monotonic() + timeout
    while len(got) < expected:
        method, properties, body = channel.basic_get(queue, auto_ack=True)
        if method is not None:
            got.append((method, properties, body))
        elif time.monotonic() > deadline:
            raise AssertionError(f"{queue}: got {len(got)} of {expected} messages")
        else:
            time.sleep(0.02)
    extra_deadline = time.monotonic() + settle
    while time.monotonic() < extra_deadline:
        method, properties, body = channel.basic_get(queue, auto_ack=True)
        if method is not None:
            got.append((method, properties, body))
        time.sleep(0.02)
    return got


def queue_depth(channel, queue: str) -> int:
    return channel.queue_declare(queue, passive=True).method.message_count


def bind_sink(channel, exchange: str, pattern: str) -> str:
    """A server-named exclusive queue bound to ``exchange`` with ``pattern``."""
    name = channel.queue_declare("", exclusive=True).method.queue
    channel.queue_bind(name, exchange, routing_key=pattern)
    return name


def fresh_sample(type_name: str, version: int = 1, **payload_changes) -> dict:
    """A sample envelope with a new message_id and some payload fields changed."""
    envelope = load_sample(type_name, version)
    envelope["message_id"] = str(uuid.uuid4())
    envelope["payload"].update(payload_changes)
    return envelope

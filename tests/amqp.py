"""Plain-pika helpers: tests speak to the broker as a department's own system would."""

from __future__ import annotations

import json
import time
from urllib.parse import quote, urlparse

import pika


def pika_params(amqp_uri: str) -> pika.URLParameters:
    """nameko's ``pyamqp://user:pw@host:port/vhost`` as pika connection parameters."""
    parsed = urlparse(amqp_uri)
    vhost = parsed.path[1:] or "/"
    port = parsed.port or 5672
    return pika.URLParameters(
        f"amqp://{parsed.username}:{parsed.password}@{parsed.hostname}:{port}/"
        f"{quote(vhost, safe='')}")


def publish(amqp_uri: str, exchange: str, routing_key: str, body: bytes | dict,
            properties: pika.BasicProperties | None = None) -> None:
    if isinstance(body, dict):
        body = json.dumps(body).encode()
    connection = pika.BlockingConnection(pika_params(amqp_uri))
    try:
        channel = connection.channel()
        channel.confirm_delivery()
        channel.basic_publish(exchange, routing_key, body, properties or pika.BasicProperties(
            content_type="application/json", delivery_mode=2), mandatory=True)
    finally:
        connection.close()


def drain(amqp_uri: str, queue: str, expect: int = 1, timeout: float = 10.0) -> list:
    """Get (and ack) up to ``expect`` messages from ``queue``, waiting up to ``timeout``."""
    connection = pika.BlockingConnection(pika_params(amqp_uri))
    got: list = []
    try:
        channel = connection.channel()
        deadline = time.monotonic() + timeout
        while len(got) < expect and time.monotonic() < deadline:
            method, props, body = channel.basic_get(queue, auto_ack=True)
            if method is None:
                time.sleep(0.05)
                continue
            got.append((method, props, body))
    finally:
        connection.close()
    return got


def bind_queue(amqp_uri: str, queue: str, exchange: str, keys: list[str]) -> None:
    """Declare a queue bound to ``exchange`` (declared too: topic, durable)."""
    connection = pika.BlockingConnection(pika_params(amqp_uri))
    try:
        channel = connection.channel()
        channel.exchange_declare(exchange, "topic", durable=True)
        channel.queue_declare(queue, durable=True)
        for key in keys:
            channel.queue_bind(queue, exchange, routing_key=key)
    finally:
        connection.close()


def wait_until(predicate, timeout: float = 10.0, interval: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    return predicate()

"""Departments as they are in production, for tests: each logs in to the broker as its own
user ``dept.<department>`` and talks plain pika (docs/BUS-SECURITY.md).

RabbitMQ users are global, not per vhost, and several test runs may share one broker:
give tests unique department codes (:func:`unique_code`) unless a service's rules need a
fixed one (dispatch's ``fire``, ``police``). The users get every right on the test's vhost
only — the broker's own refusals are tests/test_bus_users.py's business; these users model
a department that got past them (issue 10, item 1: the consumers check ``user_id`` too).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import quote

import pika

from gridgov_common.contract import DISPATCH_EXCHANGE, rejection_key
from gridgov_common.contract.senders import department_user
from tests.amqp import bind_queue, drain

HOST = "127.0.0.1"
PORT = 5672


def unique_code(prefix: str) -> str:
    """A department code no other test run uses at the same time."""
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


@contextmanager
def department_users(rabbit_manager, vhost: str, *departments: str) -> Iterator[str]:
    """Create ``dept.<department>`` for each, with rights on ``vhost``; yield their password;
    delete them afterwards."""
    password = uuid.uuid4().hex
    users = [department_user(code) for code in departments]
    try:
        for user in users:
            rabbit_manager._put("users", user, json={"password": password, "tags": ""})
            rabbit_manager.set_vhost_permissions(vhost, user, ".*", ".*", ".*")
        yield password
    finally:
        for user in users:
            rabbit_manager._delete("users", user)


@contextmanager
def two_senders(rabbit_manager, rabbit_config, prefix_a: str, prefix_b: str
                ) -> Iterator[tuple[str, str, str]]:
    """Two senders (departments or hotlines) with their own broker users, each already
    listening to its rejections: yields (code a, code b, their password)."""
    a, b = unique_code(prefix_a), unique_code(prefix_b)
    with department_users(rabbit_manager, rabbit_config["vhost"], a, b) as password:
        for code in (a, b):
            rejections_queue(rabbit_config["AMQP_URI"], code)
        yield a, b, password


def publish_as(vhost: str, department: str, password: str, exchange: str, routing_key: str,
               body: bytes | dict, *, user_id: str | None = "", message_id: str | None = None,
               ) -> None:
    """Publish as the department's system does: logged in as ``dept.<department>``, with
    confirms, persistent, ``user_id`` = its login (``user_id=None``: not set)."""
    user = department_user(department)
    if isinstance(body, dict):
        message_id = message_id or body.get("message_id")
        body = json.dumps(body).encode()
    params = pika.URLParameters(f"amqp://{quote(user)}:{password}@{HOST}:{PORT}/"
                                f"{quote(vhost, safe='')}")
    connection = pika.BlockingConnection(params)
    try:
        channel = connection.channel()
        channel.confirm_delivery()
        channel.basic_publish(exchange, routing_key, body, pika.BasicProperties(
            content_type="application/json", delivery_mode=2, message_id=message_id,
            user_id=user if user_id == "" else user_id), mandatory=True)
    finally:
        connection.close()


def rejections_queue(amqp_uri: str, department: str) -> str:
    """A queue the department binds to its ``<department>.rejections`` (declared now)."""
    queue = f"test.{department}.rejections"
    bind_queue(amqp_uri, queue, DISPATCH_EXCHANGE, [rejection_key(department)])
    return queue


def rejections(amqp_uri: str, department: str, expect: int = 1, timeout: float = 15.0,
               ) -> list[tuple[str, pika.BasicProperties, dict]]:
    """(routing key, properties, envelope) of the rejections the department received."""
    return [(method.routing_key, props, json.loads(body)) for method, props, body in
            drain(amqp_uri, f"test.{department}.rejections", expect=expect, timeout=timeout)]

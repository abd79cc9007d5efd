"""A department the registry adds gets its place on the bus by itself (issue 11: "adding one
provisions its bus user and queues … without replacing others").

The registry announces every department (``registry.department.changed``); this follower,
run by whoever holds the broker's management credentials — never by the registry, which
must not (least privilege, docs/BUS-SECURITY.md) — creates the broker user ``dept.<code>``
with a generated password and declares its queues, exactly as ``bus_users create`` does.
The password is written once to ``<secrets dir>/dept.<code>.password`` (mode 0600) for the
bus administrator to hand to the department; it is never logged, never sent on the bus,
and never changed by a later announcement (``bus_users rotate`` changes it).

A retired department keeps its user: work already sent to it may still report back; the
administrator revokes it (``bus_users revoke``) once that is done.  A message that is not a
valid ``registry.department.changed`` is dead-lettered, never dropped; a broker API that
does not answer puts the message back for a later try.

Run: ``python -m tools.bus_users follow --secrets-dir DIR`` (deploy/README.md).
"""

from __future__ import annotations

import logging
import os
import secrets
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pika
import requests

from gridgov_common.contract.envelope import ContractError, parse_envelope
from gridgov_common.contract.routing import DEAD_LETTER_EXCHANGE, DLQ_SUFFIX, EVENTS_EXCHANGE
from tools.bus_users import ManagementApi, department_queues, user_name

log = logging.getLogger(__name__)

QUEUE = "bus_admin.departments"
MESSAGE_TYPE = "registry.department.changed"
RETRY_SECONDS = 5.0


def password_file(secrets_dir: Path, code: str) -> Path:
    return secrets_dir / f"{user_name(code)}.password"


def provision(api: ManagementApi, body: bytes, secrets_dir: Path) -> str:
    """Apply one announcement; what was done: ``created``, ``exists`` (its queues declared
    again, its password untouched) or ``retired`` (nothing). ContractError: not a valid
    announcement (the caller dead-letters it)."""
    envelope = parse_envelope(body)
    if envelope.type != MESSAGE_TYPE:
        raise ContractError("unexpected_type", f"{QUEUE} takes {MESSAGE_TYPE} only",
                            {"type": [envelope.type]})
    code, active = envelope.payload["code"], envelope.payload["active"]
    if not active:
        return "retired"
    if user_name(code) in api.list():
        api.declare_queues(department_queues(code))
        return "exists"
    password = secrets.token_urlsafe(24)
    _write_secret(password_file(secrets_dir, code), password)  # before the user exists:
    api.create(code, password)  # a crash between leaves a file and no user, retried
    log.info("provisioned %s; its password is in %s", user_name(code),
             password_file(secrets_dir, code))
    return "created"


def _write_secret(path: Path, value: str) -> None:
    """Written whole (a temporary file renamed), readable by its owner only."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temporary = path.with_suffix(".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(value + "\n")
    os.replace(temporary, path)


def declare(channel) -> None:
    """The follower's queue (quorum, dead-lettered like every consumer's) and its binding."""
    dlq = f"{QUEUE}{DLQ_SUFFIX}"
    channel.queue_declare(dlq, durable=True, arguments={"x-queue-type": "quorum"})
    channel.queue_bind(dlq, DEAD_LETTER_EXCHANGE, routing_key=dlq)
    channel.queue_declare(QUEUE, durable=True, arguments={
        "x-queue-type": "quorum", "x-dead-letter-exchange": DEAD_LETTER_EXCHANGE,
        "x-dead-letter-routing-key": dlq})
    channel.queue_bind(QUEUE, EVENTS_EXCHANGE, routing_key=MESSAGE_TYPE)


def follow(amqp_url: str, api: ManagementApi, secrets_dir: Path,
           stop: threading.Event | None = None,
           handled: Callable[[str], None] | None = None) -> None:
    """Consume announcements until ``stop`` is set (or forever); ``handled`` hears what each
    message came to (``created``, ``exists``, ``retired``, ``dead-lettered``, ``retry``)."""
    stop = stop or threading.Event()
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    try:
        channel = connection.channel()
        declare(channel)
        channel.basic_qos(prefetch_count=1)
        while not stop.is_set():
            method, _props, body = channel.basic_get(QUEUE)
            if method is None:
                connection.sleep(0.2)
                continue
            done = _handle(channel, method, body, api, secrets_dir)
            if handled is not None:
                handled(done)
    finally:
        connection.close()


def _handle(channel, method: Any, body: bytes, api: ManagementApi, secrets_dir: Path) -> str:
    try:
        done = provision(api, body, secrets_dir)
    except ContractError as exc:
        log.warning("dead-lettering an invalid announcement: %s", exc)
        channel.basic_nack(method.delivery_tag, requeue=False)
        return "dead-lettered"
    except requests.RequestException as exc:
        log.warning("the broker's management API did not answer (%s): retried", exc)
        time.sleep(RETRY_SECONDS)
        channel.basic_nack(method.delivery_tag, requeue=True)
        return "retry"
    log.debug("department announcement: %s", done)
    channel.basic_ack(method.delivery_tag)
    return done

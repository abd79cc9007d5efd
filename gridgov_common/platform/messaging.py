"""Reliable consumption of contract messages in nameko services.

Why not nameko's ``@consume``: it acks a message even when the worker raised (nameko
#387), so failures vanish, and it hands the body to kombu's decoder first. Here the rule
is **a message acknowledged is a message stored, dead-lettered, or a duplicate**:

- every queue is a durable quorum queue with a delivery limit and ``gridgov.dlx`` as its
  dead-letter exchange, so the broker counts redeliveries;
- the body is parsed by :func:`gridgov_common.contract.parse_envelope` (raw bytes, no kombu
  decoding): a message that breaks the contract is copied, unchanged and with reason
  headers, to ``<queue>.dlq`` (publisher-confirmed) and only then acked;
- the worker's database transactions are committed *before* the ack (nameko calls an
  entrypoint's ``handle_result`` before dependencies' ``worker_result``);
- a domain rejection (:class:`PermanentError`) is dead-lettered at once; any other error
  is transient: the message is requeued (after a short back-off) until the limit, and the
  last attempt is dead-lettered with the error, so nothing crash-loops and nothing is lost;
- a consumer of departments' messages (``tell_sender=True``) also tells the sender why,
  with a ``platform.rejection`` to ``<department>.rejections`` (reason, original
  ``message_id``, routing key, no body), publisher-confirmed before the ack;
- :func:`claim_message` makes handlers idempotent: at-least-once delivery becomes
  exactly-once effect, because the claim commits in the same transaction as the handling.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import sys
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from functools import lru_cache, partial
from typing import Any

import eventlet
import eventlet.semaphore
import sqlalchemy as sa
from amqp.exceptions import AccessRefused as AmqpAccessRefused
from amqp.exceptions import ConnectionError as AmqpConnectionError
from amqp.exceptions import NotFound as AmqpNotFound
from kombu import Connection, Exchange, Queue, binding
from kombu.exceptions import MessageStateError
from kombu.exceptions import OperationalError as KombuOperationalError
from kombu.pools import producers
from nameko.amqp.publish import get_connection
from nameko.constants import HEADER_PREFIX
from nameko.exceptions import ContainerBeingKilled
from nameko.extensions import Entrypoint, SharedExtension
from nameko.messaging import QueueConsumer
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.orm import Session

import gridgov_common.platform.compression  # noqa: F401  (bounds kombu's decompression at import)
from gridgov_common.contract import (
    DEAD_LETTER_EXCHANGE,
    EXCHANGES,
    ContractError,
    Envelope,
    dlq_name,
    encode,
    format_timestamp,
    parse_envelope,
    senders,
)
from gridgov_common.contract.envelope import MAX_MESSAGE_BYTES
from gridgov_common.contract.routing import DISPATCH_EXCHANGE, EXCHANGE_TYPE, rejection_key
from gridgov_common.platform.bulk import insert_rows
from gridgov_common.platform.db import DB_SCHEMA, finish_worker_transactions
from gridgov_common.platform.settings import AMQP_SSL, AMQP_URI, FLAG, LOGIN_METHOD, Setting

# What talking to a broker that is down or unreachable raises (a route answers 503 with
# Retry-After for these: gridgov_common/platform/web.py, rpc.py)
BROKER_DOWN = (ConnectionError, TimeoutError, KombuOperationalError, AmqpConnectionError)
log = logging.getLogger(__name__)

REQUIRE_INTAKE_USER_ID = Setting(
    "REQUIRE_INTAKE_USER_ID", FLAG, False,
    "true in production: a department's push to gridgov.intake counts only when published by "
    "its own broker user with its user_id property (docs/BUS-SECURITY.md)")

# Headers added to a message we dead-letter (the broker adds x-death when *it* does).
ERROR_CODE_HEADER = "x-gridgov-error-code"
ERROR_MESSAGE_HEADER = "x-gridgov-error-message"
ERROR_FIELDS_HEADER = "x-gridgov-error-fields"  # a JSON object, as a string
ORIGINAL_ROUTING_KEY_HEADER = "x-gridgov-original-routing-key"
ORIGINAL_EXCHANGE_HEADER = "x-gridgov-original-exchange"
CONSUMER_HEADER = "x-gridgov-consumer"
DEAD_LETTERED_AT_HEADER = "x-gridgov-dead-lettered-at"
DELIVERY_COUNT_HEADER = "x-delivery-count"  # set by quorum queues on redelivery

# Error codes of this module (the contract's own codes are in gridgov_common.contract).
UNDECODABLE = "undecodable"  # kombu could not even decompress the body
UNEXPECTED_TYPE = "unexpected_type"  # valid message, but not one this queue accepts
DELIVERY_LIMIT = "delivery_limit"  # transient failure on every allowed delivery

DEFAULT_MAX_REDELIVERIES = 5
# worker slots of a container's pool (max_workers) that message consumers leave to HTTP:
# the probes and people's requests answer whatever the flood (WorkerSlots)
HTTP_RESERVED_WORKERS = 2
DEFAULT_RETRY_DELAY = 0.5  # seconds before the 1st requeue; doubles, capped at MAX
MAX_RETRY_DELAY = 5.0
CONFIRM_TIMEOUT = 10.0  # seconds to wait for the broker to confirm a dead-letter
POOL_TIMEOUT = 10.0
MAX_HEADER_TEXT = 1024
MAX_FIELDS_JSON = 4096
PUBLISH_RETRY_POLICY = {"max_retries": 2, "interval_start": 0.2, "interval_step": 0.5,
                        "interval_max": 1.0}
SESSION_SCHEMA_KEY = "db_schema"  # Session.info key naming the service's schema
COPIED_PROPERTIES = ("message_id", "correlation_id", "type", "app_id", "timestamp")


class PermanentError(Exception):
    """Raised by a handler to refuse a message for good (a domain rule, an unknown id):
    it is dead-lettered with this code/message/fields and never retried. ``told``: the
    handler has already told the sender (its own ``platform.rejection`` in its outbox), so
    a ``tell_sender`` consumer does not send a second one."""

    def __init__(self, code: str, message: str, fields: Mapping[str, Any] | None = None,
                 *, told: bool = False):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.fields = dict(fields or {})
        self.told = told


class RetryLater(Exception):
    """A transient failure that knows when retrying makes sense: the back-off before the
    requeue is at most ``retry_after`` seconds (a bounded wait ends on time)."""

    def __init__(self, message: str, retry_after: float):
        super().__init__(message)
        self.retry_after = max(float(retry_after), 0.0)


# --- topology -------------------------------------------------------------------------

def topic_exchange(name: str) -> Exchange:
    """A gridgov exchange as a queue's binding source. ``no_declare``: kombu would declare
    it (actively) with every queue and binding, which needs the configure right on the
    exchange; a service's own broker user has none (issue 10, tools/bus_users.py
    SERVICES). :func:`declare_topology` checks the exchanges instead."""
    return Exchange(name, type=EXCHANGE_TYPE, durable=True, no_declare=True)


class TopologyError(Exception):
    """An exchange is missing and this broker user may not declare it."""


def declare_topology(connection) -> None:
    """Make sure every exchange of the contract exists (idempotent): a passive declare
    first, which needs no permission (a service's own user has no configure right on the
    exchanges, which the broker definitions or ``bus_users setup`` declare); only a missing
    exchange is declared, which needs that right (``guest`` in development and tests).

    ``connection`` is a kombu ``Connection`` or an open channel, which is left usable: the
    checks run on a channel of their own (a failed passive declare closes its channel).
    Used by services at start and by ``python -m gridgov_common.platform.messaging`` (``make up``).
    """
    ensure_exchanges(connection, EXCHANGES)


def ensure_exchanges(connection, names: Iterable[str]) -> None:
    """:func:`declare_topology` for any topic exchanges (nameko's RPC exchange too)."""
    transport = _transport(connection)
    channel = transport.channel()
    try:
        for name in names:
            try:
                channel.exchange_declare(name, EXCHANGE_TYPE, passive=True)
                continue
            except AmqpNotFound:
                channel = transport.channel()  # the 404 closed the previous one
            try:
                channel.exchange_declare(name, EXCHANGE_TYPE, durable=True, auto_delete=False)
            except AmqpAccessRefused as exc:
                raise TopologyError(
                    f"exchange {name} does not exist and this broker user may not declare "
                    f"it ({exc}): import the broker definitions or run `python -m "
                    f"tools.bus_users setup` (docs/BUS-SECURITY.md)") from None
    finally:
        if channel.is_open:
            channel.close()


def _transport(connection):
    """The py-amqp connection behind a kombu ``Connection`` or an open channel."""
    if isinstance(connection, Connection):
        connection.ensure_connection(max_retries=1)
    return connection.connection


def ensure_queue(connection, name: str, arguments: Mapping[str, Any],
                 bindings: Iterable[tuple[str, str]]) -> None:
    """Declare and bind a queue of this service, or, when its broker user may not (its own
    ``svc.<service>`` user, issue 10: the platform declared and bound the queue from
    ``tools.bus_users.SERVICES``), check that it exists.

    A user that may declare (``guest`` in development and tests) gets the active declare
    first, so a queue that exists with other arguments still fails the start loudly
    (``PRECONDITION_FAILED``). Runs on a channel of its own: ``connection`` (a kombu
    ``Connection`` or an open channel) stays usable."""
    transport = _transport(connection)
    channel = transport.channel()
    try:
        try:
            channel.queue_declare(name, durable=True, auto_delete=False,
                                  arguments=dict(arguments))
        except AmqpAccessRefused:
            channel = transport.channel()  # the 403 closed the previous one
            try:
                channel.queue_declare(name, passive=True)
            except AmqpNotFound:
                raise TopologyError(
                    f"queue {name} does not exist and this broker user may not declare it: "
                    f"import the broker definitions or run `python -m "
                    f"tools.bus_users setup` (docs/BUS-SECURITY.md)") from None
            return
        for exchange, key in bindings:
            channel.queue_bind(name, exchange, key)
    finally:
        if channel.is_open:
            channel.close()


def consumer_queue_arguments(queue_name: str, max_redeliveries: int) -> dict[str, Any]:
    """Arguments of a consuming queue. Changing them later needs a new queue or a policy:
    RabbitMQ refuses to redeclare a queue with different arguments."""
    return {
        "x-queue-type": "quorum",
        "x-delivery-limit": max_redeliveries,
        "x-dead-letter-exchange": DEAD_LETTER_EXCHANGE,
        "x-dead-letter-routing-key": dlq_name(queue_name),
        # the broker keeps a message until the DLQ has it (RabbitMQ >= 3.10)
        "x-dead-letter-strategy": "at-least-once",
        "x-overflow": "reject-publish",  # required by at-least-once dead-lettering
    }


def consumer_queue(queue_name: str, exchange: str, routing_keys: Iterable[str],
                   max_redeliveries: int) -> Queue:
    """The queue as kombu consumes it. ``no_declare``: kombu would redeclare it on every
    (re)connection, which needs the configure right; :func:`ensure_queue` does it instead."""
    source = topic_exchange(exchange)
    return Queue(queue_name, bindings=[binding(source, routing_key=key) for key in routing_keys],
                 durable=True, no_declare=True,
                 queue_arguments=consumer_queue_arguments(queue_name, max_redeliveries))


def dead_letter_queue(queue_name: str) -> Queue:
    name = dlq_name(queue_name)
    return Queue(name, exchange=topic_exchange(DEAD_LETTER_EXCHANGE), routing_key=name,
                 durable=True, queue_arguments={"x-queue-type": "quorum"})


# --- acking only on a live channel ------------------------------------------------------

def _channel_alive(message) -> bool:
    channel = message.channel
    return channel is not None and channel.connection is not None


@contextlib.contextmanager
def corked(transport) -> Iterator[None]:
    """Every frame written in the block goes to the socket in one ``sendall`` at its end,
    not one per message (py-amqp writes each method's frames as it is sent, each write a
    system call and a trip through eventlet's hub): a batch's publishes, a batch's acks.
    The frames are copied: py-amqp reuses its frame buffer for the next one. Nothing is
    sent if the block fails (a publisher then drops the connection)."""
    frames: list[bytes] = []
    sendall = transport._write
    transport._write = lambda data: frames.append(bytes(data))
    try:
        yield
    finally:
        transport._write = sendall
    if frames:
        transport.write(b"".join(frames))


def ack_all_if_alive(messages) -> None:
    """Ack a batch's messages, the acks of one connection in one write (``corked``): one
    system call for a batch of 50, not 50 (a twentieth of events' CPU in bench_05). A
    message whose channel died is skipped (the broker requeued it); if the one write
    fails, the broker requeues them all when the connection drops, and their consumers
    find them claimed (a message acknowledged is a message stored, never the reverse)."""
    by_transport: dict[int, tuple[Any, list]] = {}
    for message in messages:
        transport = _transport_alive(message)
        if transport is not None:
            by_transport.setdefault(id(transport), (transport, []))[1].append(message)
    for transport, alive in by_transport.values():
        try:
            with corked(transport):
                for message in alive:
                    _ack_buffered(message)
        except (AmqpConnectionError, OSError) as exc:
            log.warning("could not ack %d messages: %r", len(alive), exc)


def _transport_alive(message) -> Any:
    if not _channel_alive(message):
        return None
    return getattr(message.channel.connection, "transport", None)


def _ack_buffered(message) -> None:
    try:
        message.ack()
    except MessageStateError as exc:  # already settled: the others still go out
        log.warning("could not ack message: %r", exc)


def ack_if_alive(message) -> None:
    """Ack unless the channel died: then the broker has already requeued the message."""
    if _channel_alive(message):
        try:
            message.ack()
        except (AmqpConnectionError, OSError, MessageStateError) as exc:
            log.warning("could not ack message: %r", exc)


def requeue_if_alive(message) -> None:
    """Reject with requeue (a quorum queue counts it as a delivery)."""
    if _channel_alive(message):
        try:
            message.reject(requeue=True)
        except (AmqpConnectionError, OSError, MessageStateError) as exc:
            log.warning("could not requeue message: %r", exc)


def delivery_count(message) -> int:
    """How many times the broker delivered this message before (0 the first time)."""
    try:
        return int((message.headers or {}).get(DELIVERY_COUNT_HEADER) or 0)
    except (TypeError, ValueError):
        return 0


def retry_delay(previous_deliveries: int, base: float) -> float:
    return min(base * (2 ** previous_deliveries), MAX_RETRY_DELAY) if base > 0 else 0.0


# --- dead-lettering ---------------------------------------------------------------------

def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _fields_json(fields: Mapping[str, Any] | None) -> str:
    text = json.dumps(fields or {}, ensure_ascii=False, default=str)
    return text if len(text) <= MAX_FIELDS_JSON else json.dumps(
        {"_truncated": text[:MAX_FIELDS_JSON]}, ensure_ascii=False)


def dead_letter_headers(message, consumer: str, code: str, text: str,
                        fields: Mapping[str, Any] | None) -> dict[str, Any]:
    """The original headers plus the reason, for a human or a replay tool to read."""
    headers = {key: value for key, value in (message.headers or {}).items()
               if key != DELIVERY_COUNT_HEADER}
    if not message.errors:
        headers.pop("compression", None)  # kombu already decompressed message.body
    info = message.delivery_info or {}
    headers.update({
        ERROR_CODE_HEADER: code,
        ERROR_MESSAGE_HEADER: _clip(str(text), MAX_HEADER_TEXT),
        ERROR_FIELDS_HEADER: _fields_json(fields),
        ORIGINAL_ROUTING_KEY_HEADER: info.get("routing_key") or "",
        ORIGINAL_EXCHANGE_HEADER: info.get("exchange") or "",
        CONSUMER_HEADER: consumer,
        DEAD_LETTERED_AT_HEADER: format_timestamp(datetime.now(UTC)),
    })
    return headers


class DeadLetterPublisher(SharedExtension):
    """Publishes refused messages to ``gridgov.dlx`` with confirms and ``mandatory``, so
    the original is acked only once the broker has the copy in the DLQ."""

    def setup(self) -> None:
        self.connection = Connection(
            AMQP_URI.of(self.container), ssl=AMQP_SSL.of(self.container),
            login_method=LOGIN_METHOD.of(self.container),
            transport_options={"confirm_publish": True}, connect_timeout=CONFIRM_TIMEOUT)

    def publish(self, message, queue_name: str, headers: dict[str, Any]) -> None:
        body = message.body
        if isinstance(body, str):  # py-amqp hands an empty body over as "": kombu would
            body = body.encode("utf-8")  # try .encode("binary") and fail (found by fuzzing)
        properties = {key: message.properties[key] for key in COPIED_PROPERTIES
                      if message.properties.get(key) is not None}
        with producers[self.connection].acquire(block=True, timeout=POOL_TIMEOUT) as producer:
            producer.publish(
                body, exchange=DEAD_LETTER_EXCHANGE, routing_key=dlq_name(queue_name),
                headers=headers, delivery_mode=2, mandatory=True,
                content_type=message.content_type or "application/octet-stream",
                content_encoding=message.content_encoding or "binary",
                retry=True, retry_policy=PUBLISH_RETRY_POLICY, timeout=CONFIRM_TIMEOUT,
                **properties)

    def publish_envelope(self, exchange: str, routing_key: str,
                         envelope: Mapping[str, Any]) -> None:
        """A contract message (a rejection), persistent and publisher-confirmed; not
        ``mandatory``: a key that names no provisioned department reaches no queue."""
        with producers[self.connection].acquire(block=True, timeout=POOL_TIMEOUT) as producer:
            producer.publish(
                encode(envelope), exchange=exchange, routing_key=routing_key,
                delivery_mode=2, content_type="application/json", content_encoding="utf-8",
                message_id=envelope["message_id"], type=envelope["type"],
                retry=True, retry_policy=PUBLISH_RETRY_POLICY, timeout=CONFIRM_TIMEOUT)


# --- the consumer -----------------------------------------------------------------------

class RawQueueConsumer(QueueConsumer):
    """nameko's QueueConsumer, but kombu hands over the raw message (``on_message``):
    nothing is decoded in the consumer thread, so no body can crash it."""

    @property
    def prefetch_count(self) -> int:
        """One delivery per worker, or three full batches when a provider consumes in
        batches (:mod:`gridgov_common.platform.batching`), so a batch can fill while others
        run and are acked (with two, batches of 50 came out as 50, 16, 34 in a cycle)."""
        batch = max((getattr(p, "batch_size", 1) for p in self._providers), default=1)
        return max(self.container.max_workers, 3 * batch)

    def get_consumers(self, consumer_cls, channel):
        for provider in self._providers:
            provider.ensure_queues(channel)  # again after every reconnect
            consumer = consumer_cls(
                queues=[provider.queue],
                on_message=partial(self.handle_raw_message, provider),
                on_decode_error=partial(self.handle_undecodable, provider),
            )
            consumer.qos(prefetch_count=self.prefetch_count)
            self._consumers[provider] = consumer
        return self._consumers.values()

    def handle_raw_message(self, provider: ReliableConsumer, message) -> None:
        ident = f"{type(provider).__name__}.handle_message[{provider.queue_name}]"
        self.container.spawn_managed_thread(partial(provider.handle_message, message),
                                            identifier=ident)

    def handle_undecodable(self, provider: ReliableConsumer, message, exc: Exception) -> None:
        if isinstance(exc, ContractError):  # refused by gridgov_common.platform.compression
            refusal = partial(provider.refuse, message, exc.code, exc.message, exc.fields)
        else:
            refusal = partial(provider.refuse, message, UNDECODABLE,
                              f"cannot decode the body: {exc!r}")
        self.container.spawn_managed_thread(refusal)


class WorkerSlots(SharedExtension):
    """The share of the container's worker pool that message consumers hold together: all
    but :data:`HTTP_RESERVED_WORKERS` slots (at least one).

    Why: nameko runs every entrypoint's workers in one pool of ``max_workers``. Under a
    flood of messages (a hotline replay, a storm, the backlog after an outage) the
    consumers took every slot, and each HTTP request waited for one: /readyz answered in
    4-10 s in the kill test of tests/compose (issue 15), past Docker's 5 s healthcheck and
    Kubernetes' 3 s liveness probe, which would restart a busy pod and add to the storm;
    grid workers and the wall waited as long. With the reserve, HTTP always finds a slot
    while the consumers keep the rest busy."""

    def setup(self) -> None:
        self.capacity = max(1, self.container.max_workers - HTTP_RESERVED_WORKERS)
        self.semaphore = eventlet.semaphore.Semaphore(self.capacity)

    def acquire(self) -> None:
        self.semaphore.acquire()

    def release(self) -> None:
        self.semaphore.release()


class ReliableConsumer(Entrypoint):
    """Entrypoint behind :func:`consume_contract`; the worker gets one :class:`Envelope`."""

    queue_consumer = RawQueueConsumer()
    dead_letters = DeadLetterPublisher()
    slots = WorkerSlots()

    def __init__(self, queue_name: str, exchange: str, routing_keys: list[str],
                 consumer_name: str | None = None,
                 max_redeliveries: int = DEFAULT_MAX_REDELIVERIES,
                 message_types: Iterable[str] | None = None,
                 retry_delay: float = DEFAULT_RETRY_DELAY, tell_sender: bool = False,
                 **kwargs) -> None:
        _check_consumer_args(queue_name, exchange, routing_keys, max_redeliveries)
        self.queue_name = queue_name
        self.tell_sender = tell_sender
        self.exchange = exchange
        self.routing_keys = list(routing_keys)
        self.consumer_name = consumer_name or queue_name
        self.max_redeliveries = max_redeliveries
        self.message_types = frozenset(message_types) if message_types else None
        self.retry_delay = retry_delay
        super().__init__(**kwargs)

    # lifecycle

    def setup(self) -> None:
        self.queue = consumer_queue(self.queue_name, self.exchange, self.routing_keys,
                                    self.max_redeliveries)
        self._declare()
        self.queue_consumer.register_provider(self)

    def start(self) -> None:
        register_container_schema(self.container)  # every dependency is set up by now

    def stop(self) -> None:
        self.queue_consumer.unregister_provider(self)

    def _declare(self) -> None:
        """Declare before consuming, so a wrong queue argument fails the start loudly
        (inside the consumer thread it would be retried forever)."""
        with broker_connection(self.container) as conn:
            declare_topology(conn)
            self.ensure_queues(conn)

    def ensure_queues(self, connection) -> None:
        """The dead-letter queue, then the queue (its arguments name the DLQ)."""
        dlq = dead_letter_queue(self.queue_name)
        ensure_queue(connection, dlq.name, dlq.queue_arguments,
                     [(DEAD_LETTER_EXCHANGE, dlq.name)])
        ensure_queue(connection, self.queue_name, self.queue.queue_arguments,
                     [(self.exchange, key) for key in self.routing_keys])

    # receiving

    def handle_message(self, message) -> None:
        """Runs in a managed thread: must never raise (that would kill the container)."""
        try:
            self._receive(message)
        except Exception:
            log.exception("unexpected error receiving from %s; requeued", self.queue_name)
            requeue_if_alive(message)

    def _receive(self, message) -> None:
        try:
            envelope = self._parse(message)
        except ContractError as exc:
            self.refuse(message, exc.code, exc.message, exc.fields)
            return
        self.spawn_alone(message, (envelope,))

    def spawn_alone(self, message, args: tuple) -> None:
        """A worker for one message (the handler's ``args``), in the consumers' share of
        the pool (WorkerSlots); ``handle_result`` gives the slot back."""
        self.slots.acquire()
        try:
            self.container.spawn_worker(
                self, args, {}, context_data=_context_data(message),
                handle_result=partial(self.handle_result, message))
        except ContainerBeingKilled:
            self.slots.release()
            requeue_if_alive(message)
        except BaseException:
            self.slots.release()
            raise

    def _parse(self, message) -> Envelope:
        envelope = parse_envelope(message.body)
        if self.message_types is not None and envelope.type not in self.message_types:
            raise ContractError(UNEXPECTED_TYPE,
                                f"{self.queue_name} does not accept {envelope.type}",
                                {"type": envelope.type, "accepted": sorted(self.message_types)})
        return dataclasses.replace(envelope,
                                   routing_key=(message.delivery_info or {}).get("routing_key"),
                                   user_id=(message.properties or {}).get("user_id"),
                                   delivery_count=delivery_count(message))

    def refuse(self, message, code: str, text: str,
               fields: Mapping[str, Any] | None = None, *, tell: bool = True) -> None:
        """Dead-letter with reasons (and, for departments' messages, tell the sender), then
        ack; if the copy or the rejection cannot be made, requeue. Never raises: it runs in
        managed threads, where an error kills the container."""
        try:
            headers = dead_letter_headers(message, self.consumer_name, code, text, fields)
            self.dead_letters.publish(message, self.queue_name, headers)
        except Exception:
            log.exception("could not dead-letter a message of %s; requeued", self.queue_name)
            requeue_if_alive(message)
            return
        log.warning("dead-lettered a message of %s: %s: %s", self.queue_name, code, text)
        if self.tell_sender and tell and code != DELIVERY_LIMIT:
            try:
                self._tell_sender(message, code, text, fields)
            except Exception:
                # the DLQ has its copy; a redelivery dead-letters it again (same
                # message_id, replay-safe) and retries telling the department
                log.exception("could not send the rejection of a message of %s; requeued",
                              self.queue_name)
                requeue_if_alive(message)
                return
        ack_if_alive(message)

    def _tell_sender(self, message, code: str, text: str,
                     fields: Mapping[str, Any] | None) -> None:
        """``platform.rejection`` to ``<department>.rejections`` on gridgov.dispatch: the
        reason, the original message_id, routing key and exchange — never the body.
        (A ``delivery_limit`` is the platform's failure, not the sender's: not told.)"""
        info = message.delivery_info or {}
        routing_key = info.get("routing_key")
        department = senders.sender_of(routing_key, (message.properties or {}).get("user_id"))
        if department is None:
            log.warning("refused a message of %s with routing key %r: nobody to tell",
                        self.queue_name, routing_key)
            return
        envelope = senders.rejection(
            self.container.service_name, self.consumer_name,
            original_message_id=original_message_id(message), routing_key=routing_key,
            exchange=info.get("exchange"), code=code, message=text, fields=fields)
        self.dead_letters.publish_envelope(DISPATCH_EXCHANGE, rejection_key(department),
                                           envelope)

    # settling

    def handle_result(self, message, worker_ctx, result=None, exc_info=None):
        """Commit the worker's transactions, then ack / dead-letter / requeue; the worker's
        slot is given back (WorkerSlots)."""
        try:
            exc_info = committed(worker_ctx, exc_info)
            if exc_info is not None:
                result = None
            self._settle(message, exc_info)
        except Exception:
            log.exception("unexpected error settling a message of %s", self.queue_name)
            requeue_if_alive(message)
        finally:
            self.slots.release()
        return result, exc_info

    def _settle(self, message, exc_info) -> None:
        if exc_info is None:
            ack_if_alive(message)
            return
        exc = exc_info[1]
        if isinstance(exc, ContractError | PermanentError):
            self.refuse(message, exc.code, exc.message, exc.fields,
                        tell=not getattr(exc, "told", False))
        else:
            self._retry_or_give_up(message, exc)

    def _retry_or_give_up(self, message, exc: BaseException) -> None:
        previous = delivery_count(message)
        if previous >= self.max_redeliveries:
            self.refuse(message, DELIVERY_LIMIT,
                        f"failed on all {previous + 1} deliveries; last error: {exc!r}",
                        {"exception": type(exc).__name__})
            return
        log.warning("transient failure on %s (delivery %d of %d), requeueing: %r",
                    self.queue_name, previous + 1, self.max_redeliveries + 1, exc)
        delay = retry_delay(previous, self.retry_delay)
        if isinstance(exc, RetryLater):
            delay = min(delay, exc.retry_after)
        eventlet.sleep(delay)
        requeue_if_alive(message)


def original_message_id(message) -> str | None:
    """The ``message_id`` the sender gave: the AMQP property, else the envelope's when the
    body is a JSON object that has one (a refused body is read no further)."""
    value = (message.properties or {}).get("message_id")
    if isinstance(value, str) and value:
        return value
    body = message.body
    if not isinstance(body, bytes | str) or len(body) > MAX_MESSAGE_BYTES:
        return None
    try:
        data = json.loads(body)
    except (ValueError, TypeError, RecursionError):
        return None
    value = data.get("message_id") if isinstance(data, dict) else None
    return value if isinstance(value, str) and value else None


def committed(worker_ctx, exc_info):
    """Commit the worker's transactions unless it failed; the failure (the worker's, or the
    commit's) as ``exc_info``, None when everything is stored."""
    if exc_info is not None:
        return exc_info
    failure = finish_worker_transactions(worker_ctx)
    return None if failure is None else (type(failure), failure, failure.__traceback__)


def _context_data(message) -> dict[str, Any]:
    """nameko's call-id headers only: other headers (x-death…) are not worker context."""
    prefix = f"{HEADER_PREFIX}."
    return {key[len(prefix):]: value for key, value in (message.headers or {}).items()
            if key.startswith(prefix)}


def _check_consumer_args(queue_name: str, exchange: str, routing_keys: list[str],
                         max_redeliveries: int) -> None:
    if exchange not in EXCHANGES or exchange == DEAD_LETTER_EXCHANGE:
        raise ValueError(f"not a consumable gridgov exchange: {exchange!r}")
    if not queue_name or isinstance(routing_keys, str) or not list(routing_keys):
        raise ValueError("a queue name and a list of routing keys are required")
    if not isinstance(max_redeliveries, int) or max_redeliveries < 0:
        raise ValueError("max_redeliveries must be an int >= 0")


def consume_contract(queue_name: str, exchange: str, routing_keys: list[str],
                     consumer_name: str | None = None,
                     max_redeliveries: int = DEFAULT_MAX_REDELIVERIES,
                     message_types: Iterable[str] | None = None,
                     retry_delay: float = DEFAULT_RETRY_DELAY, tell_sender: bool = False,
                     **kwargs) -> Callable:
    """Decorate a service method ``def handle(self, envelope: Envelope)`` to consume
    ``queue_name`` (a quorum queue bound to ``exchange`` by every key in ``routing_keys``).

    ``consumer_name`` (default: the queue name) is written in dead-letter headers; use it
    with :func:`claim_message`. ``message_types`` limits the accepted envelope types.
    ``tell_sender``: the messages come from departments, who are told every refusal on
    ``<department>.rejections`` (docs/BUS-CONTRACT.md §8).
    """
    return ReliableConsumer.decorator(
        queue_name, exchange, routing_keys, consumer_name=consumer_name,
        max_redeliveries=max_redeliveries, message_types=message_types,
        retry_delay=retry_delay, tell_sender=tell_sender, **kwargs)


# --- tables and idempotency -------------------------------------------------------------

def messaging_tables(metadata: sa.MetaData) -> None:
    """Add ``processed_messages`` and ``outbox`` to a service's MetaData (its schema is
    ``metadata.schema``), so the service's migrations create them. Idempotent."""
    prefix = f"{metadata.schema}." if metadata.schema else ""
    if f"{prefix}processed_messages" not in metadata.tables:
        sa.Table(
            "processed_messages", metadata,
            sa.Column("consumer", sa.Text, primary_key=True),
            sa.Column("message_id", sa.Uuid(as_uuid=False), primary_key=True),
            sa.Column("processed_at", sa.DateTime(timezone=True), nullable=False,
                      server_default=sa.func.now()),
            sa.Index("ix_processed_messages_processed_at", "processed_at"),
        )
    if f"{prefix}outbox" not in metadata.tables:
        sa.Table(
            "outbox", metadata,
            sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=True),
            sa.Column("message_id", sa.Uuid(as_uuid=False), nullable=False, unique=True),
            sa.Column("exchange", sa.Text, nullable=False),
            sa.Column("routing_key", sa.Text, nullable=False),
            sa.Column("body", pg.JSONB, nullable=False),
            sa.Column("created_at", sa.DateTime(timezone=True), nullable=False,
                      server_default=sa.func.now()),
            sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
            sa.Column("last_error", sa.Text, nullable=True),
        )


@lru_cache(maxsize=64)
def tables_for(schema: str) -> dict[str, sa.Table]:
    """The messaging tables of one schema, by short name ("processed_messages", "outbox")."""
    metadata = sa.MetaData(schema=schema)
    messaging_tables(metadata)
    return {table.name: table for table in metadata.tables.values()}


_ENGINE_SCHEMAS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def broker_connection(container) -> Connection:
    """A connection to the broker as the container's config (and nameko) names it."""
    return get_connection(AMQP_URI.of(container), AMQP_SSL.of(container),
                          LOGIN_METHOD.of(container))


def register_container_schema(container) -> None:
    """Remember that the engines of ``container``'s dependencies (any provider with an
    ``engine``, e.g. ``Database``) belong to its ``DB_SCHEMA``, so that handlers can call
    :func:`claim_message` / ``add_to_outbox`` with just their session."""
    schema = DB_SCHEMA.read(container.config)
    if not schema:
        return
    for provider in container.dependencies:
        engine = getattr(provider, "engine", None)
        if isinstance(engine, sa.Engine):
            _ENGINE_SCHEMAS[engine] = schema


def _bound_engine(session) -> sa.Engine | None:
    if isinstance(session, sa.Connection):
        return session.engine
    try:
        bind = session.get_bind()
    except Exception:  # an unbound Session
        return None
    return bind.engine if isinstance(bind, sa.Connection) else bind


def resolve_schema(session, schema: str | None) -> str:
    """The service schema for a session: ``schema`` if given, else
    ``session.info["db_schema"]``, else the ``DB_SCHEMA`` of the container whose database
    engine the session is bound to (see :func:`register_container_schema`)."""
    if not schema and isinstance(session, Session):
        schema = session.info.get(SESSION_SCHEMA_KEY)
    if not schema:
        engine = _bound_engine(session)
        schema = _ENGINE_SCHEMAS.get(engine) if engine is not None else None
    if not schema:
        raise ValueError(f"no schema: pass schema=, set session.info[{SESSION_SCHEMA_KEY!r}] "
                         f"or bind the session to a container's Database engine")
    return schema


def claim_message(session, message_id: str, consumer: str, *, schema: str | None = None,
                  ) -> bool:
    """True the first time ``consumer`` sees ``message_id``, False for a duplicate.

    Runs in the caller's transaction: the claim commits (or rolls back) with the handling.
    A concurrent duplicate blocks on the primary key until the first commits, then gets
    False.
    """
    table = tables_for(resolve_schema(session, schema))["processed_messages"]
    statement = (pg.insert(table).values(message_id=str(message_id), consumer=consumer)
                 .on_conflict_do_nothing().returning(table.c.message_id))
    return session.execute(statement).first() is not None


def claim_messages(session, envelopes: Iterable[Any], consumer: str, *,
                   schema: str | None = None) -> list[Any]:
    """:func:`claim_message` for a batch in one statement: the envelopes seen for the first
    time, in their order (a message id twice in the batch counts once)."""
    envelopes = list(envelopes)
    if not envelopes:
        return []
    table = tables_for(resolve_schema(session, schema))["processed_messages"]
    rows = [{"message_id": str(e.message_id), "consumer": consumer} for e in envelopes]
    unique = list({row["message_id"]: row for row in rows}.values())
    claimed = set(insert_rows(session, table, unique, on_conflict="DO NOTHING",
                              returning=("message_id",)).scalars())
    fresh = []
    for envelope in envelopes:
        if str(envelope.message_id) in claimed:
            claimed.discard(str(envelope.message_id))
            fresh.append(envelope)
    return fresh


def prune_processed_messages(session, older_than: timedelta, *, schema: str | None = None,
                             limit: int | None = None) -> int:
    """Forget claims older than ``older_than`` (longer than any redelivery can take);
    at most ``limit`` of the oldest in one call, so one run never holds a long lock."""
    table = tables_for(resolve_schema(session, schema))["processed_messages"]
    old = table.c.processed_at < sa.func.now() - older_than
    if limit is None:
        return session.execute(sa.delete(table).where(old)).rowcount
    oldest = (sa.select(table.c.consumer, table.c.message_id).where(old)
              .order_by(table.c.processed_at).limit(limit))
    return session.execute(sa.delete(table).where(
        sa.tuple_(table.c.consumer, table.c.message_id).in_(oldest))).rowcount


def main(argv: list[str] | None = None) -> int:
    """``python -m gridgov_common.platform.messaging [AMQP_URI]``: declare the exchanges."""
    argv = sys.argv[1:] if argv is None else argv
    uri = argv[0] if argv else os.environ.get("GRIDGOV_AMQP_URI",
                                              "pyamqp://guest:guest@127.0.0.1:5672/")
    with Connection(uri, connect_timeout=10) as conn:
        declare_topology(conn)
    print("declared exchanges: " + ", ".join(EXCHANGES))
    return 0


if __name__ == "__main__":
    sys.exit(main())

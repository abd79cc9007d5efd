"""Transactional outbox: "write to the database, then publish" without ever losing a message.

A service never publishes from a worker. It inserts the envelope into its schema's
``outbox`` table in the same transaction as the change it describes
(:func:`add_to_outbox`); if the transaction rolls back, the message never existed. The
:class:`OutboxRelay` (one background greenlet per container, any number of replicas) then
moves rows to RabbitMQ:

    BEGIN; SELECT … ORDER BY id LIMIT :batch FOR UPDATE SKIP LOCKED;
    publish the batch, wait for the broker's confirms for all of it;
    DELETE the rows; COMMIT

Replicas skip each other's locked rows, so each row is published by one relay. If the
broker is down or nacks, nothing is deleted: ``attempts``/``last_error`` are recorded in a
separate transaction and the relay backs off. If the database fails *after* the broker
confirmed, the rows are published again later: delivery is at-least-once, and consumers
deduplicate by ``message_id`` (:func:`gridgov_common.platform.messaging.claim_message`).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import amqp
import eventlet
import sqlalchemy as sa
from amqp import spec
from eventlet.queue import Empty, Full, LightQueue
from kombu import Connection
from nameko.extensions import DependencyProvider
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.orm import Session

from gridgov_common.contract import (
    EVENTS_EXCHANGE,
    MAX_MESSAGE_BYTES,
    ValidatedEnvelope,
    encode,
    make_envelope,
    parse_envelope,
    parse_event_key,
    validate_routing_key,
)
from gridgov_common.platform.bulk import JsonText, insert_rows
from gridgov_common.platform.db import DB_SCHEMA, DB_URL, make_engine
from gridgov_common.platform.frozen import frozen
from gridgov_common.platform.messaging import (
    corked,
    declare_topology,
    register_container_schema,
    resolve_schema,
    tables_for,
)
from gridgov_common.platform.settings import (
    AMQP_SSL,
    AMQP_URI,
    LOGIN_METHOD,
    NON_NEGATIVE,
    POSITIVE,
    POSITIVE_INTEGER,
    Setting,
)

log = logging.getLogger(__name__)

DEFAULT_POLL_SECONDS = 0.2
DEFAULT_BATCH = 500
MAX_BACKOFF_SECONDS = 5.0
CONFIRM_TIMEOUT = 10.0
CONNECT_TIMEOUT = 5.0
MAX_ERROR_TEXT = 2000
RELAY_POOL_SIZE = 2
# After a wake the relay yields once (0) rather than lingering: commits that land while a
# round runs leave together in the next round anyway, and a 5 ms linger on each of a
# case's two relays was latency with no throughput to show for it (issue 16, bench_05).
DEFAULT_LINGER_SECONDS = 0.0
OUTBOX_POLL_SECONDS = Setting("OUTBOX_POLL_SECONDS", POSITIVE, DEFAULT_POLL_SECONDS,
                              "the relay's poll when no commit wakes it")
OUTBOX_BATCH = Setting("OUTBOX_BATCH", POSITIVE_INTEGER, DEFAULT_BATCH,
                       "rows the relay publishes per round")
OUTBOX_LINGER_SECONDS = Setting("OUTBOX_LINGER_SECONDS", NON_NEGATIVE, DEFAULT_LINGER_SECONDS,
                                "after a commit wakes the relay, wait this long so the "
                                "commits of a burst leave together")
PENDING_KEY = "gridgov_outbox_pending"  # session.info: {schema: [rows]} until commit
WRITTEN_KEY = "gridgov_outbox_written"  # session.info: schemas written by this commit
WIRE = "wire"  # a pending row's body as make_envelope encoded it (None: encode it here)

# schema -> wake() of the relays running in this process (woken after each commit)
_relays: dict[str, set[Callable[[], None]]] = {}


class OutboxPublishError(Exception):
    """The broker did not confirm a batch; its rows stay in the outbox."""


# --- writing --------------------------------------------------------------------------

def add_to_outbox(session, exchange: str, routing_key: str, envelope: Mapping[str, Any], *,
                  schema: str | None = None) -> None:
    """Insert ``envelope`` (from ``make_envelope``) into the outbox, in the caller's
    transaction. The schema: see :func:`gridgov_common.platform.messaging.resolve_schema`.

    Validated here (routing key, envelope, size) so that a bad message fails the business
    transaction instead of blocking the relay later. The row is written when the session
    commits (see ``_write_pending``), so ``session`` must be an ORM Session.
    """
    validate_routing_key(exchange, routing_key)
    if not isinstance(envelope, ValidatedEnvelope):  # make_envelope has checked the rest
        parse_envelope(encode(envelope))
    schema = resolve_schema(session, schema)
    session.connection()  # begin the transaction now, so that its end forgets the rows
    pending = session.info.setdefault(PENDING_KEY, {})
    pending.setdefault(schema, []).append({
        "message_id": str(envelope["message_id"]), "exchange": exchange,
        "routing_key": routing_key, "body": dict(envelope),
        WIRE: getattr(envelope, "wire", None)})


# The rows of a transaction are written by one multi-row INSERT just before it commits
# (one statement instead of one per message), and the relays of this process are woken
# right after it commits (no waiting for the next poll). Rolled back: they never existed.

@sa.event.listens_for(Session, "before_commit")
def _write_pending(session: Session) -> None:
    pending = session.info.get(PENDING_KEY)
    if not pending:
        return
    for schema, rows in pending.items():  # one INSERT over arrays, not one per row
        insert_rows(session, tables_for(schema)["outbox"], [_stored(row) for row in rows])
    session.info[WRITTEN_KEY] = set(pending)
    pending.clear()


def _stored(pending: dict[str, Any]) -> dict[str, Any]:
    """A pending row as the outbox stores it: the body as make_envelope encoded it."""
    row = {key: value for key, value in pending.items() if key != WIRE}
    if pending[WIRE] is not None:
        row["body"] = JsonText(pending[WIRE].decode("utf-8"))
    return row


@sa.event.listens_for(Session, "after_commit")
def _wake_relays(session: Session) -> None:
    for schema in session.info.pop(WRITTEN_KEY, ()):
        for wake in list(_relays.get(schema, ())):
            wake()


@sa.event.listens_for(Session, "after_transaction_end")
def _forget_pending(session: Session, transaction) -> None:
    """Rows of a transaction that ended without commit (rolled back, closed) never existed.
    (``after_rollback`` would miss a rollback before any SQL ran.) Savepoints are not
    tracked: rows added inside a rolled-back ``begin_nested`` still go out."""
    if transaction.parent is None:
        session.info.pop(PENDING_KEY, None)
        session.info.pop(WRITTEN_KEY, None)


def add_event(session, type: str, payload: Mapping[str, Any], producer: str,
              correlation_id: str | None = None, *, schema: str | None = None,
              ) -> dict[str, Any]:
    """Build a domain event and put it in the outbox for ``gridgov.events``; its routing
    key is its type (``registry.grid.changed``). Returns the envelope."""
    envelope = make_envelope(type, payload, producer, correlation_id=correlation_id)
    key = parse_event_key(type)
    if key.producer != producer:
        raise ValueError(f"event type {type!r} does not start with producer {producer!r}")
    add_to_outbox(session, EVENTS_EXCHANGE, type, envelope, schema=schema)
    return envelope


# --- publishing -----------------------------------------------------------------------

def _amqp_message(body: Mapping[str, Any]) -> amqp.Message:
    return _wire_message(encode(body), str(body["message_id"]), body.get("type"),
                         body.get("producer"), body.get("correlation_id"))


def _wire_message(wire: bytes, message_id: str, type_: str | None, producer: str | None,
                  correlation_id: str | None) -> amqp.Message:
    properties = {
        "content_type": "application/json",
        "content_encoding": "utf-8",
        "delivery_mode": 2,  # persistent
        "message_id": message_id,
        "type": type_,
        "app_id": producer,
    }
    if correlation_id:
        properties["correlation_id"] = correlation_id
    return amqp.Message(wire, **properties)


def _row_message(row: sa.Row) -> amqp.Message:
    """A locked row's message: its body as PostgreSQL prints it (issue 16: parsing every
    body into Python and encoding it again was a fifth of dispatch's CPU in bench_05's
    profile). The printed form is the same JSON with a space after each ``:`` and ``,``;
    a body that the spaces would take past the size limit goes out compact."""
    wire = row.wire.encode("utf-8")
    if len(wire) > MAX_MESSAGE_BYTES:
        return _amqp_message(json.loads(wire))
    return _wire_message(wire, str(row.message_id), row.type, row.producer,
                         row.correlation_id)


class Returned(NamedTuple):
    """A mandatory message the broker could not route to any queue."""

    exchange: str
    routing_key: str
    body: dict[str, Any]
    reply_text: str


ReturnedHandler = Callable[[sa.Connection, list[Returned]], None]


class BatchResult(NamedTuple):
    """What the broker did with a batch: ``returned`` (unroutable, mandatory) messages,
    and the positions in the batch of the messages it refused (basic.nack)."""

    returned: list[Returned]
    nacked: frozenset[int]


class BatchPublisher:
    """One AMQP connection in confirm mode that publishes a batch and waits once for the
    confirms of all of it (one round trip per batch, not per message).

    Messages to ``mandatory_exchanges`` are published mandatory: one that no queue is
    bound for comes back (basic.return, before its confirm) and is listed in the result
    of :meth:`publish_batch` instead of vanishing.
    """

    def __init__(self, amqp_uri: str, confirm_timeout: float = CONFIRM_TIMEOUT,
                 ssl: Any = None, login_method: str | None = None,
                 mandatory_exchanges: frozenset[str] = frozenset()) -> None:
        self.mandatory_exchanges = mandatory_exchanges
        self._returned: list[Returned] = []
        self.amqp_uri = amqp_uri
        self.confirm_timeout = confirm_timeout
        self.ssl = ssl
        self.login_method = login_method
        self._conn: Connection | None = None
        self._channel = None
        self._next_tag = 1
        self._pending: set[int] = set()
        self._nacked: set[int] = set()

    def publish_batch(self, messages: Sequence[tuple[str, str, amqp.Message]]
                      ) -> BatchResult:
        """Publish (exchange, routing_key, message) triples and wait for every confirm;
        raise OutboxPublishError if the connection fails or a confirm does not come.
        A message the broker refuses (e.g. a full queue that rejects publishes) is
        reported by position, so the rest of the batch is not held back by it."""
        try:
            channel = self._ensure_channel()
            self._nacked.clear()
            self._returned = []
            first_tag = self._next_tag
            with corked(channel.connection.transport):
                for exchange, routing_key, message in messages:
                    self._pending.add(self._next_tag)  # before: acks may arrive meanwhile
                    self._next_tag += 1
                    # basic.publish as amqp's Channel.basic_publish sends it, without its
                    # poll of the socket before every message (a twentieth of dispatch's
                    # CPU): the confirms are read once, below
                    channel.send_method(
                        spec.Basic.Publish, "Bssbb",
                        (0, exchange, routing_key, exchange in self.mandatory_exchanges,
                         False), message)
            self._wait_for_confirms()
        except OutboxPublishError:
            self.close()
            raise
        except Exception as exc:
            self.close()
            raise OutboxPublishError(f"publishing failed: {exc!r}") from exc
        return BatchResult(self._returned, frozenset(tag - first_tag for tag in self._nacked))

    def _on_return(self, exc, exchange: str, routing_key: str, message) -> None:
        body = json.loads(message.body)
        self._returned.append(Returned(exchange, routing_key, body, str(exc)))

    def _wait_for_confirms(self) -> None:
        deadline = time.monotonic() + self.confirm_timeout
        while self._pending:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise OutboxPublishError(f"no confirm within {self.confirm_timeout}s")
            self._conn.drain_events(timeout=remaining)

    def _on_ack(self, tag: int, multiple: bool) -> None:
        self._settle(tag, multiple)

    def _on_nack(self, tag: int, multiple: bool) -> None:
        self._nacked.update(t for t in self._pending if t == tag or (multiple and t <= tag))
        self._settle(tag, multiple)

    def _settle(self, tag: int, multiple: bool) -> None:
        if multiple:
            self._pending = {t for t in self._pending if t > tag}
        else:
            self._pending.discard(tag)

    def _ensure_channel(self):
        if self._channel is None:
            conn = Connection(self.amqp_uri, ssl=self.ssl, login_method=self.login_method,
                              connect_timeout=CONNECT_TIMEOUT, heartbeat=0)
            conn.ensure_connection(max_retries=0)  # the relay loop retries, with back-off
            channel = conn.channel()
            channel.confirm_select()
            channel.events["basic_ack"].add(self._on_ack)
            channel.events["basic_nack"].add(self._on_nack)
            channel.events["basic_return"].add(self._on_return)
            declare_topology(channel)
            self._conn, self._channel, self._next_tag = conn, channel, 1
        return self._channel

    def close(self) -> None:
        """Drop the connection; the next batch reconnects (and counts tags from 1)."""
        conn, self._conn, self._channel = self._conn, None, None
        self._pending = set()
        if conn is not None:
            try:
                conn.release()
            except Exception as exc:  # closing a broken connection may fail too
                log.debug("closing the relay's AMQP connection: %r", exc)


class OutboxPump:
    """Moves outbox rows of one schema to the broker; :meth:`relay_once` does one batch."""

    def __init__(self, engine: sa.Engine, schema: str, publisher: BatchPublisher,
                 batch_size: int = DEFAULT_BATCH,
                 on_returned: ReturnedHandler | None = None) -> None:
        self.on_returned = on_returned
        self.engine = engine
        self.table = tables_for(schema)["outbox"]
        self.publisher = publisher
        self.batch_size = batch_size
        # built and compiled once (gridgov_common/platform/frozen.py): a relay runs a
        # round per commit, and at a few cases a second a round is one row
        self._lock_statement = frozen(self._lock_query())
        table = self.table
        self._delete_statement = frozen(sa.delete(table).where(table.c.id == sa.any_(
            sa.bindparam("ids", type_=pg.ARRAY(sa.BigInteger)))), "ids")

    def relay_once(self) -> int:
        """Publish and delete up to one batch; return how many rows were published.

        Raises OutboxPublishError (rows kept, attempts incremented) or a database error.
        """
        with self.engine.connect() as conn, conn.begin():
            rows = self._lock_batch(conn)
            if not rows:
                return 0
            failure, result = self._publish(rows)
            if failure is None:
                if result.returned:
                    self._handle_returned(conn, result.returned)
                delivered = [row.id for i, row in enumerate(rows) if i not in result.nacked]
                conn.execute(self._delete_statement, {"ids": delivered})  # one short SQL
        if failure is not None:
            self._record_failure([row.id for row in rows], failure)
            raise failure
        if result.nacked:  # kept, counted, retried; the rest of the batch has gone
            refused = OutboxPublishError(f"broker nacked {len(result.nacked)} message(s)")
            self._record_failure([rows[i].id for i in sorted(result.nacked)], refused)
            if not delivered:
                raise refused
        return len(delivered)

    def _lock_query(self) -> sa.Select:
        table = self.table
        body = table.c.body
        return (sa.select(table.c.id, table.c.exchange, table.c.routing_key,
                          table.c.message_id, sa.cast(body, sa.Text).label("wire"),
                          body["type"].astext.label("type"),
                          body["producer"].astext.label("producer"),
                          body["correlation_id"].astext.label("correlation_id"))
                .order_by(table.c.id).limit(self.batch_size)
                .with_for_update(skip_locked=True))

    def _lock_batch(self, conn: sa.Connection) -> list[sa.Row]:
        return list(conn.execute(self._lock_statement))

    def _publish(self, rows: list[sa.Row]) -> tuple[OutboxPublishError | None, BatchResult]:
        try:
            result = self.publisher.publish_batch(
                [(row.exchange, row.routing_key, _row_message(row)) for row in rows])
        except OutboxPublishError as exc:
            return exc, BatchResult([], frozenset())
        return None, result

    def _handle_returned(self, conn: sa.Connection, returned: list[Returned]) -> None:
        """Record unroutable messages in the same transaction that deletes their rows,
        so an unroutable message is never lost (the owner escalates it)."""
        if self.on_returned is None:
            log.error("%d unroutable message(s) and no handler: %s", len(returned),
                      [(r.exchange, r.routing_key) for r in returned])
            return
        self.on_returned(conn, returned)

    def _record_failure(self, ids: list[int], failure: Exception) -> None:
        table = self.table
        try:
            with self.engine.begin() as conn:
                conn.execute(sa.update(table).where(table.c.id.in_(ids)).values(
                    attempts=table.c.attempts + 1, last_error=str(failure)[:MAX_ERROR_TEXT]))
        except Exception as exc:  # the database may be down as well; the rows stay anyway
            log.warning("could not record an outbox failure: %r", exc)

    def pending(self) -> int:
        """Rows waiting (for metrics and tests)."""
        with self.engine.connect() as conn:
            return conn.execute(sa.select(sa.func.count()).select_from(self.table)).scalar_one()

    def close(self) -> None:
        self.publisher.close()


def backoff(poll_seconds: float, failures: int) -> float:
    """Poll interval when healthy; doubling after consecutive failures, capped."""
    if failures == 0:
        return poll_seconds
    return min(max(poll_seconds, 0.05) * (2 ** failures), MAX_BACKOFF_SECONDS)


class OutboxRelay(DependencyProvider):
    """Runs an :class:`OutboxPump` in a managed greenlet for the container's lifetime.

    Config: ``DB_URL``, ``DB_SCHEMA``, ``AMQP_URI``, ``OUTBOX_POLL_SECONDS`` (0.2),
    ``OUTBOX_BATCH`` (500). Injected into the service as itself (``relay_once()``,
    ``wake()``, ``pending()``).
    """

    _gt = None  # until started: a container whose setup failed is killed without one

    def __init__(self, mandatory_exchanges: tuple[str, ...] = (),
                 on_returned: ReturnedHandler | None = None) -> None:
        self.mandatory_exchanges = frozenset(mandatory_exchanges)
        self.on_returned = on_returned

    def setup(self) -> None:
        container = self.container
        missing = [setting.key for setting in (DB_URL, DB_SCHEMA, AMQP_URI)
                   if not setting.of(container)]
        if missing:
            raise RuntimeError(f"OutboxRelay needs config keys {', '.join(missing)}")
        self.poll_seconds = OUTBOX_POLL_SECONDS.of(container)
        self.linger_seconds = OUTBOX_LINGER_SECONDS.of(container)
        self.schema = DB_SCHEMA.of(container)
        self.batch_size = OUTBOX_BATCH.of(container)
        self.engine = make_engine(DB_URL.of(container), pool_size=RELAY_POOL_SIZE)
        publisher = BatchPublisher(AMQP_URI.of(container),
                                   ssl=AMQP_SSL.of(container),
                                   login_method=LOGIN_METHOD.of(container),
                                   mandatory_exchanges=self.mandatory_exchanges)
        self.pump = OutboxPump(self.engine, self.schema, publisher, self.batch_size,
                               on_returned=self.on_returned)
        self._wakeup: LightQueue = LightQueue(maxsize=1)
        self._stopping = False
        self._gt = None

    def start(self) -> None:
        register_container_schema(self.container)
        _relays.setdefault(self.schema, set()).add(self.wake)
        self._gt = self.container.spawn_managed_thread(self._run, identifier="OutboxRelay")

    def stop(self) -> None:
        """Finish the batch in flight, then close (the rest waits for the next start)."""
        self._stopping = True
        self.wake()
        if self._gt is not None:
            self._gt.wait()
        self._close()

    def kill(self) -> None:
        self._stopping = True
        if self._gt is not None:
            self._gt.kill()
        self._close()

    def get_dependency(self, worker_ctx) -> OutboxRelay:
        return self

    def relay_once(self) -> int:
        return self.pump.relay_once()

    def pending(self) -> int:
        return self.pump.pending()

    def wake(self) -> None:
        """Poll now instead of at the end of the interval."""
        try:
            self._wakeup.put_nowait(None)
        except Full:  # already awake
            pass

    def _run(self) -> None:
        failures = 0
        while not self._stopping:
            published, failures = self._step(failures)
            if published < self.batch_size and not self._stopping:
                self._sleep(backoff(self.poll_seconds, failures))

    def _step(self, failures: int) -> tuple[int, int]:
        """One batch; never raises (an exception would kill the container)."""
        try:
            return self.pump.relay_once(), 0
        except Exception as exc:
            log.warning("outbox relay failed (%d in a row): %r", failures + 1, exc)
            return 0, failures + 1

    def _sleep(self, seconds: float) -> None:
        """Until the poll interval ends or a commit wakes us; after a wake, linger
        ``linger_seconds`` (by default only a yield: the commits that land while a round
        runs leave together in the next one)."""
        try:
            self._wakeup.get(timeout=seconds)
        except Empty:
            eventlet.sleep(0)
            return
        eventlet.sleep(self.linger_seconds)

    def _close(self) -> None:
        _relays.get(self.schema, set()).discard(self.wake)
        self.pump.close()
        self.engine.dispose()

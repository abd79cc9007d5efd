"""Reference department adapter for the gridgov bus: plain pika and the standard library.

A department (fire, public security, civil affairs ...) integrates with gridgov only
through RabbitMQ, in whatever language its own system is written in. This file is the
reference client: copy it (it needs nothing but ``pika``), point it at the district's
broker, and it

- checks (passive declares) that the department's own quorum queue
  ``dept.<department>.assignments`` and its ``.dlq`` exist: the platform declares and binds
  them (``python -m tools.bus_users create <department>``), a department user may
  not; only a user with configure rights (development) has them declared here, with the
  same dead-letter arguments gridgov's queues have, bound to ``<department>.#``;
- hands over only the assignments matching the department's patterns (all by default),
  plus its ``<department>.rejections`` and ``<department>.decisions``; the rest is acked
  and counted as ``filtered``;
- consumes with manual acks and a prefetch window, checks each envelope minimally (JSON,
  envelope fields, a (type, version) it knows, the payload's required fields) and moves
  anything else to its dead-letter queue with the reason instead of crashing;
- forwards each message to the department's system -- an HTTP webhook (POST of the
  original JSON body, retried with back-off) or one JSON line on stdout -- and acks the
  AMQP message only once that succeeded: **acknowledged = stored**;
- optionally reports in by itself (``department.report`` v1, kind ``ack`` and, after a
  delay, ``result``) on ``gridgov.reports``, persistent and publisher-confirmed;
- logs the rejections gridgov sends back, reconnects with back-off when the broker goes
  away, and on SIGTERM finishes the message in hand, then closes.

The contract it follows is docs/BUS-CONTRACT.md (prose) and docs/asyncapi.yaml (machine
readable); tools/department_adapter/README.md tells how to run it.
"""

from __future__ import annotations

import argparse
import configparser
import http.client
import json
import logging
import os
import re
import signal
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TextIO
from urllib.parse import urlsplit, urlunsplit

import pika
from pika.exceptions import (
    AMQPChannelError,
    AMQPConnectionError,
    AuthenticationError,
    ChannelClosedByBroker,
    NackError,
    ProbableAccessDeniedError,
    ProbableAuthenticationError,
    UnroutableError,
)

log = logging.getLogger("department_adapter")

# --- the contract, as far as this adapter needs it -------------------------------------------
DISPATCH_EXCHANGE = "gridgov.dispatch"
REPORTS_EXCHANGE = "gridgov.reports"
DEAD_LETTER_EXCHANGE = "gridgov.dlx"
REJECTIONS = "rejections"
DECISIONS = "decisions"
MAX_MESSAGE_BYTES = 256 * 1024
CODE_RE = re.compile(r"^[a-z][a-z0-9]*(?:_[a-z0-9]+)*$")
CODE_MAX_LENGTH = 48
TIMESTAMP_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?Z$")
PATTERN_WORD_RE = re.compile(r"^(?:[a-z0-9_]+|\*|#)$")

ASSIGNMENT = ("dispatch.assignment", 1)
REJECTION = ("platform.rejection", 1)
REJECTION_V2 = ("platform.rejection", 2)  # v1 + original_routing_key, original_exchange
DELAY_DECISION = ("dispatch.delay_decision", 1)
REPORT = ("department.report", 1)
# (type, version) this adapter understands -> payload fields that must be present. Anything
# else is dead-lettered as unknown_type: upgrade the adapter when gridgov announces a new
# type or version (docs/BUS-CONTRACT.md, "Versioning").
REQUIRED_PAYLOAD_FIELDS: dict[tuple[str, int], tuple[str, ...]] = {
    ASSIGNMENT: ("assignment_id", "case_id", "case_number", "department", "role", "town_code",
                 "grid_code", "work_category", "subcategory", "priority", "severity",
                 "description", "location", "ack_due_at", "handle_due_at", "rule_version",
                 "rework"),
    REJECTION: ("original_message_id", "code", "message"),
    REJECTION_V2: ("original_message_id", "original_routing_key", "original_exchange", "code",
                   "message"),
    DELAY_DECISION: ("request_id", "assignment_id", "case_id", "case_number", "department",
                     "approved", "handle_due_at", "note", "decided_at"),
}
ENVELOPE_REQUIRED = ("message_id", "type", "version", "occurred_at", "producer", "payload")
ENVELOPE_FIELDS = frozenset((*ENVELOPE_REQUIRED, "correlation_id"))

# Queue layout: the same arguments gridgov_common.platform.messaging gives gridgov's own queues.
QUEUE_TEMPLATE = "dept.{department}.assignments"
DEFAULT_DELIVERY_LIMIT = 5
DEFAULT_PREFETCH = 10

# Dead-letter headers, as gridgov writes them (docs/BUS-CONTRACT.md section 8).
ERROR_CODE_HEADER = "x-gridgov-error-code"
ERROR_MESSAGE_HEADER = "x-gridgov-error-message"
ERROR_FIELDS_HEADER = "x-gridgov-error-fields"
ORIGINAL_ROUTING_KEY_HEADER = "x-gridgov-original-routing-key"
ORIGINAL_EXCHANGE_HEADER = "x-gridgov-original-exchange"
CONSUMER_HEADER = "x-gridgov-consumer"
DEAD_LETTERED_AT_HEADER = "x-gridgov-dead-lettered-at"
DELIVERY_COUNT_HEADER = "x-delivery-count"

INVALID_JSON = "invalid_json"
MESSAGE_TOO_LARGE = "message_too_large"
INVALID_ENVELOPE = "invalid_envelope"
UNKNOWN_TYPE = "unknown_type"
INVALID_PAYLOAD = "invalid_payload"
WRONG_DEPARTMENT = "wrong_department"
WEBHOOK_REFUSED = "webhook_refused"

# Report ids are derived from the assignment's message_id and the kind, so a report resent
# after a crash or a redelivery carries the same message_id and gridgov deduplicates it.
REPORT_ID_NAMESPACE = uuid.UUID("5b0c3f0e-1d7a-4c55-9e61-0a3f6f0d9a21")
POLL_SECONDS = 0.2
USER_AGENT = "gridgov-department-adapter/1"


class AdapterConfigError(Exception):
    """What retrying cannot fix: a bad setting, a refused login or topology, a closed
    stdout. The adapter stops (exit status 2) and leaves unacked messages in the queue."""


class Refused(Exception):
    """A message this adapter will never be able to hand over: dead-lettered with reason."""

    def __init__(self, code: str, message: str, fields: Mapping[str, Any] | None = None):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.fields = dict(fields or {})


class SinkUnavailable(Exception):
    """The department's system did not store the message this time; try again later."""


class _Stopping(Exception):
    """Raised inside a wait when stop() was called: leave the message unacked."""


class _ConsumerCancelled(Exception):
    """The broker cancelled our consumer (queue deleted, leader moved): start afresh."""


# --- configuration ---------------------------------------------------------------------------

@dataclass
class AdapterConfig:
    """Everything the adapter needs; see ``--help`` and example.ini for the meaning."""

    department: str
    amqp_url: str
    bindings: list[str] = field(default_factory=list)
    webhook: str | None = None
    webhook_headers: dict[str, str] = field(default_factory=dict)
    webhook_timeout: float = 10.0
    auto_ack: bool = False
    auto_result_after: float | None = None
    resolved: bool = True
    prefetch: int = DEFAULT_PREFETCH
    delivery_limit: int = DEFAULT_DELIVERY_LIMIT
    retry_initial: float = 0.5  # webhook back-off: first wait, doubled up to retry_max
    retry_max: float = 30.0
    reconnect_initial: float = 1.0  # broker back-off: first wait, doubled up to reconnect_max
    reconnect_max: float = 30.0

    def __post_init__(self) -> None:
        if not CODE_RE.match(self.department or "") or len(self.department) > CODE_MAX_LENGTH:
            raise AdapterConfigError(f"department must be a lowercase snake_case code "
                                     f"(got {self.department!r})")
        if not self.amqp_url or urlsplit(self.amqp_url).scheme not in ("amqp", "amqps"):
            raise AdapterConfigError("amqp_url must be an amqp:// or amqps:// URL")
        self.bindings = list(dict.fromkeys(self.bindings or [f"{self.department}.#"]))
        for pattern in self.bindings:
            check_pattern(pattern, self.department)
        if self.webhook and urlsplit(self.webhook).scheme not in ("http", "https"):
            raise AdapterConfigError("webhook must be an http:// or https:// URL")
        if self.auto_result_after is not None and self.auto_result_after < 0:
            raise AdapterConfigError("auto_result_after must be >= 0 seconds")
        if self.prefetch < 1 or self.delivery_limit < 0:
            raise AdapterConfigError("prefetch must be >= 1 and delivery_limit >= 0")

    @property
    def queue(self) -> str:
        return QUEUE_TEMPLATE.format(department=self.department)

    @property
    def dead_letter_queue(self) -> str:
        return f"{self.queue}.dlq"

    def queue_arguments(self) -> dict[str, Any]:
        """Quorum queue with a delivery limit and at-least-once dead-lettering into
        ``<queue>.dlq``: a poison message ends there instead of looping for ever."""
        return {
            "x-queue-type": "quorum",
            "x-delivery-limit": self.delivery_limit,
            "x-dead-letter-exchange": DEAD_LETTER_EXCHANGE,
            "x-dead-letter-routing-key": self.dead_letter_queue,
            "x-dead-letter-strategy": "at-least-once",
            "x-overflow": "reject-publish",
        }

    def wants(self, routing_key: str) -> bool:
        """Does ``routing_key`` match one of :meth:`all_bindings` (AMQP topic rules)?"""
        return any(topic_match(pattern, routing_key) for pattern in self.all_bindings())

    def all_bindings(self) -> list[str]:
        """The department's patterns plus its rejections and decisions keys (always wanted)."""
        return list(dict.fromkeys([*self.bindings, f"{self.department}.{REJECTIONS}",
                                   f"{self.department}.{DECISIONS}"]))


def check_pattern(pattern: str, department: str) -> str:
    """A binding pattern must start with the department's own code: a department only
    receives its own assignments (``#`` alone would take every department's cases)."""
    words = pattern.split(".") if isinstance(pattern, str) else []
    if len(words) < 2 or words[0] != department or not all(
            PATTERN_WORD_RE.match(word) for word in words[1:]):
        raise AdapterConfigError(
            f"binding {pattern!r} must be '{department}.' followed by words, '*' or '#' "
            f"(e.g. {department}.# or {department}.*.*.major)")
    return pattern


def topic_match(pattern: str, routing_key: str) -> bool:
    """AMQP topic matching: ``*`` is one word, ``#`` zero or more words."""
    def match(words: list[str], keys: list[str]) -> bool:
        if not words:
            return not keys
        if words[0] == "#":
            return any(match(words[1:], keys[i:]) for i in range(len(keys) + 1))
        return bool(keys) and words[0] in ("*", keys[0]) and match(words[1:], keys[1:])
    return match(pattern.split("."), routing_key.split("."))


def redact(url: str) -> str:
    """The URL without its password, for logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


# --- validating and building envelopes -------------------------------------------------------

def utc_now() -> str:
    """ISO-8601 UTC with milliseconds and ``Z``, as the contract wants."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def parse_message(body: bytes, department: str) -> dict[str, Any]:
    """Check a delivery just enough to hand it over safely; raise :class:`Refused`.

    Deliberately minimal: the department's own system validates business content. What
    is checked is what this adapter relies on: JSON, the envelope's fields and types, a
    (type, version) it knows, and the payload fields it reads or forwards.
    """
    if len(body) > MAX_MESSAGE_BYTES:
        raise Refused(MESSAGE_TOO_LARGE, f"message is {len(body)} bytes",
                      {"size": len(body), "limit": MAX_MESSAGE_BYTES})
    try:
        data = json.loads(body.decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise Refused(INVALID_JSON, f"body is not UTF-8 JSON: {exc}") from None
    if not isinstance(data, dict):
        raise Refused(INVALID_ENVELOPE, "the message must be a JSON object")
    problems: dict[str, list[str]] = {}
    for name in ENVELOPE_REQUIRED:
        if name not in data:
            problems[name] = ["Missing data for required field."]
    for name in sorted(set(data) - ENVELOPE_FIELDS):
        problems[name] = ["Unknown field."]
    if not problems:
        problems.update(_envelope_type_problems(data))
    if problems:
        raise Refused(INVALID_ENVELOPE, "the envelope is malformed", problems)
    key = (data["type"], data["version"])
    required = REQUIRED_PAYLOAD_FIELDS.get(key)
    if required is None:
        raise Refused(UNKNOWN_TYPE, f"{key[0]} v{key[1]} is not known to this adapter "
                      f"(a newer version? upgrade the adapter)",
                      {"type": key[0], "version": key[1]})
    missing = {name: ["Missing data for required field."]
               for name in required if name not in data["payload"]}
    if missing:
        raise Refused(INVALID_PAYLOAD, f"payload does not match {key[0]} v{key[1]}", missing)
    if key == ASSIGNMENT and data["payload"]["department"] != department:
        raise Refused(WRONG_DEPARTMENT, f"assignment for {data['payload']['department']!r} "
                      f"reached the queue of {department!r}",
                      {"department": [data["payload"]["department"]]})
    return data


def _envelope_type_problems(data: dict[str, Any]) -> dict[str, list[str]]:
    problems: dict[str, list[str]] = {}
    try:
        uuid.UUID(str(data["message_id"]))
        if not isinstance(data["message_id"], str):
            raise ValueError
    except ValueError:
        problems["message_id"] = ["Not a valid UUID."]
    if not isinstance(data["type"], str) or not data["type"]:
        problems["type"] = ["Not a valid string."]
    version = data["version"]
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        problems["version"] = ["Not an integer >= 1."]
    if not isinstance(data["occurred_at"], str) or not TIMESTAMP_RE.match(data["occurred_at"]):
        problems["occurred_at"] = ["Not an ISO-8601 UTC timestamp ending in Z."]
    if not isinstance(data["producer"], str):
        problems["producer"] = ["Not a valid string."]
    if not isinstance(data.get("correlation_id"), str | None):
        problems["correlation_id"] = ["Not a valid string."]
    if not isinstance(data["payload"], dict):
        problems["payload"] = ["Not a valid mapping type."]
    return problems


def build_report(department: str, assignment: Mapping[str, Any], kind: str, *,
                 resolved: bool | None = None, note: str | None = None) -> dict[str, Any]:
    """A ``department.report`` v1 envelope answering ``assignment`` (a parsed envelope).

    ``correlation_id`` is the assignment's ``message_id``; the report's own ``message_id``
    is derived from it and the kind, so resending the same report is deduplicated.
    """
    payload = assignment["payload"]
    now = utc_now()
    report_payload: dict[str, Any] = {
        "assignment_id": payload["assignment_id"],
        "case_id": payload["case_id"],
        "department": department,
        "kind": kind,
    }
    if note:
        report_payload["note"] = note
    if kind == "result":
        report_payload["resolved"] = bool(resolved)
    report_payload["reported_at"] = now
    return {
        "message_id": str(uuid.uuid5(REPORT_ID_NAMESPACE, f"{assignment['message_id']}/{kind}")),
        "type": REPORT[0],
        "version": REPORT[1],
        "occurred_at": now,
        "producer": department,
        "correlation_id": assignment["message_id"],
        "payload": report_payload,
    }


def encode(envelope: Mapping[str, Any]) -> bytes:
    return json.dumps(envelope, ensure_ascii=False, separators=(",", ":"),
                      allow_nan=False).encode("utf-8")


# --- where messages go: the department's own system ------------------------------------------

class StdoutSink:
    """One compact JSON line per message (for a pipe into the department's importer, or a
    log). Writing is the 'store': a line written and flushed is acknowledged."""

    def __init__(self, stream: TextIO | None = None, lock: threading.Lock | None = None):
        self.stream = stream
        self.lock = lock or threading.Lock()

    def deliver(self, envelope: dict[str, Any], body: bytes, routing_key: str,
                redelivered: bool) -> None:
        line = json.dumps(envelope, ensure_ascii=False, separators=(",", ":")) + "\n"
        stream = self.stream or sys.stdout
        try:
            with self.lock:
                stream.write(line)
                stream.flush()
        except BrokenPipeError:
            # the reader is gone for good: stop (the message is not acked, nothing is lost)
            raise AdapterConfigError("stdout is closed: nothing can be stored") from None
        except OSError as exc:  # e.g. a full disk behind a redirection: retried
            raise SinkUnavailable(f"cannot write to stdout: {exc}") from None


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect would turn the POST into a GET without body: treat it as a failure."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


class WebhookSink:
    """HTTP POST of the original body. 2xx = stored; 422 = the system refuses this message
    for good (dead-lettered); anything else, or no answer, is retried with back-off --
    a misconfigured URL or token must not throw assignments away."""

    def __init__(self, url: str, headers: Mapping[str, str] | None = None,
                 timeout: float = 10.0):
        self.url = url
        self.headers = dict(headers or {})
        self.timeout = timeout
        self._opener = urllib.request.build_opener(_NoRedirect)

    def deliver(self, envelope: dict[str, Any], body: bytes, routing_key: str,
                redelivered: bool) -> None:
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": USER_AGENT,
            "Idempotency-Key": envelope["message_id"],  # store once per message_id
            "X-Gridgov-Message-Id": envelope["message_id"],
            "X-Gridgov-Type": envelope["type"],
            "X-Gridgov-Version": str(envelope["version"]),
            "X-Gridgov-Routing-Key": routing_key,
            "X-Gridgov-Redelivered": "true" if redelivered else "false",
            **self.headers,
        }
        request = urllib.request.Request(self.url, data=body, headers=headers, method="POST")
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                status = response.status
                response.read()
        except urllib.error.HTTPError as exc:
            text = _read_error(exc)
            if exc.code == 422:
                raise Refused(WEBHOOK_REFUSED, f"the webhook refused the message: {text}",
                              {"status": exc.code}) from None
            raise SinkUnavailable(f"HTTP {exc.code}: {text}") from None
        except (urllib.error.URLError, OSError, ValueError, http.client.HTTPException) as exc:
            raise SinkUnavailable(str(getattr(exc, "reason", exc))) from None
        if not 200 <= status < 300:
            raise SinkUnavailable(f"HTTP {status}")


def _read_error(exc: urllib.error.HTTPError) -> str:
    try:
        return exc.read(500).decode("utf-8", "replace").strip() or exc.reason
    except Exception:  # the body is only for the log
        return str(exc.reason)


# --- the adapter ----------------------------------------------------------------------------

@dataclass
class _Delivery:
    method: Any
    properties: pika.BasicProperties
    body: bytes


@dataclass(eq=False)
class _PendingReport:
    due: float
    kind: str
    assignment: dict[str, Any]
    attempts: int = 0


class DepartmentAdapter:
    """Consumes one department's queue and hands every message to its system.

    ``run()`` blocks until ``stop()`` and survives broker restarts. ``stop()`` only sets a
    flag that the loop reads every 0.2 s, so it is safe from another thread and from a
    signal handler (where taking a lock, as ``threading.Event.set`` does, can deadlock).
    All AMQP work happens in the thread that called ``run()``: pika's BlockingConnection
    is not thread-safe.
    """

    def __init__(self, config: AdapterConfig, output: TextIO | None = None,
                 output_lock: threading.Lock | None = None):
        self.config = config
        self.log = logging.getLogger(f"department_adapter.{config.department}")
        self.sink: StdoutSink | WebhookSink
        if config.webhook:
            self.sink = WebhookSink(config.webhook, config.webhook_headers,
                                    config.webhook_timeout)
        else:
            self.sink = StdoutSink(output, output_lock)
        self.consuming = threading.Event()  # set while the consumer is up (tests, health)
        self.stats = {"forwarded": 0, "dead_lettered": 0, "rejections": 0, "reports": 0,
                      "connections": 0, "filtered": 0}
        self._stop_requested = False
        self._cancelled = False
        self._deliveries: deque[_Delivery] = deque()
        self._reports: list[_PendingReport] = []  # in memory: auto reports are a demo aid
        self._connection: pika.BlockingConnection | None = None
        self._channel: Any = None
        self._reached_consuming = False

    # lifecycle

    def stop(self) -> None:
        """Ask the loop to finish the message in hand and close (signal- and thread-safe)."""
        self._stop_requested = True

    @property
    def stopping(self) -> bool:
        return self._stop_requested

    def _pause(self, seconds: float) -> None:
        """Sleep between reconnection attempts, waking up early on stop()."""
        deadline = time.monotonic() + seconds
        while not self._stop_requested and time.monotonic() < deadline:
            time.sleep(min(POLL_SECONDS, max(deadline - time.monotonic(), 0)))

    def run(self) -> None:
        """Consume until stop(); reconnect with exponential back-off when the broker or the
        network fails. Raises AdapterConfigError for what retrying cannot fix."""
        delay = self.config.reconnect_initial
        while not self._stop_requested:
            self._reached_consuming = False
            try:
                self._session()
            except (AuthenticationError, ProbableAuthenticationError,
                    ProbableAccessDeniedError) as exc:
                raise AdapterConfigError(f"the broker refused the login: {exc!r}") from None
            except (AMQPConnectionError, AMQPChannelError, OSError, _ConsumerCancelled) as exc:
                if self._stop_requested:
                    break
                if self._reached_consuming:  # it worked until now: retry quickly first
                    delay = self.config.reconnect_initial
                self.log.warning("broker connection lost (%r); reconnecting in %.1f s",
                                 exc, delay)
                self._pause(delay)
                delay = min(delay * 2, self.config.reconnect_max)
        self.log.info("stopped (%s)", ", ".join(f"{k}={v}" for k, v in self.stats.items()))

    def _session(self) -> None:
        params = pika.URLParameters(self.config.amqp_url)
        self._login = params.credentials.username  # the user_id of our reports
        params.client_properties = {
            "connection_name": f"department-adapter:{self.config.department}",
            "product": USER_AGENT}
        if params.blocked_connection_timeout is None:
            params.blocked_connection_timeout = 60  # a blocked publish must not hang forever
        self.log.info("connecting to %s", redact(self.config.amqp_url))
        connection = pika.BlockingConnection(params)
        self.stats["connections"] += 1
        self._deliveries.clear()
        self._cancelled = False
        try:
            channel = self._declare(connection)
            channel.add_on_cancel_callback(self._on_cancel)
            channel.confirm_delivery()  # every publish waits for the broker's confirm
            channel.basic_qos(prefetch_count=self.config.prefetch)
            channel.basic_consume(self.config.queue, self._on_delivery, auto_ack=False)
            self._connection, self._channel = connection, channel
            self._reached_consuming = True
            self.consuming.set()
            self.log.info("consuming %s (bindings: %s)", self.config.queue,
                          ", ".join(self.config.all_bindings()))
            while not self._stop_requested:
                connection.process_data_events(time_limit=POLL_SECONDS)
                self._flush_reports()
                while self._deliveries and not self._stop_requested:
                    self._handle(self._deliveries.popleft())
                    self._flush_reports()
                if self._cancelled and not self._deliveries:
                    raise _ConsumerCancelled(f"the broker cancelled our consumer of "
                                             f"{self.config.queue}")
        finally:
            self.consuming.clear()
            self._deliveries.clear()  # unacked: the broker gives them back on close
            self._connection = self._channel = None
            if connection.is_open:
                try:
                    connection.close()
                except Exception as exc:  # closing a broken connection
                    self.log.debug("while closing: %r", exc)

    def _declare(self, connection: pika.BlockingConnection) -> Any:
        """Check the topology on a fresh channel, which it returns: the exchanges, the DLQ
        and the queue, all with passive declares, which need no permission. The platform
        declares and binds a department's queues (a department user has no configure
        right); if they are missing, only a user that may declare (development, guest)
        declares them here, exactly as the platform would."""
        config = self.config
        channel = connection.channel()
        try:
            for exchange in (DISPATCH_EXCHANGE, REPORTS_EXCHANGE, DEAD_LETTER_EXCHANGE):
                channel = self._ensure_exchange(connection, channel, exchange)
            for queue in (config.dead_letter_queue, config.queue):
                channel.queue_declare(queue, passive=True)
            return channel
        except ChannelClosedByBroker as exc:
            if exc.reply_code != 404:
                raise
            self.log.warning("%s is missing (%s); declaring it", config.queue, exc.reply_text)
        channel = connection.channel()  # the 404 closed the previous one
        try:
            channel.queue_declare(config.dead_letter_queue, durable=True,
                                  arguments={"x-queue-type": "quorum"})
            channel.queue_bind(config.dead_letter_queue, DEAD_LETTER_EXCHANGE,
                               routing_key=config.dead_letter_queue)
            channel.queue_declare(config.queue, durable=True,
                                  arguments=config.queue_arguments())
            channel.queue_bind(config.queue, DISPATCH_EXCHANGE,
                               routing_key=f"{config.department}.#")
        except ChannelClosedByBroker as exc:
            if exc.reply_code in (403, 406):  # ACCESS_REFUSED, PRECONDITION_FAILED
                raise AdapterConfigError(
                    f"the broker refused the topology of {config.queue}: {exc.reply_text} "
                    f"(a department user cannot declare its queues: the operators create "
                    f"them with `python -m tools.bus_users create "
                    f"{config.department}`; an existing queue with other arguments needs a "
                    f"new name or a policy)") from None
            raise
        return channel

    @staticmethod
    def _ensure_exchange(connection: pika.BlockingConnection, channel: Any,
                         exchange: str) -> Any:
        """Check the exchange exists (a passive declare needs no 'configure' permission, so
        a least-privilege department user works); declare it, exactly as gridgov does
        (topic, durable), only if it is missing. Returns the usable channel."""
        try:
            channel.exchange_declare(exchange, passive=True)
            return channel
        except ChannelClosedByBroker as exc:
            if exc.reply_code != 404:
                raise
        channel = connection.channel()  # the 404 closed the previous one
        channel.exchange_declare(exchange, exchange_type="topic", durable=True)
        return channel

    def _on_delivery(self, channel: Any, method: Any, properties: pika.BasicProperties,
                     body: bytes) -> None:
        """pika callback: only queue the delivery. Work happens in the loop, so waiting
        for a webhook can keep serving the connection (heartbeats) without re-entrancy."""
        self._deliveries.append(_Delivery(method, properties, body))

    def _on_cancel(self, method_frame: Any) -> None:
        self._cancelled = True

    # handling one message

    def _handle(self, delivery: _Delivery) -> None:
        tag = delivery.method.delivery_tag
        if not self.config.wants(delivery.method.routing_key):
            # the platform binds <department>.#; the patterns choose what is handed over
            self._channel.basic_ack(tag)
            self.stats["filtered"] += 1
            self.log.debug("filtered out %s (bindings: %s)", delivery.method.routing_key,
                           ", ".join(self.config.all_bindings()))
            return
        try:
            envelope = parse_message(delivery.body, self.config.department)
        except Refused as exc:
            self._dead_letter(delivery, exc)
            return
        try:
            self._forward(envelope, delivery)
            if (envelope["type"], envelope["version"]) in (REJECTION, REJECTION_V2):
                self._log_rejection(envelope)
            elif (envelope["type"], envelope["version"]) == DELAY_DECISION:
                self._log_decision(envelope)
            elif self.config.auto_ack:
                self._report_now(envelope)
            self._channel.basic_ack(tag)  # acknowledged = stored (and reported)
            self.stats["forwarded"] += 1
        except Refused as exc:
            self._dead_letter(delivery, exc)
        except _Stopping:
            self.log.info("stopping: %s left unacknowledged (it will be redelivered)",
                          envelope["message_id"])
        except (AMQPConnectionError, AMQPChannelError, OSError, AdapterConfigError):
            raise
        except Exception:
            # a bug or an unexpected failure: requeue; the quorum queue counts deliveries
            # and dead-letters the message after the delivery limit, so nothing loops.
            self.log.exception("could not handle %s; requeued", envelope["message_id"])
            try:
                self._wait(self.config.retry_initial)
            except _Stopping:
                return  # unacked: the broker requeues it when we close
            self._channel.basic_reject(tag, requeue=True)

    def _forward(self, envelope: dict[str, Any], delivery: _Delivery) -> None:
        """Hand over to the department's system, retrying (with back-off, serving the AMQP
        connection meanwhile) until it answers; stop() interrupts the retries."""
        delay = self.config.retry_initial
        attempt = 0
        while True:
            attempt += 1
            try:
                self.sink.deliver(envelope, delivery.body, delivery.method.routing_key,
                                  bool(delivery.method.redelivered))
                if attempt > 1:
                    self.log.info("forwarded %s after %d attempts", envelope["message_id"],
                                  attempt)
                return
            except SinkUnavailable as exc:
                self.log.warning("could not hand over %s (attempt %d: %s); retrying in "
                                 "%.1f s", envelope["message_id"], attempt, exc, delay)
            self._wait(delay)
            delay = min(delay * 2, self.config.retry_max)

    def _wait(self, seconds: float) -> None:
        """Sleep while serving the connection (heartbeats, new deliveries are only queued);
        raise _Stopping as soon as stop() was called."""
        deadline = time.monotonic() + seconds
        while True:
            if self._stop_requested:
                raise _Stopping
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            if self._connection is not None:
                self._connection.process_data_events(time_limit=min(remaining, POLL_SECONDS))
            else:
                time.sleep(min(remaining, POLL_SECONDS))

    def _log_rejection(self, envelope: dict[str, Any]) -> None:
        payload = envelope["payload"]
        self.stats["rejections"] += 1
        self.log.warning("gridgov rejected our message %s (%s): %s: %s %s",
                         payload.get("original_message_id"),
                         payload.get("original_routing_key", "?"), payload.get("code"),
                         payload.get("message"),
                         json.dumps(payload.get("fields") or {}, ensure_ascii=False))

    def _log_decision(self, envelope: dict[str, Any]) -> None:
        """P5.3.3: forwarded like everything else; logged so operators see the outcome."""
        payload = envelope["payload"]
        self.stats["decisions"] = self.stats.get("decisions", 0) + 1
        self.log.info("delay request %s %s: assignment %s now due %s",
                      payload.get("request_id"),
                      "approved" if payload.get("approved") else "denied",
                      payload.get("assignment_id"), payload.get("handle_due_at"))

    def _dead_letter(self, delivery: _Delivery, exc: Refused) -> None:
        """Copy the message unchanged, with the reason in headers, to our DLQ, then ack.
        If the copy is not confirmed, reject without requeue: the broker dead-letters it
        (same DLQ, its own x-death headers)."""
        method, props = delivery.method, delivery.properties
        headers = {key: value for key, value in (props.headers or {}).items()
                   if key != DELIVERY_COUNT_HEADER}
        fields_json = json.dumps(exc.fields, ensure_ascii=False, default=str)
        headers.update({
            ERROR_CODE_HEADER: exc.code,
            ERROR_MESSAGE_HEADER: exc.message[:1024],
            ERROR_FIELDS_HEADER: fields_json if len(fields_json) <= 4096 else json.dumps(
                {"_truncated": fields_json[:4096]}),
            ORIGINAL_ROUTING_KEY_HEADER: method.routing_key or "",
            ORIGINAL_EXCHANGE_HEADER: method.exchange or "",
            CONSUMER_HEADER: f"department_adapter.{self.config.department}",
            DEAD_LETTERED_AT_HEADER: utc_now(),
        })
        copy = pika.BasicProperties(
            content_type=props.content_type or "application/octet-stream",
            content_encoding=props.content_encoding, message_id=props.message_id,
            correlation_id=props.correlation_id, type=props.type, app_id=props.app_id,
            timestamp=props.timestamp, delivery_mode=2, headers=headers)
        try:
            self._channel.basic_publish(DEAD_LETTER_EXCHANGE, self.config.dead_letter_queue,
                                        delivery.body, copy, mandatory=True)
        except (UnroutableError, NackError) as publish_exc:
            self.log.error("could not copy to %s (%r); rejecting to the broker's "
                           "dead-lettering", self.config.dead_letter_queue, publish_exc)
            self._channel.basic_reject(method.delivery_tag, requeue=False)
        else:
            self._channel.basic_ack(method.delivery_tag)
        self.stats["dead_lettered"] += 1
        self.log.warning("dead-lettered a message (key %s) to %s: %s: %s",
                         method.routing_key, self.config.dead_letter_queue, exc.code,
                         exc.message)

    # automatic reports (simulation and smoke tests)

    def _report_now(self, assignment: dict[str, Any]) -> None:
        """Report in (kind ack) before acking the assignment; schedule the result."""
        self._publish_or_retry(_PendingReport(time.monotonic(), "ack", assignment))
        if self.config.auto_result_after is not None:
            self._reports.append(_PendingReport(
                time.monotonic() + self.config.auto_result_after, "result", assignment))

    def _flush_reports(self) -> None:
        now = time.monotonic()
        due = [report for report in self._reports if report.due <= now]
        for report in sorted(due, key=lambda pending: pending.due):
            self._reports.remove(report)
            self._publish_or_retry(report)

    def _publish_or_retry(self, report: _PendingReport) -> None:
        """Publish persistently with confirms and ``mandatory``; if the broker could not
        route or store it, keep it and retry with back-off (connection errors propagate:
        the report stays queued in memory across the reconnect)."""
        department = self.config.department
        note = ("taken (reported by the reference adapter)" if report.kind == "ack"
                else "result reported by the reference adapter")
        envelope = build_report(department, report.assignment, report.kind,
                                resolved=self.config.resolved, note=note)
        properties = pika.BasicProperties(
            content_type="application/json", delivery_mode=2,
            message_id=envelope["message_id"], type=envelope["type"],
            correlation_id=envelope["correlation_id"], app_id=USER_AGENT,
            # the broker checks it is our login; gridgov checks it is our department's user
            user_id=self._login)
        try:
            self._channel.basic_publish(REPORTS_EXCHANGE, f"{department}.{report.kind}",
                                        encode(envelope), properties, mandatory=True)
        except (UnroutableError, NackError) as exc:
            report.attempts += 1
            wait = min(self.config.retry_initial * 2 ** report.attempts, self.config.retry_max)
            report.due = time.monotonic() + wait
            self._reports.append(report)
            self.log.warning("report %s (%s) not taken by the broker (%r); retrying in %.1f s",
                             envelope["message_id"], report.kind, exc, wait)
            return
        except (AMQPConnectionError, AMQPChannelError, OSError):
            self._reports.append(report)
            raise
        self.stats["reports"] += 1
        self.log.info("reported %s on assignment %s (%s)", report.kind,
                      report.assignment["payload"]["assignment_id"], envelope["message_id"])


# --- command line ----------------------------------------------------------------------------

def parse_bool(text: str) -> bool:
    value = str(text).strip().lower()
    if value in ("true", "yes", "1", "on"):
        return True
    if value in ("false", "no", "0", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def _header(text: str) -> tuple[str, str]:
    name, sep, value = text.partition(":")
    if not sep or not name.strip():
        raise argparse.ArgumentTypeError(f"expected 'Name: value', got {text!r}")
    return name.strip(), value.strip()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tools.department_adapter",
        description="Consume a department's gridgov assignments and hand them to its system.")
    parser.add_argument("--config", help="INI file with an [adapter] section (example.ini); "
                        "command-line options override it")
    parser.add_argument("--department", help="your department code, e.g. fire")
    parser.add_argument("--amqp-url", help="amqp://user:password@host:5672/vhost (default: "
                        "$DEPARTMENT_AMQP_URL, which keeps the password out of ps)")
    parser.add_argument("--bind", action="append", metavar="PATTERN",
                        help="routing-key pattern of the assignments to hand over, "
                             "repeatable (default '<department>.#'); the rest is acked and "
                             "counted as filtered; <department>.rejections and .decisions "
                             "are always handed over")
    sink = parser.add_mutually_exclusive_group()
    sink.add_argument("--webhook", help="POST every message to this URL (2xx = stored)")
    sink.add_argument("--stdout", action="store_true",
                      help="print every message as one JSON line (the default)")
    parser.add_argument("--webhook-header", action="append", type=_header, metavar="'N: V'",
                        help="extra HTTP header for the webhook, e.g. 'Authorization: "
                             "Bearer ...' (repeatable)")
    parser.add_argument("--webhook-timeout", type=float, help="seconds (default 10)")
    parser.add_argument("--auto-ack", action="store_true", default=None,
                        help="report in (kind ack) on gridgov.reports for every assignment")
    parser.add_argument("--auto-result-after", type=float, metavar="SECONDS",
                        help="with --auto-ack: report kind result this long after")
    parser.add_argument("--resolved", type=parse_bool, metavar="true|false",
                        help="the auto result's 'resolved' (default true)")
    parser.add_argument("--prefetch", type=int, help=f"default {DEFAULT_PREFETCH}")
    parser.add_argument("--delivery-limit", type=int,
                        help=f"x-delivery-limit of the queue, only when the adapter "
                             f"declares it itself (default {DEFAULT_DELIVERY_LIMIT})")
    parser.add_argument("--log-level", default=None, help="DEBUG, INFO (default), WARNING")
    return parser


def _from_ini(path: str) -> dict[str, Any]:
    parser = configparser.ConfigParser(interpolation=None)
    if not parser.read(path, encoding="utf-8"):
        raise AdapterConfigError(f"cannot read config file {path}")
    if not parser.has_section("adapter"):
        raise AdapterConfigError(f"{path} has no [adapter] section")
    section = parser["adapter"]

    def words(name: str) -> list[str]:
        return [w for w in re.split(r"[\s,]+", section.get(name, "")) if w]

    values: dict[str, Any] = {}
    for name in ("department", "amqp_url", "webhook", "log_level"):
        if section.get(name):
            values[name] = section.get(name)
    if words("bind"):
        values["bindings"] = words("bind")
    headers = [line for line in section.get("webhook_header", "").splitlines() if line.strip()]
    if headers:
        values["webhook_headers"] = dict(_header(line) for line in headers)
    for name in ("webhook_timeout", "auto_result_after"):
        if section.get(name):
            values[name] = section.getfloat(name)
    for name in ("prefetch", "delivery_limit"):
        if section.get(name):
            values[name] = section.getint(name)
    for name in ("auto_ack", "resolved", "stdout"):
        if section.get(name):
            values[name] = parse_bool(section.get(name))
    return values


def config_from_args(args: argparse.Namespace,
                     environ: Mapping[str, str] | None = None) -> tuple[AdapterConfig, str]:
    """Merge INI file, environment and command line (in rising priority)."""
    environ = os.environ if environ is None else environ
    values = _from_ini(args.config) if args.config else {}
    cli = {
        "department": args.department, "amqp_url": args.amqp_url, "bindings": args.bind,
        "webhook": args.webhook, "webhook_timeout": args.webhook_timeout,
        "auto_ack": args.auto_ack, "auto_result_after": args.auto_result_after,
        "resolved": args.resolved, "prefetch": args.prefetch,
        "delivery_limit": args.delivery_limit, "log_level": args.log_level,
        "webhook_headers": dict(args.webhook_header) if args.webhook_header else None,
    }
    values.update({key: value for key, value in cli.items() if value is not None})
    if args.stdout:
        values.pop("webhook", None)
    values.pop("stdout", None)
    values.setdefault("amqp_url", environ.get("DEPARTMENT_AMQP_URL", ""))
    log_level = values.pop("log_level", None) or "INFO"
    if not values.get("department"):
        raise AdapterConfigError("--department is required")
    if values.get("auto_result_after") is not None and not values.get("auto_ack"):
        raise AdapterConfigError("--auto-result-after needs --auto-ack")
    return AdapterConfig(**values), log_level


def main(argv: list[str] | None = None,
         install_signals: bool = True) -> int:
    """Run one adapter until SIGTERM/SIGINT. Exit 0 after a clean stop, 2 on bad settings."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        config, log_level = config_from_args(args)
    except AdapterConfigError as exc:
        parser.error(str(exc))
    configure_logging(log_level)
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(encoding="utf-8")  # descriptions are Chinese text
    adapter = DepartmentAdapter(config)
    if install_signals:
        _install_stop_signals(adapter.stop)
    try:
        adapter.run()
    except AdapterConfigError as exc:
        log.error("%s", exc)
        return 2
    return 0


def configure_logging(level: str) -> None:
    """Our lines on stderr (stdout carries the messages); pika's own (a traceback for every
    failed reconnection attempt) only at DEBUG: our warnings say what matters."""
    logging.basicConfig(level=level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if logging.getLogger().level > logging.DEBUG:
        logging.getLogger("pika").setLevel(logging.CRITICAL)


def _install_stop_signals(stop: Callable[[], None]) -> None:
    """SIGTERM (systemd, docker stop) and SIGINT stop after the message in hand."""
    def handler(signum: int, frame: Any) -> None:
        log.info("signal %d: finishing the current message, then closing", signum)
        stop()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


if __name__ == "__main__":
    sys.exit(main())

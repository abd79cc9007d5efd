"""What every gridgov service serves: /healthz, /readyz, /metrics, /openapi.json.

A service class inherits :class:`PlatformService` and gets a per-worker database
session (``self.db``), JSON logs with the call id, and the four operational routes.
"""

from __future__ import annotations

import logging
from datetime import timedelta

import eventlet
import sqlalchemy as sa
from kombu import Connection
from nameko.extensions import DependencyProvider
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from werkzeug.wrappers import Response

from gridgov_common.kernel.errors import ServiceUnavailable
from gridgov_common.platform import outbox, ratelimit, settings, web
from gridgov_common.platform.db import DB_SCHEMA, DB_URL, Database
from gridgov_common.platform.logs import CallIdLogging
from gridgov_common.platform.messaging import prune_processed_messages
from gridgov_common.platform.openapi import build_openapi
from gridgov_common.platform.settings import NUMBER, POSITIVE, POSITIVE_INTEGER, Setting, Settings
from gridgov_common.platform.timers import config_timer
from gridgov_common.platform.web import http

log = logging.getLogger(__name__)
PROBE_TIMEOUT = 2.0


DEFAULT_RETENTION_HOURS = 14 * 24.0
MIN_RETENTION_HOURS = 48.0
DEFAULT_PRUNE_BATCH = 100_000


def _check_claim_hours(key: str, hours: float) -> None:
    if hours < MIN_RETENTION_HOURS:
        raise RuntimeError(f"{key}={hours:g}: keeping claims less than "
                           f"{MIN_RETENTION_HOURS:g} h would break idempotency")


PROCESSED_MESSAGES_RETENTION_HOURS = Setting(
    "PROCESSED_MESSAGES_RETENTION_HOURS", NUMBER, DEFAULT_RETENTION_HOURS,
    "hours a handled message's idempotency claim is kept (at least 48)",
    check=_check_claim_hours)
PRUNE_BATCH = Setting("PRUNE_BATCH", POSITIVE_INTEGER, DEFAULT_PRUNE_BATCH,
                      "claims forgotten per pruning run")
PRUNE_SECONDS = Setting("PRUNE_SECONDS", POSITIVE, 600.0, "seconds between pruning runs")

PLATFORM_SETTINGS = Settings(
    settings.NAMEKO, DB_URL, DB_SCHEMA,
    web.JWT_SECRET, web.JWT_PREVIOUS_SECRET, web.MAX_BODY_BYTES,
    ratelimit.TRUSTED_PROXIES,  # read by any route with a rate limit (platform/web.py)
    outbox.OUTBOX_POLL_SECONDS, outbox.OUTBOX_BATCH, outbox.OUTBOX_LINGER_SECONDS,
    PROCESSED_MESSAGES_RETENTION_HOURS, PRUNE_BATCH, PRUNE_SECONDS)
"""The keys every service reads: nameko's, its database, HTTP, outbox and claims."""


class Readiness(DependencyProvider):
    """Checks that this service can reach its database and the broker."""

    def get_dependency(self, worker_ctx):
        return self

    def check(self) -> dict[str, str]:
        return {"database": self._database(), "broker": self._broker()}

    def _database(self) -> str:
        engines = [d.engine for d in self.container.dependencies
                   if isinstance(d, Database) and d.engine is not None]
        try:
            for engine in engines:
                with engine.connect() as conn:
                    conn.execute(sa.text("SELECT 1"))
        except Exception as exc:  # readiness reports, it does not raise
            log.warning("database not ready: %s", exc)
            return "down"
        return "ok"

    def _broker(self) -> str:
        try:
            with Connection(settings.AMQP_URI.read(self.container.config),
                            connect_timeout=PROBE_TIMEOUT) as conn:
                conn.ensure_connection(max_retries=1, timeout=PROBE_TIMEOUT)
        except Exception as exc:  # readiness reports, it does not raise
            log.warning("broker not ready: %s", exc)
            return "down"
        return "ok"


class Heartbeat(DependencyProvider):
    """Wakes the eventlet hub every second.

    Python runs a signal handler only when the main thread runs bytecode; an idle service
    sleeping in the hub could take a minute to act on SIGTERM (``make down``, Kubernetes).
    """

    INTERVAL = 1.0

    def start(self) -> None:
        self.container.spawn_managed_thread(self._beat, identifier="heartbeat")

    def _beat(self) -> None:
        while True:
            eventlet.sleep(self.INTERVAL)


class MessageRetention(DependencyProvider):
    """How long a service remembers the messages it has handled (``processed_messages``,
    the idempotency claims) and how many it forgets per run.

    A claim must outlive every way the same message can come back: a broker redelivery
    (seconds), an outbox relay retrying until the broker confirms (minutes), a department
    system resending after its own outage. Dead letters were never claimed (the claim rolls
    back with the failed handling), so replaying one within the DLQs' 14 days is not a
    duplicate. Default 14 days; less than 2 days is refused at start."""

    DEFAULT_HOURS = DEFAULT_RETENTION_HOURS
    MIN_HOURS = MIN_RETENTION_HOURS
    DEFAULT_BATCH = DEFAULT_PRUNE_BATCH

    def setup(self) -> None:
        self.older_than = timedelta(hours=PROCESSED_MESSAGES_RETENTION_HOURS.of(self.container))
        self.batch = PRUNE_BATCH.of(self.container)

    def get_dependency(self, worker_ctx):
        return self


class PlatformService:
    """Base class of the five services. Each declares ``declared_settings`` (its
    ``services/<svc>/settings.py`` ``SETTINGS``); ``settings_check`` refuses to start on a
    bad or unknown key."""

    name = "platform"
    title = "gridgov service"
    description = ""
    declared_settings: Settings = PLATFORM_SETTINGS

    settings_check = settings.SettingsCheck()

    db = Database()
    readiness = Readiness()
    call_id = CallIdLogging()
    heartbeat = Heartbeat()
    message_retention = MessageRetention()

    @config_timer(PRUNE_SECONDS)
    def prune_processed_messages(self):
        """Forget idempotency claims past their retention, oldest first, a bounded batch
        per run (issue 17 soak: 164,000 claims in 40 minutes, never pruned before)."""
        pruned = prune_processed_messages(self.db, self.message_retention.older_than,
                                          limit=self.message_retention.batch)
        if pruned:
            log.info("pruned %d processed-message claims", pruned)

    @http("GET", "/healthz", public=True, tags=("ops",),
          summary="Process liveness (no dependencies checked)")
    def healthz(self, request):
        return {"status": "ok", "service": self.name}

    @http("GET", "/readyz", public=True, tags=("ops",),
          summary="Readiness: database and broker reachable")
    def readyz(self, request):
        checks = self.readiness.check()
        if any(state != "ok" for state in checks.values()):
            raise ServiceUnavailable("not ready", fields=checks)
        return {"status": "ready", "service": self.name, "checks": checks}

    @http("GET", "/metrics", public=True, tags=("ops",), produces=CONTENT_TYPE_LATEST,
          summary="Prometheus metrics")
    def metrics(self, request):
        return Response(generate_latest(), content_type=CONTENT_TYPE_LATEST)

    @http("GET", "/openapi.json", public=True, tags=("ops",),
          summary="This service's OpenAPI 3 document")
    def openapi(self, request):
        return build_openapi(self.readiness.container, self.title, description=self.description)

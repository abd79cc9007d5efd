"""The sender: pending deliveries out to their channels, retried with growing delays, then
dead-lettered where operators see them (``GET /deliveries?state=dead``).

Why retries are scheduled in the database and not with per-attempt TTL queues: the
``deliveries`` row already exists (it is the idempotency record), so its ``attempts`` and
``next_attempt_at`` *are* the schedule — one place to look for "what happened to this
message", no queue per delay step to declare and keep in step with the config, any delay
formula (``RETRY_BASE_SECONDS`` × 2^(attempt−1), capped at ``RETRY_MAX_SECONDS``), an
operator retry is one UPDATE, and major-event alerts overtake everything in one
``ORDER BY priority``.  The cost is polling (``SEND_POLL_SECONDS``, plus a wake-up right
after a consumer commits new deliveries).

One round: (1) claim a batch in a short transaction — ``FOR UPDATE SKIP LOCKED`` so
replicas share the work, ``attempts + 1`` and ``next_attempt_at`` pushed ``LEASE_SECONDS``
ahead (the lease: if this process dies mid-send, the row is due again after it);
(2) send, ``SEND_CONCURRENCY`` at a time, with no transaction open; (3) record in one
transaction: sent rows marked ``sent`` with their ``notify.sent`` in the outbox, failed
rows rescheduled or, after ``MAX_ATTEMPTS``, marked ``dead``.  A crash between (2) and (3)
resends only what was not marked sent (at-least-once; webhook receivers deduplicate by
``X-Gridgov-Delivery``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import eventlet
import sqlalchemy as sa
from eventlet.greenpool import GreenPool
from nameko.extensions import DependencyProvider
from sqlalchemy.dialects import postgresql as pg

from gridgov_common.contract import format_timestamp
from gridgov_common.platform.db import Database, fixed, transaction
from gridgov_common.platform.pii_provider import Pii
from gridgov_common.platform.settings import check_container
from services.notify import accepting, channels, contacts
from services.notify import settings as declared
from services.notify.domain import templates
from services.notify.models import deliveries, notifications, subscriptions

log = logging.getLogger(__name__)
ERROR_MAX = 500


@dataclass(frozen=True)
class Settings:
    batch: int = 200
    concurrency: int = 64
    poll_seconds: float = 0.1
    lease_seconds: float = 60.0
    retry_base: float = 30.0
    retry_max: float = 3600.0
    max_attempts: int = 6
    loops: int = 2

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Settings:
        """The sender's settings (services/notify/settings.py); a bad one raises."""
        return cls(batch=declared.SEND_BATCH.read(config),
                   concurrency=declared.SEND_CONCURRENCY.read(config),
                   poll_seconds=declared.SEND_POLL_SECONDS.read(config),
                   lease_seconds=declared.LEASE_SECONDS.read(config),
                   retry_base=declared.RETRY_BASE_SECONDS.read(config),
                   retry_max=declared.RETRY_MAX_SECONDS.read(config),
                   max_attempts=declared.MAX_ATTEMPTS.read(config),
                   loops=declared.SENDER_LOOPS.read(config))

    def delay(self, attempts: int) -> float:
        """Seconds before attempt ``attempts + 1``: base, 2×base, 4×base… capped."""
        return min(self.retry_base * 2 ** max(attempts - 1, 0), self.retry_max)


# what the sender needs of a delivery's notification, returned by the claim itself
NOTE_COLUMNS = (notifications.c.case_id, notifications.c.kind, notifications.c.template,
                notifications.c.params)


def claim(session, settings: Settings) -> list[sa.Row]:
    """Lease a batch of due deliveries; each row also carries its notification's
    ``NOTE_COLUMNS`` (one statement instead of a second query per round)."""
    due = (sa.select(deliveries.c.delivery_id)
           .where(deliveries.c.state == fixed("pending"),
                  deliveries.c.next_attempt_at <= sa.func.now())
           .order_by(deliveries.c.priority, deliveries.c.next_attempt_at)
           .limit(settings.batch).with_for_update(skip_locked=True).cte("due"))
    lease = sa.func.now() + timedelta(seconds=settings.lease_seconds)
    return list(session.execute(
        sa.update(deliveries).where(deliveries.c.delivery_id == due.c.delivery_id,
                                    notifications.c.notification_id ==
                                    deliveries.c.notification_id)
        .values(attempts=deliveries.c.attempts + 1, next_attempt_at=lease)
        .returning(*deliveries.c, *NOTE_COLUMNS)))


def _subscriptions(session, rows: list[sa.Row]) -> dict[int, sa.Row]:
    """Read in every round: a deactivation or a secret rotation applies at once."""
    return {row.subscription_id: row for row in session.execute(
        sa.select(subscriptions).where(subscriptions.c.subscription_id.in_(
            {row.subscription_id for row in rows})))}


_MARK_SENT = (sa.update(deliveries)
              .where(deliveries.c.delivery_id == sa.func.any(
                  sa.bindparam("ids", type_=pg.ARRAY(sa.BigInteger))))
              .values(state="sent", sent_at=sa.bindparam("now"), last_error=None))


def outgoing(row: sa.Row, sub: sa.Row, address: str, secret: str | None,
             now: datetime, previous_secret: str | None = None) -> channels.Outgoing:
    """The message in the subscriber's own locale (``row``: a claimed delivery)."""
    title, body = templates.render(row.template, sub.locale, row.params)
    document = {"delivery_id": row.delivery_id, "notification_id": str(row.notification_id),
                "cause_id": row.cause_id, "case_id": row.case_id, "kind": row.kind,
                "template": row.template, "locale": sub.locale, "title": title, "body": body,
                "params": row.params, "sent_at": format_timestamp(now)}
    return channels.Outgoing(row.delivery_id, address, secret, title, body, document,
                             previous_secret)


class Sender(DependencyProvider):
    """Runs ``Settings.loops`` sender loops in managed threads of the container."""

    def setup(self) -> None:
        check_container(self.container)
        config = self.container.config
        self.settings = Settings.from_config(config)
        self.senders, self.pool = channels.build(config)
        self.cipher = None
        self.wakeup = eventlet.event.Event()
        self.running = False

    def start(self) -> None:
        self.cipher = next(d.cipher for d in self.container.dependencies
                           if isinstance(d, Pii))
        self.running = True
        for number in range(self.settings.loops):
            self.container.spawn_managed_thread(self._loop, identifier=f"sender-{number}")

    def stop(self) -> None:
        self.running = False
        self.wake()
        self.pool.close()

    def kill(self) -> None:
        self.stop()

    def get_dependency(self, worker_ctx) -> Sender:
        return self

    def wake(self) -> None:
        if not self.wakeup.ready():
            self.wakeup.send(True)

    def _engine(self) -> sa.Engine:
        return next(d.engine for d in self.container.dependencies
                    if isinstance(d, Database) and d.engine is not None)

    def _loop(self) -> None:
        while self.running:
            try:
                busy = self.run_once() >= self.settings.batch
            except Exception:  # a database hiccup must not end the loop
                log.exception("sender round failed")
                busy = False
            if not busy and self.running:
                self.wakeup.wait(self.settings.poll_seconds)
                if self.wakeup.ready():
                    self.wakeup.reset()

    def run_once(self) -> int:
        """One claim → send → record round; how many deliveries it handled."""
        engine = self._engine()
        with transaction(engine) as session:
            rows = claim(session, self.settings)
            if not rows:
                return 0
            subs = _subscriptions(session, rows)
        now = datetime.now(UTC)
        keys = contacts.addresses(self.cipher, list(subs.values()), now)
        results = self._send_all([(row, subs[row.subscription_id]) for row in rows], keys,
                                 now)
        with transaction(engine) as session:
            self.record(session, results, now)
        return len(rows)

    def _send_all(self, work: list[tuple[sa.Row, sa.Row]], keys, now) -> list[tuple]:
        """``SEND_CONCURRENCY`` greenlets each take the next delivery until none is left
        (a greenlet per sender, not one per delivery: spawning was 3 % of the CPU)."""
        results: list[tuple] = [()] * len(work)
        todo = iter(enumerate(work))

        def sender() -> None:
            for number, (row, sub) in todo:
                results[number] = self._send(row, sub, keys, now)

        pool = GreenPool(min(self.settings.concurrency, len(work)))
        for _ in range(pool.size):
            pool.spawn_n(sender)
        pool.waitall()
        return results

    def _send(self, row, sub, keys, now) -> tuple[sa.Row, str | None]:
        if not sub.active:
            return row, "subscription deactivated"
        address, secret, previous = keys[sub.subscription_id]
        try:
            self.senders[row.channel].send(outgoing(row, sub, address, secret, now, previous))
        except channels.SendFailed as exc:
            return row, str(exc)
        except Exception as exc:  # noqa: BLE001  (a bug in one channel fails one delivery)
            log.exception("delivery %s failed unexpectedly", row.delivery_id)
            return row, f"{type(exc).__name__}: {exc}"[:ERROR_MAX]
        return row, None

    def record(self, session, results, now: datetime) -> None:
        sent = [row for row, error in results if error is None]
        if sent:
            session.execute(_MARK_SENT, {"ids": [row.delivery_id for row in sent],
                                         "now": now})
            for row in sent:
                accepting.announce(session, row.delivery_id, row.notification_id,
                                   row.cause_id, row.case_id, row.kind, row.channel,
                                   row.recipient, row.attempts, now)
        for row, error in results:
            if error is not None:
                session.execute(self._failure(row, error[:ERROR_MAX], now))

    def _failure(self, row, error: str, now: datetime):
        final = row.attempts >= self.settings.max_attempts or error == \
            "subscription deactivated"
        values = {"last_error": error}
        if final:
            values["state"] = "dead"
            log.warning("delivery %s dead after %d attempts: %s", row.delivery_id,
                        row.attempts, error)
        else:
            values["next_attempt_at"] = now + timedelta(seconds=self.settings.delay(
                row.attempts))
        return sa.update(deliveries).where(deliveries.c.delivery_id == row.delivery_id) \
            .values(**values)

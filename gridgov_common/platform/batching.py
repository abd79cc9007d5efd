"""Consuming in batches: one worker and one transaction for up to ``batch_size`` messages.

Why: per message, the fixed costs (a nameko worker, its dependencies, a transaction and its
commit, the session machinery) cost more CPU than the work itself for small messages such
as ``dispatch.case.changed``. A batch pays them once.

How: messages of the queue are collected as they arrive (each one parsed and validated on
its own first: a malformed one is dead-lettered at once and never joins a batch). A batch
goes to one worker when it is full, or ``batch_wait`` seconds after its first message if no
batch of the queue is running (none by default: at once, after what already arrived is
read), else when none runs any more: under load a batch collects what arrives while the
others run (issue 16: with a timer alone, the queue's prefetch was cut into batches of the
sizes its acks came back in, ~20 on average, rarely 50). The
worker gets the list of envelopes and handles them in one transaction; the transaction is
committed, then every message is acked. If anything in the batch fails, nothing of it is
kept (the transaction rolls back) and each message is handled again alone, through the
single-message path: the failing one is retried or dead-lettered by itself
(:class:`~gridgov_common.platform.messaging.ReliableConsumer`) while the others go through. A crash
loses nothing: unacked messages return to the queue, and handlers claim each message id
(``claim_message``) in the same transaction, so a redelivered batch is applied once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from functools import partial

import eventlet
from nameko.exceptions import ContainerBeingKilled

from gridgov_common.contract import ContractError
from gridgov_common.platform.messaging import (
    DEFAULT_MAX_REDELIVERIES,
    DEFAULT_RETRY_DELAY,
    ReliableConsumer,
    _check_consumer_args,
    _context_data,
    ack_all_if_alive,
    committed,
    requeue_if_alive,
)

log = logging.getLogger(__name__)

DEFAULT_BATCH_SIZE = 50
# No timer by default (issue 16): an idle queue's first message goes at once, and under
# load a batch is what arrived while the last one ran; a 10 ms wait was a fifth of the
# latency of a quiet case flow (two batch stages) and bought no throughput.
DEFAULT_BATCH_WAIT = 0.0


class BatchConsumer(ReliableConsumer):
    """Entrypoint behind :func:`consume_contract_batch`; the worker gets a list of
    :class:`~gridgov_common.contract.Envelope` (one element when a failed batch is replayed
    message by message)."""

    def __init__(self, *args, batch_size: int = DEFAULT_BATCH_SIZE,
                 batch_wait: float = DEFAULT_BATCH_WAIT, **kwargs) -> None:
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError("batch_size must be an int >= 1")
        if batch_wait < 0:
            raise ValueError("batch_wait must be >= 0")
        self.batch_size = batch_size
        self.batch_wait = batch_wait
        self._pending: list[tuple[object, object]] = []  # (message, envelope)
        self._running = 0  # batches spawned and not settled yet
        super().__init__(*args, **kwargs)

    def stop(self) -> None:
        self._flush()  # what was collected is handled before the container stops
        super().stop()

    # collecting

    def _receive(self, message) -> None:
        try:
            envelope = self._parse(message)
        except ContractError as exc:
            self.refuse(message, exc.code, exc.message, exc.fields)
            return
        self._pending.append((message, envelope))
        if len(self._pending) >= self.batch_size:
            self._flush()
        elif len(self._pending) == 1 and not self._running:  # else: when a batch ends
            self.container.spawn_managed_thread(self._flush_later,
                                                identifier=f"batch[{self.queue_name}]")

    def _flush_later(self) -> None:
        eventlet.sleep(self.batch_wait)
        self._flush()

    def _flush(self) -> None:
        batch, self._pending = self._pending, []
        if not batch:
            return
        messages = [message for message, _ in batch]
        self.slots.acquire()  # the consumers' share of the pool (WorkerSlots)
        self._running += 1
        try:
            self.container.spawn_worker(
                self, ([envelope for _, envelope in batch],), {},
                context_data=_context_data(messages[0]),
                handle_result=partial(self.handle_batch_result, batch))
        except ContainerBeingKilled:
            self._ended(then_flush=False)
            for message in messages:
                requeue_if_alive(message)
        except BaseException:
            self._ended(then_flush=False)
            raise

    def _ended(self, then_flush: bool = True) -> None:
        """A batch is settled: its slot back, and what collected meanwhile goes once no
        batch runs (a full one has gone already)."""
        self.slots.release()
        self._running -= 1
        if then_flush and self._pending and not self._running:
            self.container.spawn_managed_thread(self._flush,
                                                identifier=f"batch[{self.queue_name}]")

    # settling

    def handle_batch_result(self, batch, worker_ctx, result=None, exc_info=None):
        """Commit, then ack all; on any failure replay the batch one message at a time.
        The batch's slot is given back first: each replayed message takes one of its own
        (held while waiting for them, every batch could wait for the others)."""
        try:
            exc_info = committed(worker_ctx, exc_info)
            if exc_info is None:
                ack_all_if_alive([message for message, _ in batch])
                return result, None
            log.warning("a batch of %d from %s failed (%r); handling its messages one by one",
                        len(batch), self.queue_name, exc_info[1])
        except Exception:
            log.exception("unexpected error settling a batch of %s", self.queue_name)
            for message, _ in batch:
                requeue_if_alive(message)
            return result, exc_info
        finally:
            self._ended()
        self._replay_alone(batch)
        return result, exc_info

    def _replay_alone(self, batch) -> None:
        for index, (message, envelope) in enumerate(batch):
            try:
                self.spawn_alone(message, ([envelope],))
            except Exception:
                log.exception("could not replay a message of %s; the rest requeued",
                              self.queue_name)
                for rest, _ in batch[index:]:
                    requeue_if_alive(rest)
                return


def consume_contract_batch(queue_name: str, exchange: str, routing_keys: list[str],
                           consumer_name: str | None = None,
                           max_redeliveries: int = DEFAULT_MAX_REDELIVERIES,
                           message_types: Iterable[str] | None = None,
                           retry_delay: float = DEFAULT_RETRY_DELAY,
                           batch_size: int = DEFAULT_BATCH_SIZE,
                           batch_wait: float = DEFAULT_BATCH_WAIT,
                           tell_sender: bool = False, **kwargs) -> Callable:
    """Like :func:`~gridgov_common.platform.messaging.consume_contract`, but the decorated method
    ``def handle(self, envelopes: list[Envelope])`` gets up to ``batch_size`` envelopes in
    one worker (one transaction). It must claim each message id itself."""
    _check_consumer_args(queue_name, exchange, routing_keys, max_redeliveries)
    return BatchConsumer.decorator(
        queue_name, exchange, routing_keys, consumer_name=consumer_name,
        max_redeliveries=max_redeliveries, message_types=message_types,
        retry_delay=retry_delay, batch_size=batch_size, batch_wait=batch_wait,
        tell_sender=tell_sender, **kwargs)

"""A vhost per test, deleted a few seconds after the test let it go (replaces the nameko
plugin's ``vhost_pipeline``, which deletes at once).

Why the wait: deleting a quorum queue while RabbitMQ 3.10 is still starting its
at-least-once dead-letter worker crashes that worker, and a few such crashes in a row stop
the node's supervisor of those workers (``rabbit_fifo_dlx_sup``): from then on every queue
gridgov declares fails with 541 INTERNAL_ERROR, in every later test.  A test's last
container may declare its queues just before the teardown deletes the vhost; a few seconds
later every worker has started.  scripts/ensure_services.sh repairs a node found in that
state before a run.
"""

from __future__ import annotations

import random
import string
import time
from collections.abc import Iterable
from contextlib import contextmanager
from urllib.parse import urlparse

import eventlet
from kombu.pools import connections
from nameko.testing.utils import ResourcePipeline

GRACE_SECONDS = 3.0


class GracefulPipeline(ResourcePipeline):
    """Hands out vhosts like nameko's pipeline; destroys each one no earlier than
    ``GRACE_SECONDS`` after it came back."""

    @contextmanager
    def get(self):
        item = self.ready.get()
        try:
            yield item
        finally:
            self.trash.put((item, time.monotonic()))


def make_pipeline(rabbit_amqp_uri: str, rabbit_manager) -> GracefulPipeline:
    username = urlparse(rabbit_amqp_uri).username

    def create() -> str:
        vhost = "nameko_test_" + "".join(random.choice(string.ascii_lowercase)
                                         for _ in range(10))
        rabbit_manager.create_vhost(vhost)
        rabbit_manager.set_vhost_permissions(vhost, username, ".*", ".*", ".*")
        return vhost

    def destroy(item) -> None:
        vhost, released = item if isinstance(item, tuple) else (item, 0.0)
        eventlet.sleep(max(0.0, released + GRACE_SECONDS - time.monotonic()))
        for attempt in range(9):
            try:
                rabbit_manager.delete_vhost(vhost)
                break
            except Exception:  # noqa: BLE001  (the management API may be busy: retry)
                if attempt == 8:
                    raise
                eventlet.sleep(1)
        for key, pool in list(connections.items()):  # its connections go too
            if isinstance(key, Iterable) and not isinstance(key, str) and key[4] == vhost:
                pool.force_close_all()

    return GracefulPipeline(create, destroy)

"""RPC both ways: an entrypoint that commits the worker's transaction before the reply is
sent, and a proxy whose calls have a time limit.

Stock nameko sends the reply in ``handle_result``, before dependencies' ``worker_result``
(where a session would commit): a caller could be told "done" for a write that then
fails to commit.  Validation errors (marshmallow ``ValidationError``) and
``gridgov_common.kernel.errors.ApiError`` reach callers as ``RemoteError`` with their type name.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import amqp.exceptions
import eventlet
from marshmallow import ValidationError
from nameko.exceptions import UnknownService
from nameko.rpc import Rpc as NamekoRpc
from nameko.rpc import RpcConsumer, RpcProxy

from gridgov_common.contract import rpc as rpc_contract
from gridgov_common.kernel.errors import ApiError, ServiceUnavailable
from gridgov_common.platform.db import finish_worker_transactions
from gridgov_common.platform.messaging import (
    BROKER_DOWN,
    broker_connection,
    ensure_exchanges,
    ensure_queue,
)
from gridgov_common.platform.settings import Setting


class PlatformRpcConsumer(RpcConsumer):
    """nameko's RPC consumer, but its queue ``rpc-<service>`` is declared (and bound) only
    where the broker user may (development); a service's own ``svc.<service>`` user may
    not (issue 10): the platform declared it from ``tools.bus_users.SERVICES``.
    kombu would otherwise redeclare the queue, and nameko's exchange, on every connection."""

    def setup(self) -> None:
        if self.queue is not None:
            return
        super().setup()
        self.queue.no_declare = True
        with broker_connection(self.container) as conn:
            ensure_exchanges(conn, [self.queue.exchange.name])
            ensure_queue(conn, self.queue.name, {},
                         [(self.queue.exchange.name, self.queue.routing_key)])


class Rpc(NamekoRpc):
    rpc_consumer = PlatformRpcConsumer()

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("expected_exceptions", (ValidationError, ApiError))
        super().__init__(**kwargs)

    def handle_result(self, message, worker_ctx, result, exc_info):
        if exc_info is None:
            failure = finish_worker_transactions(worker_ctx)
            if failure is not None:
                exc_info = (type(failure), failure, failure.__traceback__)
                result = None
        return super().handle_result(message, worker_ctx, result, exc_info)


rpc = Rpc.decorator


class TimedClient:
    """Calls one service's RPC methods with a time limit.

    Why a time limit: nameko's ``RpcProxy`` waits for a reply forever; an HTTP request or a consumer
    blocked on a service that is down would hold its worker for good. Here a call that is
    not answered within ``timeout`` seconds, or to a service with no queue yet, raises
    :class:`ServiceUnavailable` (503, code ``<service>_unavailable``), which HTTP routes
    answer as is and consumers treat as "retry later".
    """

    def __init__(self, proxy, service: str, timeout: float) -> None:
        self.proxy = proxy
        self.service = service
        self.timeout = timeout

    def within(self, timeout: float) -> TimedClient:
        """The same client with another time limit (one proxy, questions of different
        urgency)."""
        return TimedClient(self.proxy, self.service, timeout)

    def call(self, method: str, *args: Any) -> Any:
        """The reply of ``method(*args)``; both checked against the RPC contract
        (``gridgov_common/contract/rpc.py``), so a caller never sends or reads what the
        other side does not promise (:class:`RpcContractError`, a bug, never retried)."""
        rpc_contract.check_call(self.service, method, args)
        try:
            # the request's publish inside the limit too: with the broker down it is
            # retried for ~18 s and then failed as a 500 (issue 15.5)
            with eventlet.Timeout(self.timeout):
                reply = getattr(self.proxy, method).call_async(*args)
                return rpc_contract.check_reply(self.service, method, reply.result())
        except BROKER_DOWN as exc:
            raise ServiceUnavailable(f"the message broker is unreachable ({exc})",
                                     code="broker_unavailable") from None
        except eventlet.Timeout:
            raise ServiceUnavailable(f"{self.service} did not answer {method} within "
                                     f"{self.timeout}s",
                                     code=f"{self.service}_unavailable") from None
        except UnknownService:
            raise ServiceUnavailable(f"{self.service} is not running",
                                     code=f"{self.service}_unavailable") from None
        except amqp.exceptions.NotFound as exc:  # no RPC service has declared nameko's
            # exchange on a fresh virtual host yet: nobody to answer, as above
            raise ServiceUnavailable(f"{self.service} is not running ({exc.reply_text})",
                                     code=f"{self.service}_unavailable") from None


class TimedRpcProxy(RpcProxy):
    """``RpcProxy(service)`` injecting ``wrap(TimedClient)``: a domain-shaped client (or the
    :class:`TimedClient` itself) whose time limit is ``timeout(config)`` seconds."""

    def __init__(self, service: str, timeout: Setting | Callable[[dict], float],
                 wrap: Callable[[TimedClient], Any] = lambda client: client) -> None:
        super().__init__(service)
        self.timeout_of = timeout
        self.wrap = wrap

    def setup(self) -> None:
        super().setup()
        timeout = self.timeout_of
        self.timeout = float(timeout.of(self.container) if isinstance(timeout, Setting)
                             else timeout(self.container.config))

    def get_dependency(self, worker_ctx) -> Any:
        proxy = super().get_dependency(worker_ctx)
        return self.wrap(TimedClient(proxy, self.target_service, self.timeout))

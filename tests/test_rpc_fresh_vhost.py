"""On a virtual host where no RPC service has started yet, nameko's ``nameko-rpc`` exchange
does not exist and the broker refuses the request's publish (404 NOT_FOUND). That is "the
service is not running", a 503 with its code, as for a service with no queue: bench_05
found events' first grid-index sync failing with a raw ``amqp.exceptions.NotFound``.
Against the real RabbitMQ, on the test's fresh vhost."""

from __future__ import annotations

import pytest
from nameko.testing.services import dummy, entrypoint_hook

from gridgov_common.kernel.errors import ServiceUnavailable
from gridgov_common.platform.rpc import TimedRpcProxy
from tests._messaging_conftest_helpers import pika_connection


class Caller:
    name = "rpc_fresh_vhost_caller"
    registry = TimedRpcProxy("registry", lambda config: 5.0)

    @dummy
    def ask(self):
        return self.registry.call("lookup_point", 120.45, 31.365)


def test_a_call_before_any_rpc_service_started_is_503(container_factory, rabbit_config):
    container = container_factory(Caller, rabbit_config)
    container.start()
    with pika_connection(rabbit_config["AMQP_URI"]) as connection:  # as on a fresh vhost of a
        connection.channel().exchange_delete("nameko-rpc")  # deployment (this one's
        # reply listener declared it; a service user may not declare, issue 10)
    with entrypoint_hook(container, "ask") as ask:
        with pytest.raises(ServiceUnavailable, match="registry is not running") as caught:
            ask()
    assert caught.value.code == "registry_unavailable"

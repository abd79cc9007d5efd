"""gridgov_common.platform.rpc.TimedClient: an RPC that is not answered in time, or to a service
with no queue, is a 503 with the service's code — never a worker blocked for good."""

from __future__ import annotations

import eventlet
import pytest
from nameko.exceptions import UnknownService

from gridgov_common.contract.rpc import sample
from gridgov_common.kernel.errors import ServiceUnavailable
from gridgov_common.platform.rpc import TimedClient


class Reply:
    def __init__(self, value, delay: float = 0.0) -> None:
        self.value, self.delay = value, delay

    def result(self):
        eventlet.sleep(self.delay)
        return self.value


class Method:
    def __init__(self, reply=None, error: Exception | None = None) -> None:
        self.reply, self.error, self.calls = reply, error, []

    def call_async(self, *args):
        self.calls.append(args)
        if self.error:
            raise self.error
        return self.reply


class Proxy:
    def __init__(self, **methods: Method) -> None:
        self.__dict__.update(methods)


def test_answer_in_time_is_returned_with_the_arguments_passed_on():
    held = sample("registry.lookup_point")  # arguments and reply the contract allows
    method = Method(Reply(held["reply"]))
    client = TimedClient(Proxy(lookup_point=method), "registry", timeout=1.0)
    assert client.call("lookup_point", *held["args"]) == held["reply"]
    assert method.calls == [tuple(held["args"])]


def test_no_answer_in_time_is_503_with_the_services_code():
    client = TimedClient(Proxy(kpis=Method(Reply(None, delay=5.0))), "dispatch", timeout=0.05)
    with pytest.raises(ServiceUnavailable) as caught:
        client.call("kpis", "district:320505", "2026-01-01", "2026-01-31", "town")
    assert caught.value.code == "dispatch_unavailable"
    assert "did not answer kpis" in str(caught.value)


def test_a_service_that_never_started_is_503_too():
    client = TimedClient(Proxy(lookup_point=Method(error=UnknownService("registry"))),
                         "registry", timeout=1.0)
    with pytest.raises(ServiceUnavailable, match="registry is not running") as caught:
        client.call("lookup_point", 120.45, 31.365)
    assert caught.value.code == "registry_unavailable"

"""Producers keep the RPC contract (issue 13): the REAL registry (demo district) and the
REAL dispatch (seeded cases) answer every method's sample arguments with a reply its
schema accepts. Callers are held to it on every call by ``TimedClient`` (unit tests:
tests/unit/test_rpc_contract.py)."""

from __future__ import annotations

import pytest
from nameko.standalone.rpc import ServiceRpcProxy

from gridgov_common.contract import rpc as contract


def _args(key: str, proxy) -> list:
    """The sample's arguments; a case id is one of the seeded cases."""
    args = contract.sample(key)["args"]
    if key == "dispatch.get_case":
        items = proxy.list_cases("district_admin", "district:320505", {})["items"]
        args = [items[0]["case_id"], *args[1:]]
    return args


@pytest.mark.parametrize("service", ["registry", "dispatch"])
def test_real_replies_to_the_samples_keep_the_contract(service, registry, dispatch,
                                                        rabbit_config, demo_district):
    assert demo_district["code"] == "320505"  # the samples' district
    keys = sorted(k for k, m in contract.METHODS.items() if m.service == service)
    checked = {}
    with ServiceRpcProxy(service, rabbit_config) as proxy:
        for key in keys:
            name = key.split(".")[1]
            args = _args(key, proxy)
            contract.check_call(service, name, tuple(args))
            reply = getattr(proxy, name)(*args)
            checked[key] = contract.check_reply(service, name, reply) is not None
    assert set(checked) == set(keys)
    # the samples reach real data: only a lookup may come back empty, never all of them
    assert sum(checked.values()) >= len(keys) - 1

"""The proxy finds the services when a request needs them (issue 15, item 1).

deploy/proxy/nginx.conf takes each service's address from gridgov-site.conf; compose
gives names that nginx looks up per request through Docker's DNS. Here the real
configuration runs under the local nginx with the names of compose and a DNS server of the
test's own standing in for Docker's (tests/dns_stub.py), and small HTTP servers standing in
for the services, so what is checked is nginx's own behaviour on our file: it starts while a
service is stopped, that service's routes answer 502 and the others work, a service that
comes back is found without a reload, and so is a second replica."""

from __future__ import annotations

from contextlib import ExitStack

import pytest
import requests

from tests import dns_stub
from tests.proxy_standins import replica, wait_for
from tools import local_proxy

SERVICES = local_proxy.SERVICES


@pytest.fixture
def stack(tmp_path):
    """Every service but notify up on 127.0.0.1 (registry also on 127.0.0.2, not yet in
    DNS), the proxy in front with compose's names; (base URL, DNS zone)."""
    from bench import _common
    ports = {svc: _common.free_port() for svc in SERVICES}
    zone = {svc: ["127.0.0.1"] for svc in SERVICES if svc != "notify"}
    with ExitStack() as stack:
        for svc in SERVICES:
            stack.enter_context(replica(svc, "127.0.0.1", ports[svc]))
        stack.enter_context(replica("registry", "127.0.0.2", ports["registry"]))
        resolver = stack.enter_context(dns_stub.serving(zone))
        base = stack.enter_context(local_proxy.running(
            ports, _common.free_port(), tmp_path,
            addresses={svc: f"{svc}:{ports[svc]}" for svc in SERVICES}, resolver=resolver))
        yield base, zone


def _get(base: str, path: str) -> requests.Response:
    return requests.get(base + path, timeout=10, allow_redirects=False)


def test_a_stopped_service_takes_only_its_own_routes_down_and_is_found_when_back(stack):
    base, zone = stack
    down = _get(base, "/api/notify/health")
    assert down.status_code == 502  # not resolvable: its routes only
    for svc in ("registry", "events", "dispatch", "assessment"):
        up = _get(base, f"/api/{svc}/health")
        assert up.status_code == 200 and up.text.startswith(f"{svc} "), svc
    zone["notify"] = ["127.0.0.1"]  # started again: no reload
    back = wait_for(lambda: (r := _get(base, "/api/notify/health")).status_code == 200 and r,
                     "notify not found after it came back")
    assert back.text.startswith("notify 127.0.0.1 /health ")


def test_a_replica_added_is_found_without_a_reload(stack):
    base, zone = stack
    zone["registry"] = ["127.0.0.1", "127.0.0.2"]  # `--scale registry=2`
    seen: set[str] = set()

    def both() -> bool:
        seen.add(_get(base, "/api/registry/health").text.split()[1])
        return seen == {"127.0.0.1", "127.0.0.2"}

    wait_for(both, f"only {seen} answered")


def test_each_route_reaches_its_service_with_the_path_the_service_knows(stack):
    base, _zone = stack
    expected = {
        "/api/registry/grids/a%20b?lang=en": "registry 127.0.0.1 /grids/a%20b?lang=en",
        "/api/events/cases?x=1": "events 127.0.0.1 /cases?x=1",
        "/api/events/open311/v2/services.json?jurisdiction_id=x":
            "events 127.0.0.1 /open311/v2/services.json?jurisdiction_id=x",
        "/api/dispatch/cases/1": "dispatch 127.0.0.1 /cases/1",
        "/api/assessment/dashboard/events?scope=town":
            "assessment 127.0.0.1 /dashboard/events?scope=town",
        "/api/assessment/kpis": "assessment 127.0.0.1 /kpis",
        "/report": "events 127.0.0.1 /report",
        "/public/catalogue": "events 127.0.0.1 /public/catalogue",
        "/desk/": "assessment 127.0.0.1 /desk/",
    }
    for path, said in expected.items():
        answer = _get(base, path)
        assert answer.status_code == 200, path
        assert answer.text == f"{said} 127.0.0.1", path  # X-Real-IP: the client
    assert _get(base, "/api/registry/metrics").status_code == 404  # metrics stay internal
    assert _get(base, "/").headers["Location"].endswith("/dashboard")

"""Whom the proxy takes for the client, and so whom it rate limits (issue 15, item 4).

In compose every client of the published port arrived from the Docker gateway, inside the
private networks the proxy used to trust, so a client's own X-Forwarded-For named the
client and a rotating one dodged the intake limit. Now only front proxies named in the
platform's gridgov-site.conf are trusted: none in compose, the ingress controller in
Kubernetes. The real configuration runs under the local nginx with stand-in services
(tests/proxy_standins.py), which echo the X-Real-IP the proxy sends them."""

from __future__ import annotations

import re
from contextlib import ExitStack
from pathlib import Path

import pytest
import requests

from tests.proxy_standins import replica
from tools import local_proxy

ROOT = Path(__file__).resolve().parents[1]
COMPOSE_SITE = ROOT / "deploy" / "proxy" / "site-compose.conf"
K8S_SITE = ROOT / "deploy" / "k8s" / "base" / "proxy" / "site.conf"
REPORTS = 40  # > the intake burst (20) of nginx.conf's limit_req zone=intake


def trusted_in(site: Path) -> tuple[str, ...]:
    """The set_real_ip_from networks a site file trusts (comments are not directives)."""
    return tuple(re.findall(r"^set_real_ip_from (\S+);", site.read_text(encoding="utf-8"),
                            re.M))


@pytest.fixture
def proxy(tmp_path):
    """The proxy with stand-in services, trusting what it is given; its base URL."""
    from bench import _common
    ports = {svc: _common.free_port() for svc in local_proxy.SERVICES}

    def start(trusted: tuple[str, ...]) -> str:
        stack.enter_context(replica("events", "127.0.0.1", ports["events"]))
        return stack.enter_context(local_proxy.running(ports, _common.free_port(), tmp_path,
                                                       trusted=trusted))

    with ExitStack() as stack:
        yield start


def _report(base: str, forwarded_for: str) -> requests.Response:
    return requests.post(f"{base}/api/events/cases", json={}, timeout=10,
                         headers={"X-Forwarded-For": forwarded_for})


def test_compose_trusts_no_forwarded_for_so_a_rotating_one_is_still_limited(proxy):
    trusted = trusted_in(COMPOSE_SITE)
    assert trusted == ()  # the proxy is the edge
    base = proxy(trusted)
    answers = [_report(base, f"198.51.100.{n}") for n in range(REPORTS)]
    served = [a for a in answers if a.status_code == 200]
    assert {a.text.split()[-1] for a in served} == {"127.0.0.1"}  # the real peer, always
    assert sum(a.status_code == 429 for a in answers) > 0
    assert all(a.status_code in (200, 429) for a in answers)


def test_behind_the_ingress_the_address_it_appended_names_the_client(proxy):
    trusted = trusted_in(K8S_SITE)
    assert "10.0.0.0/8" in trusted  # the ingress controller's pods
    base = proxy(("127.0.0.1",))  # here the "ingress controller" is this test, on loopback
    # a client's own header first, then the address the controller appended
    first = _report(base, "6.6.6.6, 203.0.113.7")
    assert first.status_code == 200 and first.text.split()[-1] == "203.0.113.7"
    answers = [_report(base, f"198.51.100.{n}, 203.0.113.7") for n in range(REPORTS)]
    assert sum(a.status_code == 429 for a in answers) > 0  # one client, however it lies
    other = _report(base, "203.0.113.8")
    assert other.status_code == 200 and other.text.split()[-1] == "203.0.113.8"

"""The per-process rate limit: the bucket on an injected clock, then the real services
answering 429 with Retry-After once a caller's burst is spent.

The integration tests use a refill rate so small (one token per ~17 minutes) that no token
comes back while they run: no sleeping, no timing assertions.
"""

from __future__ import annotations

import jwt
import pytest

from gridgov_common.kernel import auth
from gridgov_common.platform.ratelimit import (
    RATE_LIMITED,
    TokenBucket,
    bucket_from_config,
    client_key,
    trusted_proxies,
)
from services.events.service import EventsService
from services.registry.service import RegistryService

TINY = 0.001  # tokens per second


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_bucket_spends_the_burst_then_refills_at_the_rate():
    clock = Clock()
    bucket = TokenBucket(rate=2.0, burst=3, clock=clock)
    assert [bucket.take("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.take("a") == pytest.approx(0.5)   # one token comes back in 1/rate s
    assert bucket.take("b") == 0.0                   # another key has its own bucket
    clock.now += 0.5
    assert bucket.take("a") == 0.0
    assert bucket.take("a") > 0
    clock.now += 60                                  # refills up to the burst, no further
    assert [bucket.take("a") for _ in range(4)][-1] > 0


def test_zero_disables_and_bad_config_stops_the_service():
    assert bucket_from_config({"RATE_LIMIT_INTAKE_RATE": 0}, "intake").take("a") == 0.0
    unlimited = bucket_from_config({"RATE_LIMIT_INTAKE_BURST": "0"}, "intake")
    assert all(unlimited.take("a") == 0.0 for _ in range(1000))
    with pytest.raises(RuntimeError, match="RATE_LIMIT_INTAKE_RATE"):
        bucket_from_config({"RATE_LIMIT_INTAKE_RATE": "fast"}, "intake")
    with pytest.raises(RuntimeError, match="RATE_LIMIT_LOOKUP_BURST"):
        bucket_from_config({"RATE_LIMIT_LOOKUP_BURST": -1}, "lookup")


def _bearer(secret: str, sub: str) -> dict[str, str]:
    token = auth.mint(secret, sub, "district_admin", "district:320505")
    return {"Authorization": f"Bearer {token}"}


def _limited_count(service: str, route: str, group: str) -> float:
    return RATE_LIMITED.labels(service, route, group)._value.get()


@pytest.mark.integration
def test_registry_lookup_points_answers_429_per_subject(container_factory, service_config,
                                                        platform_secrets, web_session):
    config = service_config("registry", RATE_LIMIT_LOOKUP_RATE=TINY, RATE_LIMIT_LOOKUP_BURST=2)
    container_factory(RegistryService, config).start()
    alice = _bearer(platform_secrets["JWT_SECRET"], "alice")
    bob = _bearer(platform_secrets["JWT_SECRET"], "bob")
    before = _limited_count("registry", "/lookup/points", "lookup")
    body = {"points": [[120.0, 31.0]]}

    for _ in range(2):
        assert web_session.post("/lookup/points", json=body, headers=alice).status_code != 429
    refused = web_session.post("/lookup/points", json=body, headers=alice)
    assert refused.status_code == 429, refused.text
    assert int(refused.headers["Retry-After"]) >= 1
    error = refused.json()["error"]
    assert error["code"] == "rate_limited"
    assert error["fields"]["retry_after_seconds"] == int(refused.headers["Retry-After"])
    assert _limited_count("registry", "/lookup/points", "lookup") == before + 1
    assert "gridgov_http_rate_limited_total" in web_session.get("/metrics").text

    assert web_session.post("/lookup/points", json=body, headers=bob).status_code != 429
    # other routes are not limited by this bucket
    assert web_session.get("/lookup/point", params={"lon": 120.0, "lat": 31.0},
                           headers=alice).status_code != 429


@pytest.mark.integration
def test_open311_post_is_limited_by_client_address(container_factory, service_config,
                                                   web_session):
    config = service_config("events", OPEN311_API_KEYS="ratelimit-key-0123456789",
                            RATE_LIMIT_INTAKE_RATE=TINY, RATE_LIMIT_INTAKE_BURST=1)
    container_factory(EventsService, config).start()
    url = "/open311/v2/requests.json"
    first = web_session.post(url, data={"api_key": "wrong"})
    assert first.status_code != 429, first.text
    refused = web_session.post(url, data={"api_key": "wrong"})
    assert refused.status_code == 429
    assert refused.headers["Retry-After"].isdigit()
    assert refused.json()["error"]["code"] == "rate_limited"


@pytest.mark.integration
def test_behind_a_trusted_proxy_each_resident_has_a_bucket(container_factory, service_config,
                                                           web_session):
    """The proxy (deploy/proxy) names the client in X-Real-IP: from a trusted proxy's
    address each resident gets the burst; a header from anyone else changes nothing."""
    config = service_config("events", OPEN311_API_KEYS="ratelimit-key-0123456789",
                            RATE_LIMIT_INTAKE_RATE=TINY, RATE_LIMIT_INTAKE_BURST=1,
                            TRUSTED_PROXIES="127.0.0.0/8")
    container_factory(EventsService, config).start()
    url = "/open311/v2/requests.json"

    def post(client: str) -> int:
        return web_session.post(url, data={"api_key": "wrong"},
                                headers={"X-Real-IP": client}).status_code

    assert post("203.0.113.7") != 429
    assert post("203.0.113.7") == 429  # the same resident, burst spent
    assert post("198.51.100.9") != 429  # another resident behind the same proxy


def test_x_real_ip_counts_only_from_a_trusted_proxy():
    class Request:
        def __init__(self, peer: str, real: str) -> None:
            self.remote_addr, self.headers = peer, {"X-Real-IP": real}

    trusted = trusted_proxies({"TRUSTED_PROXIES": "10.0.0.0/8, 172.16.0.0/12"})
    assert client_key(Request("10.1.2.3", "203.0.113.7"), None, trusted) == "addr:203.0.113.7"
    assert client_key(Request("192.0.2.1", "203.0.113.7"), None, trusted) == "addr:192.0.2.1"
    assert client_key(Request("10.1.2.3", "not an address"), None, trusted) == "addr:10.1.2.3"
    assert client_key(Request("10.1.2.3", "203.0.113.7"), None, ()) == "addr:10.1.2.3"
    with pytest.raises(RuntimeError, match="TRUSTED_PROXIES"):
        trusted_proxies({"TRUSTED_PROXIES": "10.0.0.0/33"})


@pytest.mark.integration
def test_zero_rate_disables_the_limit(container_factory, service_config, platform_secrets,
                                      web_session):
    config = service_config("registry", RATE_LIMIT_LOOKUP_RATE=0, RATE_LIMIT_LOOKUP_BURST=1)
    container_factory(RegistryService, config).start()
    alice = _bearer(platform_secrets["JWT_SECRET"], "alice")
    body = {"points": [[120.0, 31.0]]}
    statuses = {web_session.post("/lookup/points", json=body, headers=alice).status_code
                for _ in range(10)}
    assert 429 not in statuses and statuses <= {200}, statuses


def test_openapi_documents_429_on_limited_routes_only():
    from gridgov_common.platform.openapi import document_for
    paths = document_for(RegistryService)["paths"]
    assert "429" in paths["/lookup/points"]["post"]["responses"]
    assert "429" in paths["/import/residents"]["post"]["responses"]
    assert "429" not in paths["/lookup/point"]["get"]["responses"]


def test_tokens_live_at_most_a_day():
    """Not rate limiting, but the other half of "a leaked token is worth little"."""
    secret = "s" * 40
    with pytest.raises(ValueError, match="at most"):
        auth.mint(secret, "x", "ops_viewer", "district:320505",
                  ttl_seconds=auth.MAX_TTL_SECONDS + 1)
    forged_long = jwt.encode({"iss": auth.ISSUER, "aud": auth.AUDIENCE, "sub": "x",
                              "role": "ops_viewer", "scope": "district:320505", "iat": 1,
                              "exp": 4_000_000_000}, secret, algorithm=auth.ALGORITHM)
    with pytest.raises(auth.Unauthorized, match="lifetime"):
        auth.verify(secret, forged_long)

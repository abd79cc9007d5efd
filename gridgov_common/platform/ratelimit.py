"""Per-process token buckets for the intake and heavy routes (answer 429 with Retry-After).

A route opts in with ``@http(..., rate_limit="intake")``; the group's rate (tokens per
second) and burst come from the service's config, ``RATE_LIMIT_<GROUP>_RATE`` and
``RATE_LIMIT_<GROUP>_BURST`` (environment ``GRIDGOV_RATE_LIMIT_…``); 0 disables the limit.
Buckets are keyed by the token's subject, or by the client address on public routes.

Why per process: the limit protects this replica's workers and database connections from
one runaway client (a device re-sending a queue of cases, a script importing in a loop).
It is not the district-wide limit: with N replicas a client gets N times the rate.  The
reverse proxy (nginx ``limit_req``, deploy/proxy/) is the shared limit in front of all of
them; docs/SECURITY.md says which is which.
"""

from __future__ import annotations

import ipaddress
import math
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from prometheus_client import Counter

from gridgov_common.kernel.errors import ApiError
from gridgov_common.platform.metrics import PREFIX
from gridgov_common.platform.settings import NON_NEGATIVE, NON_NEGATIVE_INTEGER, Kind, Setting

RATE_LIMITED = Counter(
    f"{PREFIX}http_rate_limited", "Requests refused with 429 by the per-process rate limit",
    ["service", "route", "group"],
)

# (tokens per second, burst) when the config says nothing: generous for a person at a
# device, tight for imports that hold a worker and a connection for seconds.
DEFAULTS: dict[str, tuple[float, int]] = {
    "intake": (2.0, 30),      # POST /cases, /photos, Open311 requests
    "lookup": (10.0, 20),     # POST /lookup/points (up to thousands of points each)
    "import": (1 / 60, 3),    # POST /import/* (64 MiB bodies)
    # the registry's /auth/sign-in and /auth/password (issue 12): per client address, and
    # per login (services/registry/signin.py); lock-out after failures is in the database
    "signin": (0.5, 20),
    "signin_login": (0.2, 10),
    # the residents' report page (issue 12): per client address, on top of its proof of work
    "public": (0.5, 20),
}


def limit_settings(group: str) -> tuple[Setting, Setting]:
    """``RATE_LIMIT_<GROUP>_RATE`` (tokens per second) and ``…_BURST`` of a group."""
    rate, burst = DEFAULTS[group]
    prefix = f"RATE_LIMIT_{group.upper()}"
    return (Setting(f"{prefix}_RATE", NON_NEGATIVE, rate,
                    f"{group}: tokens per second per client (0: no limit)"),
            Setting(f"{prefix}_BURST", NON_NEGATIVE_INTEGER, burst,
                    f"{group}: burst per client (0: no limit)"))


RATE_LIMIT_INTAKE_RATE, RATE_LIMIT_INTAKE_BURST = limit_settings("intake")
RATE_LIMIT_LOOKUP_RATE, RATE_LIMIT_LOOKUP_BURST = limit_settings("lookup")
RATE_LIMIT_IMPORT_RATE, RATE_LIMIT_IMPORT_BURST = limit_settings("import")
RATE_LIMIT_SIGNIN_RATE, RATE_LIMIT_SIGNIN_BURST = limit_settings("signin")
RATE_LIMIT_PUBLIC_RATE, RATE_LIMIT_PUBLIC_BURST = limit_settings("public")
LIMITS: dict[str, tuple[Setting, Setting]] = {
    "intake": (RATE_LIMIT_INTAKE_RATE, RATE_LIMIT_INTAKE_BURST),
    "lookup": (RATE_LIMIT_LOOKUP_RATE, RATE_LIMIT_LOOKUP_BURST),
    "import": (RATE_LIMIT_IMPORT_RATE, RATE_LIMIT_IMPORT_BURST),
    "signin": (RATE_LIMIT_SIGNIN_RATE, RATE_LIMIT_SIGNIN_BURST),
    "public": (RATE_LIMIT_PUBLIC_RATE, RATE_LIMIT_PUBLIC_BURST),
}
"""The groups routes opt into with ``@http(rate_limit=…)``; ``signin_login`` is the
registry's own (services/registry/settings.py)."""

MAX_KEYS = 10_000  # above this, full buckets are forgotten (a full bucket = no state)


class TooManyRequests(ApiError):
    """429 with the seconds to wait, sent as ``Retry-After`` and in ``fields``."""

    status, code = 429, "rate_limited"

    def __init__(self, message: str, retry_after: float) -> None:
        seconds = max(1, math.ceil(retry_after))
        super().__init__(message, fields={"retry_after_seconds": seconds})
        self.headers = {"Retry-After": str(seconds)}


@dataclass
class _State:
    tokens: float
    stamp: float


class TokenBucket:
    """``burst`` tokens per key, refilled at ``rate`` per second; one request takes one.

    Thread-safe (eventlet green threads and real threads alike); the clock is injectable
    so unit tests need no sleeping.
    """

    def __init__(self, rate: float, burst: int,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = float(rate)
        self.burst = int(burst)
        self.clock = clock
        self._states: dict[str, _State] = {}
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.rate > 0 and self.burst > 0

    def take(self, key: str) -> float:
        """0.0 if ``key`` may proceed (a token is taken), else the seconds until it may."""
        if not self.enabled:
            return 0.0
        now = self.clock()
        with self._lock:
            state = self._states.get(key)
            if state is None:
                if len(self._states) >= MAX_KEYS:
                    self._forget_full(now)
                state = self._states[key] = _State(float(self.burst), now)
            else:
                state.tokens = min(self.burst, state.tokens + (now - state.stamp) * self.rate)
                state.stamp = now
            if state.tokens >= 1.0:
                state.tokens -= 1.0
                return 0.0
            return (1.0 - state.tokens) / self.rate

    def _forget_full(self, now: float) -> None:
        for key, state in list(self._states.items()):
            if state.tokens + (now - state.stamp) * self.rate >= self.burst:
                del self._states[key]


def bucket_from_config(config: Mapping[str, Any], group: str) -> TokenBucket:
    """The group's bucket; a bad value stops the service at start, with the key named."""
    return bucket_of(config, *LIMITS[group])


def bucket_of(config: Mapping[str, Any], rate: Setting, burst: Setting) -> TokenBucket:
    """A bucket from a rate and a burst setting."""
    return TokenBucket(rate.read(config), burst.read(config))


Networks = tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]


def _networks(key: str, raw: Any) -> Networks:
    try:
        return tuple(ipaddress.ip_network(part.strip(), strict=False)
                     for part in str(raw).split(",") if part.strip())
    except ValueError as exc:
        raise RuntimeError(f"config {key}: {exc}") from None


NETWORKS = Kind("networks", _networks)
TRUSTED_PROXIES = Setting("TRUSTED_PROXIES", NETWORKS, (),
                          "comma-separated networks of the reverse proxies (deploy/proxy) "
                          "whose X-Real-IP names the client; empty: trust none")


def trusted_proxies(config: Mapping[str, Any]) -> Networks:
    """``TRUSTED_PROXIES``: the proxies whose ``X-Real-IP`` names the client; empty: trust
    none. A bad entry stops the start."""
    return TRUSTED_PROXIES.read(config)


def client_key(request, principal, trusted: Networks = ()) -> str:
    """The token's subject; on public routes the client's address — the ``X-Real-IP`` the
    proxy sets when the peer is a trusted proxy (else every resident behind the proxy would
    share one bucket), the peer address otherwise (a client cannot pick its own key)."""
    if principal is not None:
        return f"sub:{principal.sub}"
    peer = request.remote_addr or "-"
    real = request.headers.get("X-Real-IP", "").strip()
    if real and trusted and _inside(peer, trusted) and _is_address(real):
        return f"addr:{real}"
    return f"addr:{peer}"


def _inside(address: str, networks: Networks) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def check(bucket: TokenBucket, request, principal, service: str, route: str,
          group: str, trusted: Networks = ()) -> None:
    """Take a token for this caller or raise :class:`TooManyRequests` (and count it)."""
    wait = bucket.take(client_key(request, principal, trusted))
    if wait > 0:
        RATE_LIMITED.labels(service, route, group).inc()
        raise TooManyRequests(f"too many requests to {route}; retry later", wait)

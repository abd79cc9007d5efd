"""The simulator's platform client mints a token on first use whatever the clock says.

Found when the soak was started on a machine three minutes after boot: the token cache's
"never minted" marker was the monotonic time 0.0, so for the first ten minutes after a
reboot every call went out as ``Bearer `` (empty) and ``make up``'s simulation stopped on
401.  The monotonic clock is the only thing faked here."""

from __future__ import annotations

import pytest

from gridgov_common.kernel.auth import verify
from tools.case_simulator import platform as platform_module
from tools.case_simulator.platform import REMINT_SECONDS, Platform

SECRET = "s" * 48


@pytest.mark.parametrize("uptime", [3.0, REMINT_SECONDS - 1, REMINT_SECONDS + 1, 86_400.0])
def test_first_call_carries_a_token_at_any_uptime(monkeypatch, uptime):
    monkeypatch.setattr(platform_module.time, "monotonic", lambda: uptime)
    client = Platform({"registry": "http://registry"}, SECRET, "320505")

    header = client.headers("district_admin", "district:320505", "sim-admin")["Authorization"]

    scheme, token = header.split(" ", 1)
    assert scheme == "Bearer"
    assert verify(SECRET, token).sub == "sim-admin"


def test_token_is_kept_within_the_interval_and_reminted_after(monkeypatch):
    clock = [5.0]
    monkeypatch.setattr(platform_module.time, "monotonic", lambda: clock[0])
    client = Platform({"registry": "http://registry"}, SECRET, "320505")
    key = ("district_admin", "district:320505", "sim-admin")
    first = client.headers(*key)

    clock[0] += REMINT_SECONDS / 2
    assert client.headers(*key) == first
    client._tokens[key] = ("stale", 5.0)
    clock[0] += REMINT_SECONDS
    header = client.headers(*key)["Authorization"]
    assert header != "Bearer stale"
    assert verify(SECRET, header.split(" ", 1)[1]).sub == "sim-admin"

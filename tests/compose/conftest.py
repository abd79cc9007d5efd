"""tests/compose runs only under `make compose-test` (GRIDGOV_COMPOSE_TEST=1): it needs a
Docker engine and the stack that tests/compose/run.sh brings up. The normal `make test`
does not collect it at all (not even as skipped); under compose-test a missing engine or
stack is a failure, never a skip."""

from __future__ import annotations

import os

import pytest

if os.environ.get("GRIDGOV_COMPOSE_TEST") != "1":
    collect_ignore_glob = ["test_*.py"]


@pytest.fixture(scope="session")
def stack():
    from tests.compose.stack import Stack

    found = Stack.running()
    if isinstance(found, str):
        pytest.fail(found)
    return found


@pytest.fixture(scope="session")
def demo_district(stack):
    """The demo district in the registry: compose's own optional job (profile demo)."""
    import requests

    from tests.compose.stack import bearer, wait_until

    stack.compose("--profile", "demo", "run", "--rm", "--no-deps", "demo", timeout=600)
    admin = bearer(stack, "district_admin", "district:320505", "compose-admin")
    return wait_until(
        lambda: requests.get(f"{stack.proxy}/api/registry/grids.geojson", headers=admin,
                             timeout=10).json()["features"], 60, "the demo grids")

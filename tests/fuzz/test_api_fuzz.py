"""API fuzzing with schemathesis: every operation of every service's live OpenAPI document.

Each of the five running services (tests/fuzz/conftest.py) is asked for its
``/openapi.json``; schemathesis generates requests that fit the document (positive) and
requests that break it (negative) for every operation, sends them over real HTTP with a
bearer token, and checks the answers:

- ``not_a_server_error``: no 5xx, whatever the input;
- ``status_code_conformance``, ``content_type_conformance``, ``response_schema_conformance``:
  the answer is one the document promises (the error shape included).

Bounded for the suite (deterministic: ``derandomize``, no example database); set
``FUZZ_EXAMPLES`` (examples per operation and mode) to go deeper locally, e.g.
``FUZZ_EXAMPLES=200 .venv/bin/pytest tests/fuzz``. Every failure is collected, so one run
lists all of them, and the figures (operations × examples, time) are printed.
"""

from __future__ import annotations

import time

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.fuzz.conftest import FUZZ_EXAMPLES, SERVICES

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]
POSITIVE_EXAMPLES = FUZZ_EXAMPLES or 12
NEGATIVE_EXAMPLES = FUZZ_EXAMPLES or 6
REQUEST_TIMEOUT = 15


def fuzz_operation(operation, base_url: str, headers: dict[str, str],
                   mode: GenerationMode, examples: int) -> int:
    """Run ``examples`` generated cases of one operation; returns how many were sent.
    Raises the first failure (shrunk by hypothesis to a small example)."""
    sent = 0

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=examples, derandomize=True, database=None, deadline=None,
              phases=[Phase.explicit, Phase.generate, Phase.shrink],
              suppress_health_check=list(HealthCheck), report_multiple_bugs=False)
    def run(case):
        nonlocal sent
        sent += 1
        case.call_and_validate(base_url=base_url, headers=headers, checks=CHECKS,
                               timeout=REQUEST_TIMEOUT)

    run()
    return sent


def fuzz_service(stack, service: str, headers: dict[str, str]) -> tuple[list[str], int, int]:
    """(failures, operations, requests sent) of one service's whole document."""
    base_url = stack.urls[service]
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json", headers=headers,
                                           timeout=REQUEST_TIMEOUT)
    failures: list[str] = []
    operations = sent = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        for mode, examples in ((GenerationMode.POSITIVE, POSITIVE_EXAMPLES),
                               (GenerationMode.NEGATIVE, NEGATIVE_EXAMPLES)):
            try:
                sent += fuzz_operation(operation, base_url, headers, mode, examples)
            except Unsatisfiable:  # no parameter and no body: nothing to break
                continue
            except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001  (one run lists all)
                failures.append(f"{service} {operation.label} [{mode.value}]: {exc}")
    for failure in failures:
        print(f"FUZZ FAILURE {failure[:3000]}")
    return failures, operations, sent


@pytest.mark.parametrize("service", list(SERVICES))
def test_district_admin_fuzz(stack, service):
    """The role that may call (almost) everything: the deepest reach into the handlers."""
    started = time.monotonic()
    failures, operations, sent = fuzz_service(stack, service, stack.admin())
    print(f"\nfuzz {service} as district_admin: {operations} operations, {sent} requests, "
          f"{time.monotonic() - started:.1f} s")
    assert operations > 0
    assert stack.alive()[service]
    assert not failures, "\n\n".join(failures)


@pytest.mark.parametrize("service", list(SERVICES))
def test_grid_worker_fuzz(stack, service):
    """A low-privilege role: most routes must answer 403 in the error shape, the others
    must stay inside the worker's grid, never a 5xx."""
    started = time.monotonic()
    headers = stack.token("neighbourhood_grid_worker", f"grid:{stack.grid_codes[0]}",
                          sub="fuzz-worker")
    failures, operations, sent = fuzz_service(stack, service, headers)
    print(f"\nfuzz {service} as neighbourhood_grid_worker: {operations} operations, "
          f"{sent} requests, {time.monotonic() - started:.1f} s")
    assert operations > 0
    assert stack.alive()[service]
    assert not failures, "\n\n".join(failures)

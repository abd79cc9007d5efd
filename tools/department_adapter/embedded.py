"""The reference adapter run inside another program: a thread with the adapter, its
stdout captured, stopped cleanly at the end. Used by the tests and by
``scripts/fault_injection.py`` (which must not import test helpers)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tools.department_adapter.adapter import AdapterConfig, DepartmentAdapter

WAIT = 10.0
POLL = 0.02


class Lines:
    """A text stream standing in for stdout: collects the lines written."""

    def __init__(self) -> None:
        self.text = ""

    def write(self, data: str) -> int:
        self.text += data
        return len(data)

    def flush(self) -> None:
        pass

    def envelopes(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.text.splitlines()]


def _until(condition, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(POLL)
    return bool(condition())


@contextmanager
def running(config: AdapterConfig, output: Lines | None = None,
            wait: float = WAIT) -> Iterator[DepartmentAdapter]:
    """Run an adapter in a thread until the block ends. Raises ``RuntimeError`` when it
    does not start consuming within ``wait`` seconds, fails, or does not stop cleanly:
    a caller never goes on with an adapter that is not there."""
    adapter = DepartmentAdapter(config, output=output)
    errors: list[BaseException] = []

    def target() -> None:
        try:
            adapter.run()
        except BaseException as exc:  # reported to the caller, not lost in the thread
            errors.append(exc)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    try:
        if not _until(lambda: adapter.consuming.is_set() or errors, wait) or errors:
            raise RuntimeError(f"the adapter did not start consuming: {errors!r}")
        yield adapter
    finally:
        adapter.stop()
        thread.join(wait)
        if thread.is_alive():
            raise RuntimeError("the adapter did not stop")
        if errors:
            raise RuntimeError(f"the adapter failed: {errors!r}")

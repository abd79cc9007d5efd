"""Running the reference department adapter inside a test: a thread with the adapter, its
stdout captured, stopped cleanly at the end (used by the adapter's own tests and by the
end-to-end case flow tests)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import quote, urlparse

from tests.amqp import wait_until
from tools.department_adapter.adapter import AdapterConfig, DepartmentAdapter

WAIT = 10.0
FAST = {"retry_initial": 0.05, "retry_max": 0.2, "reconnect_initial": 0.1,
        "reconnect_max": 0.5}


def amqp_url(rabbit_config: dict) -> str:
    """nameko's ``pyamqp://…/vhost`` as the amqp:// URL a department would be given."""
    parsed = urlparse(rabbit_config["AMQP_URI"])
    return (f"amqp://{parsed.username}:{parsed.password}@{parsed.hostname}:"
            f"{parsed.port or 5672}/{quote(parsed.path[1:] or '/', safe='')}")


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


@contextmanager
def running(config: AdapterConfig, output: Lines | None = None,
            ) -> Iterator[DepartmentAdapter]:
    """Run an adapter in a thread until the block ends; it must stop cleanly."""
    adapter = DepartmentAdapter(config, output=output)
    errors: list[BaseException] = []

    def target() -> None:
        try:
            adapter.run()
        except BaseException as exc:  # reported by the test, not lost in the thread
            errors.append(exc)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    try:
        assert wait_until(lambda: adapter.consuming.is_set() or errors, WAIT)
        assert not errors, errors
        yield adapter
    finally:
        adapter.stop()
        thread.join(WAIT)
        assert not thread.is_alive(), "the adapter did not stop"
        assert not errors, errors



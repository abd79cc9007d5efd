"""The reference department adapter in tests: its thread runner and stdout capture
(``tools/department_adapter/embedded.py``), the broker URL a department would be given and
fast retry settings (used by the adapter's own tests and the end-to-end case flow tests)."""

from __future__ import annotations

from urllib.parse import quote, urlparse

from tools.department_adapter.embedded import WAIT, Lines, running

__all__ = ["FAST", "WAIT", "Lines", "amqp_url", "running"]

FAST = {"retry_initial": 0.05, "retry_max": 0.2, "reconnect_initial": 0.1,
        "reconnect_max": 0.5}


def amqp_url(rabbit_config: dict) -> str:
    """nameko's ``pyamqp://…/vhost`` as the amqp:// URL a department would be given."""
    parsed = urlparse(rabbit_config["AMQP_URI"])
    return (f"amqp://{parsed.username}:{parsed.password}@{parsed.hostname}:"
            f"{parsed.port or 5672}/{quote(parsed.path[1:] or '/', safe='')}")

"""Free TCP ports for the servers that tests and benches start on one machine.

Why not simply bind to port 0 and close: the kernel may hand the same port to the next
caller, and the services listen with SO_REUSEPORT (eventlet's default), so two servers
given one port both start and the kernel splits the connections between them. A request
meant for the registry then reaches events and is answered 404 "no route" (a CI run failed
so). A port this process handed out once is never handed out again.
"""

from __future__ import annotations

import socket
import threading

MAX_TRIES = 1000  # the ephemeral range holds ~28,000 ports; a session uses a few hundred

_given: set[int] = set()
_lock = threading.Lock()


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on right now, never returned before by this process."""
    with _lock:
        for _ in range(MAX_TRIES):
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
                sock.bind((host, 0))
                port = sock.getsockname()[1]
            if port not in _given:
                _given.add(port)
                return port
    raise RuntimeError(f"no new free port after {MAX_TRIES} tries ({len(_given)} handed out)")

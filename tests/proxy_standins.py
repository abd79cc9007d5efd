"""Stand-ins for the services behind the real proxy configuration: small HTTP servers that
answer every request with which service and replica they are, the path they were given and
the client address the proxy named (X-Real-IP). Used by the proxy's own tests, where what
is checked is nginx's behaviour on deploy/proxy/nginx.conf, not the services."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

WAIT_SECONDS = 30.0  # a bound for a condition to come true, not a timing assertion


class _Echo(BaseHTTPRequestHandler):
    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        said = (f"{self.server.service} {self.server.server_address[0]} {self.path} "
                f"{self.headers.get('X-Real-IP')}")
        body = said.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer  # noqa: N815 (http.server's names)

    def log_message(self, *args: Any) -> None:
        pass


@contextmanager
def replica(service: str, address: str, port: int) -> Iterator[None]:
    """One stand-in replica of ``service`` on address:port until the block ends."""
    server = ThreadingHTTPServer((address, port), _Echo)
    server.service = service
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()


def wait_for(check: Callable[[], Any], what: str) -> Any:
    """``check()``'s first truthy result, polled until WAIT_SECONDS pass."""
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        result = check()
        if result:
            return result
        assert time.monotonic() < deadline, what
        time.sleep(0.2)

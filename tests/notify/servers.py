"""Real servers the notify service talks to in tests, each in a (green) thread: an HTTP
receiver (webhooks, the SMS gateway) and an SMTP server (Python 3.11's stdlib ``smtpd``)."""

from __future__ import annotations

import asyncore
import http.server
import json
import smtpd
import threading
import time
import warnings
from email import message_from_bytes, policy
from typing import Any

WAIT = 5.0


class HttpReceiver:
    """Records every POST (path, headers, raw body, time); answers ``status``."""

    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.requests: list[dict[str, Any]] = []
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802  (http.server's name)
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.requests.append({"path": self.path, "headers": dict(self.headers),
                                          "raw": raw, "at": time.monotonic()})
                self.send_response(receiver.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def json_bodies(self) -> list[dict[str, Any]]:
        return [json.loads(r["raw"]) for r in self.requests]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(WAIT)


with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)

    class _Smtp(smtpd.SMTPServer):
        def __init__(self, box: list, *args, **kwargs) -> None:
            self.box = box
            super().__init__(*args, **kwargs)

        def process_message(self, peer, mailfrom, rcpttos, data, **kwargs):
            self.box.append({"from": mailfrom, "to": rcpttos,
                             "message": message_from_bytes(data, policy=policy.default)})


class SmtpServer:
    """A real SMTP server on a free port; ``messages`` holds what it accepted."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self.map: dict = {}
        self.server = _Smtp(self.messages, ("127.0.0.1", 0), None,
                            decode_data=False, map=self.map)
        self.port = self.server.socket.getsockname()[1]
        self.running = True
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        while self.running:
            asyncore.loop(timeout=0.05, count=1, map=self.map)

    def close(self) -> None:
        self.running = False
        self.thread.join(WAIT)
        self.server.close()
        asyncore.close_all(map=self.map)

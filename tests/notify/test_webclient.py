"""The webhook HTTP client against a real TCP server that answers scripted bytes: every
answer framing it reads (length, chunked, close, HTTP/1.0, interim 1xx), connection reuse,
a kept-alive connection the server dropped, and what it refuses to send."""

from __future__ import annotations

import socket
import threading

import pytest

from services.notify.webclient import HttpError, HttpPool


class ScriptedServer:
    """Accepts connections; for each request read, sends the next scripted answer.
    ``None`` as an answer closes the connection instead of answering."""

    def __init__(self, answers: list[bytes | None]) -> None:
        self.answers = list(answers)
        self.requests: list[bytes] = []
        self.connections = 0
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        buffer = b""
        with conn:
            while self.answers:
                while b"\r\n\r\n" not in buffer:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    buffer += chunk
                head, _, rest = buffer.partition(b"\r\n\r\n")
                length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                                  if line.lower().startswith(b"content-length")))
                while len(rest) < length:
                    rest += conn.recv(65536)
                self.requests.append(head + b"\r\n\r\n" + rest[:length])
                buffer = rest[length:]
                answer = self.answers.pop(0)
                if answer is None:
                    return
                conn.sendall(answer)

    def close(self) -> None:
        self.sock.close()


OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}"


@pytest.fixture
def pool():
    pool = HttpPool(timeout=2.0)
    yield pool
    pool.close()


def test_posts_the_body_and_headers_and_reuses_the_connection(pool):
    server = ScriptedServer([OK, b"HTTP/1.1 204 No Content\r\n\r\n", OK])
    try:
        assert pool.post(server.url + "/hook?k=1", b'{"a":1}', {"X-Test": "v"}) == 200
        assert pool.post(server.url + "/hook?k=1", b"{}", {}) == 204
        assert pool.post(server.url + "/hook?k=1", b"{}", {}) == 200
        assert server.connections == 1
        first = server.requests[0]
        assert first.startswith(b"POST /hook?k=1 HTTP/1.1\r\n")
        assert b"\r\nHost: 127.0.0.1:" in first and b"\r\nX-Test: v\r\n" in first
        assert b"\r\nContent-Length: 7\r\n" in first and first.endswith(b'\r\n\r\n{"a":1}')
    finally:
        server.close()


def test_reads_chunked_and_interim_answers(pool):
    chunked = (b"HTTP/1.1 202 Accepted\r\nTransfer-Encoding: chunked\r\n\r\n"
               b"3\r\nabc\r\n5;x=y\r\nhello\r\n0\r\nTrailer: t\r\n\r\n")
    interim = b"HTTP/1.1 100 Continue\r\n\r\n" + OK
    server = ScriptedServer([chunked, interim, OK])
    try:
        assert [pool.post(server.url, b"{}", {}) for _ in range(3)] == [202, 200, 200]
        assert server.connections == 1  # every answer was read to its end
    finally:
        server.close()


def test_closes_when_the_server_says_so(pool):
    server = ScriptedServer([
        b"HTTP/1.1 500 Oops\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
        b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\n\r\nbody until close", OK])
    try:
        assert [pool.post(server.url, b"{}", {}) for _ in range(4)] == [500, 200, 200, 200]
        assert server.connections == 4
    finally:
        server.close()


def test_a_dropped_idle_connection_is_replaced_once(pool):
    server = ScriptedServer([OK, None, OK])
    try:
        assert pool.post(server.url, b"{}", {}) == 200
        assert pool.post(server.url, b"{}", {}) == 200  # first try hit the closed one
        assert server.connections == 2
    finally:
        server.close()


def test_failures_are_http_errors(pool):
    server = ScriptedServer([b"SMTP ready\r\n\r\n"])
    try:
        with pytest.raises(HttpError, match="not an HTTP status line"):
            pool.post(server.url, b"{}", {})
    finally:
        server.close()
    free = socket.create_server(("127.0.0.1", 0))
    port = free.getsockname()[1]
    free.close()
    with pytest.raises(HttpError, match="ConnectionRefusedError"):
        pool.post(f"http://127.0.0.1:{port}/", b"{}", {})
    with pytest.raises(HttpError, match="not an http"):
        pool.post("ftp://example.org/x", b"{}", {})


def test_refuses_header_injection_before_sending(pool):
    server = ScriptedServer([OK])
    try:
        with pytest.raises(HttpError, match="control character"):
            pool.post(server.url, b"{}", {"X-Test": "a\r\nX-Evil: 1"})
        with pytest.raises(HttpError, match="path"):
            pool.post(server.url + "/a b", b"{}", {})
        assert server.requests == []
    finally:
        server.close()

"""A small HTTP/1.1 client for webhooks and the SMS gateway: kept-alive connections per
host; a request is one write of bytes built at once, the answer a status line and headers
split by hand.

Why not ``http.client``: per request it checks every header with regular expressions,
wraps the socket in a new file object and parses the answer's headers with the ``email``
package; in bench_07 (≥ 1,000 webhook deliveries/s on two cores) that was most of the
Python time of a delivery.  What is needed here is small: ``POST`` a JSON body, learn the
status, keep the connection when the server allows it.

What it does: ``Content-Length`` and chunked answers (read and discarded, so the connection
can be reused), ``Connection: close``, HTTP/1.0 answers (closed after), interim ``1xx``
answers (skipped), TLS with the default verifying context, the timeout on every socket
operation.  What it does not: redirects (a 3xx is a failed delivery, as before),
proxies, compressed or streamed bodies.  A request target or header value holding a
control character is refused before anything is sent (header injection).
"""

from __future__ import annotations

import re
import socket
import ssl
from collections import defaultdict
from collections.abc import Mapping
from functools import cache
from urllib.parse import urlsplit

MAX_HEAD = 64 * 1024  # status line and headers of an answer
MAX_BODY = 1024 * 1024  # a longer answer body is not read: the connection is closed
RECV_BYTES = 65536
_UNSAFE_TARGET = re.compile(r"[\x00-\x20\x7f]")
_UNSAFE_VALUE = re.compile(r"[\x00-\x1f\x7f]")


class HttpError(Exception):
    """The request could not be made or the answer was not HTTP (connection, TLS,
    timeout, protocol); the caller decides about a retry."""


class _Connection:
    def __init__(self, scheme: str, host: str, port: int, timeout: float) -> None:
        sock = socket.create_connection((host, port), timeout=timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if scheme == "https":
            sock = _tls().wrap_socket(sock, server_hostname=host)
        self.sock = sock
        self.buffer = bytearray()

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass

    def exchange(self, request: bytes) -> tuple[int, bool]:
        """Send ``request``; (status, whether the connection may be reused)."""
        self.sock.sendall(request)
        while True:
            version, status, headers = _parse_head(self._read_until(b"\r\n\r\n", MAX_HEAD))
            if not (100 <= status < 200) or status == 101:
                break  # 1xx are interim answers; the real one follows
        keep = version == b"HTTP/1.1" and b"close" not in headers.get(b"connection", b"")
        if status in (204, 304):
            return status, keep
        if b"chunked" in headers.get(b"transfer-encoding", b""):
            self._skip_chunked()
        elif b"content-length" in headers:
            length = _int(headers[b"content-length"], 10)
            if length > MAX_BODY:
                return status, False
            self._skip(length)
        else:
            return status, False  # the body runs until the server closes
        return status, keep

    def _fill(self) -> None:
        chunk = self.sock.recv(RECV_BYTES)
        if not chunk:
            raise HttpError("the server closed the connection")
        self.buffer += chunk

    def _read_until(self, marker: bytes, limit: int) -> bytes:
        while True:
            end = self.buffer.find(marker)
            if end >= 0:
                data = bytes(self.buffer[:end])
                del self.buffer[:end + len(marker)]
                return data
            if len(self.buffer) > limit:
                raise HttpError("the answer's head is too long")
            self._fill()

    def _skip(self, count: int) -> None:
        while len(self.buffer) < count:
            self._fill()
        del self.buffer[:count]

    def _skip_chunked(self) -> None:
        total = 0
        while True:
            size = _int(self._read_until(b"\r\n", 1024).split(b";")[0].strip(), 16)
            if size == 0:
                while self._read_until(b"\r\n", MAX_HEAD):  # trailers, then a blank line
                    pass
                return
            total += size
            if total > MAX_BODY:
                raise HttpError("the answer's body is too long")
            self._skip(size + 2)


def _int(text: bytes, base: int) -> int:
    try:
        value = int(text, base)
    except ValueError:
        raise HttpError(f"not a number in the answer: {text[:40]!r}") from None
    if value < 0:
        raise HttpError("a negative length in the answer")
    return value


def _parse_head(head: bytes) -> tuple[bytes, int, dict[bytes, bytes]]:
    lines = head.split(b"\r\n")
    parts = lines[0].split(b" ", 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/") or len(parts[1]) != 3:
        raise HttpError(f"not an HTTP status line: {lines[0][:80]!r}")
    headers = {}
    for line in lines[1:]:
        name, colon, value = line.partition(b":")
        if colon:
            headers[name.strip().lower()] = value.strip().lower()
    return parts[0], _int(parts[1], 10), headers


@cache
def _tls() -> ssl.SSLContext:
    return ssl.create_default_context()


def _host_header(scheme: str, host: str, port: int) -> str:
    if not host.isascii():
        host = host.encode("idna").decode("ascii")
    if ":" in host:
        host = f"[{host}]"
    return host if port == (443 if scheme == "https" else 80) else f"{host}:{port}"


class HttpPool:
    """Idle keep-alive connections per (scheme, host, port); one request per connection
    at a time, so concurrent greenlets each take their own."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._idle: dict[tuple[str, str, int], list[_Connection]] = defaultdict(list)

    def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> int:
        """The answer's status; HttpError when there is none (a kept-alive connection the
        server had closed is replaced once, transparently)."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise HttpError(f"not an http(s) URL: {parts.scheme}://{parts.hostname}")
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            raise HttpError("not a valid port in the URL") from None
        key = (parts.scheme, parts.hostname, port)
        request = _request(parts.path or "/", parts.query, _host_header(*key), body, headers)
        idle = self._idle[key]
        if idle:
            try:
                return self._exchange(idle.pop(), key, request)
            except (OSError, HttpError):
                pass  # closed by the server while idle: once more on a fresh connection
        try:
            return self._exchange(_Connection(*key, self.timeout), key, request)
        except (OSError, ValueError) as exc:  # ValueError: an IDNA host name that is not
            raise HttpError(f"{type(exc).__name__}: {exc}") from None

    def _exchange(self, conn: _Connection, key, request: bytes) -> int:
        try:
            status, keep = conn.exchange(request)
        except BaseException:
            conn.close()
            raise
        if keep:
            self._idle[key].append(conn)
        else:
            conn.close()
        return status

    def close(self) -> None:
        for conns in self._idle.values():
            for conn in conns:
                conn.close()
        self._idle.clear()


def _request(path: str, query: str, host: str, body: bytes,
             headers: Mapping[str, str]) -> bytes:
    target = f"{path}?{query}" if query else path
    if _UNSAFE_TARGET.search(target) or not target.isascii():
        raise HttpError("the URL's path holds spaces, control or non-ASCII characters")
    lines = [f"POST {target} HTTP/1.1", f"Host: {host}", "Content-Type: application/json",
             f"Content-Length: {len(body)}"]
    for name, value in headers.items():
        if _UNSAFE_VALUE.search(value) or _UNSAFE_VALUE.search(name):
            raise HttpError(f"header {name!r} holds a control character")
        lines.append(f"{name}: {value}")
    lines.append("\r\n")
    try:
        return "\r\n".join(lines).encode("latin-1") + body
    except UnicodeEncodeError:
        raise HttpError("a header is not Latin-1 text") from None

#!/usr/bin/env python3
"""Wait until servers answer, at the protocol level, within a bounded time.

    wait_for.py [--timeout SECONDS] [--interval SECONDS] [--quiet] TARGET...

A TARGET is a URL; its scheme says how it is checked:

    postgresql://…, postgresql+psycopg://…   TCP, then psycopg connects and runs SELECT 1
                                             (a server that answers "database … does not
                                             exist" counts as up: migrations create it)
    amqp://…, pyamqp://…, amqps://…          TCP, then a kombu AMQP connection is opened
    http://…, https://…                      GET answers 2xx (user:pass@ becomes Basic auth)
    tcp://HOST:PORT                          a TCP connection is accepted

Every target is retried until it answers or ``--timeout`` seconds have passed (0 = one
attempt). Exit status 0 when all answered; 1 otherwise, with one line per failed target
saying what was tried and the last error. The HTTP and TCP checks use the standard library
only (the Docker healthchecks use them); psycopg and kombu are imported when needed.
"""

from __future__ import annotations

import argparse
import base64
import socket
import sys
import time
import urllib.error
import urllib.request
from urllib.parse import unquote, urlsplit, urlunsplit

DEFAULT_PORTS = {"postgresql": 5432, "amqp": 5672, "amqps": 5671, "http": 80, "https": 443}
ATTEMPT_TIMEOUT = 3.0


class NotReady(Exception):
    """The target did not answer as expected (the message says how)."""


def kind_of(url: str) -> str:
    scheme = urlsplit(url).scheme.lower()
    if scheme.startswith("postgres"):
        return "postgresql"
    if scheme in ("amqp", "pyamqp", "amqps", "librabbitmq"):
        return "amqps" if scheme == "amqps" else "amqp"
    if scheme in ("http", "https", "tcp"):
        return scheme
    raise ValueError(f"unsupported target {redact(url)!r} (postgresql://, amqp://, "
                     "pyamqp://, http://, https:// or tcp://HOST:PORT)")


def redact(url: str) -> str:
    """The URL with any password replaced by ***."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{netloc}"))


def describe(url: str) -> str:
    kind = kind_of(url)
    parts = urlsplit(url)
    where = f"{parts.hostname}:{parts.port or DEFAULT_PORTS.get(kind, '?')}"
    return {
        "postgresql": f"PostgreSQL at {where}",
        "amqp": f"RabbitMQ (AMQP) at {where}",
        "amqps": f"RabbitMQ (AMQPS) at {where}",
        "tcp": f"TCP {where}",
    }.get(kind, f"HTTP {redact(url)}")


def check_tcp(host: str, port: int) -> None:
    try:
        with socket.create_connection((host, port), timeout=ATTEMPT_TIMEOUT):
            pass
    except OSError as exc:
        reason = exc.strerror or str(exc) or type(exc).__name__
        raise NotReady(f"TCP connection to {host}:{port} failed: {reason}") from exc


def check_postgresql(url: str) -> None:
    parts = urlsplit(url)
    check_tcp(parts.hostname or "127.0.0.1", parts.port or 5432)
    import psycopg

    conninfo = urlunsplit(parts._replace(scheme="postgresql"))
    try:
        with psycopg.connect(conninfo, connect_timeout=int(ATTEMPT_TIMEOUT)) as conn:
            conn.execute("SELECT 1").fetchone()
    except psycopg.Error as exc:
        message = " ".join(str(exc).split())
        if getattr(exc, "sqlstate", None) == "3D000" or (
                "database" in message and "does not exist" in message):
            return  # the server answers; the database itself comes with migrations
        raise NotReady(f"PostgreSQL did not accept a session: {message}") from exc


def check_amqp(url: str) -> None:
    parts = urlsplit(url)
    check_tcp(parts.hostname or "127.0.0.1", parts.port or DEFAULT_PORTS[kind_of(url)])
    from kombu import Connection

    conn = Connection(url, connect_timeout=ATTEMPT_TIMEOUT)
    try:
        conn.connect()
    except Exception as exc:  # kombu/amqp raise many types (auth, protocol, socket)
        raise NotReady(f"AMQP handshake failed: {type(exc).__name__}: {exc}") from exc
    finally:
        conn.release()


def check_http(url: str) -> None:
    parts = urlsplit(url)
    headers = {"User-Agent": "gridgov-wait-for"}
    if parts.username is not None:
        netloc = parts.netloc.rsplit("@", 1)[1]
        user_pass = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
        headers["Authorization"] = "Basic " + base64.b64encode(user_pass.encode()).decode()
        url = urlunsplit(parts._replace(netloc=netloc))
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=ATTEMPT_TIMEOUT) as response:
            status = response.status
    except urllib.error.HTTPError as exc:
        raise NotReady(f"HTTP status {exc.code}") from exc
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        reason = getattr(reason, "strerror", None) or str(reason)
        raise NotReady(f"no HTTP answer: {reason}") from exc
    if not 200 <= status < 300:
        raise NotReady(f"HTTP status {status}")


def check(url: str) -> None:
    kind = kind_of(url)
    if kind == "postgresql":
        check_postgresql(url)
    elif kind in ("amqp", "amqps"):
        check_amqp(url)
    elif kind in ("http", "https"):
        check_http(url)
    else:
        parts = urlsplit(url)
        if parts.hostname is None or parts.port is None:
            raise ValueError(f"tcp target needs a host and a port: {url!r}")
        check_tcp(parts.hostname, parts.port)


def wait_for(url: str, timeout: float, interval: float) -> str | None:
    """None once ``url`` answers, else the last error after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            check(url)
            return None
        except NotReady as exc:
            error = str(exc)
        if time.monotonic() + interval > deadline:
            return error
        time.sleep(interval)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="wait_for.py", description="Wait until servers answer at the protocol level.")
    parser.add_argument("targets", nargs="+", metavar="TARGET", help="URL to check")
    parser.add_argument("--timeout", type=float, default=30.0,
                        help="seconds to keep retrying each target (default 30; 0 = once)")
    parser.add_argument("--interval", type=float, default=1.0,
                        help="seconds between attempts (default 1)")
    parser.add_argument("--quiet", "-q", action="store_true", help="print failures only")
    args = parser.parse_args(argv)
    try:
        for url in args.targets:
            kind_of(url)
    except ValueError as exc:
        parser.error(str(exc))

    failed = 0
    started = time.monotonic()
    for url in args.targets:
        remaining = max(0.0, args.timeout - (time.monotonic() - started))
        error = wait_for(url, remaining, args.interval)
        if error is None:
            if not args.quiet:
                print(f"wait_for: {describe(url)} answers")
            continue
        failed += 1
        print(f"wait_for: {describe(url)} not ready after {args.timeout:g} s: {error}",
              file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

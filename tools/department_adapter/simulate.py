"""Simulated departments for the demo district: one reference adapter per department.

``make up`` starts the five services and a demo district; without department systems no
case would ever be reported in, so this runs one :class:`DepartmentAdapter` thread per
department that acknowledges every assignment at once (``ack``) and reports a ``result``
a few seconds later -- exactly what a real department's system would publish, over the
same queues. Every message received is written as one JSON line to ``--output`` (default
stdout), which the demo keeps as a log.

    python -m tools.department_adapter.simulate --amqp-url amqp://guest:guest@127.0.0.1/%2F \
        [--departments fire,public_security] [--result-after 5] [--output var/log/x.jsonl] \
        [--password-env-prefix GRIDGOV_BUS_PASSWORD_]

With ``--password-env-prefix`` each department logs in as its own broker user
``dept.<code>`` with the password in ``$<PREFIX><CODE>`` (host, port and vhost from the
URL), as a real department's system does; its reports then carry ``user_id`` =
``dept.<code>``, which dispatch requires when ``REQUIRE_REPORT_USER_ID`` is on (compose and
production).  Without it every department shares the URL's user (``make up``, tests).

SIGTERM or SIGINT stops every adapter after the message in hand.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import quote, urlsplit, urlunsplit

from .adapter import (
    AdapterConfig,
    AdapterConfigError,
    DepartmentAdapter,
    configure_logging,
    parse_bool,
)

# The demo district's departments: the register's first version, read as plain JSON so that
# this tool imports nothing of gridgov (it runs beside it, in the same image or checkout).
SEED = Path(__file__).resolve().parents[2] / "gridgov_common" / "kernel" / "departments.json"
DEFAULT_DEPARTMENTS = tuple(entry["code"] for entry in
                            json.loads(SEED.read_text(encoding="utf-8"))["departments"])
DEFAULT_RESULT_AFTER = 5.0
JOIN_SECONDS = 15.0

log = logging.getLogger("department_adapter.simulate")


def amqp_url_from_env(environ: dict[str, str] | os._Environ[str]) -> str:
    """DEPARTMENT_AMQP_URL, else the services' GRIDGOV_AMQP_URI (nameko writes it as
    ``pyamqp://``, which is the same URL for pika once the scheme is ``amqp://``)."""
    url = environ.get("DEPARTMENT_AMQP_URL") or environ.get("GRIDGOV_AMQP_URI") or ""
    return "amqp://" + url[len("pyamqp://"):] if url.startswith("pyamqp://") else url


def department_user(code: str) -> str:
    """The broker user of a department (tools.bus_users.user_name; copied)."""
    return f"dept.{code}"


def department_urls(amqp_url: str, departments: list[str], prefix: str,
                    environ: Mapping[str, str]) -> dict[str, str]:
    """Each department's URL: ``amqp_url`` with ``dept.<code>`` and ``$<prefix><CODE>`` as
    its credentials.  Every password must be set: a department left out would otherwise
    log in as someone else, or not at all, without saying which."""
    parts = urlsplit(amqp_url)
    host = parts.hostname or ""
    if ":" in host:  # an IPv6 literal keeps its brackets
        host = f"[{host}]"
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    missing = [f"{prefix}{code.upper()}" for code in departments
               if not environ.get(f"{prefix}{code.upper()}")]
    if missing:
        raise AdapterConfigError(f"unset password variables: {', '.join(missing)}")
    urls = {}
    for code in departments:
        secret = quote(environ[f"{prefix}{code.upper()}"], safe="")
        netloc = f"{quote(department_user(code), safe='')}:{secret}@{host}"
        urls[code] = urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))
    return urls


class Simulation:
    """Adapters in threads, started and stopped together (also used by tests).

    ``amqp_url`` is one URL for every department, or a URL per department code
    (:func:`department_urls`)."""

    def __init__(self, amqp_url: str | Mapping[str, str], departments: list[str],
                 result_after: float, resolved: bool = True, output: TextIO | None = None,
                 **options: Any):
        self.output_lock = threading.Lock()  # one line at a time from every thread
        urls = amqp_url if isinstance(amqp_url, Mapping) else dict.fromkeys(departments,
                                                                             amqp_url)
        self.adapters = [
            DepartmentAdapter(AdapterConfig(
                department=department, amqp_url=urls[department], auto_ack=True,
                auto_result_after=result_after, resolved=resolved, **options),
                output=output, output_lock=self.output_lock)
            for department in departments]
        self.threads: list[threading.Thread] = []
        self.failed: list[str] = []

    def start(self) -> None:
        for adapter in self.adapters:
            thread = threading.Thread(target=self._run, args=(adapter,),
                                      name=f"dept-{adapter.config.department}", daemon=True)
            thread.start()
            self.threads.append(thread)

    def _run(self, adapter: DepartmentAdapter) -> None:
        try:
            adapter.run()
        except AdapterConfigError as exc:
            self.failed.append(adapter.config.department)
            log.error("%s: %s", adapter.config.department, exc)
        except Exception:
            self.failed.append(adapter.config.department)
            log.exception("%s: adapter crashed", adapter.config.department)

    def stop(self) -> None:
        for adapter in self.adapters:
            adapter.stop()

    def join(self, timeout: float = JOIN_SECONDS) -> bool:
        """True when every adapter thread ended within ``timeout``."""
        for thread in self.threads:
            thread.join(timeout)
        return not any(thread.is_alive() for thread in self.threads)

    def alive(self) -> bool:
        return any(thread.is_alive() for thread in self.threads)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tools.department_adapter.simulate",
        description="Simulated departments: auto-ack every assignment, report a result later.")
    parser.add_argument("--amqp-url", help="default $DEPARTMENT_AMQP_URL, else "
                        "$GRIDGOV_AMQP_URI (pyamqp:// accepted)")
    parser.add_argument("--departments", default=",".join(DEFAULT_DEPARTMENTS),
                        help="comma-separated department codes (default: all ten)")
    parser.add_argument("--result-after", type=float, default=DEFAULT_RESULT_AFTER,
                        metavar="SECONDS", help=f"default {DEFAULT_RESULT_AFTER:g}")
    parser.add_argument("--resolved", type=parse_bool, default=True, metavar="true|false")
    parser.add_argument("--output", help="append the received messages (JSON lines) here "
                        "instead of stdout")
    parser.add_argument("--password-env-prefix", metavar="PREFIX",
                        help="log each department in as dept.<code> with the password in "
                        "$<PREFIX><CODE> (e.g. GRIDGOV_BUS_PASSWORD_); host, port and vhost "
                        "from the URL")
    parser.add_argument("--log-level", default="INFO")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    url = args.amqp_url or amqp_url_from_env(os.environ)
    departments = [code.strip() for code in args.departments.split(",") if code.strip()]
    if not url or not departments:
        parser.error("an AMQP URL and at least one department are needed")
    configure_logging(args.log_level)
    output: TextIO | None = None
    if args.output:
        output = open(args.output, "a", encoding="utf-8")  # closed in the finally below
    elif hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(encoding="utf-8")
    try:
        urls = (department_urls(url, departments, args.password_env_prefix, os.environ)
                if args.password_env_prefix else url)
        simulation = Simulation(urls, departments, args.result_after, args.resolved, output)
    except AdapterConfigError as exc:
        parser.error(str(exc))
    stopped = {"flag": False}  # a plain flag: no lock is taken inside a signal handler

    def handler(signum: int, frame: Any) -> None:
        stopped["flag"] = True

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    log.info("simulating %d departments: %s", len(departments), ", ".join(departments))
    simulation.start()
    try:
        while not stopped["flag"] and simulation.alive():
            time.sleep(0.2)
    finally:
        simulation.stop()
        clean = simulation.join()
        if output is not None:
            output.close()
    if simulation.failed:
        log.error("adapters failed: %s", ", ".join(simulation.failed))
        return 2
    return 0 if clean else 1


if __name__ == "__main__":
    sys.exit(main())

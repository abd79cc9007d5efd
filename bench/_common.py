"""Shared plumbing of the bench scripts: a throw-away database and RabbitMQ vhost, service
processes that are always stopped, and one table format for the figures.

Why one module: every script must clean up after itself even on Ctrl-C or an exception,
and must never touch the ``gridgov``/``gridgov_test`` databases or the vhost a running
``make up`` stack consumes from.  Keeping those guarantees here, once, means a new script
gets them by using ``fresh_database``, ``rabbit_vhost`` and ``ServiceProcess``.

Servers (override for another machine; ``make bench`` exports ``.env``, whose
``GRIDGOV_DB_URL`` names the real database and is therefore deliberately NOT used):

* ``GRIDGOV_BENCH_DB_SERVER``  default ``postgresql+psycopg://postgres@127.0.0.1:5432/``
* ``GRIDGOV_BENCH_AMQP``       default ``pyamqp://guest:guest@127.0.0.1:5672/``
* ``GRIDGOV_BENCH_RABBIT_API`` default ``http://guest:guest@127.0.0.1:15672/api``
"""

from __future__ import annotations

import argparse
import base64
import json
import math
import os
import re
import secrets
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from gridgov_common.platform import db_roles, migrate
from tools.ports import free_port  # noqa: F401  (benches and tests call _common.free_port)

REPO_ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = REPO_ROOT / ".venv" / "bin"
PYTHON = str(VENV_BIN / "python") if (VENV_BIN / "python").exists() else sys.executable
NAMEKO = str(VENV_BIN / "nameko")

DB_SERVER_URL = os.environ.get("GRIDGOV_BENCH_DB_SERVER",
                               "postgresql+psycopg://postgres@127.0.0.1:5432/")
AMQP_SERVER_URI = os.environ.get("GRIDGOV_BENCH_AMQP", "pyamqp://guest:guest@127.0.0.1:5672/")
RABBIT_API = os.environ.get("GRIDGOV_BENCH_RABBIT_API",
                            "http://guest:guest@127.0.0.1:15672/api")
BENCH_PREFIX = "gridgov_bench_"
_SAFE_NAME = re.compile(r"gridgov_bench_[a-z0-9_]+")
STOP_GRACE_SECONDS = 10.0
SERVICES = ("registry", "events", "dispatch", "assessment", "notify")
SERVICE_CLASSES = {"registry": "RegistryService", "events": "EventsService",
                   "dispatch": "DispatchService", "assessment": "AssessmentService",
                   "notify": "NotifyService"}


# -- command line, signals -----------------------------------------------------------------

def parse_args(description: str, argv: Sequence[str] | None = None,
               add_arguments: Callable[[argparse.ArgumentParser], None] | None = None,
               ) -> argparse.Namespace:
    """Every script takes ``--quick`` (smaller sizes, for a smoke run or a busy machine);
    ``add_arguments`` adds a script's own options."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true",
                        help="run a smaller size (a smoke run; figures are noisier)")
    if add_arguments is not None:
        add_arguments(parser)
    return parser.parse_args(argv)


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def run(main: Callable[[argparse.Namespace], int], description: str,
        add_arguments: Callable[[argparse.ArgumentParser], None] | None = None) -> None:
    """Run ``main(args)`` so that SIGTERM/SIGHUP unwind like Ctrl-C: every ``finally``
    (drop the database, stop the services) runs whoever stops the benchmark."""
    signal.signal(signal.SIGTERM, _raise_interrupt)
    signal.signal(signal.SIGHUP, _raise_interrupt)
    args = parse_args(description, add_arguments=add_arguments)
    try:
        code = main(args)
    except KeyboardInterrupt:
        print("\ninterrupted; cleaned up", file=sys.stderr)
        code = 130
    sys.stdout.flush()
    sys.exit(code)


# -- figures -------------------------------------------------------------------------------

def format_number(value: float | int | None) -> str:
    """Thousands separators for rates, three significant digits for small values."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if isinstance(value, int):
        return f"{value:,}"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:,.1f}"
    return f"{value:.3g}"


@dataclass
class Figure:
    what: str
    value: float | int | None
    unit: str
    at_least: float | None = None
    at_most: float | None = None

    @property
    def target(self) -> str:
        if self.at_least is not None:
            return f">= {format_number(self.at_least)}"
        if self.at_most is not None:
            return f"<= {format_number(self.at_most)}"
        return ""

    @property
    def met(self) -> str:
        if self.at_least is None and self.at_most is None:
            return ""
        if self.value is None:
            return "no"
        ok = ((self.at_least is None or self.value >= self.at_least)
              and (self.at_most is None or self.value <= self.at_most))
        return "yes" if ok else "no"


class Report:
    """The figures of one script, printed as one aligned table with notes underneath.

    ``make bench`` output is read by people comparing runs, so every script prints the
    same columns: what, value, unit, target, met.
    """

    def __init__(self, title: str) -> None:
        self.title = title
        self.figures: list[Figure] = []
        self.notes: list[str] = []

    def add(self, what: str, value: float | int | None, unit: str, *,
            at_least: float | None = None, at_most: float | None = None) -> Figure:
        figure = Figure(what, value, unit, at_least, at_most)
        self.figures.append(figure)
        return figure

    def note(self, text: str) -> None:
        self.notes.append(text)

    @property
    def all_met(self) -> bool:
        return all(f.met != "no" for f in self.figures)

    def print(self) -> None:
        header = ("what", "value", "unit", "target", "met")
        rows = [(f.what, format_number(f.value), f.unit, f.target, f.met) for f in self.figures]
        widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

        def line(cells: Sequence[str]) -> str:
            parts = [cells[0].ljust(widths[0]), cells[1].rjust(widths[1]),
                     cells[2].ljust(widths[2]), cells[3].ljust(widths[3]),
                     cells[4].ljust(widths[4])]
            return "  ".join(parts).rstrip()

        print()
        print(f"## {self.title}")
        print(line(header))
        print("  ".join("-" * w for w in widths))
        for row in rows:
            print(line(row))
        for text in self.notes:
            print(f"  * {text}")
        sys.stdout.flush()


def progress(text: str) -> None:
    """Progress goes to stderr so stdout holds only the figures."""
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def percentile(sorted_values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile of an already sorted sequence (NaN if empty)."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(pct / 100 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


# -- PostgreSQL ----------------------------------------------------------------------------

def bench_db_url(name: str) -> str:
    """URL of ``gridgov_bench_<name>`` on the bench server (never gridgov/gridgov_test)."""
    database = BENCH_PREFIX + name
    if not _SAFE_NAME.fullmatch(database):
        raise ValueError(f"bench database names are {_SAFE_NAME.pattern}, not {database!r}")
    url = sa.engine.make_url(DB_SERVER_URL).set(database=database)
    return url.render_as_string(hide_password=False)


def drop_database(url: str) -> None:
    """DROP … WITH (FORCE), refusing anything not named gridgov_bench_*."""
    target = sa.engine.make_url(url)
    if not _SAFE_NAME.fullmatch(target.database or ""):
        raise ValueError(f"refusing to drop {target.database!r}: not a bench database")
    admin = sa.create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)'))
    finally:
        admin.dispose()


@contextmanager
def fresh_database(name: str, services: tuple[str, ...] = ("registry",)) -> Iterator[str]:
    """A new, migrated ``gridgov_bench_<name>``, dropped afterwards whatever happens.

    A leftover of a run that was SIGKILLed is dropped first, so figures never come from a
    database that already holds data.
    """
    url = bench_db_url(name)
    drop_database(url)
    try:
        progress(f"creating and migrating {sa.engine.make_url(url).database} "
                 f"({', '.join(services)})")
        migrate.upgrade(url, services, env={})  # the roles of this database, not .env's
        yield url
    finally:
        drop_database(url)
        progress(f"dropped {sa.engine.make_url(url).database}")


# -- RabbitMQ ------------------------------------------------------------------------------

def _rabbit_api(method: str, path: str, body: dict | None = None) -> object:
    """One management API call; its JSON answer (None for an empty one)."""
    parsed = urllib.parse.urlsplit(RABBIT_API)
    netloc = parsed.hostname + (f":{parsed.port}" if parsed.port else "")
    url = urllib.parse.urlunsplit((parsed.scheme, netloc, parsed.path + path, "", ""))
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    user = urllib.parse.unquote(parsed.username or "guest")
    password = urllib.parse.unquote(parsed.password or "guest")
    request.add_header("Authorization", "Basic " + base64.b64encode(
        f"{user}:{password}".encode()).decode())
    request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=10) as response:
        answer = response.read()
    return json.loads(answer) if answer else None


def rabbit_queues(name: str) -> list[dict]:
    """Name, ready and unacknowledged messages of every queue of the bench vhost
    ``gridgov_bench_<name>`` (management API; its figures lag the broker by ~5 s)."""
    quoted = urllib.parse.quote(BENCH_PREFIX + name, safe="")
    columns = "name,messages,messages_ready,messages_unacknowledged"
    return list(_rabbit_api("GET", f"/queues/{quoted}?columns={columns}") or [])


def settle_queues(name: str, timeout: float = 300) -> None:
    """Wait until no service queue of the bench vhost ``gridgov_bench_<name>`` holds a
    message (the bench's own ``bench.*`` queues aside), twice in a row since the API lags:
    a phase then starts from a drained flow, not behind the last one's backlog."""
    deadline = time.monotonic() + timeout
    quiet = 0
    while time.monotonic() < deadline and quiet < 2:
        busy = [q["name"] for q in rabbit_queues(name)
                if not q["name"].startswith("bench.") and q.get("messages")]
        quiet = 0 if busy else quiet + 1
        time.sleep(1)
    if quiet < 2:
        raise RuntimeError(f"queues still busy after {timeout:.0f} s")


@contextmanager
def rabbit_vhost(name: str) -> Iterator[str]:
    """A throw-away vhost ``gridgov_bench_<name>``; yields the AMQP URI to give services.

    Why: a service started on the default vhost would declare the same queues as a running
    ``make up`` stack and consume (and apply to the bench database) messages meant for it.
    Without the management API the default vhost is used, with a warning.
    """
    vhost = BENCH_PREFIX + name
    quoted = urllib.parse.quote(vhost, safe="")
    amqp = urllib.parse.urlsplit(AMQP_SERVER_URI)
    amqp_user = urllib.parse.unquote(amqp.username or "guest")
    try:
        _rabbit_api("PUT", f"/vhosts/{quoted}")
        _rabbit_api("PUT", f"/permissions/{quoted}/{urllib.parse.quote(amqp_user, safe='')}",
                    {"configure": ".*", "write": ".*", "read": ".*"})
    except (OSError, urllib.error.URLError) as exc:
        progress(f"WARNING: no RabbitMQ management API ({exc}); using the vhost of "
                 f"{AMQP_SERVER_URI} (a running stack there may see the bench's messages)")
        yield AMQP_SERVER_URI
        return
    try:
        yield urllib.parse.urlunsplit((amqp.scheme, amqp.netloc, "/" + quoted, "", ""))
    finally:
        try:
            _rabbit_api("DELETE", f"/vhosts/{quoted}")
        except (OSError, urllib.error.URLError) as exc:
            progress(f"WARNING: could not delete vhost {vhost}: {exc}")


# -- services ------------------------------------------------------------------------------

def random_secrets() -> dict[str, str]:
    """Fresh keys per run, as environment variables: nothing the bench writes is readable
    with the real ``.env`` keys, and the real keys never reach a bench database."""
    return {
        "GRIDGOV_JWT_SECRET": secrets.token_urlsafe(48),
        "GRIDGOV_PII_KEY": base64.b64encode(secrets.token_bytes(32)).decode(),
        "GRIDGOV_PII_INDEX_KEY": base64.b64encode(secrets.token_bytes(32)).decode(),
    }


def service_env(db_url: str, amqp_uri: str, keys: dict[str, str],
                ports: dict[str, int] | None = None) -> dict[str, str]:
    """The environment of a service or CLI run against the bench database and vhost.

    Starts from ``os.environ`` (PATH, locale …) but overrides everything ``.env`` sets, so
    ``make bench`` (which exports ``.env``) cannot point a bench service at real data.
    """
    env = dict(os.environ)
    env.update(keys)
    # each service as its own role on the bench database: its GRIDGOV_<SVC>_DB_URL (which
    # .env sets to the real database) is overridden like everything else
    env.update({db_roles.url_variable(svc): db_roles.service_url(db_url, svc, env={})
                for svc in db_roles.SERVICES})
    env.update({
        "GRIDGOV_DB_URL": db_url,
        "GRIDGOV_AMQP_URI": amqp_uri,
        "PSYCOPG_WAIT_FUNC": "wait_select",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT),
                                                    os.environ.get("PYTHONPATH")])),
        "PYTHONUNBUFFERED": "1",
    })
    for svc, port in (ports or {}).items():
        env[f"{svc.upper()}_HTTP_PORT"] = str(port)
        env[f"{svc.upper()}_HTTP_HOST"] = "127.0.0.1"  # a bench service is not for others
    return env


def http_status(url: str, timeout: float = 3.0) -> int | None:
    """Status code of a GET, or None when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except (OSError, urllib.error.URLError):
        return None


def _descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (scan of /proc: works without CONFIG_PROC_CHILDREN)."""
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                stat = handle.read()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        parents.setdefault(ppid, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        children = parents.get(todo.pop(), [])
        found.extend(children)
        todo.extend(children)
    return found


def proc_status_kb(pid: int, key: str, source: str = "status") -> int | None:
    """A ``kB`` field of /proc/<pid>/<source>, None if the process is gone.

    ``status`` has VmRSS and VmHWM (peak); ``smaps_rollup`` has Pss, the fair share of
    pages shared with other processes (what a machine running all five really spends).
    """
    try:
        with open(f"/proc/{pid}/{source}") as handle:
            for line in handle:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time a process has used so far (from /proc/<pid>/stat)."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class ServiceProcess:
    """One ``nameko run`` of a gridgov service, in its own session, log in a temp file.

    ``stop`` always ends it: SIGTERM to its process group, the HTTP port poked every
    second meanwhile (nameko's SIGTERM handler only schedules the stop, and an idle eventlet
    hub may sleep for a long time before running it — see scripts/down.sh), SIGKILL after
    ``STOP_GRACE_SECONDS``.  Only the group this object started is ever signalled.
    """

    def __init__(self, service: str, env: dict[str, str], port: int, *,
                 explicit_class: bool = True) -> None:
        """``explicit_class``: run ``services.<svc>.service:<Class>`` rather than the module.

        Why: given only the module, ``nameko run`` starts every class in it that has
        entrypoints — including an imported ``PlatformService`` base, a second container
        ("platform") on the same port. With eventlet's SO_REUSEPORT it took part of the
        connections and answered 404 to every business route; the platform's web server
        now refuses a taken port, so such a process fails to start.  The module form is what
        scripts/up.sh and the Dockerfile run; bench_04 measures it as deployed.
        """
        self.service = service
        self.env = env
        self.port = port
        self.target = f"services.{service}.service"
        if explicit_class:
            self.target += f":{SERVICE_CLASSES[service]}"
        self.proc: subprocess.Popen | None = None
        self._log = tempfile.NamedTemporaryFile(
            prefix=f"gridgov-bench-{service}-", suffix=".log", delete=False)
        self.log_path = self._log.name

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ServiceProcess:
        cmd = [NAMEKO, "run", "--config", f"services/{self.service}/config.yaml", self.target]
        self.proc = subprocess.Popen(cmd, cwd=REPO_ROOT, env=self.env, stdout=self._log,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     start_new_session=True)
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None, "start() first"
        return self.proc.pid

    def wait_http(self, path: str = "/healthz", timeout: float = 90.0) -> float:
        """Wait until GET ``path`` answers 200; seconds waited.  RuntimeError (with the log
        tail) if the process dies or the time runs out."""
        started = time.monotonic()
        last = None
        while time.monotonic() - started < timeout:
            if self.proc is None or self.proc.poll() is not None:
                code = self.proc and self.proc.returncode
                raise RuntimeError(f"{self.service} exited with {code} before {path} "
                                   f"answered\n{self.log_tail()}")
            last = http_status(self.base_url + path, timeout=2.0)
            if last == 200:
                return time.monotonic() - started
            time.sleep(0.2)
        raise RuntimeError(f"{self.service}: GET {path} did not answer 200 within {timeout:.0f} s "
                           f"(last status {last})\n{self.log_tail()}")

    def rss_kb(self, key: str = "VmRSS", source: str = "status") -> int | None:
        """``key`` of the service process plus all its descendants, in kB."""
        if self.proc is None or self.proc.poll() is not None:
            return None
        total = 0
        for pid in [self.proc.pid, *_descendants(self.proc.pid)]:
            total += proc_status_kb(pid, key, source) or 0
        return total

    def process_count(self) -> int:
        """The service process and its descendants (nameko runs as one process)."""
        if self.proc is None or self.proc.poll() is not None:
            return 0
        return 1 + len(_descendants(self.proc.pid))

    def containers(self) -> list[str]:
        """Service names nameko reported starting ("starting services: a, b"), from the log."""
        try:
            text = Path(self.log_path).read_text(errors="replace")
        except OSError:
            return []
        found = re.search(r"starting services: ([A-Za-z0-9_, ]+)", text)
        return [name.strip() for name in found.group(1).split(",")] if found else []

    def log_tail(self, lines: int = 25) -> str:
        try:
            text = Path(self.log_path).read_text(errors="replace").splitlines()
        except OSError:
            return "(no log)"
        tail = "\n".join(text[-lines:])
        return f"----- last {lines} lines of {self.log_path} -----\n{tail}\n-----"

    def stop(self, keep_log: bool = False) -> None:
        """SIGTERM, then SIGKILL after the grace period; remove the log unless asked."""
        proc = self.proc
        if proc is not None and proc.poll() is None:
            self._signal(signal.SIGTERM)
            deadline = time.monotonic() + STOP_GRACE_SECONDS
            while proc.poll() is None and time.monotonic() < deadline:
                http_status(self.base_url + "/healthz", timeout=0.5)  # wake the hub
                try:
                    proc.wait(timeout=1.0)
                except subprocess.TimeoutExpired:
                    pass
            if proc.poll() is None:
                progress(f"{self.service} ignored SIGTERM for {STOP_GRACE_SECONDS:.0f} s; "
                         "SIGKILL")
                self._signal(signal.SIGKILL)
                proc.wait(timeout=10)
        if proc is not None:
            self._signal(signal.SIGKILL, quiet=True)  # any child left in the group
        self._log.close()
        if not keep_log:
            Path(self.log_path).unlink(missing_ok=True)

    def _signal(self, sig: int, quiet: bool = False) -> None:
        assert self.proc is not None
        try:
            os.killpg(self.proc.pid, sig)  # the session this object started, by its id
        except ProcessLookupError:
            pass
        except PermissionError:
            if not quiet:
                raise


@contextmanager
def running_services(services: dict[str, ServiceProcess]) -> Iterator[dict[str, ServiceProcess]]:
    """Start every given service; stop all of them on the way out, whatever happened.

    Logs are kept (and their paths printed) when the block fails with an error, for the
    post-mortem; an interrupted run leaves nothing behind.
    """
    failed = False
    try:
        for service in services.values():
            service.start()
        yield services
    except Exception:
        failed = True
        raise
    finally:
        for service in services.values():
            service.stop(keep_log=failed)
            if failed:
                progress(f"{service.service} log kept at {service.log_path}")


def run_cli(args: list[str], env: dict[str, str], timeout: float = 300) -> str:
    """Run ``python -m …`` from the repo root; its stdout, or RuntimeError with the output."""
    result = subprocess.run([PYTHON, *args], cwd=REPO_ROOT, env=env, capture_output=True,
                            text=True, timeout=timeout)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({result.returncode}):\n"
                           f"{result.stdout[-2000:]}\n{result.stderr[-2000:]}")
    return result.stdout

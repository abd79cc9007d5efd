"""The soak: N minutes at a steady rate of cases through the real entrypoints, sampled every
30 s; prints how memory, PostgreSQL CPU per case, intake latency, database size, connections,
file descriptors and error lines move from the start of the run to its end.

Why: a two-minute benchmark cannot see what a long shift does.  Issue 17's 40-minute soak at
5 cases/s found case-file appends colliding (error lines), PostgreSQL CPU per case drifting
from 10 % to 29 % of a core at constant load (generic plans that could not use partial
indexes), intake p99 drifting with it, and ``processed_messages`` and outbox tables that only
grew.  Such faults show only as slopes over a long run at constant load; this script makes
that run repeatable and prints the slopes.  It is not a ``bench_*.py`` script, so
``make bench`` does not run it (``make soak`` does).

How: the five services run as child processes (``nameko run``) on a fresh
``gridgov_bench_soak`` database with the demo district and a throw-away vhost, as in
bench_05/bench_09.  This process plays everyone else:

* the reporters, in turn: a neighbourhood grid worker's app (``POST /cases`` on events with
  a token for the grid), the 12345 hotline (``intake.case.report`` on ``gridgov.intake``)
  and an Open311 client (``POST /open311/v2/requests.json`` with an API key); the case mix
  is tools/case_simulator's ``Scenario`` (on-the-spot cases, a major event every 50);
* the departments: tools/department_adapter's ``Simulation`` (all ten; report in at once,
  report the result ``RESULT_AFTER`` seconds later);
* the community and town staff: tools/case_simulator's ``Simulator`` answers the cases that
  wait for a person (triage, local result, return visit, rework), so cases close;
* an observer of ``events.case.reported``: the intake latency is the time from a case's
  scheduled offer to events announcing it (the schedule is kept, so queueing is not hidden).

Every sample: RSS and open file descriptors of each service, CPU seconds of the PostgreSQL
backends serving the bench database (/proc), the database's size, its connections, and the
live/dead tuples of the outbox and processed_messages tables.  After the offering it waits
until every case is closed, then checks the counts, outboxes and dead-letter queues (a lost
case makes the script exit 1) and counts the error lines in the services' logs.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import argparse  # noqa: E402
import itertools  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import random  # noqa: E402
import re  # noqa: E402
import secrets  # noqa: E402
import shutil  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from collections import Counter  # noqa: E402
from typing import Any  # noqa: E402

import pika  # noqa: E402
import requests  # noqa: E402
import sqlalchemy as sa  # noqa: E402

from bench import _common, _soak  # noqa: E402
from bench.bench_05_case_flow import Sink, now_iso, params  # noqa: E402
from services.events.domain import catalogue  # noqa: E402
from tools.case_simulator.platform import Platform, PlatformError  # noqa: E402
from tools.case_simulator.scenario import Scenario  # noqa: E402
from tools.case_simulator.simulator import Simulator  # noqa: E402
from tools.department_adapter.simulate import DEFAULT_DEPARTMENTS, Simulation  # noqa: E402

SERVICES = _common.SERVICES
SAMPLE_SECONDS = 30.0
RESULT_AFTER = 2.0  # seconds from a department's report-in to its result
ANSWER_EVERY = 2.0  # seconds between the staff's passes over waiting cases
DRAIN_SECONDS = 600.0  # at most this long after the offering for every case to close
STALL_SECONDS = 120.0  # ... and give up earlier when nothing moved for this long
CHANNELS = ("app", "hotline", "open311")
MARK = "soak#"
MARKED = re.compile(MARK + r"(\d+)@(\d+\.\d+)")
RSS_LEAK_MB_PER_HOUR = 1.0
DRIFT_PERCENT = 10.0
EXTRA_SETTINGS = {
    # one client address sends every Open311 request and the rate is the benchmark's to
    # set: the per-process intake limit (2/s per subject or address) is switched off
    "GRIDGOV_RATE_LIMIT_INTAKE_RATE": "0",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--minutes", type=float, default=40.0,
                        help="how long cases are offered (default 40)")
    parser.add_argument("--rate", type=float, default=5.0,
                        help="cases offered per second, all entrypoints together (default 5)")
    parser.add_argument("--autovacuum", choices=("on", "off"), default=None,
                        help="informative only: which autovacuum setting this run is meant "
                        "to measure; the script prints the server's and changes nothing")


# -- the actors ----------------------------------------------------------------------------

def marked(text: str, number: int, offered_at: float) -> str:
    """The case's text with its number and scheduled offer time (for the latency)."""
    return f"{text} {MARK}{number}@{offered_at:.6f}"


class Reporters:
    """The three entrypoints, used in turn; each ``send`` raises if the case was refused."""

    def __init__(self, platform: Platform, events_url: str, amqp_uri: str,
                 open311_key: str, seed: int) -> None:
        self.platform = platform
        self.events_url = events_url
        self.open311_key = open311_key
        self.scenario = Scenario(rng=random.Random(seed))
        self.grids = platform.grids()
        self.public = itertools.cycle(sorted(
            code for _c, code, _s, weight, _t in self.scenario.mix
            if weight and catalogue.BY_CODE[code].public))
        self.open311 = requests.Session()
        self.connection = pika.BlockingConnection(params(amqp_uri))
        self.channel = self.connection.channel()
        self.channel.confirm_delivery()
        self.run_id = uuid.uuid4().hex[:8]
        self.accepted: Counter[str] = Counter()
        self.refused: Counter[str] = Counter()
        self.first_refusals: list[str] = []

    def send(self, number: int, offered_at: float) -> None:
        channel = CHANNELS[number % len(CHANNELS)]
        report = self.scenario.next_report(self.grids)
        try:
            getattr(self, f"_{channel}")(report, marked(report.body["description"], number,
                                                        offered_at))
        except (PlatformError, OSError, requests.RequestException,
                pika.exceptions.AMQPError) as exc:
            self.refused[channel] += 1
            if len(self.first_refusals) < 5:
                self.first_refusals.append(f"{channel}: {exc}"[:300])
        else:
            self.accepted[channel] += 1

    def _app(self, report, description: str) -> None:
        self.platform.report(report.grid_code, {**report.body, "description": description})

    def _hotline(self, report, description: str) -> None:
        body = report.body
        sub = catalogue.BY_CODE[body["subcategory"]]
        payload = {
            "source": "hotline", "source_system": "hotline_12345",
            "external_ref": f"soak-{self.run_id}-{uuid.uuid4().hex[:12]}",
            "location": body["location"], "work_category": body["work_category"],
            "info_class": sub.info_class.value, "subcategory": sub.code,
            "severity": body.get("severity") or sub.severity.value,
            "description": description, "reported_at": now_iso(), "private": False}
        envelope = {"message_id": str(uuid.uuid4()), "type": "intake.case.report",
                    "version": 1, "occurred_at": now_iso(), "producer": "hotline_12345",
                    "correlation_id": None, "payload": payload}
        self.channel.basic_publish(
            "gridgov.intake", "hotline_12345.case.report", json.dumps(envelope).encode(),
            pika.BasicProperties(content_type="application/json", delivery_mode=2,
                                 message_id=envelope["message_id"], type=envelope["type"]),
            mandatory=True)

    def _open311(self, report, description: str) -> None:
        """The public may report only public subcategories: others take the next one."""
        code = report.body["subcategory"]
        if not catalogue.BY_CODE[code].public:
            code = next(self.public)
        form = {"api_key": self.open311_key, "service_code": code,
                "description": description, "lat": report.body["location"]["lat"],
                "long": report.body["location"]["lon"]}
        response = self.open311.post(f"{self.events_url}/open311/v2/requests.json",
                                     data=form, timeout=30)
        if response.status_code != 201:
            raise PlatformError(f"Open311: {response.status_code} {response.text[:200]}")

    def close(self) -> None:
        self.connection.close()


class Observer(Sink):
    """``events.case.reported``: when each soak case was announced, and its latency."""

    def __init__(self, amqp_uri: str) -> None:
        super().__init__(amqp_uri, "gridgov.events", ["events.case.reported"], "soak.observer")
        self.records: list[tuple[float, float]] = []  # (offered at, latency)
        self.numbers: set[int] = set()

    def _on_message(self, channel, method, properties, body) -> None:
        arrived = time.time()
        found = MARKED.search(json.loads(body)["payload"]["description"])
        if found:
            offered_at = float(found.group(2))
            with self.lock:
                if int(found.group(1)) not in self.numbers:
                    self.numbers.add(int(found.group(1)))
                    self.records.append((offered_at, arrived - offered_at))
        channel.basic_ack(method.delivery_tag)

    def count(self) -> int:
        with self.lock:
            return len(self.numbers)

    def latencies(self) -> list[tuple[float, float]]:
        with self.lock:
            return list(self.records)


class Departments:
    """The ten simulated departments; counts the assignments they received."""

    def __init__(self, amqp_uri: str) -> None:
        self.lock = threading.Lock()
        self.messages = 0
        self.assignments: set[str] = set()
        url = "amqp://" + amqp_uri.split("://", 1)[1]
        self.simulation = Simulation(url, list(DEFAULT_DEPARTMENTS), RESULT_AFTER,
                                     output=self)

    def write(self, line: str) -> None:  # the adapters' "stdout": one JSON line a message
        envelope = json.loads(line)
        if envelope["type"] == "dispatch.assignment":
            with self.lock:
                self.messages += 1
                self.assignments.add(envelope["payload"]["assignment_id"])

    def flush(self) -> None:
        pass

    def delivered(self) -> tuple[int, int]:
        """(assignment messages received, distinct assignments)."""
        with self.lock:
            return self.messages, len(self.assignments)


class Staff(threading.Thread):
    """The community and town staff of tools/case_simulator, answering waiting cases."""

    def __init__(self, platform: Platform, seed: int) -> None:
        super().__init__(daemon=True, name="soak-staff")
        self.simulator = Simulator(platform, Scenario(rng=random.Random(seed)),
                                   handle_after=0.0)
        self.stopping = threading.Event()

    def run(self) -> None:
        self.simulator.run(0, lambda: not self.stopping.is_set(), poll_seconds=ANSWER_EVERY)


# -- measuring -----------------------------------------------------------------------------

class BackendCpu:
    """CPU seconds of the PostgreSQL backends serving one database, since the first read.

    Why /proc and not the whole server: the server is shared (other databases, other
    benchmarks, test suites); only the backends ``pg_stat_activity`` lists for the bench
    database count.  A backend's last reading is kept after it exits; one that appears
    later counts from its start.  The server's shared background processes (checkpointer,
    WAL writer) are left out.
    """

    def __init__(self) -> None:
        self.baseline: dict[int, float] = {}
        self.last: dict[int, float] = {}
        self.started = False

    def read(self, pids: list[int]) -> float:
        for pid in pids:
            seconds = _common.cpu_seconds(pid)
            if seconds is None:
                continue
            self.baseline.setdefault(pid, seconds if not self.started else 0.0)
            self.last[pid] = seconds
        self.started = True
        return sum(self.last[pid] - self.baseline[pid] for pid in self.last)


def open_fds(pid: int) -> int | None:
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return None


DB_SAMPLE = sa.text("""
    SELECT pg_database_size(current_database()) AS db_bytes,
           (SELECT count(*) FROM pg_stat_activity
             WHERE datname = current_database()) AS connections,
           (SELECT array_agg(pid) FROM pg_stat_activity
             WHERE datname = current_database() AND pid <> pg_backend_pid()) AS pids""")
TABLE_SAMPLE = sa.text("""
    SELECT relname, sum(n_live_tup) AS live, sum(n_dead_tup) AS dead,
           sum(pg_total_relation_size(relid)) AS bytes
      FROM pg_stat_user_tables WHERE relname IN ('outbox', 'processed_messages')
     GROUP BY relname""")


class Sampler(threading.Thread):
    """Takes a sample every ``interval`` seconds from ``t0`` until stopped."""

    def __init__(self, engine: sa.Engine, services: dict[str, _common.ServiceProcess],
                 observer: Observer, interval: float) -> None:
        super().__init__(daemon=True, name="soak-sampler")
        self.engine = engine
        self.services = services
        self.observer = observer
        self.interval = interval
        self.cpu = BackendCpu()
        self.samples: list[dict[str, Any]] = []
        self.stopping = threading.Event()
        self.t0 = time.time()

    def run(self) -> None:
        for k in itertools.count():
            if self.stopping.wait(max(0.0, self.t0 + k * self.interval - time.time())):
                return
            self.take(k * self.interval)

    def take(self, t: float) -> dict[str, Any]:
        with self.engine.connect() as conn:
            db = conn.execute(DB_SAMPLE).mappings().one()
            tables = {row["relname"]: dict(row) for row in conn.execute(TABLE_SAMPLE).mappings()}
        sample = {
            "t": t, "cases": self.observer.count(), "pg_cpu": self.cpu.read(db["pids"] or []),
            "db_bytes": db["db_bytes"], "connections": db["connections"], "tables": tables,
            "rss_mb": {svc: (p.rss_kb() or 0) / 1024 for svc, p in self.services.items()},
            "fds": {svc: open_fds(p.pid) for svc, p in self.services.items()},
        }
        self.samples.append(sample)
        _common.progress(f"t={t:5.0f} s: {sample['cases']:,} cases announced, "
                         f"PostgreSQL {sample['pg_cpu']:.1f} CPU s, "
                         f"{sample['connections']} connections, "
                         f"RSS {' '.join(f'{v:.0f}' for v in sample['rss_mb'].values())} MB")
        return sample

    def series(self, key: str, service: str | None = None) -> list[tuple[float, float]]:
        """(t, value) of one sampled figure (per service for rss_mb and fds)."""
        return [(s["t"], s[key] if service is None else s[key][service])
                for s in self.samples if (s[key] if service is None else s[key][service])
                is not None]


def offer(reporters: Reporters, rate: float, seconds: float, t0: float) -> int:
    """Offer cases on a schedule from ``t0``; returns how many were offered."""
    total = int(rate * seconds)
    for number in range(total):
        scheduled = t0 + number / rate
        delay = scheduled - time.time()
        if delay > 0:
            time.sleep(delay)
        reporters.send(number, scheduled)
    return total


CASE_COUNTS = sa.text(f"""
    SELECT (SELECT count(*) FROM events.cases WHERE description LIKE :m) AS stored,
           (SELECT count(*) FROM dispatch.cases WHERE description LIKE :m) AS filed,
           (SELECT count(*) FROM dispatch.cases
             WHERE description LIKE :m AND state = 'closed') AS closed,
           (SELECT count(*) FROM dispatch.assignments a JOIN dispatch.cases c
             USING (case_id) WHERE c.description LIKE :m) AS assignments,
           (SELECT count(*) FROM notify.deliveries WHERE state = 'pending') AS pending_sends,
           ({' + '.join(f'(SELECT count(*) FROM {s}.outbox)' for s in SERVICES)}) AS outbox""")


def case_counts(engine: sa.Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return dict(conn.execute(CASE_COUNTS, {"m": f"%{MARK}%"}).mappings().one())


def drain(engine: sa.Engine, accepted: int, limit: float) -> dict[str, int]:
    """Wait until every accepted case is stored, filed and closed, the outboxes are empty,
    notify has sent everything and the services' queues are empty (the last notify.sent
    and reports reach the case files); give up after ``limit`` s or ``STALL_SECONDS``
    without progress.  Returns the last counts."""
    deadline = time.monotonic() + limit
    moved_at, last = time.monotonic(), None
    while True:
        counts = case_counts(engine)
        counts["queued"] = sum(n for queue, n in queued("soak").items()
                               if not queue.endswith(".dlq") and not queue.startswith("soak."))
        if (counts["stored"] == counts["filed"] == counts["closed"] == accepted
                and counts["outbox"] == counts["pending_sends"] == counts["queued"] == 0):
            return counts
        if counts != last:
            moved_at, last = time.monotonic(), counts
            _common.progress(f"draining: {counts}")
        if time.monotonic() > deadline or time.monotonic() - moved_at > STALL_SECONDS:
            return counts
        time.sleep(5)


def open_states(engine: sa.Engine) -> dict[str, int]:
    with engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT state, count(*) FROM dispatch.cases WHERE description LIKE :m "
            "AND state <> 'closed' GROUP BY state"), {"m": f"%{MARK}%"})
        return {state: count for state, count in rows}


def server_setting(engine: sa.Engine, name: str) -> str:
    with engine.connect() as conn:
        return conn.execute(sa.text(f"SHOW {name}")).scalar_one()


def read_logs(services: dict[str, _common.ServiceProcess], report: _common.Report
              ) -> dict[str, Counter[str]]:
    """Error lines of each service's log, by class (warnings by logger go into the notes);
    a log with errors is copied to a directory that outlives the run (the services' own
    logs are removed when they stop)."""
    found: dict[str, Counter[str]] = {}
    kept = None
    for svc, process in services.items():
        lines = Path(process.log_path).read_text(errors="replace").splitlines()
        found[svc] = _soak.error_classes(lines)
        warnings = _soak.warning_loggers(lines)
        if warnings:
            report.note(f"{svc} WARNING lines by logger: " + ", ".join(
                f"{logger} {count}" for logger, count in warnings.most_common(5)))
        if found[svc]:
            kept = kept or tempfile.mkdtemp(prefix="gridgov-soak-logs-")
            shutil.copy(process.log_path, Path(kept) / f"{svc}.log")
    if kept:
        report.note(f"logs with error lines kept in {kept}")
    return found


def queued(name: str) -> dict[str, int]:
    """Messages in each non-empty queue of the vhost (dead-letter queues end in .dlq)."""
    return {q["name"]: q["messages"] for q in _common.rabbit_queues(name)
            if q.get("messages")}


# -- the figures ---------------------------------------------------------------------------

def add_rss(report: _common.Report, sampler: Sampler, warm_up: float) -> None:
    for svc in SERVICES:
        points = sampler.series("rss_mb", svc)
        if not points:
            continue
        slope = _soak.slope_per_hour(_soak.after(points, warm_up))
        report.add(f"{svc} RSS {points[0][1]:.0f} → {points[-1][1]:.0f} MB, slope after "
                   f"{warm_up / 60:.3g} min", slope, "MB/h", at_most=RSS_LEAK_MB_PER_HOUR)


def add_database_cpu(report: _common.Report, sampler: Sampler, first: _soak.Window,
                     last: _soak.Window) -> None:
    cpu, cases = sampler.series("pg_cpu"), sampler.series("cases")
    per_case = [_soak.per_case(cpu, cases, w) * 1000 for w in (first, last)]
    share = [_soak.delta_in(cpu, w) / (w.end - w.start) * 100 for w in (first, last)]
    for name, w, value, pct in zip(("first", "last"), (first, last), per_case, share,
                                   strict=True):
        report.add(f"PostgreSQL CPU per case, {name} {(w.end - w.start) / 60:.3g} min "
                   f"({pct:.1f} % of a core)", value, "ms")
    report.add("  drift of PostgreSQL CPU per case, last vs first",
               _soak.drift(*per_case) * 100, "%", at_least=-DRIFT_PERCENT,
               at_most=DRIFT_PERCENT)


def add_latency(report: _common.Report, observer: Observer, first: _soak.Window,
                last: _soak.Window, t0: float) -> None:
    records = [(at - t0, latency) for at, latency in observer.latencies()]
    windows = {"first": _soak.latencies_in(records, first),
               "last": _soak.latencies_in(records, last)}
    for pct in (50, 99):
        values = {name: _common.percentile(lat, pct) * 1000 for name, lat in windows.items()}
        for name, value in values.items():
            report.add(f"intake → announced p{pct}, {name} window", value, "ms")
        report.add(f"  drift of p{pct}, last vs first",
                   _soak.drift(values["first"], values["last"]) * 100, "%",
                   at_most=DRIFT_PERCENT)


def add_storage(report: _common.Report, sampler: Sampler) -> None:
    start, end = sampler.samples[0], sampler.samples[-1]
    cases = max(end["cases"] - start["cases"], 1)
    report.add(f"database {start['db_bytes'] / 2**20:.0f} → {end['db_bytes'] / 2**20:.0f} MB, "
               "growth per case", (end["db_bytes"] - start["db_bytes"]) / 1024 / cases, "kB")
    for table in ("outbox", "processed_messages"):
        stats = end["tables"].get(table) or {"live": 0, "dead": 0, "bytes": 0}
        report.add(f"{table} tables (all schemas) at the end: live rows", int(stats["live"]),
                   "rows")
        report.add(f"{table} tables at the end: dead rows ({stats['bytes'] / 2**20:.1f} MB)",
                   int(stats["dead"]), "rows")


def add_bounds(report: _common.Report, sampler: Sampler) -> None:
    connections = [v for _t, v in sampler.series("connections")]
    report.add(f"bench database connections {connections[0]} → {connections[-1]} "
               f"(max {max(connections)})", connections[-1] - connections[0], "connections")
    for svc in SERVICES:
        fds = sampler.series("fds", svc)
        if fds:
            report.add(f"{svc} open file descriptors {fds[0][1]} → {fds[-1][1]}",
                       fds[-1][1] - fds[0][1], "fds")


def add_errors(report: _common.Report, errors: dict[str, Counter[str]]) -> None:
    total = sum(sum(found.values()) for found in errors.values())
    report.add("error lines in the services' logs", total, "lines", at_most=0)
    for svc, found in errors.items():
        for kind, count in found.most_common(10):
            report.add(f"  {svc}: {kind}", count, "lines")


def add_correctness(report: _common.Report, reporters: Reporters, counts: dict[str, int],
                    departments: Departments, queues: dict[str, int]) -> bool:
    """The counts that must match; False when a case or a message was lost."""
    accepted = sum(reporters.accepted.values())
    offered = accepted + sum(reporters.refused.values())
    messages, distinct = departments.delivered()
    report.add("cases offered (" + " / ".join(f"{c} {reporters.accepted[c] + reporters.refused[c]}"
                                              for c in CHANNELS) + ")", offered, "cases")
    checks = [
        report.add("  refused at intake", sum(reporters.refused.values()), "cases", at_most=0),
        report.add("  stored by events", counts["stored"], "cases", at_least=offered),
        report.add("  filed by dispatch", counts["filed"], "cases", at_least=offered),
        report.add("  closed", counts["closed"], "cases", at_least=offered),
        report.add("assignments delivered to departments (distinct)", distinct, "assignments",
                   at_least=counts["assignments"]),
        report.add("outbox rows left (five services)", counts["outbox"], "rows", at_most=0),
        report.add("messages in dead-letter queues", sum(
            n for queue, n in queues.items() if queue.endswith(".dlq")), "messages", at_most=0),
    ]
    report.add("  assignments stored by dispatch", counts["assignments"], "assignments")
    report.add("  deliveries beyond one per assignment", messages - distinct, "messages")
    report.add("messages left in other queues", sum(
        n for queue, n in queues.items() if not queue.endswith(".dlq")), "messages")
    if queues:
        report.note("queues not empty at the end (management API, ~5 s behind): " + ", ".join(
            f"{queue} {n}" for queue, n in sorted(queues.items())))
    return all(figure.met == "yes" for figure in checks)


# -- the run -------------------------------------------------------------------------------

def soak(services: dict[str, _common.ServiceProcess], env: dict[str, str], db_url: str,
         amqp_uri: str, open311_key: str, args: argparse.Namespace,
         report: _common.Report) -> bool:
    """Offer, sample, drain, check; adds the figures to ``report``; False if cases were
    lost."""
    minutes, rate, interval = ((2.0, 1.0, 10.0) if args.quick
                               else (args.minutes, args.rate, SAMPLE_SECONDS))
    duration = minutes * 60
    engine = sa.create_engine(db_url, pool_size=3)
    platform = Platform({svc: services[svc].base_url for svc in ("registry", "events",
                                                                  "dispatch")},
                        env["GRIDGOV_JWT_SECRET"], "320505")
    reporters = Reporters(platform, services["events"].base_url, amqp_uri, open311_key, 17)
    observer, departments, staff = Observer(amqp_uri), Departments(amqp_uri), Staff(platform, 18)
    observer.start()
    departments.simulation.start()
    staff.start()
    sampler = Sampler(engine, services, observer, interval)
    try:
        _common.progress(f"offering {rate:g} cases/s for {minutes:g} min "
                         f"({int(rate * duration):,} cases), a sample every {interval:g} s")
        sampler.t0 = time.time() + 1.0
        sampler.start()
        offer(reporters, rate, duration, sampler.t0)
        sampler.stopping.set()  # the last sample is taken here, exactly at the end
        sampler.join()
        time.sleep(max(0.0, sampler.t0 + duration - time.time()))
        sampler.take(duration)
        reporters.close()
        _common.progress("offering done; waiting until every case is closed")
        counts = drain(engine, sum(reporters.accepted.values()),
                       DRAIN_SECONDS / (4 if args.quick else 1))
    finally:
        staff.stopping.set()
        departments.simulation.stop()
        observer.stopping = True
        staff.join(10)
        departments.simulation.join()
        observer.join(5)
    first, last = _soak.edge_windows(duration)
    add_rss(report, sampler, first.end)
    add_database_cpu(report, sampler, first, last)
    add_latency(report, observer, first, last, sampler.t0)
    add_storage(report, sampler)
    add_bounds(report, sampler)
    add_errors(report, read_logs(services, report))
    complete = add_correctness(report, reporters, counts, departments, queued("soak"))
    leftover = open_states(engine)
    if leftover:
        report.note(f"cases not closed, by state: {leftover}")
    for text in reporters.first_refusals:
        report.note(f"refused: {text}")
    report.note(f"windows: first {first.start:.0f}–{first.end:.0f} s, last "
                f"{last.start:.0f}–{last.end:.0f} s of {duration:.0f} s; "
                f"{len(sampler.samples)} samples every {interval:g} s")
    autovacuum = server_setting(engine, "autovacuum")
    asked = f" (run meant for autovacuum {args.autovacuum})" if args.autovacuum else ""
    report.note(f"SHOW autovacuum = {autovacuum}{asked}; this script changes no server "
                "setting")
    engine.dispose()
    return complete


def main(args: argparse.Namespace) -> int:
    minutes, rate = (2.0, 1.0) if args.quick else (args.minutes, args.rate)
    report = _common.Report(f"soak, {rate:g} cases/s for {minutes:g} min"
                            f"{' (quick)' if args.quick else ''}")
    keys = _common.random_secrets()
    open311_key = secrets.token_urlsafe(24)
    ports = {svc: _common.free_port() for svc in SERVICES}
    with _common.fresh_database("soak", SERVICES) as db_url, \
            _common.rabbit_vhost("soak") as amqp_uri:
        env = {**_common.service_env(db_url, amqp_uri, keys, ports), **EXTRA_SETTINGS,
               "GRIDGOV_OPEN311_API_KEYS": open311_key}
        _common.progress("loading the demo district")
        _common.run_cli(["-m", "services.registry.cli", "load-demo"], env)
        services = {svc: _common.ServiceProcess(svc, env, port) for svc, port in ports.items()}
        with _common.running_services(services):
            for service in services.values():
                service.wait_http("/readyz", timeout=120)
            complete = soak(services, env, db_url, amqp_uri, open311_key, args, report)
    report.note("everything on one machine: the broker, PostgreSQL, five services and this "
                "load generator (reporters, departments, staff) share its cores")
    report.print()
    if not complete:
        print("soak: cases or messages were lost (see the checks above)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    _common.run(main, __doc__.splitlines()[0], add_arguments)

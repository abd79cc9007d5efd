"""Scale-out: does a second replica of a stage add throughput when it has a core to itself?

Why: issue 16 asks to "measure 1 vs 2 replicas of the bottleneck service pinned to
disjoint cores (taskset) with the broker and database on the other". A stage that
scales with replicas where there are cores is the premise of sizing a bigger node by
cores; a stage that does not (a lock, one queue's leader, the database) needs another
answer. This machine has two cores, so the layouts are:

* **1 on core 1** — one replica of the stage on core 1; PostgreSQL, RabbitMQ, the other
  services and this load generator on core 0;
* **2 on core 1** — two replicas, both on core 1 (the control: replicas without a core);
* **2 on cores 1 + 0** — one replica on core 1, the second on core 0 beside the servers.

The reports come from points spread over every grid of the demo district (a district's
day, few of them each other's duplicates; bench_05 keeps every case at one point, the
duplicate search's worst case).

How: the stage is drained, not fed: with its replicas stopped, the stage's input queue is
filled with ``--cases`` cases (events: the hotline's ``intake.case.report`` in
``events.intake``; dispatch: events files them and ``events.case.reported`` waits in
``dispatch.cases``), then the layout's replicas start, pinned (``sched_setaffinity`` on
every thread; the servers' every process and thread, and new PostgreSQL backends inherit
the postmaster's), and the rate is taken between the first and the last case arriving
downstream (events: an observer queue on ``events.case.reported``; dispatch: the fire
brigade's queue), so a replica's start-up is not counted. Per layout: cases/s (median
round), the stage's CPU per case, the CPU PostgreSQL and RabbitMQ spent per case
meanwhile (all the drain caused, on core 0), each core's busy share during the drain,
and the cases delivered once each (exactly once with two replicas). Layouts alternate
within a round, so each sees the same machine. Affinities are restored at the end,
whatever happened. ``--quick`` drains fewer cases.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import os  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from contextlib import contextmanager  # noqa: E402

from bench import _common  # noqa: E402
from bench.bench_05_case_flow import (  # noqa: E402
    DEPARTMENTS,
    Hotline,
    Sink,
    district_points,
    lead_latencies,
    sent_time,
    servers_cpu,
    wait_count,
    wait_grid_copy,
)
from gridgov_common.kernel import auth  # noqa: E402

SERVERS = ("postgres", "beam.smp", "epmd", "erl_child_setup", "inet_gethost")
SERVICES = ("registry", "events", "dispatch")
SERVER_CORE = 0
LAYOUTS = {"1 on core 1": (1,), "2 on core 1": (1, 1), "2 on cores 1 + 0": (1, 0)}
# where each stage's input waits, and where its output is observed
INPUT_QUEUE = {"events": "events.intake", "dispatch": "dispatch.cases"}


def tasks(pid: int) -> list[int]:
    """Every thread id of a process (empty if it is gone)."""
    try:
        return [int(tid) for tid in os.listdir(f"/proc/{pid}/task")]
    except OSError:
        return []


def pin(pid: int, cores: set[int]) -> None:
    """Every thread of ``pid`` on ``cores``; threads it starts later inherit it."""
    for tid in tasks(pid):
        try:
            os.sched_setaffinity(tid, cores)
        except OSError:  # a thread that just ended
            pass


def server_pids() -> list[int]:
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/comm") as handle:
                if handle.read().strip() in SERVERS:
                    found.append(int(entry.name))
        except OSError:
            continue
    return found


@contextmanager
def servers_on(core: int):
    """PostgreSQL and RabbitMQ (and this process) on one core; every core again after."""
    every = set(range(os.cpu_count() or 1))
    pids = [*server_pids(), os.getpid()]
    for pid in pids:
        pin(pid, {core})
    try:
        yield
    finally:
        for pid in [*server_pids(), os.getpid()]:
            pin(pid, every)


def core_busy() -> list[tuple[int, int]]:
    """(busy, total) clock ticks so far of each core (/proc/stat)."""
    cores = []
    with open("/proc/stat") as handle:
        for line in handle:
            if line.startswith("cpu") and line[3].isdigit():
                fields = [int(v) for v in line.split()[1:]]
                total = sum(fields)
                cores.append((total - fields[3] - fields[4], total))
    return cores


def busy_shares(before: list[tuple[int, int]], after: list[tuple[int, int]]) -> list[float]:
    return [(b1 - b0) / max(t1 - t0, 1) for (b0, t0), (b1, t1) in zip(before, after, strict=True)]


def queue_ready(vhost: str, queue: str) -> int:
    for row in _common.rabbit_queues(vhost):
        if row["name"] == queue:
            return int(row.get("messages_ready") or 0)
    return 0


def wait_queue(vhost: str, queue: str, count: int, timeout: float) -> int:
    """Wait until ``queue`` holds ``count`` ready messages (the management API lags)."""
    deadline = time.monotonic() + timeout
    ready = 0
    while time.monotonic() < deadline:
        ready = queue_ready(vhost, queue)
        if ready >= count:
            return ready
        time.sleep(0.5)
    raise RuntimeError(f"{queue} holds {ready} of {count} after {timeout:.0f} s")


def replica(svc: str, env: dict[str, str]) -> _common.ServiceProcess:
    port = _common.free_port()
    return _common.ServiceProcess(svc, {**env, f"{svc.upper()}_HTTP_PORT": str(port),
                                        f"{svc.upper()}_HTTP_HOST": "127.0.0.1"}, port)


def first_arrival(sink: Sink, first: int, last: int, timeout: float) -> None:
    """Wait for the first case of first..last downstream: the replicas are working now."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(first <= sent_time(env)[0] <= last for _at, env in sink.taken()):
            return
        time.sleep(0.02)
    raise RuntimeError(f"no case of {first}..{last} arrived within {timeout:.0f} s")


class Bench:
    """The services, the hotline and the downstream queues of one run."""

    def __init__(self, env: dict[str, str], vhost: str) -> None:
        self.env = env
        self.vhost = vhost
        self.running: dict[str, _common.ServiceProcess | None] = dict.fromkeys(SERVICES)
        self.number = 1000
        self.hotline: Hotline | None = None

    def start(self, svc: str) -> None:
        self.running[svc] = replica(svc, self.env).start()
        pin(self.running[svc].pid, {SERVER_CORE})
        self.running[svc].wait_http("/readyz", timeout=120)

    def stop(self, svc: str) -> None:
        if self.running.get(svc) is not None:
            self.running[svc].stop()
            self.running[svc] = None

    def settle(self, timeout: float = 300) -> None:
        _common.settle_queues(self.vhost, timeout)

    def drain(self, stage: str, layout: tuple[int, ...], cases: int, observed: Sink
              ) -> dict[str, float]:
        """Fill the stage's queue with ``cases``, start ``layout``'s replicas, time it."""
        self.settle()
        self.stop(stage)
        if stage == "events":
            self.stop("dispatch")  # events.case.reported waits in dispatch.cases meanwhile
        first = self.number
        last = first + cases - 1
        self.number = last + 1000
        for number in range(first, last + 1):
            self.hotline.send(number, time.time())
        wait_queue(self.vhost, INPUT_QUEUE[stage], cases, 600)
        replicas = [replica(stage, self.env) for _core in layout]
        try:
            for proc, core in zip(replicas, layout, strict=True):
                proc.start()
                pin(proc.pid, {core})
            first_arrival(observed, first, last, 120)
            cpu_before = sum(_common.cpu_seconds(p.pid) or 0.0 for p in replicas)
            servers_before = {name: servers_cpu(name) for name in ("postgres", "beam.smp")}
            before = core_busy()
            got = wait_count(observed, first, last, 600)
            after = core_busy()
            cpu = sum(_common.cpu_seconds(p.pid) or 0.0 for p in replicas) - cpu_before
            servers = {name: servers_cpu(name) - value
                       for name, value in servers_before.items()}
            time.sleep(1)  # a late duplicate, if any, would arrive now
        finally:
            for proc in replicas:
                proc.stop()
        _lat, t0, t1 = lead_latencies(observed, first, last)
        inside = [n for _at, env in observed.taken()
                  if first <= (n := sent_time(env)[0]) <= last]
        if stage == "events":
            self.start("dispatch")  # works off what waited, before the next drain
        self.start(stage)
        return {"rate": (got - 1) / (t1 - t0) if got > 1 else float("nan"),
                "cpu_ms": cpu * 1000 / max(got - 1, 1),
                "postgres_ms": servers["postgres"] * 1000 / max(got - 1, 1),
                "rabbitmq_ms": servers["beam.smp"] * 1000 / max(got - 1, 1),
                "delivered": len(set(inside)),
                "beyond_once": len(inside) - len(set(inside)),
                "cores": busy_shares(before, after)}


def main(args) -> int:
    cases = args.cases or (1500 if args.quick else 3000)
    rounds = args.rounds
    stages = ("events", "dispatch") if args.stage == "both" else (args.stage,)
    if (os.cpu_count() or 1) < 2:
        print("bench_14: needs two cores")
        return 1
    report = _common.Report(f"bench_14 scale-out, {cases:,} cases drained per layout, "
                            f"{rounds} rounds")
    keys = _common.random_secrets()
    with _common.fresh_database("scale", SERVICES) as db_url, \
            _common.rabbit_vhost("scale") as amqp_uri, servers_on(SERVER_CORE):
        env = _common.service_env(db_url, amqp_uri, keys)
        _common.progress("loading the demo district")
        _common.run_cli(["-m", "services.registry.cli", "load-demo"], env)
        bench = Bench(env, "scale")
        try:
            for svc in SERVICES:
                bench.start(svc)
            wait_grid_copy(db_url)
            token = auth.mint(keys["GRIDGOV_JWT_SECRET"], "bench", "district_admin",
                              "district:320505")
            # a district's reports, not one corridor's: bench_05 measures the worst case
            # of the duplicate search (every case at one point) already
            bench.hotline = Hotline(amqp_uri, district_points(
                bench.running["registry"].base_url, token, 20_000))
            sinks = {d: Sink(amqp_uri, "gridgov.dispatch", [f"{d}.#"], f"bench.{d}")
                     for d in DEPARTMENTS}
            reported = Sink(amqp_uri, "gridgov.events", ["events.case.reported"],
                            "bench.reported")
            for sink in [*sinks.values(), reported]:
                sink.start()
            _common.progress("warm-up: 50 cases")
            for i in range(50):
                bench.hotline.send(i, time.time())
            wait_count(sinks["fire"], 0, 49, 120)
            observed = {"events": reported, "dispatch": sinks["fire"]}
            results: dict[tuple[str, str], list[dict]] = {}
            for round_ in range(1, rounds + 1):
                for stage in stages:
                    for name, layout in LAYOUTS.items():
                        _common.progress(f"round {round_}/{rounds}: {stage}, {name}")
                        results.setdefault((stage, name), []).append(
                            bench.drain(stage, layout, cases, observed[stage]))
            add_figures(report, results, cases)
            bench.hotline.close()
            for sink in [*sinks.values(), reported]:
                sink.stopping = True
                sink.join(5)
        finally:
            for svc in SERVICES:
                bench.stop(svc)
    report.note("two cores: the servers, the other services and this process on core 0")
    report.note("rate between the first and the last case arriving downstream of the stage")
    report.print()
    return 0


def add_figures(report: _common.Report, results: dict, cases: int) -> None:
    base: dict[str, float] = {}
    for (stage, name), runs in results.items():
        rates = sorted(r["rate"] for r in runs)
        rate = statistics.median(rates)
        base.setdefault(stage, rate)
        report.add(f"{stage}, {name}: cases/s (median; {rates[0]:.0f}–{rates[-1]:.0f})",
                   rate, "cases/s")
        report.add(f"  {stage}, {name}: ÷ one replica on core 1", rate / base[stage], "")
        report.add(f"  {stage}, {name}: CPU of its replicas per case",
                   statistics.median(r["cpu_ms"] for r in runs), "ms")
        for key, what in (("postgres_ms", "PostgreSQL"), ("rabbitmq_ms", "RabbitMQ")):
            report.add(f"  {stage}, {name}: {what} CPU per case",
                       statistics.median(r[key] for r in runs), "ms")
        for core in range(len(runs[0]["cores"])):
            report.add(f"  {stage}, {name}: core {core} busy during the drain",
                       statistics.median(r["cores"][core] for r in runs) * 100, "%")
        report.add(f"  {stage}, {name}: cases delivered, fewest in a round",
                   min(r["delivered"] for r in runs), "cases", at_least=cases)
        report.add(f"  {stage}, {name}: deliveries beyond one per case",
                   sum(r["beyond_once"] for r in runs), "messages", at_most=0)


def options(parser) -> None:
    parser.add_argument("--stage", choices=("events", "dispatch", "both"), default="both")
    parser.add_argument("--cases", type=int, help="cases drained per layout and round")
    parser.add_argument("--rounds", type=int, default=2)


if __name__ == "__main__":
    _common.run(main, __doc__.splitlines()[0], add_arguments=options)

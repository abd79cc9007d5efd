"""Latency of the registry's HTTP point lookup (GET /lookup/point) under concurrent load.

Why: grid workers' apps and hotline systems locate every case through this route, so its
latency under load — not the in-process lookup of bench_01 — is what a caller sees.  The
figure includes everything a real request pays: HTTP parsing in nameko's eventlet server,
JWT verification, marshmallow validation of the query, the worker, the JSON response and
the Prometheus metrics.

How: the real service (``nameko run … services.registry.service``) is started as a child
process against a fresh ``gridgov_bench_http`` database holding the demo district
(``python -m services.registry.cli load-demo``) and a throw-away RabbitMQ vhost, with fresh
keys.  The load generator runs in this process (threads, one ``requests.Session`` each),
never in the service's.  Points are taken inside the grids listed by GET /grids.geojson and
every answer is checked against the expected grid code.

Phases: warm-up; closed loop (16 clients, each sending its next request as soon as the
previous one is answered) for 20 s → throughput and latency percentiles; open loop (a fixed
offered rate of 200 requests/s on a schedule, latency measured from the scheduled send time
so a stalled server cannot hide queueing) for 10 s; then 5 s of closed loop with points
outside every grid (404, the miss path).  ``--quick``: 5 s and 3 s phases.

The service is stopped with SIGTERM (SIGKILL after 10 s), the vhost deleted and the
database dropped, also on Ctrl-C or an error.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import json  # noqa: E402
import os  # noqa: E402
import random  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402

import requests  # noqa: E402
from shapely.geometry import shape  # noqa: E402

from bench import _common  # noqa: E402
from gridgov_common.kernel import auth  # noqa: E402
from services.registry.domain.spatial import GridIndex  # noqa: E402

CLIENTS = 16
OFFERED_RATE = 200  # requests/s in the open-loop phase
POINTS_PER_GRID = 20
REQUEST_TIMEOUT = 10.0
SCOPE = "district:320505"


@dataclass
class PhaseResult:
    """Latencies (seconds) and failures of one load phase."""

    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    wrong: int = 0
    error_samples: list[str] = field(default_factory=list)

    def merge(self, other: PhaseResult) -> None:
        self.latencies.extend(other.latencies)
        self.errors += other.errors
        self.wrong += other.wrong
        self.error_samples.extend(other.error_samples[:3])

    @property
    def count(self) -> int:
        return len(self.latencies)

    def pct_ms(self, pct: float) -> float:
        return _common.percentile(sorted(self.latencies), pct) * 1000


def make_session(token: str) -> requests.Session:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    return session


def one_request(session: requests.Session, url: str, expected: str | None,
                result: PhaseResult) -> None:
    """Send one lookup; count it as an error (unexpected status, exception) or wrong
    (another grid).  ``expected`` None means the point is outside every grid: 404."""
    try:
        response = session.get(url, timeout=REQUEST_TIMEOUT)
        if expected is None:
            if response.status_code != 404:
                result.errors += 1
                if len(result.error_samples) < 3:
                    result.error_samples.append(f"{response.status_code} "
                                                f"{response.text[:120]} (404 expected)")
        elif response.status_code != 200:
            result.errors += 1
            if len(result.error_samples) < 3:
                result.error_samples.append(f"{response.status_code} {response.text[:120]}")
        elif response.json().get("grid_code") != expected:
            result.wrong += 1
    except requests.RequestException as exc:
        result.errors += 1
        if len(result.error_samples) < 3:
            result.error_samples.append(repr(exc)[:160])


def closed_loop(token: str, targets: list[tuple[str, str]], clients: int,
                duration: float) -> PhaseResult:
    """``clients`` threads, each sending back-to-back for ``duration`` seconds."""
    barrier = threading.Barrier(clients + 1)
    parts = [PhaseResult() for _ in range(clients)]
    deadline = [0.0]

    def client(k: int) -> None:
        session = make_session(token)
        mine, i = parts[k], k
        barrier.wait()
        while time.perf_counter() < deadline[0]:
            url, expected = targets[i % len(targets)]
            i += clients
            started = time.perf_counter()
            one_request(session, url, expected, mine)
            mine.latencies.append(time.perf_counter() - started)
        session.close()

    threads = [threading.Thread(target=client, args=(k,), daemon=True) for k in range(clients)]
    for thread in threads:
        thread.start()
    started = time.perf_counter()
    deadline[0] = started + duration
    barrier.wait()
    for thread in threads:
        thread.join(duration + REQUEST_TIMEOUT + 5)
    total = PhaseResult(seconds=time.perf_counter() - started)
    for part in parts:
        total.merge(part)
    return total


def open_loop(token: str, targets: list[tuple[str, str]], rate: float, duration: float,
              workers: int) -> PhaseResult:
    """Requests on a fixed schedule (``rate``/s); latency counted from the scheduled time.

    Why from the scheduled time: a closed-loop client that waits for a slow answer simply
    sends less, so the server's stall never shows in its percentiles (coordinated
    omission).  Here a request that could not leave on time carries the wait.
    """
    total_requests = int(rate * duration)
    parts = [PhaseResult() for _ in range(workers)]
    lock = threading.Lock()
    counter = [0]
    start = time.perf_counter() + 0.2

    def worker(k: int) -> None:
        session = make_session(token)
        mine = parts[k]
        while True:
            with lock:
                i = counter[0]
                counter[0] += 1
            if i >= total_requests:
                break
            scheduled = start + i / rate
            delay = scheduled - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            url, expected = targets[i % len(targets)]
            one_request(session, url, expected, mine)
            mine.latencies.append(time.perf_counter() - scheduled)
        session.close()

    threads = [threading.Thread(target=worker, args=(k,), daemon=True) for k in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(duration + REQUEST_TIMEOUT + 10)
    total = PhaseResult(seconds=time.perf_counter() - start)
    for part in parts:
        total.merge(part)
    return total


def lookup_targets(base_url: str, token: str) -> tuple[list[tuple[str, str]], int]:
    """(URL, expected grid code) for points inside every listed grid, shuffled; grid count.

    Expected codes come from a GridIndex built here from the same GeoJSON, so a wrong
    answer from the service is caught; points are kept off the edges (shared-edge rules
    are bench_01's business).
    """
    response = requests.get(f"{base_url}/grids.geojson", timeout=30,
                            headers={"Authorization": f"Bearer {token}"})
    response.raise_for_status()
    features = response.json()["features"]
    if not features:
        raise RuntimeError("GET /grids.geojson listed no grids: was the demo loaded?")
    index = GridIndex.build((f["properties"]["grid_code"], f["geometry"]) for f in features)
    rng = random.Random(2026)
    targets = []
    for feature in features:
        geom = shape(feature["geometry"])
        lon0, lat0, lon1, lat1 = geom.bounds
        candidates = [geom.representative_point().coords[0]]
        while len(candidates) < POINTS_PER_GRID:
            candidates.append((rng.uniform(lon0 + (lon1 - lon0) * 0.05,
                                           lon1 - (lon1 - lon0) * 0.05),
                               rng.uniform(lat0 + (lat1 - lat0) * 0.05,
                                           lat1 - (lat1 - lat0) * 0.05)))
        for lon, lat in candidates:
            expected = index.lookup(lon, lat)
            if expected is not None:
                targets.append((f"{base_url}/lookup/point?lon={lon:.7f}&lat={lat:.7f}",
                                expected))
    rng.shuffle(targets)
    return targets, len(features)


def outside_targets(base_url: str, targets: list[tuple[str, str]]) -> list[tuple[str, None]]:
    """Points west of every grid (a GPS fix outside the district): the 404 path."""
    outside = []
    for k, (url, _) in enumerate(targets):
        lon = float(url.split("lon=")[1].split("&")[0])
        lat = float(url.split("lat=")[1])
        outside.append((f"{base_url}/lookup/point?lon={lon - 1.0 - k * 1e-6:.7f}"
                        f"&lat={lat:.7f}", None))
    return outside


def add_phase(report: _common.Report, label: str, result: PhaseResult) -> None:
    report.add(f"{label}: requests answered", result.count, "requests")
    report.add(f"{label}: throughput", result.count / result.seconds, "requests/s")
    for pct in (50, 90, 99):
        report.add(f"{label}: p{pct} latency", result.pct_ms(pct), "ms")
    report.add(f"{label}: max latency", result.pct_ms(100), "ms")
    report.add(f"{label}: errors (non-200, timeouts)", result.errors, "requests", at_most=0)
    report.add(f"{label}: wrong grid returned", result.wrong, "requests", at_most=0)


def main(args) -> int:
    warmup, closed_seconds, open_seconds, miss_seconds = ((1.0, 5.0, 5.0, 3.0) if args.quick
                                                          else (3.0, 20.0, 10.0, 5.0))
    report = _common.Report(f"bench_03 registry GET /lookup/point over HTTP "
                            f"({'quick' if args.quick else 'full'})")
    keys = _common.random_secrets()
    port = _common.free_port()
    token = auth.mint(keys["GRIDGOV_JWT_SECRET"], "bench", "ops_viewer", SCOPE)

    with _common.fresh_database("http", ("registry",)) as db_url, \
            _common.rabbit_vhost("http") as amqp_uri:
        env = _common.service_env(db_url, amqp_uri, keys, {"registry": port})
        _common.progress("loading the demo district (services.registry.cli load-demo)")
        summary = json.loads(_common.run_cli(["-m", "services.registry.cli", "load-demo"], env)
                             .strip().splitlines()[-1])
        service = _common.ServiceProcess("registry", env, port)
        with _common.running_services({"registry": service}):
            _common.progress(f"starting the registry on port {port}")
            ready_after = service.wait_http("/readyz", timeout=90)
            targets, grid_count = lookup_targets(service.base_url, token)

            _common.progress(f"warm-up {warmup:.0f} s")
            closed_loop(token, targets, CLIENTS, warmup)
            _common.progress(f"closed loop: {CLIENTS} clients for {closed_seconds:.0f} s")
            cpu_before = _common.cpu_seconds(service.pid) or 0.0
            own_before = sum(os.times()[:2])
            closed = closed_loop(token, targets, CLIENTS, closed_seconds)
            service_cpu = (_common.cpu_seconds(service.pid) or 0.0) - cpu_before
            client_cpu = sum(os.times()[:2]) - own_before
            _common.progress(f"open loop: {OFFERED_RATE} requests/s for {open_seconds:.0f} s")
            offered = open_loop(token, targets, OFFERED_RATE, open_seconds, CLIENTS)
            _common.progress(f"closed loop, points outside every grid, {miss_seconds:.0f} s")
            outside = outside_targets(service.base_url, targets)
            misses = closed_loop(token, outside, CLIENTS, miss_seconds)
            rss_mb = (service.rss_kb() or 0) / 1024
            still_ready = _common.http_status(service.base_url + "/readyz") == 200

    report.add("grids in the demo district (index size)", grid_count, "grids")
    report.add("distinct lookup points", len(targets), "points")
    report.add("service ready after start (GET /readyz = 200)", ready_after, "s")
    add_phase(report, f"closed loop, {CLIENTS} clients", closed)
    report.add("  service CPU during the closed loop", service_cpu / closed.seconds, "cores")
    report.add("  service CPU per request", service_cpu / max(closed.count, 1) * 1000, "ms")
    report.add("  load generator CPU (this process)", client_cpu / closed.seconds, "cores")
    add_phase(report, f"open loop, {OFFERED_RATE}/s offered", offered)
    report.add("closed loop, points outside every grid: throughput",
               misses.count / misses.seconds, "requests/s")
    report.add("closed loop, points outside every grid: p50 latency", misses.pct_ms(50), "ms")
    report.add("closed loop, points outside every grid: p99 latency", misses.pct_ms(99), "ms")
    report.add("closed loop, points outside every grid: not 404", misses.errors, "requests",
               at_most=0)
    report.add("service RSS after the load", rss_mb, "MB")
    report.add("service still ready after the load", int(still_ready), "1 = yes", at_least=1)
    report.note(f"demo loaded: {summary}")
    report.note("latency is measured in the client: it includes the client's own HTTP work "
                "and, on this 2-core machine, competition for CPU with the service, "
                "PostgreSQL and RabbitMQ; open-loop latency is counted from the scheduled "
                "send time")
    report.note("a point outside every grid makes the registry re-read the grid table's "
                "fingerprint from PostgreSQL before answering 404 (service.py _locate → "
                "GridLocator.refresh_if_changed): one database transaction per miss")
    for sample in (closed.error_samples + offered.error_samples + misses.error_samples)[:3]:
        report.note(f"error sample: {sample}")
    report.print()
    failed = closed.errors + closed.wrong + offered.errors + offered.wrong + misses.errors
    return 1 if failed or not still_ready else 0


if __name__ == "__main__":
    _common.run(main, __doc__.splitlines()[0])

"""The operations wall (issue 14): intake → the wall's stream, p50/p95/p99 against 2 s.

Why: P5.2.7 says a major event is reported at once; the district's wall must show it
while the operators still look (target p99 ≤ 2 s from the grid worker's report to the
message on the wall's server-sent-event stream).

How: the registry, events, dispatch and assessment run as child processes (``nameko
run``) on a fresh ``gridgov_bench_wall`` database with the demo district and a throw-away
vhost. This process opens ``--walls`` streams of ``GET /dashboard/events`` on assessment as
the district's ops viewer (one is timed, the others are read and counted: what one
watched scope costs does not grow with the walls: dispatch's and assessment's CPU is
measured for a few seconds while nothing happens), then, as a grid worker, POSTs
``--samples`` major-event cases (fire_incident, critical) to events' ``/cases`` one at a
time with a random pause (0.3–0.9 s: the report falls anywhere in the wall's one-second
tick), and measures from just before each POST to the ``major`` message naming that case
on the timed stream. The path measured: events (validation, grid lookup, number, outbox)
→ ``events.case.reported`` → dispatch files it → assessment's next tick asks dispatch's
``case_statistics`` → the stream. Not through nginx (the proxy does not buffer the stream:
deploy/proxy/nginx.conf; tests/app/test_wall_browser.py goes through it).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import json  # noqa: E402
import random  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402

import requests  # noqa: E402
import sqlalchemy as sa  # noqa: E402
from shapely.geometry import shape  # noqa: E402

from bench import _common  # noqa: E402
from gridgov_common.kernel import auth  # noqa: E402

SERVICES = ("registry", "events", "dispatch", "assessment")
TARGET_MS = 2000.0


class Wall(threading.Thread):
    """One open wall: reads its stream and records when each major event arrived."""

    def __init__(self, url: str, headers: dict[str, str], name: str) -> None:
        super().__init__(daemon=True, name=name)
        self.response = requests.get(url, headers=headers, stream=True, timeout=(10, 60))
        self.response.raise_for_status()
        self.majors: dict[str, float] = {}
        self.messages = 0
        self.live = threading.Event()
        self.lock = threading.Lock()

    def run(self) -> None:
        event = None
        try:
            for line in self.response.iter_lines(decode_unicode=True):
                if line.startswith("event: "):
                    event = line[7:]
                elif line.startswith("data: "):
                    arrived = time.monotonic()
                    self.messages += 1
                    if event == "snapshot":
                        self.live.set()
                    elif event == "major":
                        with self.lock:
                            self.majors.setdefault(json.loads(line[6:])["case_id"], arrived)
        except (requests.RequestException, AttributeError):
            pass  # closed at the end

    def arrived(self, case_id: str) -> float | None:
        with self.lock:
            return self.majors.get(case_id)

    def close(self) -> None:
        self.response.close()


def grid_worker(db_url: str) -> tuple[str, str]:
    """A neighbourhood grid worker of the demo district and their grid."""
    engine = sa.create_engine(db_url)
    try:
        with engine.connect() as conn:
            return tuple(conn.execute(sa.text(
                "SELECT subject, scope_code FROM registry.staff "
                "WHERE role = 'neighbourhood_grid_worker' AND subject IS NOT NULL AND active "
                "ORDER BY subject LIMIT 1")).one())
    finally:
        engine.dispose()


def main(args) -> int:
    samples, walls = (20, 5) if args.quick else (args.samples, args.walls)
    report = _common.Report(f"bench_13 operations wall, intake → wall stream "
                            f"({'quick' if args.quick else 'full'})")
    keys = _common.random_secrets()
    ports = {svc: _common.free_port() for svc in SERVICES}
    with _common.fresh_database("wall", SERVICES) as db_url, \
            _common.rabbit_vhost("wall") as amqp_uri:
        env = _common.service_env(db_url, amqp_uri, keys, ports)
        env["GRIDGOV_REGISTRY_URL"] = f"http://127.0.0.1:{ports['registry']}"
        env["GRIDGOV_SERVICE_URLS"] = ",".join(f"{s}=http://127.0.0.1:{p}"
                                              for s, p in ports.items())
        _common.progress("loading the demo district")
        _common.run_cli(["-m", "services.registry.cli", "load-demo"], env)
        district = sa.create_engine(db_url)
        try:
            with district.connect() as conn:
                code = conn.execute(sa.text(
                    "SELECT substr(min(grid_code), 1, 6) FROM registry.grids")).scalar()
        finally:
            district.dispose()
        subject, grid = grid_worker(db_url)
        secret = keys["GRIDGOV_JWT_SECRET"]
        viewer = {"Authorization": "Bearer " + auth.mint(
            secret, "bench-ops", "ops_viewer", f"district:{code}", ttl_seconds=3600)}
        worker = {"Authorization": "Bearer " + auth.mint(
            secret, subject, "neighbourhood_grid_worker", f"grid:{grid}", ttl_seconds=3600)}
        services = {svc: _common.ServiceProcess(svc, env, port) for svc, port in ports.items()}
        with _common.running_services(services):
            for service in services.values():
                service.wait_http("/readyz", timeout=120)
            outline = requests.get(f"{services['registry'].base_url}/grids/{grid}",
                                   headers=worker, timeout=30).json()
            point = shape(outline["geometry"]).representative_point()
            stream_url = f"{services['assessment'].base_url}/dashboard/events"
            _common.progress(f"opening {walls} walls")
            opened = [Wall(stream_url, viewer, f"wall-{i}") for i in range(walls)]
            for wall in opened:
                wall.start()
            for wall in opened:
                if not wall.live.wait(60):
                    raise RuntimeError("a wall got no snapshot within 60 s")
            idle = 5.0 if args.quick else 10.0
            _common.progress(f"{idle:.0f} s with the walls open and nothing happening")
            before = {svc: _common.cpu_seconds(services[svc].pid) or 0.0
                      for svc in ("dispatch", "assessment")}
            time.sleep(idle)
            busy = {svc: ((_common.cpu_seconds(services[svc].pid) or 0.0) - before[svc])
                    / idle * 100 for svc in before}
            timed = opened[0]
            latencies: list[float] = []
            answered: list[float] = []
            missing = 0
            _common.progress(f"{samples} major events, one at a time")
            for number in range(samples):
                time.sleep(random.uniform(0.3, 0.9))
                sent = time.monotonic()
                filed = requests.post(
                    f"{services['events'].base_url}/cases", headers=worker, timeout=30,
                    json={"location": {"lon": point.x, "lat": point.y},
                          "work_category": "major_event", "subcategory": "fire_incident",
                          "severity": "critical",
                          "description": f"bench_13 冒烟 #{number}"})
                answered.append(time.monotonic() - sent)
                if filed.status_code != 201:
                    raise RuntimeError(f"intake answered {filed.status_code}: {filed.text}")
                case_id = filed.json()["case_id"]
                deadline = time.monotonic() + 30
                while (arrived := timed.arrived(case_id)) is None \
                        and time.monotonic() < deadline:
                    time.sleep(0.005)
                if arrived is None:
                    missing += 1
                else:
                    latencies.append(arrived - sent)
            time.sleep(1.5)  # the other walls' last messages
            others = sum(1 for wall in opened[1:]
                         for case in timed.majors if wall.arrived(case) is not None)
            for wall in opened:
                wall.close()
    latencies.sort()
    ms = [v * 1000 for v in latencies]
    report.add("major events reported", samples, "cases")
    report.add("  reached the timed wall within 30 s", len(latencies), "cases",
               at_least=samples)
    report.add("intake → wall p50", _common.percentile(ms, 50), "ms")
    report.add("intake → wall p95", _common.percentile(ms, 95), "ms")
    report.add("intake → wall p99", _common.percentile(ms, 99), "ms", at_most=TARGET_MS)
    report.add("intake → wall max", ms[-1] if ms else None, "ms")
    answered.sort()
    report.add("  of which POST /cases answered, p50", _common.percentile(answered, 50) * 1000,
               "ms")
    report.add("  of which POST /cases answered, p99", _common.percentile(answered, 99) * 1000,
               "ms")
    report.add(f"walls open (the other {walls - 1} got the same majors)", walls, "walls")
    report.add("  majors on the other walls", others, "messages",
               at_least=(walls - 1) * len(latencies))
    for svc, percent in busy.items():
        report.add(f"{svc} CPU with {walls} walls open, idle district", percent,
                   "% of a core")
    report.note("the wall polls dispatch once a second per watched scope (one scope here, "
                "whatever the number of walls): the median sits near half a tick plus "
                "intake and filing")
    if missing:
        report.note(f"{missing} major event(s) never reached the wall")
    report.print()
    return 0 if not missing else 1


def add_arguments(parser) -> None:
    parser.add_argument("--samples", type=int, default=40, help="major events to time")
    parser.add_argument("--walls", type=int, default=20, help="walls open at once")


if __name__ == "__main__":
    _common.run(main, __doc__.splitlines()[0], add_arguments)

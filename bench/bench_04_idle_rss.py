"""Resident memory (RSS) of each of the five services when idle; target ≤ 150 MB each.

Why: every service scales by running more replicas (README), so the memory of one idle
replica is the unit cost of the platform; the issue sets 150 MB per service.

How: all five services are started as child processes against a fresh
``gridgov_bench_rss`` database (every service's migrations, plus the demo district so the
registry builds its grid index as after ``make up``) and a throw-away RabbitMQ vhost, on
free ports bound to 127.0.0.1.  Once each answers GET /healthz they idle for 5 s (timers:
outbox relay, grid index refresh) and VmRSS is read from /proc/<pid>/status for the
nameko process and any children; VmHWM (the peak since start) and Pss (the fair share of
pages shared between processes) are shown too.

Two rounds:

1. as deployed — ``nameko run --config services/<svc>/config.yaml services.<svc>.service``,
   the command of scripts/up.sh, the Dockerfile and deploy/README.md.  Also reports how
   many nameko service containers that command starts in the process (should be 1: see
   ``ServiceProcess`` in bench/_common.py for why it may be 2) and, for the registry, how
   many of 40 new connections to GET /grids reach a container without that route (404);
2. ``services.<svc>.service:<Class>`` — exactly one container per process.

Every process is stopped (SIGTERM, SIGKILL after 10 s), the vhost deleted and the
database dropped, also on Ctrl-C or an error.  ``--quick``: idle 2 s.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import time  # noqa: E402

from bench import _common  # noqa: E402

TARGET_MB = 150
START_TIMEOUT = 120.0  # five interpreters importing at once on two cores
PROBES = 40


def measure_round(env_for, explicit_class: bool, idle: float) -> dict[str, dict]:
    """Start the five services, wait for /healthz, idle, read memory; stop them all."""
    ports = {svc: _common.free_port() for svc in _common.SERVICES}
    services = {svc: _common.ServiceProcess(svc, env_for(ports), ports[svc],
                                            explicit_class=explicit_class)
                for svc in _common.SERVICES}
    figures: dict[str, dict] = {}
    with _common.running_services(services):
        started = time.monotonic()
        for service in services.values():
            service.wait_http("/healthz", timeout=max(10.0, START_TIMEOUT
                                                      - (time.monotonic() - started)))
        ready_after = time.monotonic() - started
        _common.progress(f"all five answer /healthz after {ready_after:.1f} s; idling "
                         f"{idle:.0f} s")
        time.sleep(idle)
        for svc, service in services.items():
            figures[svc] = {
                "rss": (service.rss_kb("VmRSS") or 0) / 1024,
                "hwm": (service.rss_kb("VmHWM") or 0) / 1024,
                "pss": (service.rss_kb("Pss", "smaps_rollup") or 0) / 1024,
                "processes": service.process_count(),
                "containers": service.containers(),
                "ready": _common.http_status(service.base_url + "/readyz") == 200,
            }
        # GET /grids without a token: the registry answers 401; a stray second container
        # on the same port has no such route and answers 404 (new connection per probe)
        statuses = [_common.http_status(services["registry"].base_url + "/grids")
                    for _ in range(PROBES)]
        figures["registry"]["misrouted"] = sum(status == 404 for status in statuses)
    return figures


def main(args) -> int:
    idle = 2.0 if args.quick else 5.0
    report = _common.Report(f"bench_04 idle RSS of the five services "
                            f"({'quick' if args.quick else 'full'})")
    keys = _common.random_secrets()
    with _common.fresh_database("rss", _common.SERVICES) as db_url, \
            _common.rabbit_vhost("rss") as amqp_uri:

        def env_for(ports: dict[str, int]) -> dict[str, str]:
            return _common.service_env(db_url, amqp_uri, keys, ports)

        _common.progress("loading the demo district")
        _common.run_cli(["-m", "services.registry.cli", "load-demo"], env_for({}))
        _common.progress("round 1: as deployed (module form)")
        deployed = measure_round(env_for, explicit_class=False, idle=idle)
        _common.progress("round 2: services.<svc>.service:<Class>")
        single = measure_round(env_for, explicit_class=True, idle=idle)

    for svc in _common.SERVICES:
        d, s = deployed[svc], single[svc]
        report.add(f"{svc}: RSS idle, as deployed (module form)", d["rss"], "MB",
                   at_most=TARGET_MB)
        report.add(f"{svc}: RSS idle, :{_common.SERVICE_CLASSES[svc]} form", s["rss"], "MB",
                   at_most=TARGET_MB)
        report.add(f"{svc}:   peak RSS since start (VmHWM), as deployed", d["hwm"], "MB")
        report.add(f"{svc}:   nameko containers started, as deployed", len(d["containers"]),
                   "containers", at_most=1)
    report.add(f"registry: GET /grids answered 404 'no route', as deployed (of {PROBES})",
               deployed["registry"]["misrouted"], "requests", at_most=0)
    report.add(f"registry: same, :RegistryService form (of {PROBES})",
               single["registry"]["misrouted"], "requests", at_most=0)
    report.add("all five: RSS sum, as deployed", sum(f["rss"] for f in deployed.values()), "MB")
    report.add("all five: Pss sum (shared pages split), as deployed",
               sum(f["pss"] for f in deployed.values()), "MB")
    report.add("all five: RSS sum, :Class form", sum(f["rss"] for f in single.values()), "MB")
    for svc in _common.SERVICES:
        names = deployed[svc]["containers"]
        if len(names) > 1:
            report.note(f"{svc}: `nameko run … services.{svc}.service` started "
                        f"{', '.join(names)} in one process")
    if deployed["registry"]["misrouted"]:
        report.note("a second container shares the registry's port: its web server "
                    "listens with SO_REUSEPORT again (JsonWebServer.start refuses a taken "
                    "port), so the kernel hands it part of the new connections and it "
                    "answers 404 to every route it lacks")
    not_ready = [f"{svc} ({label})" for label, rnd in (("as deployed", deployed),
                                                       (":Class", single))
                 for svc, f in rnd.items() if not f["ready"]]
    if not_ready:
        report.note(f"GET /readyz was not 200 after idling for: {', '.join(not_ready)}")
    report.note("processes per service: " + ", ".join(
        f"{svc} {deployed[svc]['processes']}" for svc in _common.SERVICES)
        + " (RSS includes any children)")
    report.print()
    return 0


if __name__ == "__main__":
    _common.run(main, __doc__.splitlines()[0])

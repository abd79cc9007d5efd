"""Replicas: the case flow with one process per service, then with 3 events, 3 dispatch and
2 registry, assessment and notify replicas sharing the queues; every case handled exactly
once in both, every notification sent once, every scheduled circular made once.

Why: each service is deployed and scaled on its own (issue 5: "every case handled exactly
once — no duplicate assignment, no lost case —, timers and outbox relays safe with
replicas; show throughput with 1 vs N replicas").

How: as bench_05 (``nameko run`` child processes on a fresh ``gridgov_bench_replicas``
database with the demo district, a throw-away vhost, this process as the 12345 hotline and
as the fire and emergency-management departments). Per layout, a burst of cases is sent
and the rate measured at the fire brigade's queue; then the database and the queues are
checked: one events case and one dispatch case per report, exactly one assignment per
(case, department), each delivered to its department once (by message id and by
assignment id); each assignment's notice to the department's officers (notify) stored
and sent once; the assessment replicas' circular timer (every second here) made each
scheduled circular once, and the dispatch replicas' digest timer each digest once;
outboxes empty. ``--quick`` sends fewer cases.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import time  # noqa: E402

import sqlalchemy as sa  # noqa: E402

from bench import _common  # noqa: E402
from bench.bench_05_case_flow import (  # noqa: E402
    DEPARTMENTS,
    Hotline,
    Sink,
    grid_point,
    lead_latencies,
    machine_cpu,
    sent_time,
    wait_count,
)
from gridgov_common.kernel import auth  # noqa: E402

SERVICES = ("registry", "events", "dispatch", "assessment", "notify")
LAYOUTS = {"1 replica each": dict.fromkeys(SERVICES, 1),
           "events 3, dispatch 3, others 2": {"registry": 2, "events": 3, "dispatch": 3,
                                              "assessment": 2, "notify": 2}}
# the timers that must run once whatever the replicas: every second, digests at any hour
TIMERS = {"GRIDGOV_CIRCULAR_POLL_SECONDS": "1", "GRIDGOV_DIGEST_POLL_SECONDS": "1",
          "GRIDGOV_DIGEST_HOUR": "0"}
BENCH_CASES = "SELECT case_id FROM dispatch.cases WHERE description LIKE :m"


def start_layout(layout: dict[str, int], env: dict[str, str]
                 ) -> dict[str, _common.ServiceProcess]:
    """One ServiceProcess per replica, each on its own HTTP port."""
    services = {}
    for svc, count in layout.items():
        for index in range(count):
            port = _common.free_port()
            replica_env = {**env, f"{svc.upper()}_HTTP_PORT": str(port),
                           f"{svc.upper()}_HTTP_HOST": "127.0.0.1"}
            services[f"{svc}#{index + 1}"] = _common.ServiceProcess(svc, replica_env, port)
    return services


def deliveries(sink: Sink, first: int, last: int) -> tuple[int, int, int]:
    """(messages, distinct message ids, distinct assignment ids) of cases first..last."""
    found = [env for _arrived, env in sink.taken() if first <= sent_time(env)[0] <= last]
    return (len(found), len({env["message_id"] for env in found}),
            len({env["payload"]["assignment_id"] for env in found}))


def database_counts(db_url: str, marker: str) -> dict[str, int]:
    engine = sa.create_engine(db_url)
    like = {"m": f"%{marker}%"}
    with engine.connect() as conn:
        counts = {
            "events cases": conn.execute(sa.text(
                "SELECT count(*) FROM events.cases WHERE description LIKE :m"), like).scalar(),
            "dispatch cases": conn.execute(sa.text(
                "SELECT count(*) FROM dispatch.cases WHERE description LIKE :m"), like).scalar(),
            "assignments": conn.execute(sa.text(
                "SELECT count(*) FROM dispatch.assignments a JOIN dispatch.cases c "
                "USING (case_id) WHERE c.description LIKE :m"), like).scalar(),
            "(case, department) pairs with more than one assignment": conn.execute(sa.text(
                "SELECT count(*) FROM (SELECT 1 FROM dispatch.assignments a "
                "JOIN dispatch.cases c USING (case_id) WHERE c.description LIKE :m "
                "GROUP BY a.case_id, a.department HAVING count(*) > 1) d"), like).scalar(),
            "outbox rows left": sum(conn.execute(sa.text(
                f"SELECT count(*) FROM {schema}.outbox")).scalar() for schema in SERVICES),
            # P2.2: one notice per assignment, each sent once to the officers' inbox
            "assignment notices": conn.execute(sa.text(
                "SELECT count(*) FROM notify.notifications WHERE kind = 'assignment' "
                f"AND case_id IN ({BENCH_CASES})"), like).scalar(),
            "assignment notices sent": conn.execute(sa.text(
                "SELECT count(*) FROM notify.deliveries d JOIN notify.notifications n "
                "USING (notification_id) WHERE n.kind = 'assignment' AND d.state = 'sent' "
                f"AND n.case_id IN ({BENCH_CASES})"), like).scalar(),
            "inbox messages beyond one per notification and role": conn.execute(sa.text(
                "SELECT coalesce(sum(n - 1), 0) FROM (SELECT count(*) AS n FROM notify.inbox "
                "GROUP BY notification_id, role, scope_code) x")).scalar(),
            "scheduled circulars beyond one per period": conn.execute(sa.text(
                "SELECT coalesce(sum(n - 1), 0) FROM (SELECT count(*) AS n FROM "
                "assessment.circulars WHERE origin = 'schedule' "
                "GROUP BY kind, period, scope) x")).scalar(),
            "scheduled circulars": conn.execute(sa.text(
                "SELECT count(*) FROM assessment.circulars WHERE origin = 'schedule'")).scalar(),
            "digest notifications beyond one per cause": conn.execute(sa.text(
                "SELECT coalesce(sum(n - 1), 0) FROM (SELECT count(*) AS n FROM "
                "notify.notifications WHERE kind = 'daily_digest' GROUP BY cause_id) x")
                ).scalar(),
        }
    engine.dispose()
    return counts


def notices_settled(db_url: str, timeout: float) -> None:
    """Wait (while the services still run) until notify has sent what it was asked."""
    engine = sa.create_engine(db_url)
    deadline = time.monotonic() + timeout
    with engine.connect() as conn:
        while time.monotonic() < deadline:
            pending = conn.execute(sa.text(
                "SELECT count(*) FROM notify.deliveries WHERE state = 'pending'")).scalar()
            conn.rollback()
            if not pending:
                break
            time.sleep(0.5)
    engine.dispose()


def run_layout(name: str, layout: dict[str, int], env: dict[str, str], db_url: str,
               amqp_uri: str, burst: int, first: int, report: _common.Report) -> None:
    services = start_layout(layout, env)
    with _common.running_services(services):
        for service in services.values():
            service.wait_http("/readyz", timeout=120)
        registry_url = next(s.base_url for k, s in services.items() if k.startswith("reg"))
        token = auth.mint(env["GRIDGOV_JWT_SECRET"], "bench", "district_admin",
                          "district:320505")
        sinks = {d: Sink(amqp_uri, "gridgov.dispatch", [f"{d}.#"], f"bench.{d}.{first}")
                 for d in DEPARTMENTS}
        for sink in sinks.values():
            sink.start()
        hotline = Hotline(amqp_uri, grid_point(registry_url, token))
        _common.progress(f"{name}: warm-up")
        for i in range(30):
            hotline.send(first - 100 + i, time.time())
        wait_count(sinks["fire"], first - 100, first - 71, 120)
        _common.progress(f"{name}: a burst of {burst:,} cases")
        cpu_before = machine_cpu()
        for i in range(burst):
            hotline.send(first + i, time.time())
        last = first + burst - 1
        delivered = wait_count(sinks["fire"], first, last, 600)
        _lat, t0, t1 = lead_latencies(sinks["fire"], first, last)
        rate = (delivered - 1) / (t1 - t0) if delivered > 1 else float("nan")
        cpu_ms = (machine_cpu() - cpu_before) * 1000 / max(delivered, 1)
        time.sleep(2)  # late duplicates, if any, would arrive now
        report.add(f"{name}: sustained cases/s, intake → department", rate, "cases/s")
        report.add(f"{name}: whole machine CPU per case", cpu_ms, "ms")
        for department, sink in sinks.items():
            messages, ids, assignments = deliveries(sink, first, last)
            report.add(f"{name}: {department} assignments delivered (distinct)", assignments,
                       "cases", at_least=burst)
            report.add(f"{name}: {department} deliveries beyond one per assignment",
                       messages - assignments, "messages", at_most=0)
            report.add(f"{name}: {department} distinct message ids", ids, "messages")
        hotline.close()
        for sink in sinks.values():
            sink.stopping = True
            sink.join(5)
        notices_settled(db_url, 180)
    counts = database_counts(db_url, "bench#")
    _common.progress(f"{name}: database {counts}")
    report.add(f"{name}: (case, department) with two assignments",
               counts["(case, department) pairs with more than one assignment"], "pairs",
               at_most=0)
    report.add(f"{name}: outbox rows left after stop", counts["outbox rows left"], "rows",
               at_most=0)


def main(args) -> int:
    burst = 200 if args.quick else 1000
    report = _common.Report(f"bench_09 replicas ({'quick' if args.quick else 'full'})")
    keys = _common.random_secrets()
    with _common.fresh_database("replicas", SERVICES) as db_url, \
            _common.rabbit_vhost("replicas") as amqp_uri:
        env = {**_common.service_env(db_url, amqp_uri, keys), **TIMERS}
        _common.progress("loading the demo district")
        _common.run_cli(["-m", "services.registry.cli", "load-demo"], env)
        first = 10_000
        for name, layout in LAYOUTS.items():
            run_layout(name, layout, env, db_url, amqp_uri, burst, first, report)
            first += 100_000
        counts = database_counts(db_url, "bench#")
        sent = 2 * (burst + 30)
        report.add("both layouts: events cases / reports sent",
                   counts["events cases"] / sent, "ratio", at_least=1, at_most=1)
        report.add("both layouts: dispatch cases / reports sent",
                   counts["dispatch cases"] / sent, "ratio", at_least=1, at_most=1)
        report.add("both layouts: assignments / (cases × departments)",
                   counts["assignments"] / (sent * len(DEPARTMENTS)), "ratio", at_least=1,
                   at_most=1)
        report.add("both layouts: assignment notices / assignments",
                   counts["assignment notices"] / max(counts["assignments"], 1), "ratio",
                   at_least=1, at_most=1)
        report.add("both layouts: assignment notices sent / notices",
                   counts["assignment notices sent"] / max(counts["assignment notices"], 1),
                   "ratio", at_least=1, at_most=1)
        report.add("both layouts: inbox messages beyond one per notification",
                   counts["inbox messages beyond one per notification and role"], "messages",
                   at_most=0)
        report.add("both layouts: scheduled circulars made", counts["scheduled circulars"],
                   "circulars", at_least=1)
        report.add("both layouts: scheduled circulars beyond one per period",
                   counts["scheduled circulars beyond one per period"], "circulars",
                   at_most=0)
        report.add("both layouts: digest notifications beyond one per cause",
                   counts["digest notifications beyond one per cause"], "notifications",
                   at_most=0)
    report.note("all replicas, the broker, PostgreSQL and this load generator share 2 cores")
    report.print()
    return 0


if __name__ == "__main__":
    _common.run(main, __doc__.splitlines()[0])

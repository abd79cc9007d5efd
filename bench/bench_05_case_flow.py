"""The case flow end to end: cases/s from intake to a department's queue, latency of
intake → department and of report-in → case updated, beside the raw broker's msg/s.

Why: the issue's targets (≥ 1,000 cases/s sustained from intake to department delivery;
p99 intake → department ≤ 250 ms at 500 cases/s; report-in → case updated p99 ≤ 100 ms)
are about the whole path a case takes: the hotline's ``intake.case.report`` on
``gridgov.intake`` → events (validation, grid lookup by RPC to the registry, case number,
duplicate search, outbox) → ``events.case.reported`` → dispatch (filing, triage,
assignments, case file, outbox) → ``dispatch.assignment`` on the department's routing key.

How: the registry, events and dispatch services run as child processes (``nameko run``)
on a fresh ``gridgov_bench_flow`` database with the demo district and a throw-away vhost.
This process is the hotline (plain pika, publisher confirms) and the departments (plain
pika queues bound to ``fire.#`` and ``emergency_management.#``; every case of subcategory
``fire_hazard_corridor`` goes to both, fire leading).  Each case carries its send time in
its description, so the latency is measured at the department's queue.

Phases: raw broker (publish with confirms → quorum queue → consume, 1 KB JSON); sustained
(a burst of cases sent as fast as the hotline can, rate measured at the department);
fixed offered loads (a schedule of sends, latency from the scheduled time); report-in
(the fire brigade acks its assignments on a schedule; latency until the case's
``dispatch.case.changed`` to ``in_progress`` arrives).  ``--quick`` runs smaller sizes.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import json  # noqa: E402
import os  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from datetime import UTC, datetime  # noqa: E402

import pika  # noqa: E402
import requests  # noqa: E402
from shapely.geometry import shape  # noqa: E402

from bench import _common  # noqa: E402
from gridgov_common.kernel import auth  # noqa: E402

DEPARTMENTS = ("fire", "emergency_management")
MARK = "bench#"


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def params(amqp_uri: str) -> pika.URLParameters:
    return pika.URLParameters(amqp_uri.replace("pyamqp://", "amqp://", 1))


class Sink(threading.Thread):
    """A department's (or an observer's) queue, consumed in a thread; records arrivals."""

    def __init__(self, amqp_uri: str, exchange: str, keys: list[str], name: str) -> None:
        super().__init__(daemon=True, name=name)
        self.connection = pika.BlockingConnection(params(amqp_uri))
        self.channel = self.connection.channel()
        self.channel.queue_declare(name, arguments={"x-queue-type": "quorum"}, durable=True)
        for key in keys:
            self.channel.queue_bind(name, exchange, key)
        self.queue = name
        self.arrivals: list[tuple[float, dict]] = []
        self.lock = threading.Lock()
        self.stopping = False

    def run(self) -> None:
        self.channel.basic_qos(prefetch_count=500)
        self.channel.basic_consume(self.queue, self._on_message)
        while not self.stopping:
            self.connection.process_data_events(time_limit=0.2)
        self.connection.close()

    def _on_message(self, channel, method, properties, body) -> None:
        arrived = time.time()
        with self.lock:
            self.arrivals.append((arrived, json.loads(body)))
        channel.basic_ack(method.delivery_tag)

    def taken(self) -> list[tuple[float, dict]]:
        with self.lock:
            return list(self.arrivals)


class Hotline:
    """The 12345 hotline: ``intake.case.report`` with publisher confirms."""

    def __init__(self, amqp_uri: str, point: dict[str, float]) -> None:
        self.connection = pika.BlockingConnection(params(amqp_uri))
        self.channel = self.connection.channel()
        self.channel.confirm_delivery()
        self.point = point

    def send(self, number: int, sent_at: float) -> None:
        envelope = {
            "message_id": str(uuid.uuid4()), "type": "intake.case.report", "version": 1,
            "occurred_at": now_iso(), "producer": "hotline_12345", "correlation_id": None,
            "payload": {
                "source": "hotline", "source_system": "hotline_12345",
                "external_ref": f"bench-{uuid.uuid4().hex[:16]}", "location": self.point,
                "work_category": "public_security_prevention",
                "info_class": "stability_governance", "subcategory": "fire_hazard_corridor",
                "severity": "minor", "reported_at": now_iso(), "private": False,
                "description": f"楼道堆物 {MARK}{number}@{sent_at:.6f}",
            }}
        self.channel.basic_publish(
            "gridgov.intake", "hotline_12345.case.report", json.dumps(envelope).encode(),
            pika.BasicProperties(content_type="application/json", delivery_mode=2,
                                 message_id=envelope["message_id"], type=envelope["type"]))

    def close(self) -> None:
        self.connection.close()


def sent_time(assignment: dict) -> tuple[int, float]:
    text = assignment["payload"]["description"]
    tail = text.split(MARK, 1)[1]
    number, at = tail.split("@")
    return int(number), float(at)


def lead_latencies(sink: Sink, first: int, last: int) -> tuple[list[float], float, float]:
    """Latencies (s) of cases numbered first..last at the lead's queue, and first/last
    arrival times."""
    found = []
    for arrived, envelope in sink.taken():
        number, at = sent_time(envelope)
        if first <= number <= last:
            found.append((arrived, arrived - at))
    if not found:
        return [], float("nan"), float("nan")
    return sorted(lat for _a, lat in found), min(a for a, _l in found), max(a for a, _l in found)


def wait_count(sink: Sink, first: int, last: int, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    count = 0
    while time.monotonic() < deadline:
        count = len(lead_latencies(sink, first, last)[0])
        if count >= last - first + 1:
            return count
        time.sleep(0.2)
    return count


def raw_broker(amqp_uri: str, count: int) -> float:
    """msg/s of publish (confirms) → quorum queue → consume, 1 KB JSON, one process."""
    connection = pika.BlockingConnection(params(amqp_uri))
    channel = connection.channel()
    queue = f"bench.raw.{uuid.uuid4().hex[:8]}"
    channel.queue_declare(queue, durable=True, arguments={"x-queue-type": "quorum"})
    channel.confirm_delivery()
    body = json.dumps({"pad": "x" * 1000}).encode()
    received = [0]

    def consume() -> None:
        conn = pika.BlockingConnection(params(amqp_uri))
        ch = conn.channel()
        ch.basic_qos(prefetch_count=500)
        for method, _props, _body in ch.consume(queue, inactivity_timeout=10):
            if method is None:
                break
            ch.basic_ack(method.delivery_tag)
            received[0] += 1
            if received[0] >= count:
                break
        ch.cancel()
        conn.close()

    started = time.monotonic()
    consumer = threading.Thread(target=consume, daemon=True)
    consumer.start()
    for _ in range(count):
        channel.basic_publish("", queue, body, pika.BasicProperties(delivery_mode=2))
    consumer.join(60)
    elapsed = time.monotonic() - started
    channel.queue_delete(queue)
    connection.close()
    return received[0] / elapsed


def grid_point(registry_url: str, token: str) -> dict[str, float]:
    grids = requests.get(f"{registry_url}/grids.geojson", timeout=30,
                         headers={"Authorization": f"Bearer {token}"}).json()
    point = shape(grids["features"][0]["geometry"]).representative_point()
    return {"lon": point.x, "lat": point.y}


def offered(hotline: Hotline, first: int, rate: float, seconds: float) -> int:
    """Send on a schedule; each case carries its scheduled time (queueing is not hidden)."""
    total = int(rate * seconds)
    start = time.time() + 0.2
    for i in range(total):
        scheduled = start + i / rate
        delay = scheduled - time.time()
        if delay > 0:
            time.sleep(delay)
        hotline.send(first + i, scheduled)
    return first + total - 1


def report_in(amqp_uri: str, fire: Sink, observer: Sink, rate: float,
              count: int) -> list[float]:
    """Fire acks ``count`` of its assignments on a schedule; latency until dispatch
    announces the case in progress."""
    assignments = [env["payload"] for _a, env in fire.taken()][:count]
    connection = pika.BlockingConnection(params(amqp_uri))
    channel = connection.channel()
    channel.confirm_delivery()
    sent: dict[str, float] = {}
    start = time.time() + 0.2
    for i, a in enumerate(assignments):
        scheduled = start + i / rate
        delay = scheduled - time.time()
        if delay > 0:
            time.sleep(delay)
        payload = {"assignment_id": a["assignment_id"], "case_id": a["case_id"],
                   "department": "fire", "kind": "ack", "reported_at": now_iso()}
        envelope = {"message_id": str(uuid.uuid4()), "type": "department.report",
                    "version": 1, "occurred_at": payload["reported_at"], "producer": "fire",
                    "correlation_id": None, "payload": payload}
        sent[a["case_id"]] = scheduled
        channel.basic_publish("gridgov.reports", "fire.ack", json.dumps(envelope).encode(),
                              pika.BasicProperties(delivery_mode=2,
                                                   content_type="application/json"))
    connection.close()
    deadline = time.monotonic() + 60
    latencies: dict[str, float] = {}
    while time.monotonic() < deadline and len(latencies) < len(sent):
        for arrived, env in observer.taken():
            p = env["payload"]
            if p["to_state"] == "in_progress" and p["case_id"] in sent:
                latencies.setdefault(p["case_id"], arrived - sent[p["case_id"]])
        time.sleep(0.2)
    return sorted(latencies.values())


def machine_cpu() -> float:
    """Busy CPU seconds of the whole machine so far (/proc/stat, all cores)."""
    with open("/proc/stat") as handle:
        fields = [int(v) for v in handle.readline().split()[1:]]
    busy = sum(fields) - fields[3] - fields[4]  # minus idle and iowait
    return busy / os.sysconf("SC_CLK_TCK")


def ms(values: list[float], pct: float) -> float:
    return _common.percentile(values, pct) * 1000


def main(args) -> int:
    burst, rates, seconds, acks = ((300, (25, 50), 4.0, 100) if args.quick
                                   else (1500, (50, 100, 500), 6.0, 300))
    report = _common.Report(f"bench_05 case flow, intake → department "
                            f"({'quick' if args.quick else 'full'})")
    keys = _common.random_secrets()
    ports = {svc: _common.free_port() for svc in ("registry", "events", "dispatch")}
    token = auth.mint(keys["GRIDGOV_JWT_SECRET"], "bench", "district_admin", "district:320505")
    with _common.fresh_database("flow", ("registry", "events", "dispatch")) as db_url, \
            _common.rabbit_vhost("flow") as amqp_uri:
        env = _common.service_env(db_url, amqp_uri, keys, ports)
        _common.progress("loading the demo district")
        _common.run_cli(["-m", "services.registry.cli", "load-demo"], env)
        services = {svc: _common.ServiceProcess(svc, env, port) for svc, port in ports.items()}
        with _common.running_services(services):
            for service in services.values():
                service.wait_http("/readyz", timeout=120)
            _common.progress(f"raw broker: {20 * burst:,} messages")
            raw = raw_broker(amqp_uri, 20 * burst)
            point = grid_point(services["registry"].base_url, token)
            sinks = {d: Sink(amqp_uri, "gridgov.dispatch", [f"{d}.#"], f"bench.{d}")
                     for d in DEPARTMENTS}
            observer = Sink(amqp_uri, "gridgov.events", ["dispatch.case.changed"],
                            "bench.observer")
            for sink in [*sinks.values(), observer]:
                sink.start()
            hotline = Hotline(amqp_uri, point)
            fire = sinks["fire"]

            _common.progress("warm-up: 50 cases")
            for i in range(50):
                hotline.send(i, time.time())
            wait_count(fire, 0, 49, 120)

            _common.progress(f"sustained: a burst of {burst:,} cases")
            first = 1000
            cpu_before = {svc: _common.cpu_seconds(p.pid) or 0.0 for svc, p in services.items()}
            machine_before = machine_cpu()
            for i in range(burst):
                hotline.send(first + i, time.time())
            last = first + burst - 1
            delivered = wait_count(fire, first, last, 600)
            lat, t0, t1 = lead_latencies(fire, first, last)
            rate = (delivered - 1) / (t1 - t0) if delivered > 1 else float("nan")
            machine = machine_cpu() - machine_before
            cpu_ms = {svc: ((_common.cpu_seconds(p.pid) or 0.0) - cpu_before[svc]) * 1000
                      / max(delivered, 1) for svc, p in services.items()}
            report.add("raw broker, pika blocking publish + confirm each → quorum → consume", raw,
                       "msg/s")
            report.add("sustained cases/s, intake → department queue", rate, "cases/s",
                       at_least=1000)
            report.add("  ratio raw broker msg/s : cases/s", raw / rate if rate else None, "x")
            report.add(f"  burst of {burst:,}: cases delivered", delivered, "cases",
                       at_least=burst)
            for svc, value in cpu_ms.items():
                report.add(f"  {svc} CPU per case", value, "ms")
            report.add("  whole machine CPU per case (all processes)",
                       machine * 1000 / max(delivered, 1), "ms")

            first = 100_000
            for offered_rate in rates:
                _common.progress(f"offered {offered_rate} cases/s for {seconds:.0f} s")
                last = offered(hotline, first, offered_rate, seconds)
                got = wait_count(fire, first, last, 600)
                lat, _t0, _t1 = lead_latencies(fire, first, last)
                target = 250 if offered_rate == 500 else None
                report.add(f"at {offered_rate}/s offered: p50 intake → department",
                           ms(lat, 50), "ms")
                report.add(f"at {offered_rate}/s offered: p99 intake → department",
                           ms(lat, 99), "ms", at_most=target)
                report.add(f"at {offered_rate}/s offered: delivered", got, "cases",
                           at_least=last - first + 1)
                first = last + 1_000

            _common.progress(f"report-in: fire acks {acks} assignments at 50/s")
            ins = report_in(amqp_uri, fire, observer, 50, acks)
            report.add("report-in → case updated, 50 acks/s: p50", ms(ins, 50), "ms")
            report.add("report-in → case updated, 50 acks/s: p99", ms(ins, 99), "ms",
                       at_most=100)
            report.add("report-in: cases updated", len(ins), "cases", at_least=acks)
            hotline.close()
            for sink in [*sinks.values(), observer]:
                sink.stopping = True
                sink.join(5)
    report.note("everything on one 2-core machine: broker, PostgreSQL, three services and "
                "this load generator share the CPU")
    report.note("each service runs as one process (nameko, eventlet); several replicas "
                "share the queues (see the flow tests)")
    report.print()
    return 0


if __name__ == "__main__":
    _common.run(main, __doc__.splitlines()[0])

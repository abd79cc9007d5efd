"""Fault injection: cases keep flowing while services are killed with SIGKILL one after the
other, RabbitMQ is restarted and PostgreSQL is restarted; then every case is checked.

Run it alone (``make faults``): it restarts the broker and the database of this machine,
which would break anything else using them. Bounded in time (about three minutes).

Layout: registry, two events and two dispatch replicas (``nameko run`` children) on a
fresh ``gridgov_bench_faults`` database and a throw-away vhost; the fire brigade and
emergency management run the reference department adapter (reporting in at once); this
process is a 12345 hotline that resends each report (same message id) until the broker
confirms it. Faults, a few seconds apart: SIGKILL of events #1, dispatch #1 and the
registry (each restarted after 3 s), ``rabbitmqctl stop_app``/``start_app``, a PostgreSQL
restart. Expected afterwards: every confirmed report is one events case and one dispatch
case in ``in_progress`` with exactly one acknowledged assignment per department, no
outbox row left, no dead letter. The counts are printed; exit status 1 if any is off.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import glob  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import signal  # noqa: E402
import subprocess  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402

import pika  # noqa: E402
import requests  # noqa: E402
import sqlalchemy as sa  # noqa: E402

from bench import _common  # noqa: E402
from bench.bench_05_case_flow import grid_point, now_iso, params  # noqa: E402
from gridgov_common.kernel import auth  # noqa: E402
from tools.department_adapter.adapter import AdapterConfig  # noqa: E402
from tools.department_adapter.embedded import Lines, running  # noqa: E402

DEPARTMENTS = ("fire", "emergency_management")
RATE = 10.0  # reports per second
SETTLE_SECONDS = 90


class Hotline(threading.Thread):
    """Sends report i until the broker confirms it, reconnecting through any outage."""

    def __init__(self, amqp_uri: str, point: dict[str, float]) -> None:
        super().__init__(daemon=True, name="hotline")
        self.amqp_uri, self.point = amqp_uri, point
        self.confirmed: list[str] = []
        self.resends = 0
        self.stopping = False
        self.channel = None

    def run(self) -> None:
        number = 0
        while not self.stopping:
            envelope = self._envelope(number)
            while not self._publish(envelope):
                self.resends += 1
                time.sleep(0.5)
            self.confirmed.append(envelope["payload"]["external_ref"])
            number += 1
            time.sleep(1 / RATE)

    def _envelope(self, number: int) -> dict:
        return {
            "message_id": str(uuid.uuid4()), "type": "intake.case.report", "version": 1,
            "occurred_at": now_iso(), "producer": "hotline_12345", "correlation_id": None,
            "payload": {
                "source": "hotline", "source_system": "hotline_12345",
                "external_ref": f"fault-{number}", "location": self.point,
                "work_category": "public_security_prevention",
                "info_class": "stability_governance", "subcategory": "fire_hazard_corridor",
                "severity": "minor", "reported_at": now_iso(), "private": False,
                "description": f"楼道堆物 fault#{number}"}}

    def _publish(self, envelope: dict) -> bool:
        try:
            if self.channel is None or self.channel.is_closed:
                connection = pika.BlockingConnection(params(self.amqp_uri))
                self.channel = connection.channel()
                self.channel.confirm_delivery()
            self.channel.basic_publish(
                "gridgov.intake", "hotline_12345.case.report", json.dumps(envelope).encode(),
                pika.BasicProperties(content_type="application/json", delivery_mode=2,
                                     message_id=envelope["message_id"]), mandatory=True)
            return True
        except Exception:  # noqa: BLE001  (any outage: reconnect and resend the same)
            self.channel = None
            return False


def kill_and_restart(services: dict[str, _common.ServiceProcess], name: str,
                     env: dict[str, str]) -> None:
    victim = services[name]
    _common.progress(f"SIGKILL {name} (pid {victim.pid})")
    os.killpg(victim.pid, signal.SIGKILL)
    victim.proc.wait(timeout=10)
    time.sleep(3)
    svc = name.split("#")[0]
    port = _common.free_port()
    replica = _common.ServiceProcess(svc, {**env, f"{svc.upper()}_HTTP_PORT": str(port)}, port)
    services[name] = replica.start()
    replica.wait_http("/readyz", timeout=120)
    _common.progress(f"{name} restarted")


def restart_rabbitmq() -> None:
    _common.progress("RabbitMQ: stop_app / start_app")
    subprocess.run(["rabbitmqctl", "stop_app"], check=True, capture_output=True)
    time.sleep(2)
    subprocess.run(["rabbitmqctl", "start_app"], check=True, capture_output=True)
    subprocess.run(["rabbitmqctl", "await_startup"], check=True, capture_output=True)


def restart_postgresql() -> None:
    version = os.path.basename(sorted(glob.glob("/etc/postgresql/*"))[-1])
    _common.progress(f"PostgreSQL {version}: restart")
    subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "restart"],
                   check=True, capture_output=True)


def counts(db_url: str, refs: list[str]) -> dict[str, int]:
    engine = sa.create_engine(db_url)
    with engine.connect() as conn:
        q = lambda sql: conn.execute(sa.text(sql), {"refs": refs}).scalar()  # noqa: E731
        found = {
            "events cases": q("SELECT count(*) FROM events.cases "
                              "WHERE external_ref = ANY(:refs)"),
            "dispatch cases in_progress": q(
                "SELECT count(*) FROM dispatch.cases d JOIN events.cases e USING (case_id) "
                "WHERE e.external_ref = ANY(:refs) AND d.state = 'in_progress'"),
            "dispatch cases": q("SELECT count(*) FROM dispatch.cases d JOIN events.cases e "
                                "USING (case_id) WHERE e.external_ref = ANY(:refs)"),
            "acked assignments": q(
                "SELECT count(*) FROM dispatch.assignments a JOIN events.cases e "
                "USING (case_id) WHERE e.external_ref = ANY(:refs) AND a.acked_at IS NOT NULL"),
            "duplicate (case, department) assignments": q(
                "SELECT count(*) FROM (SELECT 1 FROM dispatch.assignments GROUP BY case_id, "
                "department HAVING count(*) > 1) d"),
            "outbox rows left": sum(conn.execute(sa.text(
                f"SELECT count(*) FROM {s}.outbox")).scalar()
                for s in ("registry", "events", "dispatch")),
        }
    engine.dispose()
    return found


API = "http://127.0.0.1:15672/api"
AUTH = ("guest", "guest")


def dead_letters(vhost: str) -> int:
    queues = requests.get(f"{API}/queues/{vhost}", auth=AUTH, timeout=10).json()
    return sum(q.get("messages", 0) for q in queues if q["name"].endswith(".dlq"))


def backlog(vhost: str) -> int:
    """Messages still waiting in the work queues (redelivered duplicates included)."""
    queues = requests.get(f"{API}/queues/{vhost}", auth=AUTH, timeout=10).json()
    return sum(q.get("messages", 0) for q in queues
               if not q["name"].endswith(".dlq") and not q["name"].startswith("rpc"))


def diagnose(vhost: str, services: dict[str, _common.ServiceProcess]) -> None:
    """What is left where, and why messages were dead-lettered (to stderr)."""
    queues = requests.get(f"{API}/queues/{vhost}", auth=AUTH, timeout=10).json()
    for q in sorted(queues, key=lambda q: q["name"]):
        if q.get("messages") or not q["name"].endswith(".dlq"):
            _common.progress(f"queue {q['name']}: {q.get('messages', 0)} messages, "
                             f"{q.get('consumers', 0)} consumers")
        if q["name"].endswith(".dlq") and q.get("messages"):
            got = requests.post(f"{API}/queues/{vhost}/{q['name']}/get", auth=AUTH, timeout=10,
                                json={"count": 200, "ackmode": "ack_requeue_true",
                                      "encoding": "auto"}).json()
            reasons: dict[str, int] = {}
            for m in got:
                headers = m["properties"].get("headers", {})
                key = f"{headers.get('x-gridgov-error-code')}: " \
                      f"{str(headers.get('x-gridgov-error-message'))[:120]}"
                reasons[key] = reasons.get(key, 0) + 1
            for reason, n in reasons.items():
                _common.progress(f"  {n} × {reason}")
    for name, service in services.items():
        status = _common.http_status(service.base_url + "/readyz")
        _common.progress(f"{name}: /readyz {status}")
        if status != 200:
            alive = service.proc is not None and service.proc.poll() is None
            _common.progress(f"{name} ({'running' if alive else 'exited'}) log tail:\n"
                             f"{service.log_tail(40)}")


def main(args) -> int:
    keys = _common.random_secrets()
    with _common.fresh_database("faults", ("registry", "events", "dispatch")) as db_url, \
            _common.rabbit_vhost("faults") as amqp_uri:
        env = _common.service_env(db_url, amqp_uri, keys)
        _common.run_cli(["-m", "services.registry.cli", "load-demo"], env)
        services = {}
        for name in ("registry#1", "events#1", "events#2", "dispatch#1", "dispatch#2"):
            svc, port = name.split("#")[0], _common.free_port()
            services[name] = _common.ServiceProcess(
                svc, {**env, f"{svc.upper()}_HTTP_PORT": str(port)}, port)
        vhost = amqp_uri.rsplit("/", 1)[1]
        url = f"amqp://guest:guest@127.0.0.1:5672/{vhost}"
        adapters = [AdapterConfig(department=d, amqp_url=url, auto_ack=True,
                                  reconnect_initial=0.2, reconnect_max=2.0)
                    for d in DEPARTMENTS]
        with _common.running_services(services), \
                running(adapters[0], Lines()), running(adapters[1], Lines()):
            for service in services.values():
                service.wait_http("/readyz", timeout=120)
            token = auth.mint(keys["GRIDGOV_JWT_SECRET"], "faults", "district_admin",
                              "district:320505")
            hotline = Hotline(amqp_uri, grid_point(services["registry#1"].base_url, token))
            hotline.start()
            time.sleep(8)
            for name in ("events#1", "dispatch#1", "registry#1"):
                kill_and_restart(services, name, env)
                time.sleep(5)
            restart_rabbitmq()
            time.sleep(8)
            restart_postgresql()
            time.sleep(8)
            hotline.stopping = True
            hotline.join(60)
            refs = list(hotline.confirmed)
            _common.progress(f"{len(refs)} reports confirmed ({hotline.resends} resends); "
                             f"waiting up to {SETTLE_SECONDS} s for every case")
            deadline = time.monotonic() + SETTLE_SECONDS
            while time.monotonic() < deadline:
                found = counts(db_url, refs)
                if (found["dispatch cases in_progress"] == len(refs)
                        and found["outbox rows left"] == 0 and not backlog(vhost)):
                    break
                time.sleep(3)
            found = counts(db_url, refs)
            dlq = dead_letters(vhost)
            diagnose(vhost, services)
    report = _common.Report("fault injection: SIGKILL events, dispatch, registry; restart "
                            "RabbitMQ and PostgreSQL")
    n = len(refs)
    report.add("reports confirmed by the broker", n, "cases")
    report.add("  resends by the hotline during outages", hotline.resends, "messages")
    report.add("events cases", found["events cases"], "cases", at_least=n, at_most=n)
    report.add("dispatch cases", found["dispatch cases"], "cases", at_least=n, at_most=n)
    report.add("dispatch cases in_progress (both departments reported in)",
               found["dispatch cases in_progress"], "cases", at_least=n)
    report.add("acknowledged assignments", found["acked assignments"], "assignments",
               at_least=n * len(DEPARTMENTS), at_most=n * len(DEPARTMENTS))
    report.add("duplicate (case, department) assignments",
               found["duplicate (case, department) assignments"], "pairs", at_most=0)
    report.add("outbox rows left", found["outbox rows left"], "rows", at_most=0)
    report.add("dead-lettered messages", dlq, "messages", at_most=0)
    report.print()
    ok = (found["events cases"] == n == found["dispatch cases"]
          == found["dispatch cases in_progress"]
          and found["acked assignments"] == n * len(DEPARTMENTS)
          and found["duplicate (case, department) assignments"] == 0
          and found["outbox rows left"] == 0 and dlq == 0)
    return 0 if ok else 1


if __name__ == "__main__":
    _common.run(main, __doc__.splitlines()[0])

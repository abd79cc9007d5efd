"""The kill test of issue 15 ("Make it a test"): 10,000 cases in flight while one replica of
each service is killed (SIGKILL, as the kernel's OOM killer or a power cut would) and the
broker and PostgreSQL are restarted; afterwards 0 cases lost, 0 duplicated, 0 duplicated
assignments, 0 rows left in any outbox, nothing dead-lettered.

Runs after test_stack.py (file order), on the stack of `make compose-test`. The cases come
in as a department's system files them, on the bus (`intake.case.report` on
``gridgov.intake``, published with confirms by ``dept.fire`` from inside the stack's
network, where its password lives): 10,000 through the proxy's HTTP intake would measure
the proxy's rate limit, not the flow. Events runs two replicas and dispatch two, so a
killed replica's unacknowledged messages go to the replica that survives. The simulated
departments sign for every assignment and report a result while this happens. The
figures (rate, how long each recovery took) go to var/compose-test/faults.txt, which
run.sh prints.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import textwrap
import time
import uuid
from datetime import UTC, datetime

import pytest
import requests
from shapely.geometry import shape

from tests.compose.stack import ROOT, SERVICES, wait_until

CASES = int(os.environ.get("GRIDGOV_COMPOSE_KILL_CASES", "10000"))
REPLICAS = {"events": 2, "dispatch": 2}
FIGURES = ROOT / "var" / "compose-test" / "faults.txt"

PUBLISH = textwrap.dedent("""
    import json, os, uuid, pika
    template = json.loads(os.environ["KILL_TEMPLATE"])
    points = json.loads(os.environ["KILL_POINTS"])
    count, marker = int(os.environ["KILL_CASES"]), os.environ["KILL_MARKER"]
    connection = pika.BlockingConnection(pika.ConnectionParameters(
        "rabbitmq", 5672, "/",
        pika.PlainCredentials("dept.fire", os.environ["GRIDGOV_BUS_PASSWORD_FIRE"])))
    channel = connection.channel()
    channel.confirm_delivery()  # a publish returns once the broker has stored it
    for n in range(count):
        envelope = dict(template, message_id=str(uuid.uuid4()))
        envelope["payload"] = dict(template["payload"], external_ref=f"{marker}-{n}",
                                   location=points[n % len(points)],
                                   description=f"{marker} {n}号楼道堆放杂物，堵塞消防通道")
        channel.basic_publish(
            "gridgov.intake", "fire.case.report", json.dumps(envelope).encode(),
            pika.BasicProperties(content_type="application/json", delivery_mode=2,
                                 message_id=envelope["message_id"], type=envelope["type"],
                                 user_id="dept.fire"))
    connection.close()
    print(count)
""")


def template() -> dict:
    """intake.case.report v1 as the fire brigade's system sends it (its own sample)."""
    sample = json.loads((ROOT / "gridgov_common" / "contract" / "samples"
                         / "intake.case.report.v1.json").read_text(encoding="utf-8"))
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    sample.update(producer="fire", occurred_at=now)
    sample["payload"].update(source="department", source_system="fire", reported_at=now,
                             subcategory="fire_hazard_corridor")
    return sample


def sql(stack, query: str) -> list[str]:
    """One row of ``query`` in the stack's database, as psql prints it."""
    done = stack.compose("exec", "-T", "postgres", "psql", "-U", "gridgov", "-d", "gridgov",
                         "-At", "-F", " ", "-c", query, timeout=60)
    return done.stdout.split()


def counts(stack, marker: str) -> dict[str, int]:
    like = f"'%{marker}%'"
    outboxes = " + ".join(f"(SELECT count(*) FROM {svc}.outbox)" for svc in SERVICES)
    names = ("events cases", "dispatch cases", "assignments",
             "(case, department) pairs assigned twice", "outbox rows")
    row = sql(stack, f"""SELECT
        (SELECT count(*) FROM events.cases WHERE description LIKE {like}),
        (SELECT count(*) FROM dispatch.cases WHERE description LIKE {like}),
        (SELECT count(*) FROM dispatch.assignments a JOIN dispatch.cases c USING (case_id)
          WHERE c.description LIKE {like}),
        (SELECT count(*) FROM (SELECT 1 FROM dispatch.assignments a
          JOIN dispatch.cases c USING (case_id) WHERE c.description LIKE {like}
          GROUP BY a.case_id, a.department HAVING count(*) > 1) twice),
        {outboxes}""")
    return dict(zip(names, map(int, row), strict=True))


def queues(stack) -> dict[str, int]:
    """Messages (ready and unacknowledged) per queue, from the management API."""
    found = requests.get(stack.url("rabbitmq", 15672, "/api/queues/%2F"), timeout=10,
                         auth=("gridgov", stack.env["GRIDGOV_AMQP_PASSWORD"])).json()
    return {q["name"]: q.get("messages", 0) for q in found}


def dead_letters(stack) -> dict[str, int]:
    return {name: n for name, n in queues(stack).items() if name.endswith(".dlq")}


def docker(*args: str) -> str:
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=True,
                          timeout=60).stdout.strip()


def restarts(container: str) -> tuple[int, str]:
    """(restart count, "running healthy" …) of a container."""
    count, state = docker("inspect", "-f", "{{.RestartCount}}|{{.State.Status}} "
                          "{{if .State.Health}}{{.State.Health.Status}}{{end}}",
                          container).split("|")
    return int(count), state.strip()


def kill_one_replica_each(stack, services: tuple[str, ...]) -> tuple[list[str], float]:
    """SIGKILL the main process of one replica of each service at once (from the host, as
    the OOM killer or a crash would); their restart policy brings them back. The killed
    containers, and the seconds until every one of them runs again."""
    killed = {}
    for service in services:
        container = stack.compose("ps", "-q", service).stdout.split()[0]
        killed[container] = restarts(container)[0]
    started = time.monotonic()
    for container in killed:
        os.kill(int(docker("inspect", "-f", "{{.State.Pid}}", container)), signal.SIGKILL)

    def restarted():
        for container, before in killed.items():
            count, state = restarts(container)
            if count <= before or not state.startswith("running"):
                return False
        return True

    wait_until(restarted, 300, f"the killed replicas restarted: {list(killed)}", interval=1)
    return list(killed), time.monotonic() - started


def healthy(containers: list[str]) -> bool:
    return all(restarts(container)[1] == "running healthy" for container in containers)


def restart(stack, service: str) -> float:
    started = time.monotonic()
    stack.compose("restart", service, timeout=300)
    container = stack.compose("ps", "-q", service).stdout.split()[0]
    wait_until(lambda: restarts(container)[1] == "running healthy", 300,
               f"{service} healthy after its restart", interval=1)
    return time.monotonic() - started


@pytest.mark.timeout(3600)
def test_10000_cases_in_flight_survive_killed_replicas_and_restarted_broker_and_database(
        stack, demo_district):
    marker = f"kill{uuid.uuid4().hex[:10]}"
    points = [{"lon": round(p.x, 6), "lat": round(p.y, 6)} for p in
              (shape(f["geometry"]).representative_point() for f in demo_district)]
    figures: list[str] = [f"{CASES} cases, events x{REPLICAS['events']}, "
                          f"dispatch x{REPLICAS['dispatch']}"]
    dead_before = dead_letters(stack)
    stack.compose("up", "-d", "--wait", "--wait-timeout", "300", "--pull", "never",
                  *(f"--scale={svc}={n}" for svc, n in REPLICAS.items()), *REPLICAS)
    try:
        started = time.monotonic()
        published = stack.compose(
            "exec", "-T", "-e", f"KILL_TEMPLATE={json.dumps(template())}",
            "-e", f"KILL_POINTS={json.dumps(points)}", "-e", f"KILL_CASES={CASES}",
            "-e", f"KILL_MARKER={marker}", "departments", "python", "-",
            input=PUBLISH, timeout=900)
        assert published.stdout.split()[-1] == str(CASES)
        figures.append(f"published and confirmed by the broker in "
                       f"{time.monotonic() - started:.0f} s")

        def dispatched_at_least(share: float) -> int:
            return wait_until(
                lambda: (n := counts(stack, marker)["dispatch cases"]) >= CASES * share and n,
                1800, f"{share:.0%} of the cases dispatched", interval=5)

        # one fault after another while the rest are in flight
        at = dispatched_at_least(0.1)
        killed, took = kill_one_replica_each(stack, SERVICES)
        figures.append(f"killed one replica of each of {', '.join(SERVICES)} at once at {at} "
                       f"dispatched: all running again in {took:.0f} s")
        # healthy comes later under this load (tests/compose/README.md, "The kill test")
        at = dispatched_at_least(0.3)
        figures.append(f"restarted the broker at {at} dispatched: healthy in "
                       f"{restart(stack, 'rabbitmq'):.0f} s")
        at = dispatched_at_least(0.5)
        figures.append(f"restarted PostgreSQL at {at} dispatched: healthy in "
                       f"{restart(stack, 'postgres'):.0f} s")

        def settled():
            now = counts(stack, marker)
            done = (now["dispatch cases"] >= CASES and now["outbox rows"] == 0
                    and now["assignments"] > 0)
            return now if done else None

        final = wait_until(settled, 1800, f"{CASES} cases dispatched, outboxes empty",
                           interval=5)
        took = time.monotonic() - started
        figures.append(f"all dispatched, outboxes empty after {took:.0f} s "
                       f"({CASES / took:.1f} cases/s with the faults)")
        figures.append(json.dumps(final, ensure_ascii=False))
        assert final == {"events cases": CASES, "dispatch cases": CASES,
                         "assignments": final["assignments"],
                         "(case, department) pairs assigned twice": 0, "outbox rows": 0}
        assert final["assignments"] >= CASES  # every case whistled to at least the fire brigade
        # the departments' reports sent so far all handled, before looking for refusals
        wait_until(lambda: queues(stack).get("dispatch.reports") == 0, 600,
                   "the departments' reports handled", interval=5)
        grown = {name: n - dead_before.get(name, 0) for name, n in dead_letters(stack).items()
                 if n > dead_before.get(name, 0)}
        assert grown == {}, f"dead-lettered during the faults: {grown}"
        wait_until(lambda: healthy(killed), 300, "the killed replicas healthy again")
        for service in SERVICES:
            ready = requests.get(f"{stack.proxy}/api/{service}/readyz", timeout=10)
            assert ready.status_code == 200, (service, ready.text)
    finally:
        FIGURES.write_text("\n".join(figures) + "\n", encoding="utf-8")
        stack.compose("up", "-d", "--wait", "--wait-timeout", "300", "--pull", "never",
                      *(f"--scale={svc}=1" for svc in REPLICAS), *REPLICAS)

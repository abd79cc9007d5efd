"""The docker-compose stack for real (issue 15, "Make it a test"), through its one origin,
the reverse proxy, as a district's users and departments reach it. tests/compose/run.sh
(`make compose-test`) builds the stand-in images, the gridgov image, brings the stack up
and waits for it healthy before this runs, and takes it down after; tests/compose/README.md.
"""

from __future__ import annotations

import json
import re
import textwrap

import pytest
import requests
import yaml
from shapely.geometry import shape

from tests.compose.stack import ROOT, SERVICES, bearer, wait_until

FLOW_WAIT = 90.0  # a case from report to resolved took ~6 s on the stack (issue 15)


def status(url: str, **kwargs) -> int:
    return requests.get(url, timeout=10, **kwargs).status_code


def test_every_service_is_ready_through_the_proxy(stack):
    proxy = stack.proxy
    assert status(f"{proxy}/proxy-healthz") == 200
    for service in SERVICES:
        ready = requests.get(f"{proxy}/api/{service}/readyz", timeout=10)
        assert ready.status_code == 200, (service, ready.text)
    # the image's web stage built both front ends; assessment serves them behind the proxy
    for page in ("/app/", "/desk/"):
        got = requests.get(proxy + page, timeout=10)
        assert got.status_code == 200 and "<html" in got.text.lower(), (page, got.status_code)


def test_prometheus_scrapes_every_service_and_the_broker(stack):
    targets_url = stack.url("prometheus", 9090, "/api/v1/targets")

    def all_up():
        active = requests.get(targets_url, timeout=10).json()["data"]["activeTargets"]
        up = {t["labels"].get("service") or t["labels"]["job"]
              for t in active if t["health"] == "up"}
        return up if up >= {*SERVICES, "rabbitmq"} else None

    wait_until(all_up, 120, "every service and rabbitmq scraped up by Prometheus")


def test_one_case_from_report_to_closed_with_a_valid_case_file(stack, demo_district):
    proxy = stack.proxy
    feature = demo_district[0]
    grid_code = feature["properties"]["grid_code"]
    point = shape(feature["geometry"]).representative_point()
    chief = bearer(stack, "community_grid_chief", f"community:{grid_code[:12]}", "compose-chief")

    reported = requests.post(f"{proxy}/api/events/cases", headers=chief, timeout=30, json={
        "location": {"lon": point.x, "lat": point.y},
        "work_category": "public_security_prevention", "subcategory": "fire_hazard_corridor",
        "severity": "minor", "description": "3幢楼道堆放杂物，堵塞消防通道"})
    assert reported.status_code in (200, 201, 202), reported.text
    case_url = f"{proxy}/api/dispatch/cases/{reported.json()['case_id']}"

    def state_is(expected):
        got = requests.get(case_url, headers=chief, timeout=10)
        return got.json() if got.status_code == 200 and got.json()["state"] == expected else None

    # dispatch whistles it to the departments; the simulated departments (their own bus
    # users) sign for it and report results
    resolved = wait_until(lambda: state_is("resolved"), FLOW_WAIT, "the case resolved")
    assert {a["department"] for a in resolved["assignments"]} >= {"fire"}

    visit = requests.post(f"{case_url}/return-visit", headers=chief, timeout=30,
                          json={"satisfied": True, "satisfaction": 5, "method": "phone"})
    assert visit.status_code == 200, visit.text
    wait_until(lambda: state_is("closed"), FLOW_WAIT, "the case closed")

    case_file = requests.get(f"{case_url}/file", headers=chief, timeout=30).json()
    assert case_file["verification"]["valid"] is True
    actions = [entry["action"] for entry in case_file["entries"]]
    assert actions[:2] == ["filed", "dispatch"], actions
    assignments = len(resolved["assignments"])
    assert actions.count("ack") == assignments, actions
    assert actions.count("department_result") == assignments, actions
    assert actions[-1] == "return_visit_satisfied", actions
    page = requests.get(f"{case_url}/file.html", headers=chief, timeout=30)
    assert page.status_code == 200 and resolved["case_number"] in page.text


def report(stack, feature, n: int) -> str:
    """One case through the proxy as the grid's community chief; a 429/503 (the proxy's
    intake limit, a service's own) is sent again, as the app's outbox does."""
    grid_code = feature["properties"]["grid_code"]
    point = shape(feature["geometry"]).representative_point()
    chief = bearer(stack, "community_grid_chief", f"community:{grid_code[:12]}", "compose-chief")
    body = {"location": {"lon": point.x, "lat": point.y},
            "work_category": "public_security_prevention",
            "subcategory": "fire_hazard_corridor", "severity": "minor",
            "description": f"{n}号楼道堆放杂物，堵塞消防通道"}

    def post():
        got = requests.post(f"{stack.proxy}/api/events/cases", headers=chief, json=body,
                            timeout=30)
        if got.status_code in (429, 503):
            return None  # asked again by wait_until
        assert got.status_code in (200, 201, 202), got.text
        return got.json()["case_id"]

    return wait_until(post, 120, f"case {n} accepted")


def replicas_scraped(stack) -> dict[str, int]:
    active = requests.get(stack.url("prometheus", 9090, "/api/v1/targets"),
                          timeout=10).json()["data"]["activeTargets"]
    up: dict[str, set[str]] = {}
    for target in active:
        if target["health"] == "up" and target["labels"].get("service"):
            up.setdefault(target["labels"]["service"], set()).add(target["labels"]["instance"])
    return {service: len(instances) for service, instances in up.items()}


@pytest.mark.timeout(900)
def test_three_events_and_two_dispatch_replicas_carry_30_cases_exactly_once(stack,
                                                                             demo_district):
    """deploy/README.md "Scaling a service": every replica is found by the proxy and by
    Prometheus, and the replicas share the work through their queues without a case or an
    assignment handled twice."""
    stack.compose("up", "-d", "--wait", "--wait-timeout", "300", "--pull", "never",
                  "--scale", "events=3", "--scale", "dispatch=2", "events", "dispatch")
    try:
        running = stack.compose("ps", "--status", "running", "--format", "{{.Service}}",
                                "events", "dispatch").stdout.split()
        assert sorted(running) == ["dispatch"] * 2 + ["events"] * 3, running
        def every_replica_scraped():
            scraped = replicas_scraped(stack)
            return scraped if (scraped.get("events"), scraped.get("dispatch")) == (3, 2) else None

        wait_until(every_replica_scraped, 180, "Prometheus scraping 3 events and 2 dispatch")

        admin = bearer(stack, "district_admin", "district:320505", "compose-admin")
        case_ids = [report(stack, demo_district[n % len(demo_district)], n) for n in range(30)]
        assert len(set(case_ids)) == 30

        def resolved(case_id):
            got = requests.get(f"{stack.proxy}/api/dispatch/cases/{case_id}", headers=admin,
                               timeout=10)
            return got.json() if got.status_code == 200 and got.json()["state"] in (
                "resolved", "closed") else None

        assignment_ids = []
        for case_id in case_ids:
            case = wait_until(lambda c=case_id: resolved(c), 180, f"case {case_id} resolved")
            assignment_ids += [a["assignment_id"] for a in case["assignments"]]
            entries = requests.get(f"{stack.proxy}/api/dispatch/cases/{case_id}/file",
                                   headers=admin, timeout=30).json()
            assert entries["verification"]["valid"] is True
            actions = [entry["action"] for entry in entries["entries"]]
            assert actions.count("filed") == 1 and actions.count("dispatch") == 1, actions
            assert actions.count("ack") == len(case["assignments"]), actions
            assert actions.count("department_result") == len(case["assignments"]), actions
        assert len(assignment_ids) == len(set(assignment_ids))
    finally:
        stack.compose("up", "-d", "--wait", "--wait-timeout", "300", "--pull", "never",
                      "--scale", "events=1", "--scale", "dispatch=1", "events", "dispatch")


def dashboard_queries() -> list[tuple[str, str]]:
    """(dashboard, PromQL) of every panel and variable in deploy/grafana/dashboards."""
    found = []

    def walk(node, name):
        if isinstance(node, dict):
            for key in ("expr", "query"):
                value = node.get(key)
                if isinstance(value, str) and value.strip():
                    found.append((name, value))
                elif isinstance(value, dict):
                    walk(value, name)
            for key, value in node.items():
                if key not in ("expr", "query"):
                    walk(value, name)
        elif isinstance(node, list):
            for value in node:
                walk(value, name)

    for path in sorted((ROOT / "deploy" / "grafana" / "dashboards").glob("*.json")):
        walk(json.loads(path.read_text(encoding="utf-8")), path.name)
    return found


@pytest.mark.timeout(600)
def test_every_grafana_query_answers_with_data_from_the_stack_s_prometheus(stack,
                                                                           demo_district):
    """Grafana has no Debian package, so no stand-in: its provisioning is checked against
    the stack instead. The datasource is the compose service's Prometheus, and every
    dashboard query (panels and variables, the variables as "all") is valid PromQL there
    and names only series the stack exports. Runs after a case went through, so the
    domain metrics have values."""
    source = yaml.safe_load((ROOT / "deploy" / "grafana" / "provisioning" / "datasources"
                             / "prometheus.yml").read_text(encoding="utf-8"))["datasources"][0]
    assert source["url"] == "http://prometheus:9090"
    prometheus = stack.url("prometheus", 9090)
    queries = dashboard_queries()
    assert len(queries) >= 30

    def promql(query):
        # label_values(metric, label) is Grafana's, not PromQL: its series must exist
        variable = re.fullmatch(r"label_values\((\w+),\s*(\w+)\)", query.strip())
        if variable:
            query = f"count by ({variable[2]}) ({variable[1]})"
        return re.sub(r"\$\{?(\w+)\}?", ".*", query)

    for dashboard, query in queries:
        got = requests.get(f"{prometheus}/api/v1/query", params={"query": promql(query)},
                           timeout=10).json()
        assert got["status"] == "success", (dashboard, query, got)

    names = sorted({name for _, query in queries
                    for name in re.findall(r"\b((?:gridgov|rabbitmq)_\w+)", query)})

    def missing():
        absent = [name for name in names if not requests.get(
            f"{prometheus}/api/v1/query", params={"query": f"count({name})"},
            timeout=10).json()["data"]["result"]]
        return absent or None

    # scraped every 15 s (services) and 30 s (broker): wait until nothing is absent
    try:
        wait_until(lambda: not missing(), 120, "every metric of the dashboards scraped")
    except AssertionError:
        pytest.fail(f"dashboard metrics the stack does not export: {missing()}")


BUS_CHECK = textwrap.dedent("""
    import json, os, pika
    from pika.exceptions import ChannelClosedByBroker, ProbableAuthenticationError
    def connect(user, password):
        return pika.BlockingConnection(pika.ConnectionParameters(
            "rabbitmq", 5672, "/", pika.PlainCredentials(user, password),
            connection_attempts=1))
    out = {}
    fire = connect("dept.fire", os.environ["GRIDGOV_BUS_PASSWORD_FIRE"])
    channel = fire.channel()
    out["own_queue"] = channel.queue_declare("dept.fire.assignments", passive=True).method.queue
    try:
        channel.basic_get("dept.health.assignments")
        out["other_queue"] = "allowed"
    except ChannelClosedByBroker as exc:
        out["other_queue"] = exc.reply_code
    fire.close()
    try:
        connect("dept.fire", os.environ["GRIDGOV_BUS_PASSWORD_HEALTH"]).close()
        out["wrong_password"] = "allowed"
    except ProbableAuthenticationError:
        out["wrong_password"] = "refused"
    try:
        connect("guest", "guest").close()
        out["guest"] = "allowed"
    except ProbableAuthenticationError:
        out["guest"] = "refused"
    print(json.dumps(out))
""")


def test_a_department_logs_in_with_its_own_password_and_only_reaches_its_own_queues(stack):
    """From inside the stack's network (the broker's AMQP port is not published), in the
    simulated departments' container, which holds the departments' passwords."""
    done = stack.compose("exec", "-T", "departments", "python", "-", input=BUS_CHECK, timeout=60)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result == {"own_queue": "dept.fire.assignments", "other_queue": 403,
                      "wrong_password": "refused", "guest": "refused"}

    # the definitions compose's job generated were imported at boot: every demo
    # department's user, the five services' own users and the platform's administrator
    users = requests.get(stack.url("rabbitmq", 15672, "/api/users"), timeout=10,
                         auth=("gridgov", stack.env["GRIDGOV_AMQP_PASSWORD"]))
    assert users.status_code == 200, users.text
    names = {user["name"] for user in users.json()}
    departments = {name[len("GRIDGOV_BUS_PASSWORD_"):].lower() for name in stack.env
                   if name.startswith("GRIDGOV_BUS_PASSWORD_")}
    assert len(departments) == 10
    assert names == ({"gridgov"} | {f"dept.{code}" for code in departments}
                     | {f"svc.{service}" for service in SERVICES}), names


def test_a_stopped_service_takes_only_its_own_routes_down(stack):
    proxy = stack.proxy
    stack.compose("stop", "notify")
    try:
        # the proxy looks names up per request and keeps an answer 10 s
        wait_until(lambda: status(f"{proxy}/api/notify/readyz") in (502, 503), 60,
                   "notify's routes answering 502/503")
        assert status(f"{proxy}/api/notify/healthz") in (502, 503)
        for service in SERVICES:
            if service != "notify":
                assert status(f"{proxy}/api/{service}/readyz") == 200, service
        assert status(f"{proxy}/proxy-healthz") == 200
    finally:
        stack.compose("start", "notify")
    wait_until(lambda: status(f"{proxy}/api/notify/readyz") == 200, 120, "notify back")

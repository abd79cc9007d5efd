"""Prometheus artefacts checked by Prometheus' own tool, ``promtool`` (Debian package
``prometheus``): every service's /metrics, deploy/prometheus/{prometheus,rules}.yml with
the alert unit tests, and the Grafana dashboards' queries against metric names that exist.

promtool missing is a failure, not a skip: without it nothing here is checked.
"""

from __future__ import annotations

import importlib
import json
import re
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa
import yaml
from prometheus_client.parser import text_string_to_metric_families

from services.dispatch.models import assignments, cases, escalations
from tests.dispatch.conftest import clean_db  # noqa: F401  (fixture)
from tests.dispatch.test_statistics import build
from tools.ports import free_port

ROOT = Path(__file__).resolve().parent.parent
PROMETHEUS = ROOT / "deploy" / "prometheus"
DASHBOARDS = ROOT / "deploy" / "grafana" / "dashboards"
DATASOURCES = ROOT / "deploy" / "grafana" / "provisioning" / "datasources"
SERVICES = {
    "registry": "RegistryService", "events": "EventsService", "dispatch": "DispatchService",
    "assessment": "AssessmentService", "notify": "NotifyService",
}
# The rabbitmq_prometheus plugin's names this repository queries, from the plugin's
# documentation (deps/rabbitmq_prometheus/metrics.md, "Generic metrics" and
# "Per-object metrics") and checked against RabbitMQ 3.10.8's /metrics/per-object.
RABBITMQ_METRICS = frozenset({
    "rabbitmq_queue_messages", "rabbitmq_queue_messages_ready",
    "rabbitmq_queue_messages_unacked", "rabbitmq_queue_consumers",
    "rabbitmq_connections", "rabbitmq_channels", "rabbitmq_queues",
    "rabbitmq_global_consumers", "rabbitmq_global_publishers",
    "rabbitmq_global_messages_received_total", "rabbitmq_global_messages_routed_total",
    "rabbitmq_global_messages_delivered_total", "rabbitmq_global_messages_acknowledged_total",
    "rabbitmq_global_messages_unroutable_returned_total",
    "rabbitmq_global_messages_unroutable_dropped_total",
    "rabbitmq_global_messages_dead_lettered_rejected_total",
    "rabbitmq_process_resident_memory_bytes", "rabbitmq_resident_memory_limit_bytes",
    "rabbitmq_disk_space_available_bytes", "rabbitmq_disk_space_available_limit_bytes",
})
PROMETHEUS_SYNTHETIC = frozenset({"up", "scrape_duration_seconds", "scrape_samples_scraped"})
PROMQL_WORDS = frozenset({"and", "or", "unless", "bool", "offset", "inf", "nan"})
SUFFIXES = {"counter": ("_total", "_created"), "histogram": ("_bucket", "_sum", "_count",
                                                            "_created"),
            "summary": ("", "_sum", "_count", "_created")}


@pytest.fixture(scope="module")
def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.fail("promtool not found on PATH: install Debian's prometheus package "
                    "(apt-get install --no-install-recommends prometheus); these checks "
                    "cannot run without it")
    return path


def run(promtool: str, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([promtool, *args], input=stdin, capture_output=True, text=True,
                          cwd=PROMETHEUS, timeout=60, check=False)


@pytest.fixture
def case_rows(db_engine, clean_db):  # noqa: F811
    """Cases, assignments and escalations, so dispatch's domain gauges have samples."""
    built = build(datetime.now(UTC))
    with db_engine.begin() as conn:
        for table, rows in ((cases, built["cases"].values()),
                            (assignments, built["assignments"]),
                            (escalations, built["escalations"])):
            for row in rows:
                conn.execute(sa.insert(table).values(**row))
    return built


@pytest.fixture
def scrape(container_factory, service_config):
    """Start service ``name`` on a free port and return its /metrics text (after one
    request, so the HTTP families have samples)."""

    def start_and_scrape(name: str) -> str:
        module = importlib.import_module(f"services.{name}.service")
        port = free_port()
        quiet = {"ESCALATION_POLL_SECONDS": 3600} if name == "dispatch" else {}
        config = service_config(name, WEB_SERVER_ADDRESS=f"127.0.0.1:{port}", **quiet)
        container = container_factory(getattr(module, SERVICES[name]), config)
        container.start()
        base = f"http://127.0.0.1:{port}"
        assert requests.get(f"{base}/healthz", timeout=10).status_code == 200
        response = requests.get(f"{base}/metrics", timeout=10)
        assert response.status_code == 200, response.text
        assert response.headers["Content-Type"].startswith("text/plain")
        return response.text

    return start_and_scrape


@pytest.mark.parametrize("name", list(SERVICES))
def test_metrics_of_every_service_pass_promtool(promtool, scrape, case_rows, name):
    text = scrape(name)
    checked = run(promtool, "check", "metrics", stdin=text)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert (checked.stdout + checked.stderr).strip() == ""  # no lint problem printed
    served = {(s.name, s.labels.get("service"), s.labels.get("route"))
              for family in text_string_to_metric_families(text) for s in family.samples}
    assert ("gridgov_http_requests_total", name, "/healthz") in served  # ours, not only
    if name == "dispatch":
        assert 'gridgov_cases_open{town="320505001"} 3.0' in text


def test_prometheus_config_rules_and_alert_tests_pass_promtool(promtool):
    for args in (("check", "config", "prometheus.yml"), ("check", "rules", "rules.yml"),
                 ("test", "rules", "rules_test.yml")):
        checked = run(promtool, *args)
        assert checked.returncode == 0, f"promtool {' '.join(args)}:\n" \
                                        f"{checked.stdout}{checked.stderr}"
        assert "SUCCESS" in checked.stdout
    scraped = yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text())
    targets = {t for job in scraped["scrape_configs"] for c in job.get("static_configs", [])
               for t in c["targets"]}
    # services by DNS (every replica of a scaled compose service), the broker by name
    targets |= {f"{name}:{c['port']}" for job in scraped["scrape_configs"]
                for c in job.get("dns_sd_configs", []) if c["type"] == "A"
                for name in c["names"]}
    assert targets == {"registry:8001", "events:8002", "dispatch:8003", "assessment:8004",
                       "notify:8005", "rabbitmq:15692"}


# --- metric names in dashboards and rules -------------------------------------------------

def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects: identifiers that are not functions,
    keywords, label names (in {…}, by/without/on/ignoring (…)) or durations."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    text = re.sub(r"\{[^}]*\}", " ", text)
    text = re.sub(r"\[[^\]]*\]", " ", text)
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    found = set()
    for match in re.finditer(r"[a-zA-Z_:][a-zA-Z0-9_:]*", text):
        rest = text[match.end():].lstrip()
        word = match.group()
        if rest.startswith("(") or word.lower() in PROMQL_WORDS:
            continue
        found.add(word)
    return found


def known_names(exposition: str) -> set[str]:
    names = set()
    for family in text_string_to_metric_families(exposition):
        names.update(sample.name for sample in family.samples)
        names.update(family.name + suffix for suffix in SUFFIXES.get(family.type, ("",)))
    return names


def panels(board: dict) -> list[dict]:
    found = []
    for panel in board["panels"]:
        found.append(panel)
        found.extend(panel.get("panels", []))  # collapsed rows keep theirs inside
    return found


def test_metric_name_parser_sees_only_metric_names():
    assert metric_names('histogram_quantile(0.95, sum by (service, le) (rate('
                        'gridgov_http_request_seconds_bucket{status=~"5.."}[5m])))') == {
        "gridgov_http_request_seconds_bucket"}
    assert metric_names("sum(a_total) / sum(b) and on (x) up == 0") == {"a_total", "b", "up"}


def test_dashboards_and_rules_query_only_metrics_that_exist(scrape, case_rows):
    ours = known_names(scrape("dispatch")) | known_names(scrape("events"))
    known = ours | RABBITMQ_METRICS | PROMETHEUS_SYNTHETIC
    datasource_uids = {d["uid"] for f in DATASOURCES.glob("*.yml")
                       for d in yaml.safe_load(f.read_text())["datasources"]}
    boards = sorted(DASHBOARDS.glob("*.json"))
    assert [b.stem for b in boards] == ["bus-health", "department-sla", "platform-overview"]
    used: set[str] = set()
    for path in boards:
        board = json.loads(path.read_text())
        assert board["uid"] and board["title"] and board["schemaVersion"] >= 30, path.name
        ids = [p["id"] for p in panels(board)]
        assert len(ids) == len(set(ids)), f"{path.name}: panel ids repeat"
        for panel in panels(board):
            assert panel["datasource"]["uid"] in datasource_uids, (path.name, panel["title"])
            assert set(panel["gridPos"]) == {"h", "w", "x", "y"}
            for target in panel["targets"]:
                names = metric_names(target["expr"])
                assert names, (path.name, panel["title"], target["expr"])
                assert names <= known, (path.name, panel["title"], names - known)
                used |= names
        for variable in board["templating"]["list"]:
            name = re.match(r"label_values\((\w+),", variable["definition"]).group(1)
            assert name in known, (path.name, variable["name"], name)
    rules = yaml.safe_load((PROMETHEUS / "rules.yml").read_text())
    for group in rules["groups"]:
        for rule in group["rules"]:
            assert metric_names(rule["expr"]) <= known, (rule["alert"], rule["expr"])
    for name in ("gridgov_cases_open", "gridgov_cases_overdue", "gridgov_closure_ratio",
                 "gridgov_assignments_overdue", "gridgov_ack_latency_seconds",
                 "rabbitmq_queue_messages"):
        assert name in used, f"no dashboard shows {name}"

"""The reference department adapter (tools/department_adapter) against the real RabbitMQ.

Everything on the department's side is plain pika, as in a department's own system; the
gridgov contract is imported only to build messages and to check what the adapter
publishes. Each test has its own throw-away vhost (nameko's ``rabbit_config``) and bounds
every wait.
"""

from __future__ import annotations

import ast
import configparser
import http.server
import json
import os
import signal
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pika
import pytest
from marshmallow import fields

from gridgov_common.contract import (
    DISPATCH_EXCHANGE,
    REPORTS_EXCHANGE,
    load_sample,
    make_envelope,
    parse_envelope,
    parse_report_key,
    schema_for,
)
from gridgov_common.platform.messaging import DEFAULT_MAX_REDELIVERIES, consumer_queue_arguments
from tests.adapters import FAST, WAIT, Lines, amqp_url, running
from tests.amqp import bind_queue, drain, pika_params, publish, wait_until
from tests.departments import department_users, unique_code
from tools import bus_users
from tools.department_adapter import adapter as adapter_module
from tools.department_adapter.adapter import (
    ASSIGNMENT,
    REJECTION,
    REJECTION_V2,
    REQUIRED_PAYLOAD_FIELDS,
    AdapterConfig,
    AdapterConfigError,
    Refused,
    build_parser,
    build_report,
    config_from_args,
    parse_message,
    topic_match,
)
from tools.department_adapter.simulate import (
    DEFAULT_DEPARTMENTS,
    Simulation,
    department_urls,
)

ROOT = Path(__file__).resolve().parent.parent
FIRE_KEY = "fire.320505001.public_security_prevention.normal"
PS_KEY = "public_security.320505001.public_security_prevention.normal"
FIRE_QUEUE = "dept.fire.assignments"
FIRE_DLQ = "dept.fire.assignments.dlq"


# --- helpers ---------------------------------------------------------------------------

def assignment(department: str = "fire") -> dict[str, Any]:
    """A fresh dispatch.assignment v1 envelope built from the committed sample."""
    payload = dict(load_sample(*ASSIGNMENT)["payload"], department=department,
                   assignment_id=str(uuid.uuid4()))
    return make_envelope(ASSIGNMENT[0], payload, "dispatch", version=ASSIGNMENT[1])


def queue_counts(uri: str, queue: str) -> tuple[int, int]:
    """(ready messages, consumers) of a queue; unacked messages are not 'ready'."""
    connection = pika.BlockingConnection(pika_params(uri))
    try:
        ok = connection.channel().queue_declare(queue, passive=True)
        return ok.method.message_count, ok.method.consumer_count
    finally:
        connection.close()


def fire_config(url: str, **options: Any) -> AdapterConfig:
    return AdapterConfig(department="fire", amqp_url=url, **{**FAST, **options})


@pytest.fixture
def url(rabbit_config) -> str:
    return amqp_url(rabbit_config)


@pytest.fixture
def uri(rabbit_config) -> str:
    return rabbit_config["AMQP_URI"]


@pytest.fixture
def webhook() -> Iterator[dict[str, Any]]:
    """A real HTTP server on 127.0.0.1 standing in for the department's system."""
    state: dict[str, Any] = {"status": 200, "attempts": 0, "stored": []}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            state["attempts"] += 1
            status = state["status"]
            if 200 <= status < 300:
                state["stored"].append((dict(self.headers), body))
            self.send_response(status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    state["url"] = f"http://127.0.0.1:{server.server_address[1]}/gridgov"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(WAIT)


# --- without a broker -----------------------------------------------------------------------

def test_adapter_needs_only_pika_and_the_standard_library():
    """A department copies adapter.py: it must not import gridgov (or anything else)."""
    for name in ("adapter.py", "simulate.py", "__init__.py", "__main__.py"):
        tree = ast.parse((ROOT / "tools" / "department_adapter" / name).read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                modules = [node.module or ""]
            else:
                continue
            for module in modules:
                top = module.split(".")[0]
                assert top == "pika" or top in sys.stdlib_module_names, (name, module)


def test_required_fields_and_queue_layout_follow_the_contract():
    for key, required in REQUIRED_PAYLOAD_FIELDS.items():
        schema = schema_for(*key)
        expected = {name for name, field in schema.load_fields.items()
                    if field.required and not isinstance(field, fields.Dict)}
        assert set(required) == expected, key
    config = AdapterConfig(department="fire", amqp_url="amqp://u:p@h/v")
    assert config.queue == FIRE_QUEUE
    assert config.queue_arguments() == consumer_queue_arguments(FIRE_QUEUE,
                                                                DEFAULT_MAX_REDELIVERIES)
    assert config.all_bindings() == ["fire.#", "fire.rejections", "fire.decisions"]
    # the layout the adapter falls back to is the platform's (tools.bus_users)
    platform = {spec.name: spec for spec in bus_users.department_queues("fire")}
    assert platform[FIRE_QUEUE].arguments == config.queue_arguments()
    assert platform[FIRE_QUEUE].bindings == ((DISPATCH_EXCHANGE, "fire.#"),)
    assert config.dead_letter_queue in platform


def test_patterns_filter_by_routing_key():
    """The platform binds <department>.#; --bind patterns choose what is handed over."""
    config = AdapterConfig(department="fire", amqp_url="amqp://u:p@h/v",
                           bindings=["fire.*.*.major", "fire.320505001.#"])
    assert config.wants("fire.610113001.other.major")
    assert config.wants("fire.320505001.other.normal") and config.wants("fire.320505001")
    assert config.wants("fire.rejections") and config.wants("fire.decisions")
    assert not config.wants("fire.610113001.other.normal")
    assert not config.wants("fire.610113001.major") and not config.wants("police.rejections")
    assert topic_match("#", "") and topic_match("a.#.b", "a.b") and topic_match("a.#.b", "a.x.y.b")
    assert not topic_match("a.*", "a") and not topic_match("a.*.b", "a.x.y.b")


def test_simulated_departments_are_the_registry_departments():
    from services.registry.domain.staff import DEPARTMENTS

    assert set(DEFAULT_DEPARTMENTS) == {department.code for department in DEPARTMENTS}


def test_parse_message_refuses_what_it_cannot_hand_over():
    good = assignment()
    assert parse_message(json.dumps(good).encode(), "fire") == good

    def code(body: bytes | dict) -> str:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        with pytest.raises(Refused) as info:
            parse_message(raw, "fire")
        return info.value.code

    assert code(b"\xff") == "invalid_json"
    assert code(b'{"version": NaN}') == "invalid_json"
    assert code(b"[1]") == "invalid_envelope"
    assert code({k: v for k, v in good.items() if k != "occurred_at"}) == "invalid_envelope"
    assert code(dict(good, extra=1)) == "invalid_envelope"
    assert code(dict(good, version="1")) == "invalid_envelope"
    assert code(dict(good, version=True)) == "invalid_envelope"
    assert code(dict(good, occurred_at="2026-11-28T10:00:00+08:00")) == "invalid_envelope"
    assert code(dict(good, version=2)) == "unknown_type"
    assert code(dict(good, type="dispatch.recall")) == "unknown_type"
    missing = dict(good, payload={k: v for k, v in good["payload"].items() if k != "case_id"})
    assert code(missing) == "invalid_payload"
    assert code(assignment("public_security")) == "wrong_department"
    assert code(b" " * (256 * 1024 + 1)) == "message_too_large"


def test_built_reports_are_valid_department_reports():
    source = assignment()
    ack = build_report("fire", source, "ack", note="taken")
    result = build_report("fire", source, "result", resolved=False)
    for report in (ack, result):
        parsed = parse_envelope(adapter_module.encode(report))
        assert parsed.type == "department.report" and parsed.correlation_id == source[
            "message_id"]
    assert parse_envelope(result).payload["resolved"] is False
    # resending the same report keeps its message_id (gridgov deduplicates it)
    assert build_report("fire", source, "ack")["message_id"] == ack["message_id"]
    assert ack["message_id"] != result["message_id"]


def test_configuration_is_checked_and_merged(tmp_path):
    for bad in ({"department": "Fire"}, {"bindings": ["#"]},
                {"bindings": ["public_security.#"]}, {"amqp_url": "http://x"},
                {"webhook": "ftp://x"}):
        with pytest.raises(AdapterConfigError):
            AdapterConfig(**{"department": "fire", "amqp_url": "amqp://u:p@h/v", **bad})
    ini = tmp_path / "fire.ini"
    ini.write_text("[adapter]\ndepartment = fire\namqp_url = amqp://u:p@h/v\n"
                   "bind = fire.*.*.major\n    fire.*.*.urgent\nwebhook = http://h/x\n"
                   "webhook_header = Authorization: Bearer t\nauto_ack = true\n"
                   "auto_result_after = 3\nresolved = false\n")
    args = build_parser().parse_args(["--config", str(ini), "--resolved", "true"])
    config, _ = config_from_args(args, environ={})
    assert config.bindings == ["fire.*.*.major", "fire.*.*.urgent"]
    assert config.webhook == "http://h/x" and config.webhook_headers == {
        "Authorization": "Bearer t"}
    assert (config.auto_ack, config.auto_result_after, config.resolved) == (True, 3.0, True)
    args = build_parser().parse_args(["--department", "fire"])
    config, _ = config_from_args(args, environ={"DEPARTMENT_AMQP_URL": "amqp://u:p@h/v"})
    assert config.amqp_url == "amqp://u:p@h/v" and config.webhook is None


def test_example_config_is_valid():
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(ROOT / "tools" / "department_adapter" / "example.ini")
    assert parser["adapter"]["department"]
    args = build_parser().parse_args(
        ["--config", str(ROOT / "tools" / "department_adapter" / "example.ini")])
    config, _ = config_from_args(args, environ={"DEPARTMENT_AMQP_URL": "amqp://u:p@h/v"})
    assert config.bindings and config.queue.startswith("dept.")


# --- against the broker ---------------------------------------------------------------------



def test_assignment_is_forwarded_and_reported_in(uri, url):
    bind_queue(uri, "test.fire.reports", REPORTS_EXCHANGE, ["fire.*"])
    bind_queue(uri, "test.public_security", DISPATCH_EXCHANGE, ["public_security.#"])
    out = Lines()
    other, mine = assignment("public_security"), assignment("fire")
    with running(fire_config(url, auto_ack=True, auto_result_after=0.3, resolved=False),
                 out) as adapter:
        publish(uri, DISPATCH_EXCHANGE, PS_KEY, other)  # routed, but not to fire's queue
        publish(uri, DISPATCH_EXCHANGE, FIRE_KEY, mine)
        assert wait_until(lambda: out.envelopes(), WAIT)
        reports = drain(uri, "test.fire.reports", expect=2, timeout=WAIT)
        assert out.envelopes() == [mine]  # not the other department's
        assert adapter.stats["forwarded"] == 1
    assert [parse_report_key(method.routing_key) for method, _, _ in reports] == [
        ("fire", "ack"), ("fire", "result")]
    for (_, props, body), kind in zip(reports, ("ack", "result"), strict=True):
        report = parse_envelope(body)
        assert report.type == "department.report" and report.version == 1
        assert report.producer == "fire" and report.correlation_id == mine["message_id"]
        assert report.payload["kind"] == kind
        assert str(report.payload["assignment_id"]) == mine["payload"]["assignment_id"]
        assert props.delivery_mode == 2 and props.content_type == "application/json"
        assert props.message_id == report.message_id and props.type == report.type
    assert parse_envelope(reports[1][2]).payload["resolved"] is False
    assert [json.loads(body) for _, _, body in drain(uri, "test.public_security")] == [other]
    assert queue_counts(uri, FIRE_QUEUE) == (0, 0)  # acked, and the consumer is gone


def test_bad_messages_go_to_the_dlq_and_the_adapter_keeps_running(uri, url, caplog):
    out = Lines()
    good = assignment()
    newer = dict(assignment(), version=2)
    incomplete = assignment()
    del incomplete["payload"]["description"]
    rejection = make_envelope(REJECTION[0], load_sample(*REJECTION)["payload"], "registry",
                              version=1)
    rejection_v2 = load_sample(*REJECTION_V2)  # what gridgov sends now (issue 10)
    with running(fire_config(url, auto_ack=True), out) as adapter:
        publish(uri, DISPATCH_EXCHANGE, FIRE_KEY, b"not json {")
        publish(uri, DISPATCH_EXCHANGE, FIRE_KEY, newer)
        publish(uri, DISPATCH_EXCHANGE, FIRE_KEY, incomplete)
        publish(uri, DISPATCH_EXCHANGE, "fire.rejections", rejection)
        publish(uri, DISPATCH_EXCHANGE, "fire.rejections", rejection_v2)
        publish(uri, DISPATCH_EXCHANGE, FIRE_KEY, good)
        assert wait_until(lambda: len(out.envelopes()) == 3, WAIT)
        dead = drain(uri, FIRE_DLQ, expect=3, timeout=WAIT)
        assert adapter.stats["dead_lettered"] == 3 and adapter.stats["rejections"] == 2
    assert out.envelopes() == [rejection, rejection_v2, good]
    assert [props.headers["x-gridgov-error-code"] for _, props, _ in dead] == [
        "invalid_json", "unknown_type", "invalid_payload"]
    assert dead[0][2] == b"not json {"  # body unchanged
    assert json.loads(dead[1][2]) == newer
    assert dead[1][1].headers["x-gridgov-original-routing-key"] == FIRE_KEY
    assert dead[1][1].headers["x-gridgov-consumer"] == "department_adapter.fire"
    assert "description" in dead[2][1].headers["x-gridgov-error-fields"]
    assert any("unknown_resident" in record.getMessage() for record in caplog.records)
    assert queue_counts(uri, FIRE_QUEUE)[0] == 0


def test_webhook_down_means_not_acknowledged(uri, url, webhook):
    message = assignment()
    webhook["status"] = 503
    with running(fire_config(url, webhook=webhook["url"])) as adapter:
        publish(uri, DISPATCH_EXCHANGE, FIRE_KEY, message)
        assert wait_until(lambda: webhook["attempts"] >= 3, WAIT)  # retried with back-off
        assert adapter.stats["forwarded"] == 0
    # stopped while the webhook was still down: the message was never acked
    assert queue_counts(uri, FIRE_QUEUE) == (1, 0)

    webhook["status"] = 200
    with running(fire_config(url, webhook=webhook["url"])) as adapter:
        assert wait_until(lambda: webhook["stored"], WAIT)
        assert wait_until(lambda: adapter.stats["forwarded"] == 1, WAIT)
    assert queue_counts(uri, FIRE_QUEUE) == (0, 0)
    headers, body = webhook["stored"][0]
    assert json.loads(body) == message
    assert headers["Idempotency-Key"] == message["message_id"]
    assert headers["X-Gridgov-Routing-Key"] == FIRE_KEY
    assert headers["X-Gridgov-Redelivered"] == "true"
    assert headers["Content-Type"].startswith("application/json")


def test_webhook_refusal_is_dead_lettered(uri, url, webhook):
    webhook["status"] = 422
    with running(fire_config(url, webhook=webhook["url"])) as adapter:
        publish(uri, DISPATCH_EXCHANGE, FIRE_KEY, assignment())
        dead = drain(uri, FIRE_DLQ, expect=1, timeout=WAIT)
        assert adapter.stats["forwarded"] == 0
    assert dead[0][1].headers["x-gridgov-error-code"] == "webhook_refused"
    assert webhook["attempts"] == 1


def test_reconnects_when_the_broker_drops_the_connection(uri, url, rabbit_config,
                                                         rabbit_manager):
    out = Lines()
    vhost = rabbit_config["vhost"]
    with running(fire_config(url), out) as adapter:
        def ours() -> list[str]:
            return [c["name"] for c in rabbit_manager.get_connections()
                    if c.get("vhost") == vhost and c.get("client_properties", {}).get(
                        "connection_name") == "department-adapter:fire"]

        names = wait_until(ours, WAIT)
        assert names, "the adapter's connection is not listed by the management API"
        for name in names:
            rabbit_manager.delete_connection(name)  # what a broker restart looks like
        assert wait_until(lambda: adapter.stats["connections"] >= 2
                          and adapter.consuming.is_set(), WAIT)
        message = assignment()
        publish(uri, DISPATCH_EXCHANGE, FIRE_KEY, message)
        assert wait_until(lambda: out.envelopes() == [message], WAIT)


def test_redeclares_when_its_queue_disappears(uri, url):
    out = Lines()
    with running(fire_config(url), out) as adapter:
        connection = pika.BlockingConnection(pika_params(uri))
        try:
            connection.channel().queue_delete(FIRE_QUEUE)  # the broker cancels the consumer
        finally:
            connection.close()
        assert wait_until(lambda: adapter.stats["connections"] >= 2
                          and adapter.consuming.is_set(), WAIT)
        message = assignment()
        publish(uri, DISPATCH_EXCHANGE, FIRE_KEY, message)
        assert wait_until(lambda: out.envelopes() == [message], WAIT)


def test_command_line_stdout_and_sigterm(uri, url, tmp_path):
    bind_queue(uri, "test.fire.reports", REPORTS_EXCHANGE, ["fire.ack"])
    stdout, stderr = tmp_path / "out.jsonl", tmp_path / "err.log"
    env = {key: value for key, value in os.environ.items() if not key.startswith("GRIDGOV")}
    env["DEPARTMENT_AMQP_URL"] = url  # the password stays out of the command line
    with open(stdout, "wb") as out, open(stderr, "wb") as err:
        process = subprocess.Popen(
            [sys.executable, "-m", "tools.department_adapter", "--department", "fire",
             "--stdout", "--auto-ack", "--bind", "fire.*.*.normal"],
            cwd=ROOT, env=env, stdout=out, stderr=err)
    try:
        assert wait_until(lambda: _consumers(uri, FIRE_QUEUE) == 1, WAIT), stderr.read_text()
        message = assignment()
        publish(uri, DISPATCH_EXCHANGE, FIRE_KEY, message)
        assert wait_until(lambda: stdout.read_text(encoding="utf-8").strip(), WAIT)
        assert drain(uri, "test.fire.reports", expect=1, timeout=WAIT)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=WAIT) == 0, stderr.read_text()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(WAIT)
    lines = stdout.read_text(encoding="utf-8").splitlines()
    assert [json.loads(line) for line in lines] == [message]
    assert "***@" in stderr.read_text() and url.split("@")[0] not in stderr.read_text()
    assert queue_counts(uri, FIRE_QUEUE) == (0, 0)


def test_bus_contract_example_reports_in(uri, url, tmp_path, rabbit_config):
    """The pika example of docs/BUS-CONTRACT.md section 11 runs and reports in validly."""
    text = (ROOT / "docs" / "BUS-CONTRACT.md").read_text(encoding="utf-8")
    section = text.split("## 11.", 1)[1].split("\n## ", 1)[0]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    (tmp_path / "example.py").write_text(code, encoding="utf-8")
    # the platform declares the exchanges and the department's queues; the example only
    # checks them (passive declares)
    bus_users.ManagementApi(vhost=rabbit_config["vhost"]).setup(["fire"])
    bind_queue(uri, "test.fire.reports", REPORTS_EXCHANGE, ["fire.*"])
    process = subprocess.Popen(
        [sys.executable, "-c", "import runpy, sys; "
         "runpy.run_path(sys.argv[1])['main'](sys.argv[2])", str(tmp_path / "example.py"),
         url], cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        queue = "dept.fire.assignments"
        assert wait_until(lambda: _consumers(uri, queue) == 1, WAIT)
        message = assignment()
        publish(uri, DISPATCH_EXCHANGE, FIRE_KEY, message)
        reports = drain(uri, "test.fire.reports", expect=1, timeout=WAIT)
    finally:
        process.terminate()
        process.wait(WAIT)
    assert len(reports) == 1 and reports[0][0].routing_key == "fire.ack"
    report = parse_envelope(reports[0][2])
    assert report.type == "department.report" and report.payload["kind"] == "ack"
    assert report.correlation_id == message["message_id"]
    # the broker-checked user_id is the login (REQUIRE_REPORT_USER_ID refuses reports
    # without the department's own user, issue 10)
    assert reports[0][1].user_id == pika.URLParameters(url).credentials.username


def _consumers(uri: str, queue: str) -> int:
    try:
        return queue_counts(uri, queue)[1]
    except pika.exceptions.ChannelClosedByBroker:  # not declared yet
        return 0


def test_simulation_reports_in_for_every_department(uri, url):
    bind_queue(uri, "test.reports", REPORTS_EXCHANGE, ["#"])
    out = Lines()
    simulation = Simulation(url, ["fire", "public_security"], result_after=0.2, output=out,
                            **FAST)
    simulation.start()
    try:
        assert wait_until(lambda: all(a.consuming.is_set() for a in simulation.adapters), WAIT)
        publish(uri, DISPATCH_EXCHANGE, FIRE_KEY, assignment("fire"))
        publish(uri, DISPATCH_EXCHANGE, PS_KEY, assignment("public_security"))
        reports = drain(uri, "test.reports", expect=4, timeout=WAIT)
    finally:
        simulation.stop()
        assert simulation.join(WAIT)
    assert sorted(method.routing_key for method, _, _ in reports) == [
        "fire.ack", "fire.result", "public_security.ack", "public_security.result"]
    assert sorted(e["payload"]["department"] for e in out.envelopes()) == [
        "fire", "public_security"]
    assert not simulation.failed


def test_simulated_departments_log_in_each_as_its_own_user(uri, rabbit_config,
                                                         rabbit_manager):
    """Compose's simulated departments (``--password-env-prefix``) log in as dept.<code>,
    so their reports carry the user_id that dispatch requires there (issue 10)."""
    codes = [unique_code("sim_a"), unique_code("sim_b")]
    bus_users.ManagementApi(vhost=rabbit_config["vhost"]).setup(codes)
    bind_queue(uri, "test.reports", REPORTS_EXCHANGE, ["#"])
    with department_users(rabbit_manager, rabbit_config["vhost"], *codes) as password:
        environ = {f"TEST_BUS_PASSWORD_{code.upper()}": password for code in codes}
        urls = department_urls(amqp_url(rabbit_config), codes, "TEST_BUS_PASSWORD_", environ)
        simulation = Simulation(urls, codes, result_after=0.2, output=Lines(), **FAST)
        simulation.start()
        try:
            assert wait_until(lambda: all(a.consuming.is_set()
                                          for a in simulation.adapters), WAIT)
            for code in codes:
                publish(uri, DISPATCH_EXCHANGE, f"{code}.320505001.fire_hazard.normal",
                        assignment(code))
            reports = drain(uri, "test.reports", expect=4, timeout=WAIT)
        finally:
            simulation.stop()
            assert simulation.join(WAIT)
    assert not simulation.failed
    assert sorted((method.routing_key, properties.user_id)
                  for method, properties, _ in reports) == sorted(
        (f"{code}.{kind}", f"dept.{code}") for code in codes for kind in ("ack", "result"))


def test_department_urls_put_each_departments_user_into_the_url():
    environ = {"P_FIRE": "s3cr:t/@x", "P_HEALTH": "other"}
    urls = department_urls("amqp://gridgov:admin@rabbitmq:5672/%2F", ["fire", "health"], "P_",
                           environ)
    assert urls == {"fire": "amqp://dept.fire:s3cr%3At%2F%40x@rabbitmq:5672/%2F",
                    "health": "amqp://dept.health:other@rabbitmq:5672/%2F"}
    params = pika.URLParameters(urls["fire"])
    assert (params.credentials.username, params.credentials.password) == (
        "dept.fire", "s3cr:t/@x")
    assert params.host == "rabbitmq" and params.port == 5672 and params.virtual_host == "/"
    assert department_urls("amqps://[::1]/gov", ["fire"], "P_", environ) == {
        "fire": "amqps://dept.fire:s3cr%3At%2F%40x@[::1]/gov"}


def test_department_urls_name_every_missing_password():
    with pytest.raises(AdapterConfigError, match="P_HEALTH, P_FIRE_2"):
        department_urls("amqp://rabbitmq/", ["fire", "health", "fire_2"], "P_",
                        {"P_FIRE": "x", "P_HEALTH": ""})

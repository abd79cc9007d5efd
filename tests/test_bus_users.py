"""Department users on a real broker: what a department's credentials can and cannot do.

Users are broker-global, so each test run uses department codes with a random suffix and
deletes its users in a finalizer; the grants live on the per-test vhost of ``rabbit_config``.
"""

from __future__ import annotations

import json
import os
import secrets
import time
import uuid
from pathlib import Path
from urllib.parse import quote

import pika
import pytest
from pika.exceptions import (
    ChannelClosedByBroker,
    ConnectionClosedByBroker,
    ProbableAuthenticationError,
)

from gridgov_common import bus_users
from gridgov_common.contract import load_sample, make_envelope, parse_report_key
from gridgov_common.contract.routing import (
    ALERTS_EXCHANGE,
    DEAD_LETTER_EXCHANGE,
    DISPATCH_EXCHANGE,
    EVENTS_EXCHANGE,
    EXCHANGES,
    INTAKE_EXCHANGE,
    REPORTS_EXCHANGE,
)
from tests.adapters import FAST, WAIT, Lines, running
from tests.amqp import wait_until
from tools.department_adapter.adapter import ASSIGNMENT, AdapterConfig

DEFINITIONS = Path(__file__).resolve().parent.parent / "deploy" / "rabbitmq" / "definitions.json"
PROPS = pika.BasicProperties(content_type="application/json", delivery_mode=2)


def _connect(vhost: str, user: str, password: str) -> pika.BlockingConnection:
    return pika.BlockingConnection(pika.URLParameters(
        f"amqp://{quote(user, safe='')}:{quote(password, safe='')}@127.0.0.1:5672/"
        f"{quote(vhost, safe='')}"))


@pytest.fixture
def bus(rabbit_config):
    """Exchanges and two departments' queues declared by the platform (guest); departments
    A (fire_<suffix>) and B (police_<suffix>) created through the module under test."""
    suffix = secrets.token_hex(4)
    vhost = rabbit_config["vhost"]
    api = bus_users.ManagementApi(vhost=vhost)
    depts = {"a": f"fire_t{suffix}", "b": f"police_t{suffix}"}
    admin = _connect(vhost, "guest", "guest")
    channel = admin.channel()
    for exchange in EXCHANGES:
        channel.exchange_declare(exchange, "topic", durable=True)
    for code in depts.values():
        queue = f"dept.{code}.assignments"
        channel.queue_declare(queue, durable=True)
        channel.queue_bind(queue, DISPATCH_EXCHANGE, f"{code}.#")
    channel.queue_declare("reports", durable=True)
    channel.queue_bind("reports", REPORTS_EXCHANGE, "#")
    passwords = {}
    try:
        for key, code in depts.items():
            passwords[key] = secrets.token_urlsafe(16)
            api.create(code, passwords[key])
        yield {"vhost": vhost, "api": api, "depts": depts, "passwords": passwords,
               "admin": channel}
    finally:
        for code in depts.values():
            api.revoke(code)
        admin.close()


def _login(bus, key: str) -> pika.BlockingConnection:
    return _connect(bus["vhost"], bus_users.user_name(bus["depts"][key]), bus["passwords"][key])


def _refused(action) -> int:
    """Run ``action``; return the reply code of the channel close it caused."""
    with pytest.raises(ChannelClosedByBroker) as info:
        action()
    return info.value.reply_code


def test_department_consumes_its_queue_and_reports_with_its_code(bus):
    fire = bus["depts"]["a"]
    bus["admin"].basic_publish(DISPATCH_EXCHANGE, f"{fire}.610113001.other.normal", b"{}")
    conn = _login(bus, "a")
    try:
        channel = conn.channel()
        channel.confirm_delivery()
        method, _, body = channel.basic_get(f"dept.{fire}.assignments", auto_ack=True)
        assert method is not None and body == b"{}"
        channel.basic_publish(REPORTS_EXCHANGE, f"{fire}.ack", b"{}", PROPS, mandatory=True)
        channel.basic_publish(INTAKE_EXCHANGE, f"{fire}.resident.updated", b"{}", PROPS)
        channel.queue_declare(f"dept.{fire}.extra", durable=True)
        channel.queue_bind(f"dept.{fire}.extra", DISPATCH_EXCHANGE, f"{fire}.*.*.major")
        channel.exchange_declare(DISPATCH_EXCHANGE, passive=True)
    finally:
        conn.close()
    method, _, _ = bus["admin"].basic_get("reports", auto_ack=True)
    assert method.routing_key == f"{fire}.ack"


def test_department_cannot_consume_or_bind_another_departments_messages(bus):
    police = bus["depts"]["b"]
    fire = bus["depts"]["a"]
    conn = _login(bus, "a")
    try:
        assert _refused(lambda: conn.channel().basic_get(
            f"dept.{police}.assignments", auto_ack=True)) == 403
        assert _refused(lambda: conn.channel().queue_bind(
            f"dept.{fire}.assignments", DISPATCH_EXCHANGE, f"{police}.#")) == 403
        assert _refused(lambda: conn.channel().queue_bind(
            f"dept.{fire}.assignments", DISPATCH_EXCHANGE, "#")) == 403
        assert _refused(lambda: conn.channel().queue_declare(
            f"dept.{police}.mine", durable=True)) == 403
        assert _refused(lambda: conn.channel().queue_bind(
            f"dept.{fire}.assignments", DEAD_LETTER_EXCHANGE,
            f"dept.{police}.assignments.dlq")) == 403
    finally:
        conn.close()


def _publish(conn: pika.BlockingConnection, exchange: str, key: str) -> None:
    channel = conn.channel()
    channel.confirm_delivery()
    channel.basic_publish(exchange, key, b"{}", PROPS)


def test_department_cannot_publish_as_another_or_to_internal_exchanges(bus):
    police = bus["depts"]["b"]
    fire = bus["depts"]["a"]
    conn = _login(bus, "a")
    try:
        assert _refused(lambda: _publish(conn, REPORTS_EXCHANGE, f"{police}.ack")) == 403
        assert _refused(lambda: _publish(conn, INTAKE_EXCHANGE,
                                         f"{police}.resident.updated")) == 403
        assert _refused(lambda: _publish(conn, EVENTS_EXCHANGE, f"{fire}.x")) == 403
        assert _refused(lambda: _publish(conn, ALERTS_EXCHANGE,
                                         "610113001.major.fire")) == 403
        assert _refused(lambda: _publish(conn, DISPATCH_EXCHANGE,
                                         f"{fire}.610113001.other.normal")) == 403
        assert _refused(lambda: conn.channel().exchange_declare(
            REPORTS_EXCHANGE, "topic", durable=True)) == 403
        assert _refused(lambda: conn.channel().exchange_declare(
            "dept.x", "topic", durable=True)) == 403
    finally:
        conn.close()
    assert bus["admin"].basic_get("reports", auto_ack=True)[0] is None


def test_user_id_must_be_the_connecting_user(bus):
    """The application-level check in dispatch relies on this broker guarantee."""
    police_user = bus_users.user_name(bus["depts"]["b"])
    fire = bus["depts"]["a"]
    conn = _login(bus, "a")
    try:
        channel = conn.channel()
        channel.confirm_delivery()
        channel.basic_publish(REPORTS_EXCHANGE, f"{fire}.ack", b"{}", pika.BasicProperties(
            user_id=bus_users.user_name(fire)))
        assert _refused(lambda: channel.basic_publish(
            REPORTS_EXCHANGE, f"{fire}.ack", b"{}",
            pika.BasicProperties(user_id=police_user))) == 406
    finally:
        conn.close()
    method, props, _ = bus["admin"].basic_get("reports", auto_ack=True)
    assert props.user_id == bus_users.user_name(fire)


def _closed_by_broker(conn: pika.BlockingConnection) -> int | None:
    """Process I/O until the broker closes ``conn``; its reply code (None if it stays open)."""
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        try:
            conn.process_data_events(time_limit=0.1)
        except ConnectionClosedByBroker as exc:
            return exc.reply_code
    conn.close()
    return None


def test_revoke_removes_access_and_list_shows_users(bus):
    api = bus["api"]
    users = api.list()
    assert {bus_users.user_name(code) for code in bus["depts"].values()} <= set(users)
    open_connection = _login(bus, "a")
    api.revoke(bus["depts"]["a"])
    assert _closed_by_broker(open_connection) == 320  # CONNECTION_FORCED: user deleted
    with pytest.raises(ProbableAuthenticationError):
        _login(bus, "a")
    assert bus_users.user_name(bus["depts"]["a"]) not in api.list()


def test_codes_cannot_inject_regex():
    with pytest.raises(ValueError):
        bus_users.grants("fire|police")
    assert bus_users.grants("fire").topic[REPORTS_EXCHANGE][0] == r"^fire\."


def test_committed_definitions_match_the_cli(capsys):
    assert bus_users.main(["definitions"]) == 0
    generated = capsys.readouterr().out
    assert DEFINITIONS.read_text() == generated
    users = json.loads(generated)["users"]
    assert all(user["password_hash"] == "" for user in users)


def test_reference_adapter_runs_with_a_department_user(bus):
    """The grants are enough for the reference adapter: its quorum queue with a dead-letter
    exchange, its DLQ, its bindings, dead-lettering a bad message and reporting in."""
    fire = bus["depts"]["a"]
    user = quote(bus_users.user_name(fire), safe="")
    url = (f"amqp://{user}:{quote(bus['passwords']['a'], safe='')}@127.0.0.1:5672/"
           f"{quote(bus['vhost'], safe='')}")
    payload = dict(load_sample(*ASSIGNMENT)["payload"], department=fire,
                   assignment_id=str(uuid.uuid4()))
    good = make_envelope(ASSIGNMENT[0], payload, "dispatch", version=ASSIGNMENT[1])
    key = f"{fire}.{payload['town_code']}.{payload['work_category']}.{payload['priority']}"
    bus["admin"].queue_delete(f"dept.{fire}.assignments")  # the adapter declares its own
    out = Lines()
    config = AdapterConfig(department=fire, amqp_url=url, auto_ack=True, **FAST)
    with running(config, out) as adapter:
        bus["admin"].basic_publish(DISPATCH_EXCHANGE, key, b"not json {")
        bus["admin"].basic_publish(DISPATCH_EXCHANGE, key, json.dumps(good).encode())
        assert wait_until(lambda: adapter.stats["reports"] >= 1, WAIT)
        assert adapter.stats["dead_lettered"] == 1
    method, _, body = bus["admin"].basic_get("reports", auto_ack=True)
    assert parse_report_key(method.routing_key) == (fire, "ack")
    dead, _, _ = bus["admin"].basic_get(f"dept.{fire}.assignments.dlq", auto_ack=True)
    assert dead is not None and out.envelopes() == [good]


def test_production_definitions_carry_hashes_that_rabbitmq_accepts(rabbit_config, monkeypatch,
                                                                   capsys):
    """Imported through the management API (the code path of boot-time import), a generated
    file with --password-env-prefix lets the department log in with its password; the
    committed file (no passwords) leaves the user locked."""
    vhost, code = rabbit_config["vhost"], f"fire_t{secrets.token_hex(4)}"
    user, password = bus_users.user_name(code), secrets.token_urlsafe(16)
    api = bus_users.ManagementApi(vhost=vhost)
    admin, admin_password = f"admin_t{code}", secrets.token_urlsafe(16)
    monkeypatch.setenv(f"TEST_PW_{code.upper()}", password)
    monkeypatch.setenv("TEST_ADMIN_PW", admin_password)
    argv = ["--vhost", vhost, "definitions", code, "--password-env-prefix", "TEST_PW_",
            "--platform-user", f"{admin}:TEST_ADMIN_PW"]
    try:
        assert bus_users.main(argv) == 0
        api.import_definitions(json.loads(capsys.readouterr().out))
        _connect(vhost, user, password).close()
        admin_channel = _connect(vhost, admin, admin_password).channel()
        admin_channel.exchange_declare("platform.only", "topic")  # full rights
        admin_channel.connection.close()
        api.import_definitions(bus_users.definitions([code], vhost))
        with pytest.raises(ProbableAuthenticationError):
            _connect(vhost, user, password)
    finally:
        api.revoke(code)
        api.delete_user(admin)
    assert bus_users.main(["definitions", code, "--password-env-prefix", "UNSET_PW_"]) == 2


def test_cli_creates_with_a_generated_password_lists_and_revokes(rabbit_config, capsys):
    vhost, code = rabbit_config["vhost"], f"fire_t{secrets.token_hex(4)}"
    user = bus_users.user_name(code)
    try:
        assert bus_users.main(["--vhost", vhost, "create", code]) == 0
        words = capsys.readouterr().out.split()
        assert words[:2] == ["created", user] and words[2] == "password"
        _connect(vhost, user, words[3]).close()
        assert bus_users.main(["list"]) == 0
        assert user in capsys.readouterr().out.split()
    finally:
        assert bus_users.main(["--vhost", vhost, "revoke", code]) == 0
    with pytest.raises(ProbableAuthenticationError):
        _connect(vhost, user, words[3])
    assert bus_users.main(["create", "Not-A-Code"]) == 2


def test_rotation_keeps_old_sessions_unless_closed(bus, monkeypatch, capsys):
    """RabbitMQ authenticates only when a connection opens: a rotated password leaves the old
    session alive until ``create --close-connections`` ends it; then only the new one works."""
    fire = bus["depts"]["a"]
    old_session = _login(bus, "a")
    monkeypatch.setenv("TEST_NEW_PW", "rotated-" + secrets.token_hex(8))
    argv = ["--vhost", bus["vhost"], "create", fire, "--password-env", "TEST_NEW_PW"]
    assert bus_users.main(argv) == 0
    assert old_session.channel().is_open  # still authenticated with the old password
    assert bus_users.main([*argv, "--close-connections"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "closed 1 connection(s)"
    assert _closed_by_broker(old_session) == 320
    with pytest.raises(ProbableAuthenticationError):
        _login(bus, "a")
    _connect(bus["vhost"], bus_users.user_name(fire), os.environ["TEST_NEW_PW"]).close()

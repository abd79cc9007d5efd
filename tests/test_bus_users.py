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

from gridgov_common.contract import load_sample, make_envelope, parse_report_key
from gridgov_common.contract.routing import (
    ALERTS_EXCHANGE,
    DEAD_LETTER_EXCHANGE,
    DISPATCH_EXCHANGE,
    EXCHANGES,
    INTAKE_EXCHANGE,
    REPORTS_EXCHANGE,
)
from gridgov_common.platform.messaging import consumer_queue_arguments, dead_letter_queue
from tests.adapters import FAST, WAIT, Lines, running
from tests.amqp import wait_until
from tests.bus_topology import platform_queues
from tools import bus_users
from tools.department_adapter.adapter import (
    ASSIGNMENT,
    AdapterConfig,
    AdapterConfigError,
    DepartmentAdapter,
)

DEFINITIONS = Path(__file__).resolve().parent.parent / "deploy" / "rabbitmq" / "definitions.json"
STATS_WAIT = 30.0
PROPS = pika.BasicProperties(content_type="application/json", delivery_mode=2)


def _connect(vhost: str, user: str, password: str) -> pika.BlockingConnection:
    return pika.BlockingConnection(pika.URLParameters(
        f"amqp://{quote(user, safe='')}:{quote(password, safe='')}@127.0.0.1:5672/"
        f"{quote(vhost, safe='')}"))


@pytest.fixture
def bus(rabbit_config):
    """Departments A (fire_<suffix>) and B (police_<suffix>) created through the module under
    test (which declares the exchanges and each department's queues); a catch-all queue on
    gridgov.reports and every gridgov service queue declared by the platform (guest)."""
    suffix = secrets.token_hex(4)
    vhost = rabbit_config["vhost"]
    api = bus_users.ManagementApi(vhost=vhost)
    depts = {"a": f"fire_t{suffix}", "b": f"police_t{suffix}"}
    admin = _connect(vhost, "guest", "guest")
    channel = admin.channel()
    channel.queue_declare("reports", durable=True)
    passwords = {}
    try:
        for key, code in depts.items():
            passwords[key] = secrets.token_urlsafe(16)
            api.create(code, passwords[key])
        channel.queue_bind("reports", REPORTS_EXCHANGE, "#")
        for queue in platform_queues():
            channel.queue_declare(queue, durable=True)
        existing = {q["name"] for q in api._call("GET", f"queues/{quote(vhost, safe='')}")}
        yield {"vhost": vhost, "api": api, "depts": depts, "passwords": passwords,
               "admin": channel, "existing": existing}
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


def test_department_consumes_its_queues_and_reports_with_its_code(bus):
    """Its assignments (platform-declared, bound to <code>.#), every major-event alert
    (BUS-CONTRACT: departments receive gridgov.alerts; 403 before issue 10), its reports."""
    fire = bus["depts"]["a"]
    bus["admin"].basic_publish(DISPATCH_EXCHANGE, f"{fire}.610113001.other.normal", b"{}")
    bus["admin"].basic_publish(DISPATCH_EXCHANGE, f"{fire}.rejections", b"{}")
    bus["admin"].basic_publish(ALERTS_EXCHANGE, "610113001.major.fire", b'{"alert": 1}')
    conn = _login(bus, "a")
    try:
        channel = conn.channel()
        channel.confirm_delivery()
        for queue in (f"dept.{fire}.assignments", f"dept.{fire}.alerts"):
            assert channel.queue_declare(queue, passive=True).method.queue == queue
        keys = [channel.basic_get(f"dept.{fire}.assignments", auto_ack=True)[0].routing_key
                for _ in range(2)]
        assert keys == [f"{fire}.610113001.other.normal", f"{fire}.rejections"]
        method, _, body = channel.basic_get(f"dept.{fire}.alerts", auto_ack=True)
        assert method.routing_key == "610113001.major.fire" and body == b'{"alert": 1}'
        channel.basic_publish(REPORTS_EXCHANGE, f"{fire}.ack", b"{}", PROPS, mandatory=True)
        channel.basic_publish(INTAKE_EXCHANGE, f"{fire}.resident.updated", b"{}", PROPS)
        channel.exchange_declare(DISPATCH_EXCHANGE, passive=True)
    finally:
        conn.close()
    method, _, _ = bus["admin"].basic_get("reports", auto_ack=True)
    assert method.routing_key == f"{fire}.ack"


def test_department_cannot_route_through_an_exchange_of_its_own(bus):
    """Issue 10, item 1: with configure on dept.<code>.*, a department declared
    dept.<code>.x, bound it to gridgov.intake and published civil_affairs.resident.updated
    through it. It has no configure right now: the first step is refused."""
    fire = bus["depts"]["a"]
    conn = _login(bus, "a")
    try:
        assert _refused(lambda: conn.channel().exchange_declare(
            f"dept.{fire}.x", "topic", durable=True)) == 403
        assert _refused(lambda: conn.channel().exchange_bind(
            INTAKE_EXCHANGE, DISPATCH_EXCHANGE, f"{fire}.#")) == 403
    finally:
        conn.close()


# --- the walk: every exchange and queue a department could touch x every operation --------

def _attempt(conn: pika.BlockingConnection, action) -> int:
    """0 if the broker allowed ``action`` on a fresh channel, else its reply code."""
    channel = conn.channel()
    try:
        action(channel)
    except ChannelClosedByBroker as exc:
        return exc.reply_code
    if channel.is_open:
        channel.close()
    return 0


def _publish_confirmed(channel, exchange: str, key: str) -> None:
    channel.confirm_delivery()
    channel.basic_publish(exchange, key, b"{}", PROPS)


def _walk(bus, conn) -> dict[tuple, int]:
    """Try everything; the outcome of each (operation, target…)."""
    a, b = bus["depts"]["a"], bus["depts"]["b"]
    own = [spec.name for spec in bus_users.department_queues(a)] + [f"dept.{a}.new"]
    others = [spec.name for spec in bus_users.department_queues(b)] + [f"dept.{b}.new"]
    rpc = [f"rpc-{service}" for service in ("registry", "events", "dispatch", "assessment",
                                            "notify")]  # nameko's RPC request queues
    queues = own + others + sorted(platform_queues()) + rpc + ["reports", "new_queue"]
    exchanges = [*EXCHANGES, "amq.topic", "amq.direct", "amq.fanout", "amq.headers",
                 "amq.match", "nameko-rpc", f"dept.{a}.x", f"dept.{b}.x", "new.exchange"]
    bind_keys = [f"{a}.#", f"{b}.#", "#", f"dept.{a}.alerts.dlq"]
    publish_keys = [f"{a}.ack", f"{a}.resident.updated", f"{b}.ack", f"{b}.resident.updated",
                    f"dept.{a}.assignments.dlq", f"dept.{b}.assignments.dlq",
                    "610113001.major.fire", "registry.resident.changed"]
    ops = {}
    for x in exchanges:
        ops[("declare_exchange", x)] = lambda ch, x=x: ch.exchange_declare(x, "topic",
                                                                          durable=True)
        ops[("delete_exchange", x)] = lambda ch, x=x: ch.exchange_delete(x)
        for key in publish_keys:
            ops[("publish", x, key)] = lambda ch, x=x, k=key: _publish_confirmed(ch, x, k)
        for source in exchanges:
            for key in bind_keys:
                ops[("bind_exchange", x, source, key)] = (
                    lambda ch, d=x, s=source, k=key: ch.exchange_bind(d, s, k))
    for q in queues:
        ops[("declare_queue", q)] = lambda ch, q=q: ch.queue_declare(q, durable=True)
        ops[("inspect", q)] = lambda ch, q=q: ch.queue_declare(q, passive=True)
        ops[("delete_queue", q)] = lambda ch, q=q: ch.queue_delete(q)
        ops[("consume", q)] = lambda ch, q=q: ch.basic_cancel(ch.basic_consume(q, print))
        ops[("get", q)] = lambda ch, q=q: ch.basic_get(q, auto_ack=False)
        ops[("purge", q)] = lambda ch, q=q: ch.queue_purge(q)
        ops[("publish", "", q)] = lambda ch, q=q: _publish_confirmed(ch, "", q)
        for x in exchanges:
            for key in bind_keys:
                ops[("bind_queue", q, x, key)] = (
                    lambda ch, q=q, x=x, k=key: ch.queue_bind(q, x, k))
    return {op: _attempt(conn, action) for op, action in ops.items()}


def _allowed(bus, op: tuple) -> int:
    """What a department may do, written out (not read from bus_users.grants): 0 allowed,
    404 allowed by its grants on a name that does not exist (and that nobody but the
    platform can create), 403 refused."""
    a = bus["depts"]["a"]
    kind, *target = op
    own_queues = {spec.name for spec in bus_users.department_queues(a)}
    if kind == "inspect":  # a passive declare needs no permission (RabbitMQ): it tells
        return 0 if target[0] in bus["existing"] else 404  # existence and depth only
    if kind in ("consume", "get", "purge") and target[0] in own_queues:
        return 0
    if kind in ("consume", "get", "purge") and target[0] == f"dept.{a}.new":
        return 404
    if kind == "publish":
        exchange, key = target
        if exchange in (REPORTS_EXCHANGE, INTAKE_EXCHANGE) and key.startswith(f"{a}."):
            return 0
        if exchange == DEAD_LETTER_EXCHANGE and key.startswith(f"dept.{a}."):
            return 0  # into its own DLQs only: the adapter's reasoned dead letters
    if kind == "bind_exchange":
        destination, source, _key = target
        if (destination in (REPORTS_EXCHANGE, INTAKE_EXCHANGE, DEAD_LETTER_EXCHANGE)
                and source == f"dept.{a}.x"):
            return 404  # read matches dept.<a>.*, but no such exchange exists or can be made
    return 403


def test_department_permissions_walk(bus):
    """Every exchange and queue a department could name (gridgov's exchanges, RabbitMQ's
    own, nameko's RPC exchange and request queues, every gridgov service queue and DLQ
    from the code, its own and another
    department's namespace, new names) x every operation (declare, delete, bind queue and
    exchange, publish, consume, get, purge): the outcomes are exactly the allowed set."""
    conn = _login(bus, "a")
    try:
        outcomes = _walk(bus, conn)
    finally:
        conn.close()
    expected = {op: _allowed(bus, op) for op in outcomes}
    wrong = {op: (got, expected[op]) for op, got in outcomes.items() if got != expected[op]}
    assert not wrong, wrong
    # consume/get/purge its 4 queues; 2 keys on reports and intake; 1 into its own DLQ
    assert sum(1 for op, code in outcomes.items() if code == 0 and op[0] != "inspect") == 17
    assert len(outcomes) > 4000


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


def test_definitions_given_a_department_add_it_to_the_ten(capsys):
    """Issue 11: naming one more department adds it; --only gives exactly the list."""
    assert bus_users.main(["definitions", "water_affairs", "fire"]) == 0
    users = {u["name"] for u in json.loads(capsys.readouterr().out)["users"]}
    assert users >= {bus_users.user_name(c) for c in (*bus_users.DEMO_DEPARTMENTS,
                                                       "water_affairs")}
    assert bus_users.main(["definitions", "--only", "water_affairs"]) == 0
    users = {u["name"] for u in json.loads(capsys.readouterr().out)["users"]}
    assert {u for u in users if u.startswith("dept.")} == {"dept.water_affairs"}


def test_committed_definitions_match_the_cli(capsys):
    assert bus_users.main(["definitions"]) == 0
    generated = capsys.readouterr().out
    assert DEFINITIONS.read_text() == generated
    users = json.loads(generated)["users"]
    assert all(user["password_hash"] == "" for user in users)


def test_reference_adapter_runs_with_a_department_user(bus):
    """The grants are enough for the reference adapter: it finds its queues (passive
    declares), dead-letters a bad message into its DLQ with the reason, filters what its
    patterns exclude and reports in."""
    fire = bus["depts"]["a"]
    user = quote(bus_users.user_name(fire), safe="")
    url = (f"amqp://{user}:{quote(bus['passwords']['a'], safe='')}@127.0.0.1:5672/"
           f"{quote(bus['vhost'], safe='')}")
    payload = dict(load_sample(*ASSIGNMENT)["payload"], department=fire,
                   assignment_id=str(uuid.uuid4()), priority="major")
    good = make_envelope(ASSIGNMENT[0], payload, "dispatch", version=ASSIGNMENT[1])
    key = f"{fire}.{payload['town_code']}.{payload['work_category']}.{payload['priority']}"
    out = Lines()
    config = AdapterConfig(department=fire, amqp_url=url, auto_ack=True,
                           bindings=[f"{fire}.*.*.major"], **FAST)
    with running(config, out) as adapter:
        bus["admin"].basic_publish(DISPATCH_EXCHANGE, key, b"not json {")
        bus["admin"].basic_publish(DISPATCH_EXCHANGE, key.replace(".major", ".normal"),
                                   b"{}")
        bus["admin"].basic_publish(DISPATCH_EXCHANGE, key, json.dumps(good).encode())
        assert wait_until(lambda: adapter.stats["reports"] >= 1, WAIT)
        assert adapter.stats["dead_lettered"] == 1 and adapter.stats["filtered"] == 1
    method, _, body = bus["admin"].basic_get("reports", auto_ack=True)
    assert parse_report_key(method.routing_key) == (fire, "ack")
    dead, props, _ = bus["admin"].basic_get(f"dept.{fire}.assignments.dlq", auto_ack=True)
    assert dead is not None and props.headers["x-gridgov-error-code"] == "invalid_json"
    assert out.envelopes() == [good]


def test_reference_adapter_tells_a_department_user_to_ask_for_its_queue(bus):
    """Without the platform's queue a department user cannot declare one: the adapter
    stops at once with the operators' command instead of retrying for ever."""
    fire = bus["depts"]["a"]
    bus["admin"].queue_delete(f"dept.{fire}.assignments")
    url = (f"amqp://{quote(bus_users.user_name(fire), safe='')}:"
           f"{quote(bus['passwords']['a'], safe='')}@127.0.0.1:5672/"
           f"{quote(bus['vhost'], safe='')}")
    adapter = DepartmentAdapter(AdapterConfig(department=fire, amqp_url=url, **FAST))
    with pytest.raises(AdapterConfigError, match=f"bus_users create {fire}"):
        adapter.run()


def test_create_declares_the_queues_and_the_dead_letter_retention(bus):
    """Issue 10, item 4: dead letters (which can carry an ID number or a phone) are kept
    14 days and at most 50,000 messages. The policy is on every *.dlq of the vhost, the
    departments' and the services' (declared as the services do)."""
    fire = bus["depts"]["a"]
    channel = bus["admin"]
    channel.queue_delete("registry.intake.dlq")
    service_dlq = dead_letter_queue("registry.intake")  # as the service declares it
    channel.queue_declare(service_dlq.name, durable=True, arguments=service_dlq.queue_arguments)
    expected = {"message-ttl": 14 * 24 * 3600 * 1000, "max-length": 50_000,
                "overflow": "drop-head"}

    def info(queue: str) -> dict:
        return bus["api"]._call("GET", f"queues/{quote(bus['vhost'], safe='')}/{queue}")

    for queue in (f"dept.{fire}.assignments.dlq", f"dept.{fire}.alerts.dlq",
                  "registry.intake.dlq"):
        # the management API shows a queue's policy with its next statistics (5 s)
        assert wait_until(lambda q=queue: info(q).get("policy"), STATS_WAIT), info(queue)
        assert info(queue)["policy"] == bus_users.DEAD_LETTER_POLICY_NAME
        assert info(queue)["effective_policy_definition"] == expected
        assert info(queue)["arguments"]["x-queue-type"] == "quorum"
    assignments = info(f"dept.{fire}.assignments")
    assert not assignments.get("policy")
    assert assignments["arguments"] == consumer_queue_arguments(f"dept.{fire}.assignments", 5)
    bus["api"].create(fire, bus["passwords"]["a"])  # idempotent


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
    argv = ["--vhost", vhost, "definitions", "--only", code, "--password-env-prefix", "TEST_PW_",
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
    assert bus_users.main(["definitions", "--only", code,
                           "--password-env-prefix", "UNSET_PW_"]) == 2


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


def test_regenerated_definitions_reach_the_broker_at_once_and_a_refusal_keeps_the_file(
        rabbit_config, monkeypatch, tmp_path):
    """Issue 15.2: a regenerated file used to wait for some later broker restart, then reset
    every password set in between. With --apply the broker takes it first, so the file and
    the live users never differ; the runbook's rotation is: change the password in the
    secret store (.env), regenerate with --apply."""
    vhost, code = rabbit_config["vhost"], f"fire_t{secrets.token_hex(4)}"
    user = bus_users.user_name(code)
    first, second = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
    api = bus_users.ManagementApi(vhost=vhost)
    output = tmp_path / "definitions.json"
    argv = ["--vhost", vhost, "definitions", "--only", code, "--password-env-prefix",
            "TEST_PW_", "--apply", "--output", str(output)]
    try:
        monkeypatch.setenv(f"TEST_PW_{code.upper()}", first)
        assert bus_users.main(argv) == 0
        _connect(vhost, user, first).close()  # live at once, no restart
        assert output.stat().st_mode & 0o777 == 0o600
        assert user in {u["name"] for u in json.loads(output.read_text())["users"]}
        monkeypatch.setenv(f"TEST_PW_{code.upper()}", second)  # rotated in .env
        assert bus_users.main(argv) == 0
        _connect(vhost, user, second).close()
        with pytest.raises(ProbableAuthenticationError):
            _connect(vhost, user, first)
        kept = output.read_text()
        monkeypatch.setenv("GRIDGOV_RABBIT_API", "http://guest:wrong@127.0.0.1:15672")
        monkeypatch.setenv(f"TEST_PW_{code.upper()}", first)
        assert bus_users.main(argv) == 2  # the broker refused: nothing written
        assert output.read_text() == kept
        _connect(vhost, user, second).close()
    finally:
        monkeypatch.delenv("GRIDGOV_RABBIT_API", raising=False)
        api.revoke(code)

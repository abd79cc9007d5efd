"""Issue 11: a department the registry adds gets its broker user and queues by itself — the
follower run with the broker's management credentials provisions it from
``registry.department.changed``, on the real broker (a per-test vhost; users are global,
so each test's codes are its own and revoked after)."""

from __future__ import annotations

import secrets
import stat
import threading
from urllib.parse import quote

import pika
import pytest

from gridgov_common.contract.envelope import make_envelope
from tests.amqp import publish, wait_until
from tools import bus_provisioner, bus_users


def announcement(code: str, active: bool = True, action: str = "created") -> dict:
    return make_envelope("registry.department.changed", {
        "code": code, "action": action, "name_zh": "水务局", "name_en": "Water Affairs",
        "unit": None, "work_categories": ["public_opinion"], "active": active,
        "updated_at": "2026-12-06T05:00:00.000Z"}, "registry")


def queue_depth(vhost: str, queue: str) -> int:
    connection = pika.BlockingConnection(pika.URLParameters(
        f"amqp://guest:guest@127.0.0.1:5672/{quote(vhost, safe='')}"))
    try:
        return connection.channel().queue_declare(queue, passive=True).method.message_count
    finally:
        connection.close()


@pytest.fixture
def follower(rabbit_config, tmp_path):
    vhost = rabbit_config["vhost"]
    api = bus_users.ManagementApi(vhost=vhost)
    api.declare_exchanges()
    stop = threading.Event()
    codes = {"new": f"water_t{secrets.token_hex(4)}", "gone": f"ferry_t{secrets.token_hex(4)}"}
    results: list[str] = []
    worker = threading.Thread(target=bus_provisioner.follow, daemon=True, args=(
        rabbit_config["AMQP_URI"].replace("pyamqp://", "amqp://"), api, tmp_path, stop,
        results.append))
    worker.start()
    assert wait_until(lambda: _declared(vhost))  # its queue is there before we publish
    try:
        yield {"api": api, "vhost": vhost, "codes": codes, "dir": tmp_path,
               "uri": rabbit_config["AMQP_URI"], "results": results}
    finally:
        stop.set()
        worker.join(10)
        for code in codes.values():
            if bus_users.user_name(code) in api.list():
                api.revoke(code)


def _declared(vhost: str) -> bool:
    try:
        queue_depth(vhost, bus_provisioner.QUEUE)
    except pika.exceptions.ChannelClosedByBroker:
        return False
    return True


def test_an_added_department_gets_its_user_queues_and_password(follower):
    code, api = follower["codes"]["new"], follower["api"]
    publish(follower["uri"], "gridgov.events", "registry.department.changed",
            announcement(code))
    secret = bus_provisioner.password_file(follower["dir"], code)
    assert wait_until(lambda: follower["results"] == ["created"])
    assert bus_users.user_name(code) in api.list()
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    password = secret.read_text().strip()
    # the department logs in with it and finds its assignments queue (it cannot declare)
    department = pika.BlockingConnection(pika.URLParameters(
        f"amqp://{quote(bus_users.user_name(code), safe='')}:{quote(password, safe='')}"
        f"@127.0.0.1:5672/{quote(follower['vhost'], safe='')}"))
    try:
        department.channel().queue_declare(f"dept.{code}.assignments", passive=True)
    finally:
        department.close()

    # the hourly re-announcement changes nothing: same password
    publish(follower["uri"], "gridgov.events", "registry.department.changed",
            announcement(code, action="announced"))
    assert wait_until(lambda: follower["results"] == ["created", "exists"])
    assert secret.read_text().strip() == password


def test_a_retired_department_gets_nothing_and_garbage_is_dead_lettered(follower):
    code, api = follower["codes"]["gone"], follower["api"]
    publish(follower["uri"], "gridgov.events", "registry.department.changed",
            announcement(code, active=False, action="updated"))
    publish(follower["uri"], "gridgov.events", "registry.department.changed",
            b'{"type": "registry.department.changed", "payload": "not an envelope"}')
    assert wait_until(lambda: follower["results"] == ["retired", "dead-lettered"])
    dlq = f"{bus_provisioner.QUEUE}.dlq"
    assert wait_until(lambda: queue_depth(follower["vhost"], dlq) == 1)  # kept, not dropped
    assert bus_users.user_name(code) not in api.list()
    assert not bus_provisioner.password_file(follower["dir"], code).exists()

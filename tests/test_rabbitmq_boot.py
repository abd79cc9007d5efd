"""deploy/rabbitmq/rabbitmq.conf and enabled_plugins boot a real RabbitMQ node that imports
the definitions tools.bus_users generates (what compose and the RabbitmqCluster
do at deploy time): the platform user and a department user log in with the passwords
from the environment, the exchanges exist, guest does not. A throw-away node of the
machine's RabbitMQ (own name, ports and data directory) is started and stopped here."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pika
import pytest

from tools.ports import free_port

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy" / "rabbitmq"
COMMITTED_PATH = "/run/gridgov/definitions.json"
PASSWORDS = {"GRIDGOV_AMQP_PASSWORD": "platform-boot-test-7Qe9",
             "GRIDGOV_BUS_PASSWORD_FIRE": "fire-boot-test-3Kd8"}
EXCHANGES = ("gridgov.events", "gridgov.dispatch", "gridgov.reports", "gridgov.intake",
             "gridgov.alerts")


def login(port: int, user: str, password: str) -> pika.BlockingConnection:
    return pika.BlockingConnection(pika.ConnectionParameters(
        "127.0.0.1", port, "/", pika.PlainCredentials(user, password),
        connection_attempts=1, blocked_connection_timeout=10))


def wait_for_node(name: str, timeout: float) -> None:
    """``await_startup`` answers 69 at once while the node is not yet reachable at all."""
    deadline = time.monotonic() + timeout
    while True:
        done = subprocess.run(["rabbitmqctl", "-n", name, "await_startup", "--timeout", "30"],
                              capture_output=True, text=True, timeout=60)
        if done.returncode == 0:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"node {name} did not start: {done.stdout}{done.stderr}")
        time.sleep(1)


@pytest.fixture
def node():
    """A node booted from the committed config; yields its AMQP port. Its directory is
    not under pytest's (mode 700, root's): the node runs as the rabbitmq user."""
    base = Path(tempfile.mkdtemp(prefix="gridgov-rabbit-boot-"))
    base.chmod(0o755)
    definitions = subprocess.run(
        [sys.executable, "-m", "tools.bus_users", "definitions",
         "--password-env-prefix", "GRIDGOV_BUS_PASSWORD_",
         "--platform-user", "gridgov:GRIDGOV_AMQP_PASSWORD", "--only", "fire"],
        cwd=ROOT, env={**os.environ, **PASSWORDS}, check=True, capture_output=True,
        text=True).stdout
    (base / "definitions.json").write_text(definitions, encoding="utf-8")
    conf = (DEPLOY / "rabbitmq.conf").read_text(encoding="utf-8")
    assert COMMITTED_PATH in conf  # the path compose's job writes to
    amqp, management, prometheus = free_port(), free_port(), free_port()
    (base / "rabbitmq.conf").write_text(
        conf.replace(COMMITTED_PATH, str(base / "definitions.json"))
        + f"\nlisteners.tcp.default = {amqp}\nmanagement.tcp.port = {management}\n"
        f"prometheus.tcp.port = {prometheus}\n", encoding="utf-8")
    shutil.copy(DEPLOY / "enabled_plugins", base / "enabled_plugins")
    for sub in ("mnesia", "log"):
        (base / sub).mkdir()
    shutil.chown(base, "rabbitmq", "rabbitmq")
    for path in base.rglob("*"):
        shutil.chown(path, "rabbitmq", "rabbitmq")
    name = f"gridgovboot{os.getpid()}@localhost"
    env = {**os.environ, "RABBITMQ_NODENAME": name, "RABBITMQ_NODE_PORT": str(amqp),
           "RABBITMQ_DIST_PORT": str(free_port()), "RABBITMQ_MNESIA_BASE": str(base / "mnesia"),
           "RABBITMQ_LOG_BASE": str(base / "log"),
           "RABBITMQ_CONFIG_FILE": str(base / "rabbitmq"),
           "RABBITMQ_ENABLED_PLUGINS_FILE": str(base / "enabled_plugins"),
           "RABBITMQ_PID_FILE": str(base / "pid")}
    subprocess.run(["rabbitmq-server", "-detached"], env=env, check=True, timeout=60)
    try:
        wait_for_node(name, 120)
        yield amqp
    finally:
        subprocess.run(["rabbitmqctl", "-n", name, "stop"], capture_output=True, timeout=60)
        shutil.rmtree(base, ignore_errors=True)


def test_the_committed_config_boots_and_imports_the_definitions(node):
    platform = login(node, "gridgov", PASSWORDS["GRIDGOV_AMQP_PASSWORD"])
    channel = platform.channel()
    for exchange in EXCHANGES:
        channel.exchange_declare(exchange, passive=True)  # raises if it is missing
    platform.close()
    login(node, "dept.fire", PASSWORDS["GRIDGOV_BUS_PASSWORD_FIRE"]).close()
    for user, password in (("guest", "guest"), ("dept.fire", "not-its-password")):
        with pytest.raises(pika.exceptions.ProbableAuthenticationError):
            login(node, user, password)

"""Fixtures for notify: the real service on a throw-away vhost and the test database, a
real webhook receiver, SMS gateway (HTTP) and SMTP server in threads, and a plain-pika
queue that sees every ``notify.*`` event."""

from __future__ import annotations

import json
import uuid

import pytest
import sqlalchemy as sa

from gridgov_common.contract import parse_envelope
from services.notify.models import metadata as notify_metadata
from services.notify.service import NotifyService
from tests.amqp import bind_queue, drain, publish
from tests.notify.servers import HttpReceiver, SmtpServer

EVENTS_SINK = "notify-events-sink"
RETRY_BASE = 0.2
MAX_ATTEMPTS = 3


@pytest.fixture
def clean_db(db_engine):
    names = ", ".join(f"notify.{t.name}" for t in notify_metadata.sorted_tables)
    with db_engine.begin() as conn:
        conn.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


@pytest.fixture
def webhook():
    receiver = HttpReceiver()
    yield receiver
    receiver.close()


@pytest.fixture
def sms_gateway():
    receiver = HttpReceiver()
    yield receiver
    receiver.close()


@pytest.fixture
def smtp():
    server = SmtpServer()
    yield server
    server.close()


@pytest.fixture
def events_sink(rabbit_config):
    uri = rabbit_config["AMQP_URI"]
    bind_queue(uri, EVENTS_SINK, "gridgov.events", ["notify.sent"])
    return uri


@pytest.fixture
def notify(container_factory, service_config, web_config_port, clean_db, events_sink, smtp,
           sms_gateway):
    config = service_config(
        "notify", RETRY_BASE_SECONDS=RETRY_BASE, RETRY_MAX_SECONDS=5, MAX_ATTEMPTS=MAX_ATTEMPTS,
        SEND_POLL_SECONDS=0.05, SMTP_HOST="127.0.0.1", SMTP_PORT=smtp.port,
        SMS_GATEWAY_URL=f"{sms_gateway.url}/sms/send", SMS_GATEWAY_TOKEN="gw-token",
        HTTP_SEND_TIMEOUT=3)
    container = container_factory(NotifyService, config)
    container.start()
    return container


def sent_events(uri: str, expect: int, timeout: float = 10.0) -> list[dict]:
    """Payloads of the ``notify.sent`` events received; each must follow the contract."""
    bodies = [body for _m, _p, body in drain(uri, EVENTS_SINK, expect=expect, timeout=timeout)]
    for body in bodies:
        assert parse_envelope(body).type == "notify.sent"
    return [json.loads(body)["payload"] for body in bodies]


def request_envelope(recipients: list[dict], *, cause_id: str | None = None,
                     template: str = "circular", locale: str = "zh-CN",
                     params: dict | None = None, case_id: str | None = None,
                     kind: str = "circular") -> dict:
    return {"message_id": str(uuid.uuid4()), "type": "notify.request", "version": 1,
            "occurred_at": "2026-11-28T02:20:00.000Z", "producer": "dispatch",
            "correlation_id": None,
            "payload": {"cause_id": cause_id or f"test:{uuid.uuid4()}", "case_id": case_id,
                        "kind": kind, "template": template, "locale": locale,
                        "recipients": recipients,
                        "params": params if params is not None else
                        {"title": "防汛值班", "text": "今晚全员在岗"}}}


def send_request(uri: str, envelope: dict) -> None:
    publish(uri, "gridgov.events", "notify.request", envelope)

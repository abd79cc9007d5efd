"""Fixtures for the dispatch service: the real service on a throw-away vhost and the test
database; departments' systems are plain-pika queues bound to ``gridgov.dispatch``."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from gridgov_common.contract import load_sample
from services.dispatch import config_store
from services.dispatch.models import metadata as dispatch_metadata
from services.dispatch.service import DispatchService
from tests.amqp import bind_queue, drain, publish

DISTRICT = "320505"
FIRE_SINK, EM_SINK, POLICE_SINK, EVENTS_SINK = "fire-sink", "em-sink", "police-sink", "ev-sink"


@pytest.fixture
def clean_db(db_engine):
    names = ", ".join(f"dispatch.{t.name}" for t in dispatch_metadata.sorted_tables
                      if t.name != "alembic_version")
    with db_engine.begin() as conn:
        conn.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    config_store.forget()  # cached "current" versions refer to the truncated tables


@pytest.fixture
def sinks(rabbit_config):
    """Department systems bound before anything is dispatched (assignments are mandatory)."""
    uri = rabbit_config["AMQP_URI"]
    bind_queue(uri, FIRE_SINK, "gridgov.dispatch", ["fire.#"])
    bind_queue(uri, EM_SINK, "gridgov.dispatch", ["emergency_management.#"])
    bind_queue(uri, POLICE_SINK, "gridgov.dispatch", ["police.#"])
    bind_queue(uri, EVENTS_SINK, "gridgov.events", ["dispatch.#"])
    return uri


@pytest.fixture
def dispatch(container_factory, service_config, clean_db, sinks):
    container = container_factory(DispatchService, service_config("dispatch"))
    container.start()
    return container


def received(uri: str, queue: str, expect: int = 1, timeout: float = 10.0):
    return [(method.routing_key, json.loads(body))
            for method, _props, body in drain(uri, queue, expect=expect, timeout=timeout)]


def reported_envelope(**payload_changes) -> dict:
    envelope = load_sample("events.case.reported", 1)
    envelope["message_id"] = str(uuid.uuid4())
    envelope["payload"].update({"case_id": str(uuid.uuid4()), **payload_changes})
    return envelope


def report_envelope(assignment: dict, kind: str, department: str | None = None,
                    **extra) -> dict:
    payload = {"assignment_id": assignment["assignment_id"], "case_id": assignment["case_id"],
               "department": department or assignment["department"], "kind": kind,
               "reported_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")[:-4] + "Z",
               **extra}
    return {"message_id": str(uuid.uuid4()), "type": "department.report", "version": 1,
            "occurred_at": payload["reported_at"], "producer": payload["department"],
            "correlation_id": None, "payload": payload}


def send_report(uri: str, envelope: dict, routing_key: str | None = None) -> None:
    p = envelope["payload"]
    publish(uri, "gridgov.reports", routing_key or f"{p['department']}.{p['kind']}", envelope)

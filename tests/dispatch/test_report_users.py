"""Reports are checked against the broker user that published them (P2.2: a department
reports for itself only). RabbitMQ vouches for the ``user_id`` property; dispatch refuses a
``dept.*`` user reporting for another department, and, with REQUIRE_REPORT_USER_ID, any
report not published by the department's own user. Real users and connections."""

from __future__ import annotations

import json
import uuid
from urllib.parse import quote

import pika
import pytest
import sqlalchemy as sa

from services.dispatch.models import assignments
from services.dispatch.service import DispatchService
from tests.amqp import publish as plain_publish
from tests.amqp import wait_until
from tests.dispatch.conftest import (
    FIRE_SINK,
    POLICE_SINK,
    received,
    report_envelope,
    reported_envelope,
)

USERS = ("dept.fire", "dept.police")


@pytest.fixture
def department_users(rabbit_manager, rabbit_config):
    """dept.fire and dept.police with rights on this test's vhost (removed afterwards)."""
    password = uuid.uuid4().hex
    for user in USERS:
        rabbit_manager._put("users", user, json={"password": password, "tags": ""})
        rabbit_manager.set_vhost_permissions(rabbit_config["vhost"], user, ".*", ".*", ".*")
    yield password
    for user in USERS:
        rabbit_manager._delete("users", user)


@pytest.fixture
def strict_dispatch(container_factory, service_config, clean_db, sinks):
    container = container_factory(DispatchService, service_config(
        "dispatch", REQUIRE_REPORT_USER_ID="true"))
    container.start()
    return container


def _publish_as(rabbit_config, user: str, password: str, envelope: dict, key: str) -> None:
    params = pika.URLParameters(f"amqp://{quote(user)}:{password}@127.0.0.1:5672/"
                                f"{quote(rabbit_config['vhost'], safe='')}")
    connection = pika.BlockingConnection(params)
    try:
        channel = connection.channel()
        channel.confirm_delivery()
        channel.basic_publish("gridgov.reports", key, json.dumps(envelope).encode(),
                              pika.BasicProperties(content_type="application/json",
                                                   delivery_mode=2, user_id=user),
                              mandatory=True)
    finally:
        connection.close()


def _state(db_engine, assignment_id: str) -> str:
    with db_engine.connect() as conn:
        return conn.execute(sa.select(assignments.c.state).where(
            assignments.c.assignment_id == assignment_id)).scalar()


def test_only_the_departments_own_user_may_report_for_it(strict_dispatch, sinks, db_engine,
                                                          department_users, rabbit_config):
    envelope = reported_envelope()
    plain_publish(sinks, "gridgov.events", "events.case.reported", envelope)
    [(_, fire)] = received(sinks, FIRE_SINK)
    fire = fire["payload"]

    # the police's user posing as the fire brigade: refused, told on police.rejections
    _publish_as(rabbit_config, "dept.police", department_users,
                report_envelope(fire, "ack"), "fire.ack")
    [(key, rejection)] = received(sinks, POLICE_SINK)
    assert (key, rejection["payload"]["code"]) == ("police.rejections", "user_mismatch")

    # no user_id (here: guest) while the department's own user is required: refused
    plain_publish(sinks, "gridgov.reports", "fire.ack", report_envelope(fire, "ack"))
    [(key, rejection)] = received(sinks, FIRE_SINK)
    assert (key, rejection["payload"]["code"]) == ("fire.rejections", "user_required")
    assert _state(db_engine, fire["assignment_id"]) == "sent"

    # the fire brigade's own user: taken
    _publish_as(rabbit_config, "dept.fire", department_users,
                report_envelope(fire, "ack"), "fire.ack")
    assert wait_until(lambda: _state(db_engine, fire["assignment_id"]) == "acked")

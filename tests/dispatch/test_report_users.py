"""Reports are checked against the broker user that published them (P2.2: a department
reports for itself only). RabbitMQ vouches for the ``user_id`` property; dispatch refuses a
``dept.*`` user reporting for another department, and, with REQUIRE_REPORT_USER_ID, any
report not published by the department's own user. Real users and connections."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from services.dispatch.models import assignments
from services.dispatch.service import DispatchService
from tests.amqp import drain, wait_until
from tests.amqp import publish as plain_publish
from tests.departments import department_users as make_department_users
from tests.departments import publish_as
from tests.dispatch.conftest import (
    FIRE_SINK,
    POLICE_SINK,
    received,
    report_envelope,
    reported_envelope,
)


@pytest.fixture
def department_users(rabbit_manager, rabbit_config):
    """dept.fire and dept.police with rights on this test's vhost (removed afterwards)."""
    with make_department_users(rabbit_manager, rabbit_config["vhost"], "fire",
                               "police") as password:
        yield password


@pytest.fixture
def strict_dispatch(container_factory, service_config, clean_db, sinks):
    container = container_factory(DispatchService, service_config(
        "dispatch", REQUIRE_REPORT_USER_ID="true"))
    container.start()
    return container


def _publish_as(rabbit_config, user: str, password: str, envelope: dict, key: str) -> None:
    publish_as(rabbit_config["vhost"], user.removeprefix("dept."), password,
               "gridgov.reports", key, envelope)


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


def test_a_department_user_posing_is_refused_with_the_default_settings(
        dispatch, sinks, db_engine, department_users, rabbit_config):
    """Without REQUIRE_REPORT_USER_ID too: dept.police reporting as the fire brigade (key
    and payload both say fire) is refused, dead-lettered, told to police, and recorded in
    the case file; the fire brigade's own report is taken."""
    envelope = reported_envelope()
    plain_publish(sinks, "gridgov.events", "events.case.reported", envelope)
    [(_, fire)] = received(sinks, FIRE_SINK)
    fire = fire["payload"]
    posing = report_envelope(fire, "ack")
    _publish_as(rabbit_config, "dept.police", department_users, posing, "fire.ack")
    [(key, rejection)] = received(sinks, POLICE_SINK)
    assert (key, rejection["payload"]["code"]) == ("police.rejections", "user_mismatch")
    assert rejection["payload"]["original_routing_key"] == "fire.ack"
    [(_, props, _)] = drain(sinks, "dispatch.reports.dlq")
    assert props.headers["x-gridgov-error-code"] == "user_mismatch"
    assert _state(db_engine, fire["assignment_id"]) == "sent"
    _publish_as(rabbit_config, "dept.fire", department_users,
                report_envelope(fire, "ack"), "fire.ack")
    assert wait_until(lambda: _state(db_engine, fire["assignment_id"]) == "acked")

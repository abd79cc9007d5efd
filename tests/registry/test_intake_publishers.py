"""A department pushes its own data only (issue 10, item 1): the registry checks the AMQP
``user_id`` — which RabbitMQ vouches for — against the department the routing key and the
payload name. Real department broker users (``dept.<code>``) publishing with plain pika;
REQUIRE_INTAKE_USER_ID on, as in production."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from gridgov_common.contract import make_envelope, parse_envelope
from services.registry.service import RegistryService
from tests.amqp import drain, publish, wait_until
from tests.departments import (
    publish_as,
    rejections,
    two_senders,
)
from tests.registry.conftest import id_number

PERSON = id_number("19800303", "017")
DLQ = "registry.intake.dlq"


@pytest.fixture
def registry(container_factory, service_config, clean_registry):
    """The registry as in production: pushes only from the department's own user."""
    container = container_factory(RegistryService, service_config(
        "registry", REQUIRE_INTAKE_USER_ID="true"))
    container.start()
    return container


@pytest.fixture
def person(district, web_session, admin):
    response = web_session.post("/residents", headers=admin, json={
        "household_id": district["household"]["id"], "name": "周八", "id_number": PERSON})
    assert response.status_code == 201, response.text
    return response.json()


@pytest.fixture
def departments(rabbit_manager, rabbit_config):
    """Two departments with their own broker users, each listening to its rejections."""
    with two_senders(rabbit_manager, rabbit_config, "civil_affairs", "public_security") as got:
        yield got


def status_of(db_engine, resident_id):
    with db_engine.connect() as conn:
        return conn.execute(sa.text("SELECT status FROM registry.residents WHERE id = :i"),
                            {"i": resident_id}).scalar()


def moved_out(department):
    return make_envelope("intake.resident.moved_out", {
        "department": department, "id_number": PERSON, "moved_out_on": "2026-11-01"},
        producer=department)


def test_a_department_user_cannot_push_for_another(person, departments, rabbit_config,
                                                    db_engine):
    a, b, password = departments
    uri, vhost = rabbit_config["AMQP_URI"], rabbit_config["vhost"]
    key = f"{b}.resident.moved_out"
    posing = moved_out(b)  # key and payload agree: only the broker user tells the truth
    publish_as(vhost, a, password, "gridgov.intake", key, posing)
    [(_, props, body)] = drain(uri, DLQ, expect=1)
    assert props.headers["x-gridgov-error-code"] == "user_mismatch"
    assert json.loads(body) == posing  # the DLQ keeps the message unchanged
    # the poser is told on its own rejections key, not the department it posed as
    [(routing_key, _, rejection)] = rejections(uri, a)
    assert routing_key == f"{a}.rejections"
    parsed = parse_envelope(json.dumps(rejection))
    assert (parsed.type, parsed.version, parsed.producer) == ("platform.rejection", 2,
                                                              "registry")
    assert rejection["payload"] == {
        "original_message_id": posing["message_id"], "original_routing_key": key,
        "original_exchange": "gridgov.intake", "code": "user_mismatch",
        "message": f"published by dept.{a}, which may not publish for {b}",
        "fields": {"user_id": [f"must be dept.{b}"]}}
    assert PERSON not in json.dumps(rejection)  # never the body
    assert status_of(db_engine, person["id"]) == "active"

    # not published by the department's user at all (guest, no user_id): refused, told
    unsigned = moved_out(b)
    publish(uri, "gridgov.intake", key, unsigned)
    [(routing_key, _, rejection)] = rejections(uri, b)
    assert (routing_key, rejection["payload"]["code"]) == (f"{b}.rejections", "user_required")
    assert rejection["payload"]["original_message_id"] == unsigned["message_id"]
    assert status_of(db_engine, person["id"]) == "active"

    # the department's own user: applied
    publish_as(vhost, b, password, "gridgov.intake", key, moved_out(b))
    assert wait_until(lambda: status_of(db_engine, person["id"]) == "moved_out")
    assert rejections(uri, a, timeout=0.5) == [] and rejections(uri, b, timeout=0.5) == []


def test_a_setting_that_is_not_a_boolean_stops_the_service_at_start(container_factory,
                                                                     service_config):
    container = container_factory(RegistryService, service_config(
        "registry", REQUIRE_INTAKE_USER_ID="ture"))
    with pytest.raises(RuntimeError, match="REQUIRE_INTAKE_USER_ID"):
        container.start()

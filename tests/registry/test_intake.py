"""Department data push over plain AMQP (P6.2): applied once, bad input dead-lettered with a
reason, and the registry's own change events published through the outbox."""

import json
import uuid

import pika
import pytest
import sqlalchemy as sa

from gridgov_common.contract import MAX_MESSAGE_BYTES, make_envelope, parse_envelope
from tests.amqp import bind_queue, drain, publish, wait_until
from tests.departments import rejections, rejections_queue
from tests.registry.conftest import GRID_A, id_number

PERSON = id_number("19800202", "013")
DLQ = "registry.intake.dlq"


@pytest.fixture
def person(district, web_session, admin):
    response = web_session.post("/residents", headers=admin, json={
        "household_id": district["household"]["id"], "name": "孙七", "id_number": PERSON})
    assert response.status_code == 201, response.text
    return response.json()


def status_of(db_engine, resident_id):
    with db_engine.connect() as conn:
        return conn.execute(sa.text("SELECT status FROM registry.residents WHERE id = :i"),
                            {"i": resident_id}).scalar()


def moved_out(department="civil_affairs", id_no=PERSON):
    return make_envelope("intake.resident.moved_out", {
        "department": department, "id_number": id_no, "moved_out_on": "2026-11-01",
        "reason": "迁往外省"}, producer=department)


def test_moved_out_push_is_applied_once_and_announced(person, rabbit_config, db_engine):
    uri = rabbit_config["AMQP_URI"]
    bind_queue(uri, "observer", "gridgov.events", ["registry.resident.changed"])
    drain(uri, "observer", expect=10, timeout=1.0)  # the registration event
    envelope = moved_out()
    publish(uri, "gridgov.intake", "civil_affairs.resident.moved_out", envelope)
    publish(uri, "gridgov.intake", "civil_affairs.resident.moved_out", envelope)
    assert wait_until(lambda: status_of(db_engine, person["id"]) == "moved_out")
    [(_, props, body)] = drain(uri, "observer", expect=1)
    event = json.loads(body)
    assert event["type"] == "registry.resident.changed"
    assert event["payload"] == {"resident_id": person["id"], "household_id":
                                person["household_id"], "grid_code": GRID_A,
                                "action": "moved_out"}
    assert event["correlation_id"] == envelope["message_id"]
    assert PERSON not in body.decode()
    # the duplicate delivery changed nothing more and announced nothing more
    assert drain(uri, "observer", expect=1, timeout=1.5) == []


def test_malformed_push_is_dead_lettered_with_a_reason(person, rabbit_config, db_engine):
    uri = rabbit_config["AMQP_URI"]
    publish(uri, "gridgov.intake", "civil_affairs.resident.moved_out", b"{not json")
    [(_, props, body)] = drain(uri, DLQ, expect=1)
    assert body == b"{not json"
    assert props.headers["x-gridgov-error-code"]
    # the consumer keeps running: a good message after the bad one is applied
    publish(uri, "gridgov.intake", "civil_affairs.resident.moved_out", moved_out())
    assert wait_until(lambda: status_of(db_engine, person["id"]) == "moved_out")


def test_unknown_resident_and_bad_id_are_rejected_with_reasons(person, rabbit_config):
    uri = rabbit_config["AMQP_URI"]
    publish(uri, "gridgov.intake", "civil_affairs.resident.moved_out",
            moved_out(id_no=id_number("19900101", "555")))
    bad = moved_out()
    bad["payload"]["id_number"] = PERSON[:-1] + ("1" if PERSON[-1] != "1" else "2")
    bad["message_id"] = str(uuid.uuid4())
    publish(uri, "gridgov.intake", "civil_affairs.resident.moved_out", bad)
    got = drain(uri, DLQ, expect=2)
    codes = sorted(props.headers["x-gridgov-error-code"] for _, props, _ in got)
    # a wrong check digit already fails the contract's payload schema
    assert codes == ["invalid_payload", "unknown_resident"]


def test_a_department_cannot_push_in_anothers_name(person, rabbit_config, db_engine):
    uri = rabbit_config["AMQP_URI"]
    publish(uri, "gridgov.intake", "public_security.resident.moved_out",
            moved_out(department="civil_affairs"))
    [(_, props, _)] = drain(uri, DLQ, expect=1)
    assert props.headers["x-gridgov-error-code"] == "department_mismatch"
    assert status_of(db_engine, person["id"]) == "active"


def test_grid_change_event_reaches_subscribers(district, rabbit_config, web_session, admin):
    """P3.2: a changed fact (a grid retired) is pushed at once to whoever subscribes."""
    uri = rabbit_config["AMQP_URI"]
    bind_queue(uri, "grid-watch", "gridgov.events", ["registry.grid.changed"])
    web_session.post(f"/grids/{district['grid_b']['grid_code']}/retire", headers=admin,
                     json={"valid_to": "2026-12-31"})
    seen = [json.loads(body)["payload"] for _, _, body in drain(uri, "grid-watch", expect=3)]
    # the fixture's two "created" events may still be in flight when the queue is bound
    retired = [p for p in seen if p["action"] == "retired"]
    assert retired == [{"grid_code": district["grid_b"]["grid_code"],
                        "community_code": district["grid_b"]["community_code"],
                        "action": "retired", "valid_from": retired[0]["valid_from"],
                        "valid_to": "2026-12-31"}]


def test_the_department_is_told_why_its_push_was_refused(person, rabbit_config, db_engine):
    """Issue 10, item 7: every refusal of a push — contract-level (not JSON, too large,
    unknown version, missing field) and the registry's own — reaches
    ``<department>.rejections`` with the reason, the original message id and routing key,
    and no body; the DLQ keeps its copy."""
    uri = rabbit_config["AMQP_URI"]
    rejections_queue(uri, "civil_affairs")
    key = "civil_affairs.resident.moved_out"
    unknown = moved_out(id_no=id_number("19900101", "555"))
    newer = dict(moved_out(), version=7)
    incomplete = moved_out()
    del incomplete["payload"]["moved_out_on"]
    huge = moved_out()
    huge_body = json.dumps(huge).encode() + b" " * MAX_MESSAGE_BYTES
    not_json_id = str(uuid.uuid4())
    sent = [(b"{not json " + PERSON.encode(), not_json_id, "invalid_json"),
            (json.dumps(newer).encode(), None, "unknown_type"),
            (json.dumps(incomplete).encode(), None, "invalid_payload"),
            (huge_body, huge["message_id"], "message_too_large"),
            (json.dumps(unknown).encode(), None, "unknown_resident")]
    for body, message_id, _ in sent:
        publish(uri, "gridgov.intake", key, body, pika.BasicProperties(
            content_type="application/json", delivery_mode=2, message_id=message_id))
    got = rejections(uri, "civil_affairs", expect=len(sent))
    by_code = {rejection["payload"]["code"]: rejection for _, _, rejection in got}
    assert set(by_code) == {code for *_, code in sent}
    for body, message_id, code in sent:
        rejection = parse_envelope(json.dumps(by_code[code]))
        original = message_id or json.loads(body)["message_id"]
        assert (rejection.type, rejection.version) == ("platform.rejection", 2)
        assert rejection.correlation_id == original
        assert rejection.payload["original_message_id"] == original
        assert rejection.payload["original_routing_key"] == key
        assert rejection.payload["original_exchange"] == "gridgov.intake"
    assert "moved_out_on" in by_code["invalid_payload"]["payload"]["fields"]
    raw = json.dumps([rejection for _, _, rejection in got])
    assert PERSON not in raw and id_number("19900101", "555") not in raw  # no body
    dead = drain(uri, DLQ, expect=len(sent))
    assert sorted(props.headers["x-gridgov-error-code"] for _, props, _ in dead) == sorted(
        code for *_, code in sent)
    assert status_of(db_engine, person["id"]) == "active"

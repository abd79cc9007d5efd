"""Cases pushed by a hotline over plain AMQP (``intake.case.report`` v1 on gridgov.intake):
filed once however often delivered, refused into ``events.intake.dlq`` with reasons."""

from __future__ import annotations

import json
import uuid

import pika
import pytest
import sqlalchemy as sa

from gridgov_common.contract import load_sample, make_envelope, parse_envelope
from services.events.service import EventsService
from tests.amqp import drain, publish, wait_until
from tests.departments import (
    publish_as,
    rejections,
    rejections_queue,
    two_senders,
)
from tests.events.conftest import GRID_A, IN_A, OUTSIDE, TOWN, received

DLQ = "events.intake.dlq"
SYSTEM = "hotline_12345"
KEY = f"{SYSTEM}.case.report"


def hotline_case(external_ref=None, **overrides):
    payload = {
        "source": "hotline", "source_system": SYSTEM,
        "external_ref": external_ref or f"12345-{uuid.uuid4().hex[:10]}",
        "location": IN_A, "work_category": "public_security_prevention",
        "info_class": "stability_governance", "subcategory": "electric_bike_charging",
        "severity": "minor", "description": "市民来电：楼道内私拉电线给电动车充电",
        "reported_at": "2026-11-28T02:18:05.000Z", "private": False,
    }
    payload.update(overrides)
    return payload


def envelope(payload, producer=SYSTEM):
    return make_envelope("intake.case.report", payload, producer)


def cases_with_ref(db_engine, ref):
    with db_engine.connect() as conn:
        return conn.execute(sa.text(
            "SELECT case_number, source, source_system, reporter_sub, grid_code, reported_at "
            "FROM events.cases WHERE external_ref = :r"), {"r": ref}).mappings().all()


def test_the_sample_is_a_valid_hotline_report():
    sample = load_sample("intake.case.report", 1)
    assert parse_envelope(json.dumps(sample)).payload["source_system"] == sample["producer"]


def test_hotline_case_is_filed_once_however_often_delivered(events, observer, db_engine):
    payload = hotline_case()
    message = envelope(payload)
    publish(observer, "gridgov.intake", KEY, message)
    publish(observer, "gridgov.intake", KEY, message)  # a redelivery: same message_id
    resent = envelope(payload)  # the same ticket sent again as a new message
    publish(observer, "gridgov.intake", KEY, resent)
    [(key, _, event)] = received(observer, 1)
    assert key == "events.case.reported"
    # workers take the three deliveries in parallel: whichever of the two distinct
    # messages commits first files the case; the other finds its external_ref taken
    assert event["correlation_id"] in {message["message_id"], resent["message_id"]}
    assert event["payload"]["source"] == "hotline"
    assert event["payload"]["reporter_sub"] is None  # v2: a hotline is not grid staff
    assert event["payload"]["grid_code"] == GRID_A and event["payload"]["town_code"] == TOWN
    rows = cases_with_ref(db_engine, payload["external_ref"])
    assert len(rows) == 1
    assert rows[0]["source_system"] == SYSTEM and rows[0]["reporter_sub"] == SYSTEM
    assert rows[0]["reported_at"].isoformat().startswith("2026-11-28T02:18:05")
    # nothing more was filed or announced for the two duplicates
    assert received(observer, 1, timeout=2.0) == []
    with db_engine.connect() as conn:
        claims = conn.execute(sa.text("SELECT count(*) FROM events.processed_messages")).scalar()
    assert claims == 2  # the first message and the resent ticket, each claimed once
    assert drain(observer, DLQ, expect=1, timeout=0.5) == []


def test_major_event_from_the_hotline_is_alerted(events, observer):
    publish(observer, "gridgov.intake", KEY, envelope(hotline_case(
        work_category="major_event", subcategory="public_order_incident", severity="major",
        info_class="stability_governance", description="市民来电：小区门口有人持械斗殴")))
    keys = [key for key, _, _ in received(observer, 2)]
    assert keys == [f"{TOWN}.major.public_order", "events.case.reported"]


def refusals(uri, expect):
    return {props.headers["x-gridgov-error-code"]: (props, body)
            for _, props, body in drain(uri, DLQ, expect=expect, timeout=15)}


def test_bad_reports_are_dead_lettered_with_reasons(events, observer, db_engine):
    uri = observer
    publish(uri, "gridgov.intake", KEY, b"{not json")
    publish(uri, "gridgov.intake", KEY, envelope(hotline_case(subcategory="no_such_thing")))
    publish(uri, "gridgov.intake", KEY, envelope(hotline_case(location=OUTSIDE)))
    publish(uri, "gridgov.intake", "another_system.case.report", envelope(hotline_case()))
    unknown_field = envelope(hotline_case())
    unknown_field["payload"]["caller_phone"] = "13800138000"  # personal data: not in v1
    publish(uri, "gridgov.intake", KEY, unknown_field)
    got = refusals(uri, 5)
    assert set(got) == {"invalid_json", "validation_failed", "outside_grids",
                        "source_mismatch", "invalid_payload"}
    props, body = got["invalid_json"]
    assert body == b"{not json"  # dead-lettered unchanged
    assert props.headers["x-gridgov-consumer"] == "events.intake"
    assert props.headers["x-gridgov-original-routing-key"] == KEY
    fields = json.loads(got["validation_failed"][0].headers["x-gridgov-error-fields"])
    assert "subcategory" in fields
    fields = json.loads(got["invalid_payload"][0].headers["x-gridgov-error-fields"])
    assert fields == {"caller_phone": ["Unknown field."]}
    with db_engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM events.cases")).scalar() == 0
    # the consumer keeps going: a good report after the bad ones is filed
    good = hotline_case()
    publish(uri, "gridgov.intake", KEY, envelope(good))
    assert wait_until(lambda: cases_with_ref(db_engine, good["external_ref"]))


def test_other_message_types_on_the_case_key_are_refused(events, observer):
    moved = make_envelope("intake.resident.moved_out", {
        "department": SYSTEM, "id_number": "11010519491231002X",
        "moved_out_on": "2026-11-20"}, SYSTEM)
    publish(observer, "gridgov.intake", KEY, moved,
            pika.BasicProperties(content_type="application/json", delivery_mode=2))
    assert set(refusals(observer, 1)) == {"unexpected_type"}


def test_a_refused_report_among_good_ones_costs_the_good_ones_nothing(events, observer,
                                                                      db_engine):
    """Hotline reports are filed in batches (one registry call, one transaction); a report
    outside every grid fails its batch, which is replayed report by report: it alone is
    refused, and each of the others is filed once, with its own case number."""
    good = [hotline_case() for _ in range(6)]
    bad = hotline_case(location=OUTSIDE)
    for payload in [*good[:3], bad, *good[3:]]:
        publish(observer, "gridgov.intake", KEY, envelope(payload))
    assert set(refusals(observer, 1)) == {"outside_grids"}
    assert wait_until(lambda: all(cases_with_ref(db_engine, p["external_ref"]) for p in good))
    numbers = [cases_with_ref(db_engine, p["external_ref"])[0]["case_number"] for p in good]
    assert len(set(numbers)) == len(good)
    with db_engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM events.cases")).scalar() == len(good)


def test_the_source_system_is_told_why_its_report_was_refused(events, observer, db_engine):
    """Issue 10, item 7: refusals reach ``<source_system>.rejections`` (reason, original
    message id and routing key, no body), contract-level ones included; the DLQ keeps them."""
    rejections_queue(observer, SYSTEM)
    rejections_queue(observer, "another_system")
    not_json_id = str(uuid.uuid4())
    newer = dict(envelope(hotline_case()), version=5)
    outside = envelope(hotline_case(location=OUTSIDE))
    foreign_key = envelope(hotline_case())
    publish(observer, "gridgov.intake", KEY, b"{not json", pika.BasicProperties(
        content_type="application/json", delivery_mode=2, message_id=not_json_id))
    publish(observer, "gridgov.intake", KEY, newer)
    publish(observer, "gridgov.intake", KEY, outside)
    publish(observer, "gridgov.intake", "another_system.case.report", foreign_key)
    got = {r["payload"]["code"]: r for _, _, r in rejections(observer, SYSTEM, expect=3)}
    assert set(got) == {"invalid_json", "unknown_type", "outside_grids"}
    for code, original in (("invalid_json", not_json_id), ("unknown_type", newer["message_id"]),
                           ("outside_grids", outside["message_id"])):
        rejection = parse_envelope(json.dumps(got[code]))
        assert (rejection.type, rejection.version, rejection.producer) == (
            "platform.rejection", 2, "events")
        assert rejection.payload["original_message_id"] == original
        assert rejection.payload["original_routing_key"] == KEY
        assert rejection.payload["original_exchange"] == "gridgov.intake"
    assert "楼道" not in json.dumps(got, ensure_ascii=False)  # no body
    # a key naming another system: that system is told (the key's first word)
    [(key, _, rejection)] = rejections(observer, "another_system")
    assert (key, rejection["payload"]["code"]) == ("another_system.rejections",
                                                   "source_mismatch")
    assert set(refusals(observer, 4)) == {"invalid_json", "unknown_type", "outside_grids",
                                          "source_mismatch"}


@pytest.fixture
def systems(rabbit_manager, rabbit_config):
    with two_senders(rabbit_manager, rabbit_config, "hotline", "hotline") as got:
        yield got


def test_a_system_user_cannot_report_as_another(events, observer, db_engine, systems,
                                                rabbit_config):
    """Issue 10, item 1: dept.<a> publishing a report that names b (key, producer and
    payload) is refused by the AMQP user_id, and told on a's rejections."""
    a, b, password = systems
    vhost = rabbit_config["vhost"]
    payload = hotline_case(source_system=b)
    posing = envelope(payload, producer=b)
    publish_as(vhost, a, password, "gridgov.intake", f"{b}.case.report", posing)
    [(key, _, rejection)] = rejections(observer, a)
    assert (key, rejection["payload"]["code"]) == (f"{a}.rejections", "user_mismatch")
    assert rejection["payload"]["original_message_id"] == posing["message_id"]
    assert set(refusals(observer, 1)) == {"user_mismatch"}
    assert cases_with_ref(db_engine, payload["external_ref"]) == []
    # b's own user files it
    publish_as(vhost, b, password, "gridgov.intake", f"{b}.case.report",
               envelope(payload, producer=b))
    assert wait_until(lambda: cases_with_ref(db_engine, payload["external_ref"]))


def test_with_required_users_only_the_systems_own_user_is_taken(
        container_factory, events_config, district, observer, db_engine, systems,
        rabbit_config):
    a, _, password = systems
    config = dict(events_config, REQUIRE_INTAKE_USER_ID="true")
    container_factory(EventsService, config).start()
    payload = hotline_case(source_system=a)
    unsigned = envelope(payload, producer=a)
    publish(observer, "gridgov.intake", f"{a}.case.report", unsigned)  # guest, no user_id
    [(key, _, rejection)] = rejections(observer, a)
    assert (key, rejection["payload"]["code"]) == (f"{a}.rejections", "user_required")
    assert cases_with_ref(db_engine, payload["external_ref"]) == []
    publish_as(rabbit_config["vhost"], a, password, "gridgov.intake", f"{a}.case.report",
               envelope(payload, producer=a))
    assert wait_until(lambda: cases_with_ref(db_engine, payload["external_ref"]))

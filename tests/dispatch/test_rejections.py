"""A department learns why its report was refused (issue 10, item 7): every refusal, the
contract-level ones included, reaches ``<department>.rejections`` as a
``platform.rejection`` with the reason, the original message id and routing key and no
body; the DLQ keeps its copy; a refused report that names a case is an entry of the case
file; a result ahead of its ack waits no longer than the documented 10 s. Plain pika as
the department, the real dispatch service, broker and database."""

from __future__ import annotations

import gzip
import json
import time
import uuid

import pika
import sqlalchemy as sa

from gridgov_common.contract import MAX_MESSAGE_BYTES, load_sample, parse_envelope
from services.dispatch.models import case_file
from services.dispatch.reports import ORDER_GRACE
from tests.amqp import drain, publish
from tests.dispatch.conftest import (
    DISTRICT,
    EM_SINK,
    FIRE_SINK,
    POLICE_SINK,
    received,
    report_envelope,
    reported_envelope,
    send_report,
)

DLQ = "dispatch.reports.dlq"


def _dispatched(uri):
    envelope = reported_envelope()
    publish(uri, "gridgov.events", "events.case.reported", envelope)
    [(_, fire)] = received(uri, FIRE_SINK)
    [(_, em)] = received(uri, EM_SINK)
    return envelope["payload"]["case_id"], fire["payload"], em["payload"]


def _props(message_id: str) -> pika.BasicProperties:
    return pika.BasicProperties(content_type="application/json", delivery_mode=2,
                                message_id=message_id)


def _rejections(uri, queue, expect):
    """Rejections on the sink, parsed by the contract (they hold to platform.rejection)."""
    got = drain(uri, queue, expect=expect, timeout=15)
    return [(method.routing_key, parse_envelope(body), body) for method, _, body in got]


def test_contract_errors_of_a_report_reach_the_department(dispatch, sinks):
    _, fire, _ = _dispatched(sinks)
    good = report_envelope(fire, "ack")
    newer = dict(report_envelope(fire, "ack"), version=99)
    incomplete = report_envelope(fire, "ack")
    del incomplete["payload"]["reported_at"]
    huge = report_envelope(fire, "progress", note="x" * 100)
    huge_body = json.dumps(huge).encode() + b" " * MAX_MESSAGE_BYTES
    bogus_key = report_envelope(fire, "ack")
    sent = [  # (routing key, body, message_id property, expected code)
        ("fire.ack", b"{not json", str(uuid.uuid4()), "invalid_json"),
        ("fire.ack", json.dumps(newer).encode(), None, "unknown_type"),
        ("fire.ack", json.dumps(incomplete).encode(), None, "invalid_payload"),
        ("fire.progress", huge_body, huge["message_id"], "message_too_large"),
        ("fire.bogus", json.dumps(bogus_key).encode(), None, "bad_routing_key"),
    ]
    for key, body, message_id, _ in sent:
        publish(sinks, "gridgov.reports", key, body,
                _props(message_id) if message_id else None)
    got = _rejections(sinks, FIRE_SINK, expect=len(sent))
    assert [key for key, _, _ in got] == ["fire.rejections"] * len(sent)
    by_code = {rejection.payload["code"]: (rejection, raw) for _, rejection, raw in got}
    assert set(by_code) == {code for *_, code in sent}
    for key, body, message_id, code in sent:
        rejection, raw = by_code[code]
        original = message_id or json.loads(body)["message_id"]
        assert rejection.type == "platform.rejection" and rejection.version == 2
        assert rejection.producer == "dispatch" and rejection.correlation_id == original
        payload = rejection.payload
        assert payload["original_message_id"] == original
        assert payload["original_routing_key"] == key
        assert payload["original_exchange"] == "gridgov.reports"
        assert payload["message"]
        assert b"xxxxxxxx" not in raw and b"not json" not in raw  # no part of the body
    assert "reported_at" in by_code["invalid_payload"][0].payload["fields"]
    # the DLQ keeps every one, body unchanged
    dead = drain(sinks, DLQ, expect=len(sent), timeout=15)
    assert sorted(props.headers["x-gridgov-error-code"] for _, props, _ in dead) == sorted(
        code for *_, code in sent)
    assert b"{not json" in [body for _, _, body in dead]
    # nothing more: each refusal was told once, and the good report is still taken
    send_report(sinks, good)
    assert drain(sinks, FIRE_SINK, expect=1, timeout=1.0) == []


def _file(db_engine, case_id):
    with db_engine.connect() as conn:
        return [row.entry for row in conn.execute(
            sa.select(case_file.c.entry).where(case_file.c.case_id == case_id)
            .order_by(case_file.c.seq))]


def test_a_refused_report_is_an_entry_of_its_case_file(dispatch, sinks, db_engine, web_session,
                                                         token):
    case_id, fire, _ = _dispatched(sinks)
    foreign = report_envelope(fire, "ack", department="police")  # not police's assignment
    send_report(sinks, foreign)
    [(key, rejection)] = received(sinks, POLICE_SINK)
    assert (key, rejection["payload"]["code"]) == ("police.rejections", "not_your_assignment")
    early = report_envelope(fire, "delay_request", reason="需要协调",
                            requested_due_at="2020-01-01T00:00:00Z")
    send_report(sinks, early)
    [(key, rejection)] = received(sinks, FIRE_SINK)
    assert key == "fire.rejections"
    refused = [entry for entry in _file(db_engine, case_id)
               if entry["action"] == "report_refused"]
    assert [(e["actor_sub"], e["data"]["code"], e["data"]["message_id"]) for e in refused] == [
        ("police", "not_your_assignment", foreign["message_id"]),
        ("fire", rejection["payload"]["code"], early["message_id"])]
    assert refused[0]["data"]["routing_key"] == "police.ack"
    assert refused[0]["actor_role"] == "department" and refused[0]["reason"]
    # the chain still holds, and the case file page names the entry
    response = web_session.get(f"/cases/{case_id}/file",
                               headers=token("district_admin", f"district:{DISTRICT}"))
    assert response.status_code == 200, response.text
    assert response.json()["verification"]["valid"] is True
    assert [e["action"] for e in response.json()["entries"]][-2:] == ["report_refused"] * 2


def test_a_result_before_the_ack_waits_no_longer_than_the_grace(dispatch, sinks):
    """Documented: a lead's result whose reported_at is less than 10 s old waits for the
    ack; then it is refused (wrong_state). The consumer's back-off used to overshoot."""
    _, fire, _ = _dispatched(sinks)
    result = report_envelope(fire, "result", resolved=True)
    started = time.monotonic()
    send_report(sinks, result)
    [(key, rejection)] = received(sinks, FIRE_SINK, timeout=20)
    waited = time.monotonic() - started
    assert (key, rejection["payload"]["code"]) == ("fire.rejections", "wrong_state")
    grace = ORDER_GRACE.total_seconds()
    assert grace - 0.5 <= waited <= grace + 0.5, waited


def test_the_rejection_sample_is_what_dispatch_sends(dispatch, sinks):
    """Producer side of the sample: the same fields, types and version."""
    _, fire, _ = _dispatched(sinks)
    send_report(sinks, report_envelope(fire, "ack", department="police"))
    [(_, rejection)] = received(sinks, POLICE_SINK)
    sample = load_sample("platform.rejection", 2)
    assert (rejection["type"], rejection["version"]) == (sample["type"], sample["version"])
    assert set(rejection) == set(sample)
    assert set(rejection["payload"]) == set(sample["payload"])
    assert {k: type(v) for k, v in rejection["payload"].items()} == {
        k: type(v) for k, v in sample["payload"].items()}


def test_compressed_garbage_is_refused_and_told(dispatch, sinks):
    """Not even decompressible: refused before parsing, and still told."""
    _, fire, _ = _dispatched(sinks)
    props = pika.BasicProperties(content_type="application/json", delivery_mode=2,
                                 message_id=str(uuid.uuid4()),
                                 headers={"compression": "application/x-gzip"})
    publish(sinks, "gridgov.reports", "fire.ack", gzip.compress(b"{")[:-8] + b"garbage", props)
    [(key, rejection, _)] = _rejections(sinks, FIRE_SINK, expect=1)
    assert key == "fire.rejections"
    assert rejection.payload["original_message_id"] == props.message_id

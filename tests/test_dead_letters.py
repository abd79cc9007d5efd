"""Listing dead letters masks personal data (issue 10, item 4): on the real broker, through
the management API, with ``python -m gridgov_common.platform.dead_letters list``. Before issue 10
the only way to read a dead letter was the management UI, in clear."""

from __future__ import annotations

import json

import pika
import pytest

from gridgov_common.kernel.pii import mask_id_number, mask_phone
from gridgov_common.platform import dead_letters
from tests.amqp import pika_params, publish

ID_NUMBER, PHONE, OTHER_PHONE = "11010519491231002X", "13800138000", "13912345678"
DLQ = "registry.intake.dlq"


def declare(amqp_uri: str, *queues: str) -> None:
    connection = pika.BlockingConnection(pika_params(amqp_uri))
    try:
        channel = connection.channel()
        for queue in queues:
            channel.queue_declare(queue, durable=True)
    finally:
        connection.close()


@pytest.fixture
def refused_push(rabbit_config):
    """A department's refused data push in the registry's DLQ, as the consumer leaves it:
    the body with a resident's ID number and phones, the reason in headers that quote
    them; plus a body that is not JSON at all."""
    uri = rabbit_config["AMQP_URI"]
    declare(uri, DLQ, "dispatch.reports.dlq", "events.intake")
    body = {"message_id": "m-1", "type": "civil_affairs.resident.updated",
            "payload": {"resident": {"name": "张三丰", "id_number": ID_NUMBER,
                                     "phone": PHONE, "contacts": [{"mobile": OTHER_PHONE}]},
                        "note": f"call {OTHER_PHONE} or check {ID_NUMBER}"}}
    headers = {"x-gridgov-error-code": "validation_failed",
               "x-gridgov-error-message": f"id_number {ID_NUMBER} does not match phone {PHONE}",
               "x-gridgov-error-fields": json.dumps({"payload.resident.id_number": [ID_NUMBER]}),
               "x-gridgov-original-routing-key": "civil_affairs.resident.updated"}
    publish(uri, "", DLQ, body, pika.BasicProperties(
        content_type="application/json", delivery_mode=2, message_id="m-1", headers=headers))
    publish(uri, "", DLQ, f"not json: {ID_NUMBER} / {PHONE}".encode())
    return uri


def test_the_cli_lists_dead_letters_masked_and_leaves_them_in_the_queue(
        refused_push, capsys, monkeypatch):
    monkeypatch.setenv("GRIDGOV_AMQP_URI", refused_push)
    monkeypatch.delenv("GRIDGOV_RABBIT_API_URL", raising=False)
    assert dead_letters.main(["list", DLQ, "--json"]) == 0
    out = capsys.readouterr().out
    for secret in (ID_NUMBER, PHONE, OTHER_PHONE):
        assert secret not in out
    first, second = (json.loads(line) for line in out.splitlines())
    resident = first["body"]["payload"]["resident"]
    assert resident["id_number"] == mask_id_number(ID_NUMBER) == "110105********002X"
    assert resident["phone"] == mask_phone(PHONE) == "138****8000"
    assert resident["contacts"] == [{"mobile": "139****5678"}]
    assert first["body"]["payload"]["note"] == "call 139****5678 or check 110105********002X"
    assert first["headers"]["x-gridgov-error-code"] == "validation_failed"
    assert first["headers"]["x-gridgov-original-routing-key"] == "civil_affairs.resident.updated"
    assert first["headers"]["message_id"] == "m-1"
    assert json.loads(first["headers"]["x-gridgov-error-fields"]) == {
        "payload.resident.id_number": ["110105********002X"]}
    assert second["body"] == "not json: 110105********002X / 138****8000"

    # nothing was removed: the same two are listed again (every DLQ that holds messages)
    assert dead_letters.main(["list"]) == 0
    again = capsys.readouterr().out
    assert again.count(f"--- {DLQ}") == 2 and ID_NUMBER not in again
    assert "dispatch.reports.dlq" not in again  # empty DLQs are not listed


def test_only_dead_letter_queues_are_listed(capsys):
    assert dead_letters.main(["list", "registry.intake"]) == 2
    assert "not a dead-letter queue" in capsys.readouterr().err


def test_hostile_bodies_are_masked_as_text():
    deep = "[" * 5000 + f'"{PHONE}"' + "]" * 5000
    assert PHONE not in json.dumps(dead_letters.mask_body(deep.encode()))
    nested = {"a": [{"b": {"phone": PHONE}}] * 3}
    for _ in range(100):
        nested = {"x": nested}
    assert PHONE not in json.dumps(dead_letters.mask_document(nested))

"""Notifications in the case file (P5.3.4): each ``notify.sent`` for a case becomes a
``notification_sent`` entry of that case's file; one about no case is acked and ignored;
one about a case dispatch does not know is dead-lettered with the reason."""

from __future__ import annotations

import json
import uuid

from gridgov_common.contract import load_sample
from tests.amqp import drain, publish, wait_until
from tests.dispatch.conftest import FIRE_SINK, received, reported_envelope

DLQ = "dispatch.notifications.dlq"


def _sent(case_id: str | None, **changes) -> dict:
    envelope = load_sample("notify.sent", 1)
    envelope["message_id"] = str(uuid.uuid4())
    envelope["payload"].update({"case_id": case_id, **changes})
    return envelope


def _entries(web_session, token, case_id: str) -> list[dict]:
    admin = token("district_admin", "district:320505")
    found = web_session.get(f"/cases/{case_id}/file", headers=admin)
    assert found.status_code == 200, found.text
    return found.json()["entries"]


def test_each_delivery_for_a_case_is_a_case_file_entry(dispatch, sinks, web_session, token):
    envelope = reported_envelope()
    publish(sinks, "gridgov.events", "events.case.reported", envelope)
    received(sinks, FIRE_SINK)
    case_id = envelope["payload"]["case_id"]
    webhook = _sent(case_id)
    inbox = _sent(case_id, channel="inbox", recipient="role:community_grid_chief", delivery_id=2)
    for message in (webhook, inbox, webhook):  # the webhook's twice: recorded once
        publish(sinks, "gridgov.events", "notify.sent", message)
    assert wait_until(lambda: len([e for e in _entries(web_session, token, case_id)
                                   if e["action"] == "notification_sent"]) == 2)
    entries = _entries(web_session, token, case_id)
    sent = [e for e in entries if e["action"] == "notification_sent"]
    assert [(e["data"]["channel"], e["data"]["recipient"]) for e in sent] == [
        ("webhook", "subscription:12"), ("inbox", "role:community_grid_chief")]
    assert sent[0]["actor_sub"] == "notify" and sent[0]["data"]["kind"] == "deadline_reminder"
    admin = token("district_admin", "district:320505")
    chain = web_session.get(f"/cases/{case_id}/file", headers=admin).json()["verification"]
    assert chain["valid"] is True


def test_a_delivery_for_an_unknown_case_is_dead_lettered(dispatch, sinks):
    publish(sinks, "gridgov.events", "notify.sent", _sent(None))  # about no case: ignored
    unknown = _sent(str(uuid.uuid4()))
    publish(sinks, "gridgov.events", "notify.sent", unknown)
    [(_method, props, body)] = drain(sinks, DLQ, expect=1, timeout=15)
    assert props.headers["x-gridgov-error-code"] == "unknown_case"
    assert json.loads(body)["message_id"] == unknown["message_id"]

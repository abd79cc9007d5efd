"""Notifications in the case file (P5.3.4): each ``notify.sent`` for a case becomes a
``notification_sent`` entry of that case's file; one about no case is acked and ignored;
one about a case not filed yet waits for the filing."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import sqlalchemy as sa

from gridgov_common.contract import load_sample
from services.dispatch.metrics import waiting_entries
from tests.amqp import publish, wait_until
from tests.dispatch.conftest import FIRE_SINK, received, reported_envelope


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


def _waiting(db_engine, case_id: str) -> int:
    with db_engine.connect() as conn:
        return conn.execute(sa.text(
            "SELECT count(*) FROM dispatch.waiting_file_entries WHERE case_id = :c"),
            {"c": case_id}).scalar()


def test_a_delivery_that_arrives_before_its_case_waits_for_the_filing(
        dispatch, sinks, web_session, token, db_engine):
    """Issue 17 (soak): a major event's page reached dispatch 12 ms before the case was
    filed (alerts go first by design). Its entry waits, is counted in /metrics, and is
    appended when the case is filed: no retry race, nothing dead-lettered."""
    publish(sinks, "gridgov.events", "notify.sent", _sent(None))  # about no case: ignored
    envelope = reported_envelope()
    case_id = envelope["payload"]["case_id"]
    early = _sent(case_id, kind="major_event", channel="sms", recipient="staff:chief-1")
    publish(sinks, "gridgov.events", "notify.sent", early)
    assert wait_until(lambda: _waiting(db_engine, case_id) == 1)
    with db_engine.connect() as conn:  # what /metrics exports
        count, age = waiting_entries(conn, datetime.now(UTC))
    assert count >= 1 and age >= 0
    publish(sinks, "gridgov.events", "events.case.reported", envelope)
    received(sinks, FIRE_SINK)
    entries = _entries(web_session, token, case_id)
    assert [e["action"] for e in entries][:2] == ["filed", "notification_sent"]
    assert entries[1]["data"]["kind"] == "major_event"
    assert entries[1]["data"]["recipient"] == "staff:chief-1"
    assert _waiting(db_engine, case_id) == 0

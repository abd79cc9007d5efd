"""Messages of other services become notifications: a ``dispatch.escalation`` (the
dispatch sample) reaches its target's inbox and the subscribed channels; a major-event
alert reaches the grid's chain of command and is listed before everything else."""

from __future__ import annotations

import json

from gridgov_common.contract import load_sample
from tests.amqp import publish, wait_until
from tests.notify.conftest import request_envelope, send_request, sent_events
from tests.notify.test_channels import inbox, subscribe

INSTRUCTOR = ("grid_instructor", "community:320505001001")
FIRE = ("department_officer", "department:fire")
SAMPLE_CASE = "5d1c7a58-8f0e-4c1b-9a3e-2b6f0d4e9a11"


def test_escalation_sample_becomes_inbox_and_subscribed_channel_messages(
        notify, web_session, token, webhook, smtp, rabbit_config):
    uri = rabbit_config["AMQP_URI"]
    hook = subscribe(web_session, token, role=FIRE[0], scope=FIRE[1], channel="webhook",
                     address=f"{webhook.url}/fire", locale="en")
    subscribe(web_session, token, role=INSTRUCTOR[0], scope=INSTRUCTOR[1], channel="email",
              address="li.si@jinji.gov.cn")
    escalation = load_sample("dispatch.escalation", 1)
    publish(uri, "gridgov.events", "dispatch.escalation", escalation)

    items = wait_until(lambda: inbox(web_session, token(*INSTRUCTOR)))
    assert [(i["title"], i["case_id"], i["kind"]) for i in items] == [
        ("督办黄牌：GS20261128-000123", SAMPLE_CASE, "escalation")]
    assert [i["title"] for i in inbox(web_session, token(*FIRE))] == [
        "督办黄牌：GS20261128-000123"]
    assert wait_until(lambda: webhook.requests and smtp.messages)
    body = json.loads(webhook.requests[0]["raw"])
    assert body["title"] == "Supervision yellow card: GS20261128-000123"
    assert body["case_id"] == SAMPLE_CASE
    assert webhook.requests[0]["headers"]["X-Gridgov-Signature"].startswith("sha256=")
    assert hook["secret"]
    assert smtp.messages[0]["to"] == ["li.si@jinji.gov.cn"]
    events = sent_events(uri, 4)
    assert sorted(e["channel"] for e in events) == ["email", "inbox", "inbox", "webhook"]
    assert {e["case_id"] for e in events} == {SAMPLE_CASE}
    assert {e["cause_id"] for e in events} == {
        f"dispatch.escalation:{SAMPLE_CASE}:9e2b4c10-3f6d-4a8b-b1c2-7d5e6f708192:"
        "ack_timeout:2"}

    # dispatch publishes the same escalation again (a new message id): nothing more
    escalation["message_id"] = "1f0e5c2a-0000-4000-8000-0000000000ff"
    publish(uri, "gridgov.events", "dispatch.escalation", escalation)
    assert sent_events(uri, 1, timeout=1.5) == []
    assert len(webhook.requests) == 1 and len(smtp.messages) == 1


def test_major_event_alert_reaches_the_chain_of_command_and_comes_first(
        notify, web_session, token, rabbit_config):
    uri = rabbit_config["AMQP_URI"]
    chief = token("town_grid_chief", "town:320505001")
    send_request(uri, request_envelope([{"role": "town_grid_chief",
                                         "scope": "town:320505001"}]))
    assert wait_until(lambda: inbox(web_session, chief))
    publish(uri, "gridgov.alerts", "320505001.critical.fire",
            load_sample("alert.major_event", 1))
    items = wait_until(lambda: len(inbox(web_session, chief)) == 2 and
                       inbox(web_session, chief))
    assert [i["title"] for i in items] == ["【重大事件·特别重大】锦绣花园3幢火情", "通知：防汛值班"]
    assert items[0]["priority"] == 0
    for role, scope in [("neighbourhood_grid_worker", "grid:320505001001003"),
                        ("community_grid_chief", "community:320505001001"),
                        ("district_admin", "district:320505")]:
        assert [i["kind"] for i in inbox(web_session, token(role, scope))] == ["major_event"]
    assert inbox(web_session, token("neighbourhood_grid_worker", "grid:320505001001004")) == []


def test_meeting_reminder_reaches_the_role_over_its_scope_once(notify, web_session, token,
                                                               rabbit_config, db_engine):
    """P5.4.5: assessment's reminder becomes an inbox message for the role over the scope;
    the same person, rule and period announced again is not notified twice."""
    import uuid

    uri = rabbit_config["AMQP_URI"]
    reminder = load_sample("assessment.meeting.reminder", 1)
    again = {**reminder, "message_id": str(uuid.uuid4())}
    for message in (reminder, again):
        publish(uri, "gridgov.events", "assessment.meeting.reminder", message)
    import sqlalchemy as sa

    def handled():
        with db_engine.connect() as conn:
            return conn.execute(sa.text(
                "SELECT count(*) FROM notify.processed_messages WHERE message_id IN (:a, :b)"),
                {"a": reminder["message_id"], "b": again["message_id"]}).scalar() == 2

    assert wait_until(handled)  # both messages taken: the second added nothing
    worker = token("community_grid_worker", "community:320505001001")
    items = inbox(web_session, worker)
    assert [(i["title"], i["kind"], i["case_id"]) for i in items] == [
        ("例会提醒", "meeting_reminder", None)]
    assert "已召开 1 次" in items[0]["body"] and "2026-11-30" in items[0]["body"]
    assert inbox(web_session, token("community_grid_worker", "community:320505001002")) == []


def test_a_major_event_pages_people_once_and_its_follow_ups_go_to_the_inbox(
        notify, web_session, token, webhook, smtp, sms_gateway, rabbit_config):
    """M17: an event updated three times in seconds paged the same people four times.
    People are paged (SMS, e-mail) by the first alert only; every update and the cancel
    reach their inbox, and systems' webhooks get all of them (CAP msgType)."""
    uri = rabbit_config["AMQP_URI"]
    chief = ("town_grid_chief", "town:320505001")
    subscribe(web_session, token, role=chief[0], scope=chief[1], channel="sms",
              address="13812345678")
    subscribe(web_session, token, role=chief[0], scope=chief[1], channel="email",
              address="chief@huqiu.gov.cn")
    subscribe(web_session, token, role="district_admin", scope="district:320505",
              channel="webhook", address=f"{webhook.url}/ops")
    first = load_sample("alert.major_event", 1)
    follow_ups = [{**first, "message_id": f"1f0e5c2a-0000-4000-8000-00000000010{n}",
                   "payload": {**first["payload"], "msg_type": msg_type}}
                  for n, msg_type in enumerate(["update", "update", "cancel"])]
    assert first["payload"]["msg_type"] == "alert"
    for message in [first, *follow_ups]:
        publish(uri, "gridgov.alerts", "320505001.critical.fire", message)

    assert wait_until(lambda: len(inbox(web_session, token(*chief))) == 4)
    assert wait_until(lambda: len(webhook.requests) == 4)
    assert wait_until(lambda: sms_gateway.requests and smtp.messages)
    # every delivery is stored before notify.sent: 5 groups x 4 inbox + 4 webhook + 2 pages
    events = sent_events(uri, 5 * 4 + 4 + 2)
    assert sorted(e["channel"] for e in events if e["channel"] != "inbox") == [
        "email", "sms", "webhook", "webhook", "webhook", "webhook"]
    assert len(sms_gateway.requests) == 1 and len(smtp.messages) == 1
    assert sent_events(uri, 1, timeout=1.5) == []  # and nothing after

"""Each channel delivers: the app inbox (scoping, read/unread), a signed webhook, e-mail
through a real SMTP server and SMS through a real HTTP gateway; contacts stay encrypted."""

from __future__ import annotations

import json
import uuid

import sqlalchemy as sa

from services.notify.channels import verify
from tests.amqp import wait_until
from tests.notify.conftest import request_envelope, send_request, sent_events

CHIEF = ("community_grid_chief", "community:320505001001")
ADMIN = ("district_admin", "district:320505")
CASE = str(uuid.uuid4())


def subscribe(web_session, token, **body) -> dict:
    response = web_session.post("/subscriptions", json=body, headers=token(*ADMIN))
    assert response.status_code == 201, response.text
    return response.json()


def inbox(web_session, headers, **params) -> list[dict]:
    response = web_session.get("/inbox", params=params, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()["items"]


def test_inbox_is_scoped_and_read_per_user(notify, web_session, token, rabbit_config):
    send_request(rabbit_config["AMQP_URI"], request_envelope([{"role": CHIEF[0],
                                                                "scope": CHIEF[1]}]))
    me = token(*CHIEF, sub="chief-1")
    items = wait_until(lambda: inbox(web_session, me))
    assert [(i["title"], i["read"]) for i in items] == [("通知：防汛值班", False)]
    # same role, a town covering it would be another role; another community: nothing
    assert inbox(web_session, token(CHIEF[0], "community:320505001002")) == []
    assert inbox(web_session, token("community_grid_worker", CHIEF[1])) == []

    message_id = items[0]["message_id"]
    read = web_session.post(f"/inbox/{message_id}/read", headers=me)
    assert read.status_code == 200 and read.json()["read"] is True
    assert inbox(web_session, me, unread="true") == []
    assert inbox(web_session, me)[0]["read"] is True
    colleague = token(*CHIEF, sub="chief-2")
    assert [i["read"] for i in inbox(web_session, colleague, unread="true")] == [False]
    other = web_session.post(f"/inbox/{message_id}/read",
                             headers=token(CHIEF[0], "community:320505001002"))
    assert other.status_code == 404
    assert sent_events(rabbit_config["AMQP_URI"], 1)[0]["channel"] == "inbox"


def test_webhook_is_signed_with_the_subscribers_secret(notify, web_session, token, webhook,
                                                      rabbit_config):
    created = subscribe(web_session, token, role="department_officer", scope="department:fire",
                        channel="webhook", address=f"{webhook.url}/hooks/gridgov?k=abc",
                        locale="en")
    assert created["address"].endswith("/***") and "abc" not in created["address"]
    secret = created["secret"]
    send_request(rabbit_config["AMQP_URI"], request_envelope(
        [{"role": "department_officer", "scope": "department:fire"}], case_id=CASE,
        template="deadline_reminder", kind="deadline_reminder",
        params={"case_number": "GS20261128-000123", "due_at": "2026-11-28 14:00"}))
    assert wait_until(lambda: webhook.requests)
    hit = webhook.requests[0]
    assert verify(secret, hit["raw"], hit["headers"]["X-Gridgov-Signature"])
    body = json.loads(hit["raw"])
    assert hit["path"] == "/hooks/gridgov?k=abc"
    assert body["title"] == "Deadline reminder: GS20261128-000123"
    assert hit["headers"]["X-Gridgov-Timestamp"] == body["sent_at"]
    assert hit["headers"]["X-Gridgov-Delivery"] == str(body["delivery_id"])
    events = sent_events(rabbit_config["AMQP_URI"], 2)
    assert sorted(e["channel"] for e in events) == ["inbox", "webhook"]
    assert {e["case_id"] for e in events} == {CASE}


def test_email_reaches_a_real_smtp_server(notify, web_session, token, smtp, rabbit_config,
                                          db_engine):
    created = subscribe(web_session, token, role="town_grid_chief", scope="town:320505001",
                        channel="email", address="zhang.san@jinji.gov.cn", locale="en")
    assert created["address"] == "z***@jinji.gov.cn" and "secret" not in created
    listed = web_session.get("/subscriptions", headers=token(*ADMIN)).json()
    assert [s["address"] for s in listed] == ["z***@jinji.gov.cn"]
    with db_engine.connect() as conn:
        stored = conn.execute(sa.text("SELECT address_enc FROM notify.subscriptions")).scalar()
    assert b"zhang.san" not in bytes(stored)

    send_request(rabbit_config["AMQP_URI"], request_envelope(
        [{"role": "town_grid_chief", "scope": "town:320505001"}]))
    assert wait_until(lambda: smtp.messages)
    mail = smtp.messages[0]
    assert mail["to"] == ["zhang.san@jinji.gov.cn"]
    assert mail["message"]["Subject"] == "Circular: 防汛值班"
    assert mail["message"].get_content().strip() == "今晚全员在岗"


def test_sms_goes_through_the_http_gateway(notify, web_session, token, sms_gateway,
                                           rabbit_config):
    refused = web_session.post("/subscriptions", headers=token(*ADMIN), json={
        "role": CHIEF[0], "scope": "town:320505001", "channel": "sms",
        "address": "13812345678"})
    assert refused.status_code == 422  # P5.0: a community chief holds a community scope
    created = subscribe(web_session, token, role=CHIEF[0], scope=CHIEF[1],
                        channel="sms", address="13812345678")
    assert created["address"] == "138****5678"
    send_request(rabbit_config["AMQP_URI"], request_envelope(
        [{"role": CHIEF[0], "scope": CHIEF[1]}]))
    assert wait_until(lambda: sms_gateway.requests)
    hit = sms_gateway.requests[0]
    assert hit["path"] == "/sms/send"
    assert hit["headers"]["Authorization"] == "Bearer gw-token"
    body = json.loads(hit["raw"])
    assert body["to"] == "13812345678"
    assert body["text"] == "通知：防汛值班 今晚全员在岗"


def test_contacts_and_dead_letters_are_for_admins_and_operators_only(notify, web_session,
                                                                      token):
    body = {"role": CHIEF[0], "scope": CHIEF[1], "channel": "sms", "address": "13812345678"}
    assert web_session.post("/subscriptions", json=body,
                            headers=token(*CHIEF)).status_code == 403
    assert web_session.get("/subscriptions", headers=token("ops_viewer",
                                                           "district:320505")).status_code == 403
    assert web_session.get("/deliveries", headers=token(*CHIEF)).status_code == 403
    assert web_session.get("/inbox").status_code == 401
    bad = web_session.post("/subscriptions", headers=token(*ADMIN),
                           json={**body, "channel": "email"})
    assert bad.status_code == 422
    assert "address" in bad.json()["error"]["fields"]

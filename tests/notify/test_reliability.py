"""At least once, never twice per cause: a failing webhook is retried with growing delays,
then dead-lettered and listed for operators; the same cause sends once; a malformed or
unservable request is dead-lettered with its reason."""

from __future__ import annotations

import json

import sqlalchemy as sa

from gridgov_common.platform.messaging import ERROR_CODE_HEADER
from tests.amqp import drain, wait_until
from tests.notify.conftest import (
    MAX_ATTEMPTS,
    RETRY_BASE,
    request_envelope,
    send_request,
    sent_events,
)
from tests.notify.test_channels import ADMIN, subscribe

FIRE = {"role": "department_officer", "scope": "department:fire"}


def _hook(web_session, token, webhook) -> dict:
    return subscribe(web_session, token, role=FIRE["role"], scope=FIRE["scope"],
                     channel="webhook", address=f"{webhook.url}/hook")


def _dead(web_session, token) -> list[dict]:
    response = web_session.get("/deliveries", headers=token("ops_viewer", "district:320505"))
    assert response.status_code == 200, response.text
    return response.json()["items"]


def test_failing_webhook_is_retried_with_growing_delays_then_dead_lettered(
        notify, web_session, token, webhook, rabbit_config):
    webhook.status = 500
    _hook(web_session, token, webhook)
    send_request(rabbit_config["AMQP_URI"], request_envelope([FIRE], cause_id="hook-fails"))
    dead = wait_until(lambda: _dead(web_session, token), timeout=15)
    assert [(d["cause_id"], d["channel"], d["attempts"], d["state"]) for d in dead] == \
        [("hook-fails", "webhook", MAX_ATTEMPTS, "dead")]
    assert dead[0]["last_error"] == "the webhook answered HTTP 500"
    # whom it was for, as an operator's screen shows it: the role and place, the address
    # masked (P5.4.4), not only ``subscription:<id>``
    assert (dead[0]["recipient_role"], dead[0]["recipient_scope"]) == (FIRE["role"],
                                                                       FIRE["scope"])
    assert dead[0]["address_masked"] == f"{webhook.url}/***"  # the host, not the path
    times = [hit["at"] for hit in webhook.requests]
    assert len(times) == MAX_ATTEMPTS
    gaps = [later - earlier for earlier, later in zip(times, times[1:], strict=False)]
    # the schedule: RETRY_BASE after the 1st failure, twice that after the 2nd
    assert gaps[0] >= RETRY_BASE and gaps[1] >= 2 * RETRY_BASE
    only_inbox = sent_events(rabbit_config["AMQP_URI"], 2, timeout=1.0)
    assert [e["channel"] for e in only_inbox] == ["inbox"]

    # the endpoint is fixed; an operator sends it again
    webhook.status = 200
    retried = web_session.post(f"/deliveries/{dead[0]['delivery_id']}/retry",
                               headers=token(*ADMIN))
    assert retried.status_code == 200 and retried.json()["state"] == "pending"
    assert wait_until(lambda: len(webhook.requests) == MAX_ATTEMPTS + 1)
    assert [e["channel"] for e in sent_events(rabbit_config["AMQP_URI"], 1)] == ["webhook"]
    assert _dead(web_session, token) == []
    again = web_session.post(f"/deliveries/{dead[0]['delivery_id']}/retry",
                             headers=token(*ADMIN))
    assert again.status_code == 409


def test_the_same_cause_requested_twice_is_sent_once(notify, web_session, token, webhook,
                                                     rabbit_config, db_engine):
    _hook(web_session, token, webhook)
    uri = rabbit_config["AMQP_URI"]
    send_request(uri, request_envelope([FIRE], cause_id="meeting-42"))
    assert wait_until(lambda: webhook.requests)
    send_request(uri, request_envelope([FIRE], cause_id="meeting-42"))  # new message id

    def processed() -> int:
        with db_engine.connect() as conn:
            return conn.execute(sa.text("SELECT count(*) FROM notify.processed_messages")
                                ).scalar()
    assert wait_until(lambda: processed() == 2)
    with db_engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT channel, state FROM notify.deliveries ORDER BY channel")).all()
    assert [tuple(r) for r in rows] == [("inbox", "sent"), ("webhook", "sent")]
    assert len(webhook.requests) == 1
    events = sent_events(uri, 3, timeout=2.0)
    assert sorted(e["channel"] for e in events) == ["inbox", "webhook"]
    inbox = web_session.get("/inbox", headers=token(FIRE["role"], FIRE["scope"])).json()
    assert len(inbox["items"]) == 1


def _dead_letters(uri: str, expect: int) -> list[tuple[str, dict]]:
    return [(props.headers[ERROR_CODE_HEADER], json.loads(body))
            for _m, props, body in drain(uri, "notify.requests.dlq", expect=expect)]


def test_malformed_and_unservable_requests_are_dead_lettered_with_a_reason(
        notify, rabbit_config, db_engine):
    uri = rabbit_config["AMQP_URI"]
    no_recipients = request_envelope([])
    unknown_template = request_envelope([FIRE], template="birthday")
    missing_param = request_envelope([FIRE], template="deadline_reminder",
                                     params={"case_number": "GS20261128-000123"})
    wrong_scope = request_envelope([{"role": "town_grid_chief", "scope": "grid:1"}])
    good = request_envelope([FIRE])
    for envelope in (no_recipients, unknown_template, missing_param, wrong_scope, good):
        send_request(uri, envelope)
    letters = _dead_letters(uri, 4)
    by_id = {body["message_id"]: code for code, body in letters}
    assert by_id == {no_recipients["message_id"]: "invalid_payload",
                     unknown_template["message_id"]: "unknown_template",
                     missing_param["message_id"]: "missing_params",
                     wrong_scope["message_id"]: "bad_recipient"}

    def causes() -> list[str]:
        with db_engine.connect() as conn:
            return list(conn.execute(sa.text("SELECT cause_id FROM notify.notifications"))
                        .scalars())
    assert wait_until(causes) == [good["payload"]["cause_id"]]  # the rest of its batch

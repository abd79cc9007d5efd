"""The events service follows the case as dispatch moves it (services/events/following.py):
``dispatch.case.changed`` envelopes, published with plain pika as dispatch's relay would,
change what Open311 shows (JSON and XML) and, for a major event, send CAP follow-ups on
``gridgov.alerts`` and change the CAP rendering.  Real broker, real database."""

from __future__ import annotations

import logging
import uuid
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from gridgov_common.contract import format_timestamp, load_sample, parse_envelope
from gridgov_common.platform.messaging import ERROR_CODE_HEADER
from services.events import following
from services.events.domain import status_notes
from services.events.domain.open311 import w3c_time
from tests.amqp import drain, publish, wait_until
from tests.events.conftest import TOWN, file, received

BASE = "/open311/v2"
CAP = "{urn:oasis:names:tc:emergency:cap:1.2}"
DEPARTMENTS = ["fire", "emergency_management"]


def change(case, from_state, to_state, at, departments=(), version=1, **payload):
    """A ``dispatch.case.changed`` envelope for ``case`` (the sample, new ids)."""
    envelope = load_sample("dispatch.case.changed", version)
    envelope["message_id"] = str(uuid.uuid4())
    envelope["occurred_at"] = format_timestamp(datetime.now(UTC))
    envelope["payload"].update({
        "case_id": case["case_id"], "case_number": case["case_number"],
        "from_state": from_state, "to_state": to_state, "at": format_timestamp(at),
        "grid_code": case["grid_code"], "town_code": case["town_code"],
        "departments": list(departments), "on_time": None, "actor_role": "system"})
    envelope["payload"].update(payload)
    parse_envelope(envelope)  # what we send keeps the contract
    return envelope


def send(uri, envelope):
    publish(uri, "gridgov.events", "dispatch.case.changed", envelope)
    return envelope


def processed(db_engine, envelope) -> bool:
    """The consumer committed its handling of this message (applied or ignored)."""
    with db_engine.connect() as conn:
        return conn.execute(sa.text(
            "SELECT 1 FROM events.processed_messages WHERE consumer = :c AND message_id = :m"),
            {"c": following.CONSUMER, "m": envelope["message_id"]}).first() is not None


def apply(uri, db_engine, envelope):
    send(uri, envelope)
    assert wait_until(lambda: processed(db_engine, envelope), timeout=15)


ZH = {state: zh for state, (zh, _en) in status_notes.NOTES.items()}  # the default language
EN = {state: en for state, (_zh, en) in status_notes.NOTES.items()}


def request_json(web_session, number, language=None):
    headers = {"Accept-Language": language} if language else {}
    response = web_session.get(f"{BASE}/requests/{number}.json", headers=headers)
    assert response.status_code == 200, response.text
    [item] = response.json()
    return item


def request_xml(web_session, number):
    response = web_session.get(f"{BASE}/requests/{number}.xml")
    assert response.status_code == 200, response.text
    return ET.fromstring(response.content).find("request")


def row(db_engine, case_id):
    with db_engine.connect() as conn:
        return conn.execute(sa.text("SELECT * FROM events.cases WHERE case_id = :i"),
                            {"i": case_id}).mappings().one()


@pytest.fixture
def start():
    """A base instant after the filing, milliseconds only (as on the bus)."""
    now = datetime.now(UTC) + timedelta(seconds=1)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


# --- Open311 status ---------------------------------------------------------------------

def test_open311_follows_the_case_until_closed(events, web_session, worker_a, rabbit_config,
                                               db_engine, start):
    uri = rabbit_config["AMQP_URI"]
    case = file(web_session, worker_a)
    number = case["case_number"]
    assert request_json(web_session, number)["status"] == "open"

    # v3: filed and triaged in one transaction, announced as one change from nothing
    due = start + timedelta(days=3)
    apply(uri, db_engine, change(case, None, "dispatched", start, DEPARTMENTS, version=3,
                                 due_at=format_timestamp(due)))
    item = request_json(web_session, number)
    assert item["status"] == "open" and item["expected_datetime"] == w3c_time(due)
    assert item["status_notes"] == ZH["dispatched"] == "已交相关部门办理"
    # the public reads it in its language (Accept-Language), without codes or clauses
    assert request_json(web_session, number, "en-GB,en;q=0.9")["status_notes"] == \
        EN["dispatched"] == "Passed to the responsible department"
    listed = web_session.get(f"{BASE}/requests.json", params={"service_request_id": number},
                             headers={"Accept-Language": "en"}).json()
    assert listed[0]["status_notes"] == EN["dispatched"]
    # departments the register has not announced to events yet are shown by their code
    assert item["agency_responsible"] == "fire、emergency_management"
    assert listed[0]["agency_responsible"] == "fire, emergency_management"
    assert item["updated_datetime"] == w3c_time(start)

    apply(uri, db_engine, change(case, "dispatched", "suspended", start + timedelta(seconds=5),
                                 DEPARTMENTS))
    item = request_json(web_session, number)
    assert (item["status"], item["status_notes"]) == ("open",
                                                     ZH["suspended"])

    closed_at = start + timedelta(seconds=20)
    apply(uri, db_engine, change(case, "resolved", "closed", closed_at, DEPARTMENTS))
    item = request_json(web_session, number)
    assert item["status"] == "closed"
    assert item["status_notes"] == ZH["closed"]
    assert item["updated_datetime"] == w3c_time(closed_at)
    xml = request_xml(web_session, number)
    assert xml.find("status").text == "closed"
    assert xml.find("status_notes").text == ZH["closed"]
    assert xml.find("agency_responsible").text == "fire、emergency_management"
    listed = web_session.get(f"{BASE}/requests.json", params={"status": "closed"}).json()
    assert [r["service_request_id"] for r in listed] == [number]
    stored = row(db_engine, case["case_id"])
    assert (stored["dispatch_state"], stored["dispatch_state_at"]) == ("closed", closed_at)


def test_cancelled_case_is_closed_with_its_note(events, web_session, worker_a, rabbit_config,
                                                db_engine, start):
    uri = rabbit_config["AMQP_URI"]
    case = file(web_session, worker_a)
    apply(uri, db_engine, change(case, "filed", "cancelled", start, actor_role="town_grid_chief"))
    item = request_json(web_session, case["case_number"])
    assert (item["status"], item["status_notes"]) == ("closed",
                                                     ZH["cancelled"])


def test_out_of_order_changes_never_move_the_case_back(events, web_session, worker_a,
                                                       rabbit_config, db_engine, start):
    uri = rabbit_config["AMQP_URI"]
    case = file(web_session, worker_a)
    # v1/v2: dispatch's filing pair shares one instant (v3 sends one change; a pair may
    # still be queued at the upgrade); here it arrives the wrong way round
    apply(uri, db_engine, change(case, "filed", "dispatched", start, DEPARTMENTS))
    apply(uri, db_engine, change(case, None, "filed", start))
    assert row(db_engine, case["case_id"])["dispatch_state"] == "dispatched"

    apply(uri, db_engine, change(case, "in_progress", "resolved",
                                 start + timedelta(seconds=10), DEPARTMENTS))
    apply(uri, db_engine, change(case, "dispatched", "in_progress",
                                 start + timedelta(seconds=5), DEPARTMENTS))  # older: ignored
    item = request_json(web_session, case["case_number"])
    assert item["status_notes"] == ZH["resolved"]
    stored = row(db_engine, case["case_id"])
    assert stored["dispatch_state"] == "resolved"
    assert stored["dispatch_state_at"] == start + timedelta(seconds=10)


def test_a_duplicate_message_is_applied_once(events, web_session, worker_a, rabbit_config,
                                             db_engine, observer, start):
    uri = rabbit_config["AMQP_URI"]
    case = file(web_session, worker_a, work_category="major_event",
                subcategory="fire_incident", severity="critical")
    assert len(received(observer, 2)) == 2  # the alert and the filed case
    dispatched = change(case, "filed", "dispatched", start, DEPARTMENTS)
    apply(uri, db_engine, dispatched)
    send(uri, dispatched)  # redelivered by the broker, or resent by dispatch's relay
    marker = change(case, "dispatched", "in_progress", start + timedelta(seconds=5))
    apply(uri, db_engine, marker)  # the duplicate was handled before this one
    alerts = [env["payload"]["msg_type"] for _, _, env in received(observer, 3, timeout=5)]
    assert alerts == ["update", "update"]  # dispatched once, in_progress once
    with db_engine.connect() as conn:
        claims = conn.execute(sa.text(
            "SELECT count(*) FROM events.processed_messages WHERE message_id = :m"),
            {"m": dispatched["message_id"]}).scalar_one()
    assert claims == 1


def test_private_cases_stay_hidden(events, web_session, worker_a, rabbit_config, db_engine,
                                   start):
    uri = rabbit_config["AMQP_URI"]
    case = file(web_session, worker_a, subcategory="environmental_sanitation",
                work_category="public_opinion", private=True, description="私密案件")
    apply(uri, db_engine, change(case, "resolved", "closed", start, ["urban_management"]))
    assert row(db_engine, case["case_id"])["status"] == "closed"  # followed, still private
    for fmt in ("json", "xml"):
        assert web_session.get(f"{BASE}/requests/{case['case_number']}.{fmt}"
                               ).status_code == 404
    listed = web_session.get(f"{BASE}/requests.json",
                             params={"service_request_id": case["case_number"]}).json()
    assert listed == []


# --- unknown cases ----------------------------------------------------------------------

def test_change_for_a_case_not_filed_yet_is_retried_then_applied(
        events, web_session, worker_a, rabbit_config, db_engine, start, caplog):
    caplog.set_level(logging.WARNING, logger="gridgov_common.platform.messaging")
    uri = rabbit_config["AMQP_URI"]
    case = file(web_session, worker_a)
    late_id = str(uuid.uuid4())
    envelope = send(uri, change({**case, "case_id": late_id}, "resolved", "closed", start))
    assert wait_until(lambda: any(
        "transient failure on events.case_changes" in r.getMessage() for r in caplog.records))
    assert not processed(db_engine, envelope)
    # the case's commit arrives late: it now exists under the id the change names
    with db_engine.begin() as conn:
        conn.execute(sa.text("UPDATE events.cases SET case_id = :new WHERE case_id = :old"),
                     {"new": late_id, "old": case["case_id"]})
    assert wait_until(lambda: processed(db_engine, envelope), timeout=20)
    assert request_json(web_session, case["case_number"])["status"] == "closed"


def test_change_for_an_unknown_case_is_dead_lettered_after_the_limit(
        events, web_session, worker_a, rabbit_config, db_engine, start):
    uri = rabbit_config["AMQP_URI"]
    case = file(web_session, worker_a)
    ghost = {**case, "case_id": str(uuid.uuid4())}
    envelope = send(uri, change(ghost, "filed", "dispatched", start, DEPARTMENTS))
    [(method, props, body)] = drain(uri, f"{following.QUEUE}.dlq", expect=1, timeout=40)
    assert props.headers[ERROR_CODE_HEADER] == "delivery_limit"
    assert parse_envelope(body).message_id == envelope["message_id"]
    assert not processed(db_engine, envelope)
    assert row(db_engine, case["case_id"])["dispatch_state"] is None


def test_a_change_from_another_producer_is_refused_at_once(events, web_session, worker_a,
                                                           rabbit_config, db_engine, start):
    uri = rabbit_config["AMQP_URI"]
    case = file(web_session, worker_a)
    envelope = change(case, "resolved", "closed", start)
    envelope["producer"] = "events"
    send(uri, envelope)
    [(_, props, _)] = drain(uri, f"{following.QUEUE}.dlq", expect=1, timeout=10)
    assert props.headers[ERROR_CODE_HEADER] == "unexpected_producer"
    assert request_json(web_session, case["case_number"])["status"] == "open"


# --- CAP follow-ups of a major event ----------------------------------------------------

def cap_doc(web_session, token, number):
    chief = token("town_grid_chief", f"town:{TOWN}")
    response = web_session.get(f"/cases/{number}/cap.xml", headers=chief)
    assert response.status_code == 200, response.text
    root = ET.fromstring(response.content)

    def one(path):
        found = root.find("/".join(CAP + part for part in path.split("/")))
        return None if found is None else found.text
    return one


def test_major_event_sends_cap_update_then_cancel(events, web_session, worker_a, token,
                                                  rabbit_config, db_engine, observer, start):
    uri = rabbit_config["AMQP_URI"]
    case = file(web_session, worker_a, work_category="major_event",
                subcategory="fire_incident", severity="critical")
    number = case["case_number"]
    [(key, _, alert), _] = received(observer, 2)
    assert alert["payload"]["msg_type"] == "alert"
    first = cap_doc(web_session, token, number)
    assert first("msgType") == "Alert" and first("identifier") == number
    original = f"{first('sender')},{number},{first('sent')}"

    # v3: the filing's one change (filed, then dispatched) is news the alert did not say
    apply(uri, db_engine, change(case, None, "dispatched", start, ["fire"], version=3))
    [(update_key, _, update)] = received(observer, 1)
    assert update_key == key == f"{TOWN}.critical.fire"
    parse_envelope(update)
    assert update["payload"]["msg_type"] == "update"
    assert update["payload"]["case_id"] == case["case_id"]
    assert update["payload"]["headline"] == alert["payload"]["headline"]
    updated = cap_doc(web_session, token, number)
    assert updated("msgType") == "Update"
    assert updated("references") == original
    assert updated("note") == ZH["dispatched"]
    assert updated("identifier").startswith(f"{number}-update-")
    assert updated("info/responseType") == "Execute"

    apply(uri, db_engine, change(case, "resolved", "closed", start + timedelta(seconds=30),
                                 ["fire"]))
    [(_, _, cancel)] = received(observer, 1)
    assert cancel["payload"]["msg_type"] == "cancel"
    cancelled = cap_doc(web_session, token, number)
    assert cancelled("msgType") == "Cancel"
    assert cancelled("references") == original
    assert cancelled("note") == ZH["closed"]
    assert cancelled("identifier") != updated("identifier")
    assert cancelled("info/responseType") == "AllClear"
    assert received(observer, 1, timeout=2) == []  # nothing else on the bus


def test_a_minor_case_sends_no_cap_follow_up(events, web_session, worker_a, rabbit_config,
                                             db_engine, observer, start):
    uri = rabbit_config["AMQP_URI"]
    case = file(web_session, worker_a)
    assert [k for k, _, _ in received(observer, 1)] == ["events.case.reported"]
    apply(uri, db_engine, change(case, "filed", "dispatched", start, DEPARTMENTS))
    apply(uri, db_engine, change(case, "resolved", "closed", start + timedelta(seconds=9)))
    assert received(observer, 1, timeout=2) == []
    assert row(db_engine, case["case_id"])["alert_msg_type"] is None

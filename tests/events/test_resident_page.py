"""The residents' report page's API (issue 12, docs/RESIDENT-REPORTS.md) on the real events
and registry over the real broker: a report with a phone files a case through the public
intake path; the status has no personal data; the phone is in the registry only, encrypted;
masked by default, unmasked with a reason and audited; a replayed challenge is refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from nameko.standalone.rpc import ServiceRpcProxy

from gridgov_common.platform.db import transaction
from services.events.domain import challenge as pow_
from services.registry import callback_phones
from tests.amqp import wait_until
from tests.events.conftest import COMMUNITY, GRID_A, IN_A, JPEG, OUTSIDE
from tests.html_headers import assert_html_security_headers

PHONE = "138 0013 8000"
NORMAL = "13800138000"
BITS = 6  # cheap for the tests; the default is 16
WAIT = 30.0  # seconds, a bound for a message across the bus


def confirmed_at(db_engine, number: str):
    with db_engine.connect() as conn:
        return conn.execute(sa.text("SELECT confirmed_at FROM registry.callback_phones "
                                    "WHERE case_number = :n"), {"n": number}).scalar()


@pytest.fixture
def events_config(service_config):
    return service_config("events", RESIDENT_CHALLENGE_BITS=BITS, REGISTRY_RPC_TIMEOUT=5)


def solved(web_session) -> dict:
    response = web_session.post("/public/challenge")
    assert response.status_code == 201, response.text
    found = response.json()
    assert found["bits"] == BITS and found["algorithm"] == "sha256"
    return {"challenge": found["challenge"], "signature": found["signature"],
            "counter": pow_.solve(found["challenge"], found["bits"])}


def report(web_session, solution=None, expect=201, headers=None, **overrides):
    body = {"solution": solution or solved(web_session), "category": "environmental_sanitation",
            "location": IN_A, "description": "小区门口垃圾三天没人清运"}
    body.update(overrides)
    response = web_session.post("/public/reports", json=body, headers=headers or {})
    assert response.status_code == expect, response.text
    return response.json()


def test_a_report_with_a_phone_files_a_case_and_keeps_the_phone_encrypted_elsewhere(
        web_session, events, registry_http, token, admin, db_engine):
    categories = web_session.get("/public/categories").json()
    codes = {c["code"] for c in categories}
    assert "environmental_sanitation" in codes and "fire_incident" not in codes
    assert all(c["name"] and c["name"] != c["code"] for c in categories)  # words, not codes
    grids = web_session.get("/public/grids").json()
    assert {g["grid_code"] for g in grids} == {GRID_A, GRID_A[:-1] + "2"}
    assert set(grids[0]) == {"grid_code", "name", "geometry"}

    photo = web_session.post("/public/photos", data=JPEG,
                             headers={"Content-Type": "image/jpeg"})
    assert photo.status_code == 201, photo.text
    receipt = report(web_session, phone=PHONE, photos=[photo.json()["sha256"]],
                     headers={"Accept-Language": "zh-CN"})
    number = receipt["case_number"]
    assert receipt["callback_phone"] == "138****8000"
    assert receipt["status_url"] == f"/report/status?case={number}"
    assert "编号" in receipt["notice"]

    # the case exists with that number, filed through the public (Open311) intake path
    case = web_session.get(f"/cases/{number}", headers=admin).json()
    assert case["grid_code"] == GRID_A and case["source"] == "open311"
    assert case["subcategory"] == "environmental_sanitation"
    with db_engine.connect() as conn:
        row = conn.execute(sa.text("SELECT source_system, reporter_sub, reporter_role, photos "
                                   "FROM events.cases WHERE case_number = :n"),
                           {"n": number}).one()
        assert (row.source_system, row.reporter_sub, row.reporter_role) == (
            "resident_page", "resident", "resident")
        assert row.photos == [photo.json()["sha256"]]
        # events keeps no phone, anywhere
        dumped = conn.execute(sa.text("SELECT row_to_json(c)::text FROM events.cases c "
                                      "WHERE case_number = :n"), {"n": number}).scalar()
        assert NORMAL not in dumped and "8000" not in dumped.replace(number, "")
        # the registry keeps it encrypted
        stored = conn.execute(sa.text("SELECT phone_enc, phone_masked, grid_code FROM "
                                      "registry.callback_phones WHERE case_number = :n"),
                              {"n": number}).one()
    assert bytes(stored.phone_enc) != NORMAL.encode() and NORMAL.encode() not in bytes(
        stored.phone_enc)
    assert (stored.phone_masked, stored.grid_code) == ("138****8000", GRID_A)

    # the public status: no personal data, no description, no place
    status = web_session.get(f"/public/reports/{number}").json()
    assert status["case_number"] == number and status["status"] == "open"
    assert status["category"] == "环境卫生" or status["category"]
    text = str(status)
    for private in (NORMAL, "138****8000", "垃圾", str(IN_A["lon"]), "resident"):
        assert private not in text
    assert set(status) == {"case_number", "category", "status", "status_note", "agency",
                           "received_at", "updated_at", "expected_at"}
    en = web_session.get(f"/public/reports/{number}", params={"lang": "en"}).json()
    assert en["status_note"] and en["status_note"] != status["status_note"]
    # the photo is public through the public case (Open311 media)
    assert web_session.get(f"/open311/v2/media/{photo.json()['sha256']}").status_code == 200

    # the registry keeps it once events' outbox says the case was committed
    assert wait_until(lambda: confirmed_at(db_engine, number) is not None, WAIT)

    # masked by default; unmasked with a reason, audited; refused roles audited too
    chief = token("community_grid_chief", f"community:{COMMUNITY}", sub="chief-a")
    masked = registry_http.get(f"/callback-phones/{number}", headers=chief)
    assert masked.status_code == 200, masked.text
    assert masked.json()["phone"] == "138****8000" and masked.json()["masked"] is True
    no_reason = registry_http.get(f"/callback-phones/{number}", params={"unmask": "phone"},
                                  headers=chief)
    assert no_reason.status_code == 422
    clear = registry_http.get(f"/callback-phones/{number}",
                              params={"unmask": "phone", "reason": "回访群众"}, headers=chief)
    assert clear.status_code == 200, clear.text
    assert clear.json()["phone"] == NORMAL and clear.json()["masked"] is False
    instructor = token("grid_instructor", f"community:{COMMUNITY}", sub="instructor-a")
    refused = registry_http.get(f"/callback-phones/{number}",
                                params={"unmask": "phone", "reason": "想看看电话"},
                                headers=instructor)
    assert refused.status_code == 403
    other = token("community_grid_chief", f"community:{COMMUNITY[:-1]}2", sub="chief-b")
    assert registry_http.get(f"/callback-phones/{number}", headers=other).status_code == 403
    with db_engine.connect() as conn:
        audited = conn.execute(sa.text(
            "SELECT actor_sub, action, fields, reason FROM registry.audit_log "
            "WHERE subject_type = 'callback_phone' AND subject_id = :n ORDER BY id"),
            {"n": number}).all()
    assert [(r.actor_sub, r.action) for r in audited] == [
        ("chief-a", "unmask"), ("instructor-a", "unmask_refused"), ("chief-b", "read_refused")]
    assert audited[0].fields == ["phone"] and audited[0].reason == "回访群众"


def test_a_phone_whose_case_was_never_committed_is_never_shown_and_then_deleted(
        web_session, events, registry_http, token, db_engine, rabbit_config):
    """Events hands the phone over before its commit; when that commit fails no
    events.callback_phone.kept follows: nobody is shown the phone, and the sweep deletes
    it once CALLBACK_PHONE_CONFIRM_MINUTES have passed, while a confirmed phone stays."""
    kept = report(web_session, phone=PHONE)["case_number"]
    assert wait_until(lambda: confirmed_at(db_engine, kept) is not None, WAIT)
    orphan = "GS20261128-999999"  # a number whose case was never committed
    with ServiceRpcProxy("registry", rabbit_config) as registry:
        assert registry.keep_callback_phone(orphan, PHONE, GRID_A)["phone_masked"] == \
            "138****8000"
    assert confirmed_at(db_engine, orphan) is None
    chief = token("community_grid_chief", f"community:{COMMUNITY}", sub="chief-a")
    assert registry_http.get(f"/callback-phones/{orphan}", headers=chief).status_code == 404

    now = datetime.now(UTC)
    with transaction(db_engine) as session:  # not yet due
        assert callback_phones.purge_unconfirmed(session, now, 60) == 0
    with transaction(db_engine) as session:
        assert callback_phones.purge_unconfirmed(session, now + timedelta(minutes=61), 60) == 1
    with db_engine.connect() as conn:
        left = conn.execute(sa.text("SELECT case_number FROM registry.callback_phones")
                            ).scalars().all()
    assert left == [kept]
    assert registry_http.get(f"/callback-phones/{kept}", headers=chief).status_code == 200


def test_a_replayed_or_forged_challenge_is_refused(web_session, events):
    solution = solved(web_session)
    report(web_session, solution)
    replay = report(web_session, solution, expect=409)
    assert replay["error"]["code"] == "challenge_spent"
    forged = dict(solved(web_session), signature="0" * 64)
    assert report(web_session, forged, expect=422)["error"]["code"] == "challenge_invalid"
    unsolved = solved(web_session)
    unsolved["counter"] = next(c for c in range(10_000) if pow_.leading_zero_bits(
        pow_.work(unsolved["challenge"], c)) < BITS)
    assert report(web_session, unsolved, expect=422)["error"]["code"] == "challenge_unsolved"


def test_bad_input_is_a_structured_422_and_spends_nothing(web_session, events):
    solution = solved(web_session)
    cases = [
        ({"category": "fire_incident"}, "category"),  # not public
        ({"location": OUTSIDE}, "location"),
        ({"description": ""}, "description"),
        ({"phone": "12"}, "phone"),
        ({"phone": "12345678901"}, "phone"),  # looks like one; the registry refuses it
        ({"photos": ["a" * 64]}, "photos"),
        ({"category": "public_facility_damage"}, "attributes"),  # its required attribute
    ]
    for overrides, field in cases:
        found = report(web_session, solution, expect=422, **overrides)
        assert field in found["error"]["fields"], (overrides, found)
    # none of them spent the challenge: the good report still goes through with it, and
    # a category's attributes come as Open311's service definition has them
    facility = next(c for c in web_session.get("/public/categories").json()
                    if c["code"] == "public_facility_damage")
    attribute = facility["attributes"][0]
    assert attribute["required"] and attribute["values"]
    assert report(web_session, solution, category="public_facility_damage", attributes={
        attribute["code"]: attribute["values"][0]["key"]})["case_number"]
    missing = web_session.post("/public/reports", json={"category": "x"})
    assert missing.status_code == 422
    assert {"solution", "location", "description"} <= set(missing.json()["error"]["fields"])


def test_the_pages_are_served_with_a_strict_policy(web_session, events):
    for path in ("/report", "/report/status", "/report?lang=en",
                 "/report/status?lang=en&case=GS20261207-000001"):
        response = web_session.get(path)
        found = assert_html_security_headers(response)
        assert found["img-src"] == "img-src 'self' data: blob:"  # no tiles by default
        assert "/report/static/resident.js" in response.text
    assert 'lang="en"' in web_session.get("/report?lang=en").text
    script = web_session.get("/report/static/resident.js")
    assert script.status_code == 200 and "javascript" in script.headers["Content-Type"]
    assert web_session.get("/report/static/..%2Fservice.py").status_code == 404
    assert web_session.get("/public/reports/GS20990101-999999").status_code == 404

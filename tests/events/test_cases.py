"""Case intake from the grid workers' app on the real events + registry services (P5.3.1):
filing, the events it publishes, validation, scope, photos, duplicates, on-spot cases."""

from __future__ import annotations

import hashlib
import json
import re
import uuid
import xml.etree.ElementTree as ET

import eventlet
import sqlalchemy as sa

from gridgov_common.contract import load_sample, parse_envelope
from gridgov_common.contract.cases import CASE_NUMBER_RE
from services.events.domain.media import MAX_PHOTO_BYTES
from services.events.service import EventsService
from tests.events.conftest import (
    GRID_A,
    GRID_B,
    IN_A,
    IN_B,
    JPEG,
    OUTSIDE,
    PNG,
    TOWN,
    WEBP,
    PrefixedSession,
    case_body,
    file,
    free_port,
    received,
)

CAP = "{urn:oasis:names:tc:emergency:cap:1.2}"


def near(point, east=0.0, north=0.0):
    """A point so many metres east/north of ``point`` (at 31° N a degree of longitude is
    ≈ 95.3 km, of latitude ≈ 111.2 km).  Grid A leaves ±470 m around IN_A."""
    return {"lon": point["lon"] + east / 95_300, "lat": point["lat"] + north / 111_200}


def stored(db_engine, case_number):
    with db_engine.connect() as conn:
        return conn.execute(sa.text("SELECT * FROM events.cases WHERE case_number = :n"),
                            {"n": case_number}).mappings().one_or_none()


def upload(web_session, headers, data=JPEG, content_type="image/jpeg"):
    return web_session.post("/photos", data=data,
                            headers={**headers, "Content-Type": content_type})


# --- filing and announcing --------------------------------------------------------------

def test_reported_case_is_stored_and_announced(events, web_session, worker_a, db_engine,
                                               observer):
    photo = upload(web_session, worker_a).json()["sha256"]
    case = file(web_session, worker_a, photos=[photo], building_id=42)
    assert CASE_NUMBER_RE.match(case["case_number"])
    assert re.fullmatch(r"GS\d{8}-000001", case["case_number"])
    assert (case["grid_code"], case["town_code"], case["status"]) == (GRID_A, TOWN, "open")
    assert case["info_class"] == "stability_governance"  # the subcategory's default
    assert case["reporter_sub"] == "worker-a" and case["major"] is False

    row = stored(db_engine, case["case_number"])
    assert row["grid_code"] == GRID_A and row["photos"] == [photo]
    assert row["source"] == "app" and row["reporter_role"] == "neighbourhood_grid_worker"

    [(key, props, message)] = received(observer, 1)
    assert key == "events.case.reported" and props.message_id == message["message_id"]
    envelope = parse_envelope(message)  # validates against the contract
    assert envelope.type == "events.case.reported" and envelope.producer == "events"
    sample = load_sample("events.case.reported", 3)  # v2: + reporter_sub; v3: + sensitive
    assert message["version"] == 3 and set(message["payload"]) == set(sample["payload"])
    expected = {"reporter_sub": "worker-a", "sensitive": False,
        "case_id": case["case_id"], "case_number": case["case_number"], "source": "app",
        "grid_code": GRID_A, "town_code": TOWN, "location": IN_A, "building_id": 42,
        "photos": [photo], "resident_id": None, "duplicate_of": None,
        "handled_on_spot": False, "private": False, "severity": "minor",
        "subcategory": "fire_hazard_corridor", "info_class": "stability_governance"}
    assert {key: message["payload"][key] for key in expected} == expected

    metrics = web_session.get("/metrics").text
    assert re.search(r'gridgov_cases_reported_total\{source="app",'
                     r'work_category="public_security_prevention"\} [1-9]', metrics)


def test_case_by_building_needs_its_grid(events, web_session, worker_a):
    case = file(web_session, worker_a, location=None, building_id=7, grid_code=GRID_A)
    assert case["location"] is None and case["building_id"] == 7 and case["grid_code"] == GRID_A
    missing = web_session.post("/cases", headers=worker_a, json={
        **case_body(), "location": None, "building_id": 7})
    assert missing.status_code == 422 and "location" in missing.json()["error"]["fields"]
    unknown = web_session.post("/cases", headers=worker_a, json={
        **case_body(), "location": None, "building_id": 7, "grid_code": GRID_A[:-1] + "9"})
    assert unknown.status_code == 422
    assert unknown.json()["error"]["code"] == "unknown_grid"


def test_bad_inputs_are_refused_with_reasons(events, web_session, worker_a, admin, token):
    def post(body, headers=worker_a):
        return web_session.post("/cases", json=body, headers=headers)

    wrong_category = post(case_body(work_category="street_cleaning"))
    assert wrong_category.status_code == 422
    assert "work_category" in wrong_category.json()["error"]["fields"]
    mismatched = post(case_body(work_category="dispute_mediation"))
    assert mismatched.status_code == 422
    assert "subcategory" in mismatched.json()["error"]["fields"]
    assert post(case_body(subcategory="nonsense")).status_code == 422
    assert post(case_body(info_class="gossip")).status_code == 422
    long = post(case_body(description="x" * 4001))
    assert long.status_code == 422 and "description" in long.json()["error"]["fields"]
    assert post(case_body(description="x" * 4000)).status_code == 201
    assert post(case_body(unknown_field=1)).status_code == 422
    assert post(case_body(location={"lon": 200, "lat": 31})).status_code == 422
    outside = post(case_body(location=OUTSIDE), headers=admin)
    assert outside.status_code == 422
    assert outside.json()["error"]["code"] == "outside_grids"
    # P5.1.5: a neighbourhood grid worker reports in its own grid only
    out_of_scope = post(case_body(location=IN_B))
    assert out_of_scope.status_code == 403
    assert post(case_body(location=IN_B), headers=admin).status_code == 201
    unknown_photo = post(case_body(photos=["a" * 64]))
    assert unknown_photo.status_code == 422
    assert unknown_photo.json()["error"]["code"] == "unknown_photo"
    assert web_session.post("/cases", json=case_body()).status_code == 401
    officer = token("department_officer", "department:fire")
    assert post(case_body(), headers=officer).status_code == 403
    viewer = token("ops_viewer", "district:320505")
    assert post(case_body(), headers=viewer).status_code == 403
    future = post(case_body(reported_at="2099-01-01T00:00:00+08:00"))
    assert future.status_code == 422


def test_photos_are_checked_and_stored_once(events, web_session, worker_a, worker_b,
                                            db_engine):
    first = upload(web_session, worker_a)
    assert first.status_code == 201, first.text
    assert first.json() == {"sha256": hashlib.sha256(JPEG).hexdigest(),
                            "content_type": "image/jpeg", "size": len(JPEG)}
    assert upload(web_session, worker_a).json() == first.json()  # same bytes, same photo
    assert upload(web_session, worker_a, PNG, "image/png").status_code == 201
    assert upload(web_session, worker_a, WEBP, "image/webp").status_code == 201
    with db_engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM events.photos")).scalar() == 3

    wrong_type = upload(web_session, worker_a, b"GIF89a....", "image/gif")
    assert wrong_type.status_code == 415
    lying = upload(web_session, worker_a, PNG, "image/jpeg")  # magic bytes say PNG
    assert lying.status_code == 415 and lying.json()["error"]["code"] == "content_mismatch"
    html = upload(web_session, worker_a, b"<html><script>alert(1)</script>", "image/png")
    assert html.status_code == 415
    too_large = upload(web_session, worker_a, JPEG + b"\x00" * MAX_PHOTO_BYTES)
    assert too_large.status_code == 413
    assert upload(web_session, worker_a, b"").status_code == 400

    # staff read a photo through a case they may see
    sha = first.json()["sha256"]
    file(web_session, worker_a, photos=[sha])
    got = web_session.get(f"/photos/{sha}", headers=worker_a)
    assert got.status_code == 200 and got.content == JPEG
    assert got.headers["Content-Type"] == "image/jpeg"
    assert web_session.get(f"/photos/{sha}", headers=worker_b).status_code == 404


# --- major events (P5.2.7) --------------------------------------------------------------

def test_major_event_is_alerted_before_the_case(events, web_session, worker_a, observer):
    case = file(web_session, worker_a, work_category="major_event", subcategory="fire_incident",
                severity="critical", description="3幢2单元5楼冒烟，已疏散")
    assert case["major"] is True
    (alert_key, _, alert), (case_key, _, reported) = received(observer, 2)
    assert alert_key == f"{TOWN}.critical.fire"
    assert alert["type"] == "alert.major_event"
    parse_envelope(alert)
    assert alert["payload"]["case_number"] == case["case_number"]
    assert alert["payload"]["msg_type"] == "alert"
    assert alert["payload"]["location"] == IN_A
    assert alert["payload"]["headline"].startswith("火灾")
    assert case_key == "events.case.reported"
    assert reported["payload"]["case_id"] == case["case_id"]


def test_critical_case_of_any_category_is_alerted(events, web_session, worker_a, observer):
    file(web_session, worker_a, subcategory="gas_safety_hazard", severity="critical",
         work_category="public_security_prevention")
    keys = [key for key, _, _ in received(observer, 2)]
    assert keys == [f"{TOWN}.critical.gas", "events.case.reported"]
    file(web_session, worker_a, location=near(IN_A, -400))  # minor: no alert
    assert [key for key, _, _ in received(observer, 2, timeout=2)] == ["events.case.reported"]


def test_cap_alert_is_well_formed_and_restricted(events, web_session, worker_a, token):
    text = "楼内起火 <b>&amp;</b> \"quoted\" \x01\x07 ok"
    case = file(web_session, worker_a, work_category="major_event",
                subcategory="fire_incident", severity="critical", description=text)
    chief = token("town_grid_chief", f"town:{TOWN}")
    response = web_session.get(f"/cases/{case['case_number']}/cap.xml", headers=chief)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("application/cap+xml")
    root = ET.fromstring(response.content)  # well-formed, or this raises
    assert root.tag == f"{CAP}alert"

    def one(path):
        return root.find("/".join(CAP + part for part in path.split("/"))).text

    assert one("identifier") == case["case_number"]
    assert one("status") == "Actual" and one("msgType") == "Alert"
    assert one("scope") == "Restricted" and one("restriction")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+08:00", one("sent"))
    assert one("info/category") == "Fire"
    assert one("info/severity") == "Extreme" and one("info/urgency") == "Immediate"
    assert one("info/certainty") == "Observed"
    assert one("info/description") == "楼内起火 <b>&amp;</b> \"quoted\"  ok"
    assert "On-site control first" in one("info/instruction")
    assert one("info/area/circle") == "31.005000,120.005000 0.5"
    assert one("info/area/geocode/value") == GRID_A
    assert GRID_A in one("info/area/areaDesc")

    officer = token("department_officer", "department:fire")
    assert web_session.get(f"/cases/{case['case_number']}/cap.xml",
                           headers=officer).status_code == 200
    assert web_session.get(f"/cases/{case['case_number']}/cap.xml",
                           headers=worker_a).status_code == 403  # not CAP's audience
    other_town = token("town_grid_chief", "town:320505002")
    assert web_session.get(f"/cases/{case['case_number']}/cap.xml",
                           headers=other_town).status_code == 403
    minor = file(web_session, worker_a, location=near(IN_A, 400))
    not_major = web_session.get(f"/cases/{minor['case_number']}/cap.xml", headers=chief)
    assert not_major.status_code == 404 and not_major.json()["error"]["code"] == "no_alert"


# --- duplicates and on-the-spot cases ---------------------------------------------------

def test_a_report_at_a_building_suggests_its_earliest_open_case(events, web_session,
                                                                 worker_a):
    at = {"location": None, "building_id": 7, "grid_code": GRID_A}
    first = file(web_session, worker_a, **at)
    second = file(web_session, worker_a, **at)
    undone = web_session.post(f"/cases/{second['case_number']}/duplicate",
                              json={"action": "undo"}, headers=worker_a)
    assert undone.status_code == 200  # a case of its own now: a candidate too
    elsewhere = file(web_session, worker_a, **{**at, "building_id": 8})
    other_kind = file(web_session, worker_a, **at, subcategory="electric_bike_charging")
    third = file(web_session, worker_a, **at)

    assert first["duplicate_of"] is None
    assert second["duplicate_of"] == first["case_id"]
    assert third["duplicate_of"] == first["case_id"]  # the earliest of both
    assert elsewhere["duplicate_of"] is None and other_kind["duplicate_of"] is None


def test_duplicate_is_linked_published_confirmed_and_undone(events, web_session, worker_a,
                                                            worker_b, token, observer):
    original = file(web_session, worker_a)
    twin = file(web_session, worker_a, location=near(IN_A, 40))
    assert twin["duplicate_of"] == original["case_id"]
    assert twin["duplicate_status"] == "suggested"
    assert twin["duplicate_of_number"] == original["case_number"]
    events_seen = [m["payload"] for _, _, m in received(observer, 2)]
    assert events_seen[1]["duplicate_of"] == original["case_id"]  # filed and published

    far = file(web_session, worker_a, location=near(IN_A, 150))
    other_kind = file(web_session, worker_a, location=near(IN_A, 10),
                      subcategory="electric_bike_charging")
    assert far["duplicate_of"] is None and other_kind["duplicate_of"] is None
    # a duplicate is never the original of another: the third report links to the first
    third = file(web_session, worker_a, location=near(IN_A, 20))
    assert third["duplicate_of"] == original["case_id"]

    path = f"/cases/{twin['case_number']}/duplicate"
    confirmed = web_session.post(path, json={"action": "confirm"}, headers=worker_a)
    assert confirmed.status_code == 200 and confirmed.json()["duplicate_status"] == "confirmed"
    assert web_session.post(path, json={"action": "undo"}, headers=worker_b).status_code == 403
    undone = web_session.post(path, json={"action": "undo"}, headers=worker_a)
    assert undone.json()["duplicate_status"] == "undone"
    assert undone.json()["duplicate_of"] == original["case_id"]  # the history stays
    assert web_session.post(path, json={"action": "maybe"}, headers=worker_a).status_code == 422
    not_linked = web_session.post(f"/cases/{original['case_number']}/duplicate",
                                  json={"action": "confirm"}, headers=worker_a)
    assert not_linked.status_code == 409
    # undone: the twin counts as a case of its own again, so a new report may link to it
    listed = web_session.get("/cases", params={"duplicate_status": "undone"},
                             headers=worker_a).json()
    assert [c["case_number"] for c in listed] == [twin["case_number"]]


def test_a_duplicate_decision_is_announced_once_per_change(events, web_session, worker_a,
                                                           observer):
    """P5.3.1/P5.3.3 (issue 11 M9): dispatch learns of every change of the link through
    events.case.duplicate_decided, from the outbox of the transaction that stored it."""
    original = file(web_session, worker_a)
    twin = file(web_session, worker_a, location=near(IN_A, 40))
    assert [m["type"] for _, _, m in received(observer, 2)] == ["events.case.reported"] * 2
    path = f"/cases/{twin['case_number']}/duplicate"

    assert web_session.post(path, json={"action": "confirm"}, headers=worker_a).status_code \
        == 200
    [(key, props, confirmed)] = received(observer, 1)
    assert key == confirmed["type"] == "events.case.duplicate_decided"
    assert props.message_id == confirmed["message_id"]
    parse_envelope(json.dumps(confirmed).encode())  # the contract holds the producer to it
    payload = confirmed["payload"]
    assert {k: payload[k] for k in ("case_id", "case_number", "original_case_id",
                                    "original_case_number", "decision", "decided_by_role",
                                    "decided_by_sub")} == {
        "case_id": twin["case_id"], "case_number": twin["case_number"],
        "original_case_id": original["case_id"],
        "original_case_number": original["case_number"], "decision": "confirmed",
        "decided_by_role": "neighbourhood_grid_worker", "decided_by_sub": "worker-a"}
    assert payload["decided_at"].endswith("Z")

    # confirming again changes nothing and announces nothing; the undo is announced
    again = web_session.post(path, json={"action": "confirm"}, headers=worker_a)
    assert again.status_code == 200 and again.json()["duplicate_status"] == "confirmed"
    assert web_session.post(path, json={"action": "undo"}, headers=worker_a).status_code == 200
    [(_, _, undone)] = received(observer, 1)
    assert undone["payload"]["decision"] == "undone"
    assert undone["payload"]["decided_at"] >= payload["decided_at"]


def test_a_closed_case_keeps_its_duplicate_link(events, web_session, worker_a, observer):
    """A case closed (here on the spot) was finished on its own: merging it, or undoing a
    merge once it closed with its original, comes too late (409, nothing announced)."""
    original = file(web_session, worker_a)
    closed = file(web_session, worker_a, location=near(IN_A, 30), handled_on_spot=True)
    assert closed["duplicate_of"] == original["case_id"] and closed["status"] == "closed"
    received(observer, 2)
    refused = web_session.post(f"/cases/{closed['case_number']}/duplicate",
                               json={"action": "confirm"}, headers=worker_a)
    assert refused.status_code == 409, refused.text
    assert refused.json()["error"]["code"] == "case_closed"
    assert web_session.get(f"/cases/{closed['case_number']}", headers=worker_a
                           ).json()["duplicate_status"] == "suggested"
    later = file(web_session, worker_a, location=near(IN_A, -300))
    [(_, _, next_message)] = received(observer, 1)  # the refusal announced nothing
    assert next_message["payload"]["case_id"] == later["case_id"]


def test_duplicate_window_is_configurable(container_factory, service_config, district,
                                          observer, web_session, worker_a):
    container = container_factory(EventsService, service_config(
        "events", DUPLICATE_DISTANCE_METRES=500, DUPLICATE_WINDOW_HOURS=1))
    container.start()
    first = file(web_session, worker_a, reported_at="2026-11-20T08:00:00+08:00")
    later = file(web_session, worker_a, location=near(IN_A, 300),
                 reported_at="2026-11-20T08:30:00+08:00")
    much_later = file(web_session, worker_a, location=near(IN_A, 300),
                      reported_at="2026-11-20T10:00:00+08:00")
    assert later["duplicate_of"] == first["case_id"]  # 300 m < 500 m, 30 min < 1 h
    assert much_later["duplicate_of"] is None


def test_on_spot_case_is_filed_closed_and_counted(events, web_session, worker_a, observer):
    case = file(web_session, worker_a, handled_on_spot=True)
    assert case["handled_on_spot"] is True and case["status"] == "closed"
    assert case["status_notes"] == "网格员已现场处置完毕"  # P5.1.5, in words
    [(_, _, message)] = received(observer, 1)
    assert message["payload"]["handled_on_spot"] is True
    # a duplicate is only linked to an open case
    assert file(web_session, worker_a, location=near(IN_A, 10))["duplicate_of"] is None
    major = web_session.post("/cases", headers=worker_a, json=case_body(
        work_category="major_event", subcategory="fire_incident", handled_on_spot=True))
    assert major.status_code == 422 and "handled_on_spot" in major.json()["error"]["fields"]


# --- reading, scope, idempotency, numbering ---------------------------------------------

def test_reads_are_scoped(events, web_session, worker_a, worker_b, admin, token):
    in_a = file(web_session, worker_a)
    in_b = file(web_session, worker_b, location=IN_B)

    def numbers(headers, **params):
        response = web_session.get("/cases", params=params, headers=headers)
        assert response.status_code == 200, response.text
        return [c["case_number"] for c in response.json()]

    assert numbers(worker_a) == [in_a["case_number"]]
    assert numbers(worker_b) == [in_b["case_number"]]
    community = token("community_grid_worker", "community:320505001001")
    assert numbers(community) == [in_b["case_number"], in_a["case_number"]]
    assert numbers(token("ops_viewer", "district:320505")) == numbers(admin)
    assert numbers(admin, grid_code=GRID_B) == [in_b["case_number"]]
    assert web_session.get("/cases", params={"grid_code": GRID_B},
                           headers=worker_a).status_code == 403
    assert numbers(token("ops_viewer", "district:110105")) == []
    officer = token("department_officer", "department:fire")
    assert web_session.get("/cases", headers=officer).status_code == 403
    assert web_session.get(f"/cases/{in_a['case_number']}", headers=officer).status_code == 403
    assert web_session.get(f"/cases/{in_b['case_number']}", headers=worker_a).status_code == 403
    got = web_session.get(f"/cases/{in_a['case_number']}", headers=worker_a).json()
    assert got["case_id"] == in_a["case_id"] and got["location"] == IN_A
    assert web_session.get("/cases/GS20000101-999999", headers=admin).status_code == 404


def test_another_district_sees_none_of_these_cases(events, web_session, worker_a, token,
                                                   db_engine):
    """Issue 10 item 3: every staff route of events, called with a token of every role of
    district 110105 on a 320505 case (its number, its photo, a report at its location):
    no 5xx, no answer carrying a 320505 code, and no case filed under 320505 (the walk of
    tests/authz/test_districts.py; Open311 is public by the standard)."""
    from tests.authz.conftest import OTHER_SCOPES
    from tests.authz.test_districts import walk
    from tests.authz.test_route_walk import routes_of

    photo = upload(web_session, worker_a).json()
    case = file(web_session, worker_a, photos=[photo["sha256"]])
    with db_engine.connect() as conn:
        before = conn.execute(sa.text("SELECT count(*) FROM events.cases")).scalar()
    other = {"other_district": {role.value: token(role.value, scope, sub=f"b-{role.value}")
                                for role, scope in OTHER_SCOPES.items()}}
    routes = {r: v for r, v in routes_of(web_session).items() if "/open311/" not in r}
    failures = walk(web_session, other, routes,
                    {"case_number": case["case_number"], "sha256": photo["sha256"]},
                    {"GET /cases": [{}, {"grid_code": case["grid_code"]}]},
                    {"POST /cases": case_body(description="跨区上报：3幢楼道堆放杂物"),
                     "POST /cases/{case_number}/duplicate": {
                         "duplicate_of": case["case_number"], "reason": "跨区"}})
    assert failures == []
    with db_engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM events.cases")).scalar() == before


def test_repeated_client_ref_returns_the_same_case(events, web_session, worker_a, token,
                                                   observer):
    ref = str(uuid.uuid4())
    first = file(web_session, worker_a, client_ref=ref)
    again = file(web_session, worker_a, expect=200, client_ref=ref)
    assert again["case_number"] == first["case_number"]
    assert len(received(observer, 2, timeout=2)) == 1  # announced once
    other = token("neighbourhood_grid_worker", f"grid:{GRID_A}", sub="worker-a2")
    taken = web_session.post("/cases", json=case_body(client_ref=ref), headers=other)
    assert taken.status_code == 409


def test_replicas_never_share_a_case_number(container_factory, events, events_config,
                                            web_session, worker_a, db_engine):
    """Two events replicas filing at once: numbers unique and gapless (counter row lock)."""
    port = free_port()
    second = container_factory(EventsService, {**events_config,
                                               "WEB_SERVER_ADDRESS": f"127.0.0.1:{port}"})
    second.start()
    sessions = [web_session, PrefixedSession(f"http://127.0.0.1:{port}/")]

    def report(i):
        session = sessions[i % 2]
        response = session.post("/cases", headers=worker_a, json=case_body(
            location=near(IN_A, 150 * (i % 4) - 225), description=f"report {i}"))
        assert response.status_code == 201, response.text
        return response.status_code, response.json().get("case_number")

    results = list(eventlet.GreenPool(20).imap(report, range(20)))
    assert {status for status, _ in results} == {201}
    numbers = sorted(number for _, number in results)
    assert len(set(numbers)) == 20
    assert [int(n.rsplit("-", 1)[1]) for n in numbers] == list(range(1, 21))
    with db_engine.connect() as conn:
        assert conn.execute(sa.text("SELECT last_value FROM events.case_number_counters")
                            ).scalar() == 20


def test_openapi_lists_the_case_routes(events, web_session):
    paths = web_session.get("/openapi.json").json()["paths"]
    assert paths["/cases"]["post"]["x-roles"]
    assert "/open311/v2/requests.{fmt}" in paths
    assert "/cases/{case_number}/cap.xml" in paths


def test_registry_down_is_a_503_not_a_hang(container_factory, service_config, clean_db,
                                           web_session, worker_a):
    container = container_factory(EventsService, service_config(
        "events", REGISTRY_RPC_TIMEOUT=1))
    container.start()
    response = web_session.post("/cases", json=case_body(), headers=worker_a)
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "registry_unavailable"


def test_photos_no_case_shows_are_purged_after_the_retention(events, web_session, worker_a,
                                                             db_engine):
    """P5.4.4: an upload never attached to a case is deleted once it is older than the
    retention; a photo a case shows, or a recent upload, stays."""
    from datetime import UTC, datetime, timedelta

    from sqlalchemy.orm import Session

    from services.events import photos

    attached = upload(web_session, worker_a).json()["sha256"]
    file(web_session, worker_a, photos=[attached])
    abandoned = upload(web_session, worker_a, PNG, "image/png").json()["sha256"]
    recent = upload(web_session, worker_a, WEBP, "image/webp").json()["sha256"]
    with db_engine.begin() as conn:  # the first two were uploaded three days ago
        conn.execute(sa.text("UPDATE events.photos SET created_at = now() - interval '3 days' "
                             "WHERE sha256 IN (:a, :b)"), {"a": attached, "b": abandoned})
    with Session(bind=db_engine) as session:
        assert photos.purge_unattached(session, timedelta(hours=48), datetime.now(UTC)) == 1
        session.commit()
    with db_engine.connect() as conn:
        left = set(conn.execute(sa.text("SELECT sha256 FROM events.photos")).scalars())
    assert left == {attached, recent}
    assert web_session.get(f"/photos/{abandoned}", headers=worker_a).status_code == 404

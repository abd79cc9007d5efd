"""Open311 GeoReport v2 on the real events service (docs/OPEN311.md): discovery, services,
filing with an API key, public reads in JSON and XML that never show private cases or
personal fields (P5.4.4)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import sqlalchemy as sa

from tests.events.conftest import (
    GRID_A,
    IN_A,
    JPEG,
    OPEN311_KEY,
    OUTSIDE,
    PNG,
    add_resident,
    file,
)

BASE = "/open311/v2"


def form(**fields):
    data = {"api_key": OPEN311_KEY, "service_code": "environmental_sanitation",
            "lat": str(IN_A["lat"]), "long": str(IN_A["lon"]),
            "description": "垃圾桶满溢，无人清运", "email": "someone@example.com",
            "first_name": "张", "phone": "13800138000", "device_id": "abc"}
    data.update(fields)
    return {key: value for key, value in data.items() if value is not None}


def post_request(web_session, fmt="json", **fields):
    return web_session.post(f"{BASE}/requests.{fmt}", data=form(**fields))


def test_discovery_and_services_in_json_and_xml(events, web_session):
    discovery = web_session.get(f"{BASE}/discovery.json").json()
    [endpoint] = discovery["endpoints"]
    assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert endpoint["url"].endswith(BASE)
    assert set(endpoint["formats"]) == {"text/xml", "application/json"}
    root = ET.fromstring(web_session.get(f"{BASE}/discovery.xml").content)
    assert root.tag == "discovery"
    assert root.find("endpoints/endpoint/specification").text.endswith("GeoReport_v2")

    services = web_session.get(f"{BASE}/services.json").json()
    codes = {s["service_code"] for s in services}
    assert {"environmental_sanitation", "public_facility_damage",
            "fire_hazard_corridor"} <= codes
    # disputes, special groups, livelihood help and emergencies are never public services
    assert not codes & {"neighbour_dispute", "mental_illness_risk", "fire_incident",
                        "subsistence_allowance"}
    xml_services = ET.fromstring(web_session.get(f"{BASE}/services.xml").content)
    assert {s.find("service_code").text for s in xml_services.findall("service")} == codes
    assert web_session.get(f"{BASE}/services.yaml").status_code == 404


def test_service_definition_has_typed_attributes(events, web_session):
    definition = web_session.get(f"{BASE}/services/public_facility_damage.json").json()
    [attribute] = definition["attributes"]
    assert attribute["code"] == "facility_type"
    assert attribute["datatype"] == "singlevaluelist" and attribute["required"] is True
    assert {"street_light", "manhole_cover"} <= {v["key"] for v in attribute["values"]}
    root = ET.fromstring(web_session.get(f"{BASE}/services/public_facility_damage.xml").content)
    assert root.find("attributes/attribute/datatype").text == "singlevaluelist"
    assert root.find("attributes/attribute/values/value/key") is not None
    missing = web_session.get(f"{BASE}/services/fire_incident.json")
    assert missing.status_code == 404
    assert missing.json()[0]["code"] == 404  # GeoReport's error shape


def test_post_needs_a_valid_api_key(events, web_session, db_engine):
    without = post_request(web_session, api_key=None)
    assert without.status_code == 403
    assert without.json()[0]["code"] == 403
    wrong = post_request(web_session, "xml", api_key="not-a-key-0123456789")
    assert wrong.status_code == 403
    assert ET.fromstring(wrong.content).find("error/code").text == "403"
    with db_engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM events.cases")).scalar() == 0


def test_post_files_a_public_case_without_personal_data(events, web_session, db_engine,
                                                        observer):
    created = post_request(web_session)
    assert created.status_code == 201, created.text
    [answer] = created.json()
    number = answer["service_request_id"]
    with db_engine.connect() as conn:
        row = conn.execute(sa.text("SELECT * FROM events.cases WHERE case_number = :n"),
                           {"n": number}).mappings().one()
    assert row["source"] == "open311" and row["grid_code"] == GRID_A
    assert row["work_category"] == "public_opinion" and row["private"] is False
    assert row["reporter_sub"].startswith("open311:")
    assert OPEN311_KEY not in str(dict(row))  # the key itself is never stored
    assert "13800138000" not in str(dict(row)) and "example.com" not in str(dict(row))

    xml_created = post_request(web_session, "xml", service_code="public_facility_damage",
                               **{"attribute[facility_type]": "street_light"},
                               lat=str(IN_A["lat"] + 0.002))
    assert xml_created.status_code == 201, xml_created.text
    root = ET.fromstring(xml_created.content)
    assert root.find("request/service_request_id").text.startswith("GS")


def test_post_refuses_bad_input_with_400(events, web_session):
    def code(response):
        return response.status_code, response.json()[0]["code"]

    assert code(post_request(web_session, lat="north")) == (400, 400)
    assert code(post_request(web_session, lat=None)) == (400, 400)
    assert code(post_request(web_session, lat=str(OUTSIDE["lat"]),
                             long=str(OUTSIDE["lon"]))) == (400, 400)
    assert code(post_request(web_session, service_code="fire_incident")) == (400, 400)
    assert code(post_request(web_session, description="x" * 4001)) == (400, 400)
    assert code(post_request(web_session, description="")) == (400, 400)
    no_attribute = post_request(web_session, service_code="public_facility_damage")
    assert code(no_attribute) == (400, 400) and "facility_type" in no_attribute.text
    bad_value = post_request(web_session, service_code="public_facility_damage",
                             **{"attribute[facility_type]": "spaceship"})
    assert code(bad_value) == (400, 400)
    as_json = web_session.post(f"{BASE}/requests.json", json=form())
    assert as_json.status_code == 415


def test_public_reads_never_show_private_cases_or_personal_fields(events, web_session,
                                                                 worker_a, registry_http,
                                                                 admin):
    resident = add_resident(registry_http, admin, GRID_A)
    photo = web_session.post("/photos", data=JPEG, headers={
        **worker_a, "Content-Type": "image/jpeg"}).json()["sha256"]
    public = file(web_session, worker_a, subcategory="environmental_sanitation",
                  work_category="public_opinion", photos=[photo],
                  description="路边垃圾堆放")
    private_photo = web_session.post("/photos", data=PNG, headers={
        **worker_a, "Content-Type": "image/png"}).json()["sha256"]
    private = file(web_session, worker_a, subcategory="environmental_sanitation",
                   work_category="public_opinion", private=True, description="私密案件",
                   photos=[private_photo],
                   location={"lon": IN_A["lon"] - 0.003, "lat": IN_A["lat"]})
    about_resident = file(web_session, worker_a, subcategory="environmental_sanitation",
                          work_category="public_opinion", resident_id=resident,
                          description="代居民反映", location={"lon": IN_A["lon"] + 0.003,
                                                         "lat": IN_A["lat"]})
    dispute = file(web_session, worker_a, subcategory="neighbour_dispute",
                   work_category="dispute_mediation", description="邻里噪音纠纷")
    filed = post_request(web_session, lat=str(IN_A["lat"] - 0.003)).json()[0]

    listed = web_session.get(f"{BASE}/requests.json").json()
    numbers = {r["service_request_id"] for r in listed}
    assert numbers == {public["case_number"], filed["service_request_id"]}
    for hidden in (private, about_resident, dispute):
        assert web_session.get(f"{BASE}/requests/{hidden['case_number']}.json"
                               ).status_code == 404
    shown = next(r for r in listed if r["service_request_id"] == public["case_number"])
    assert shown["status"] == "open" and shown["service_code"] == "environmental_sanitation"
    assert shown["lat"] == IN_A["lat"] and shown["long"] == IN_A["lon"]
    assert shown["requested_datetime"].endswith("+08:00")
    assert set(shown) == {"service_request_id", "status", "status_notes", "service_name",
                          "service_code", "description", "agency_responsible",
                          "service_notice", "requested_datetime", "updated_datetime",
                          "expected_datetime", "address", "address_id", "zipcode", "lat",
                          "long", "media_url"}
    assert "worker-a" not in str(listed) and "48213" not in str(listed)

    # the photo of the public case is public; nothing of the private one is
    media = web_session.get(shown["media_url"])
    assert media.status_code == 200 and media.content == JPEG
    assert web_session.get(f"{BASE}/media/{private_photo}").status_code == 404

    root = ET.fromstring(web_session.get(f"{BASE}/requests.xml").content)
    assert root.tag == "service_requests"
    assert {r.find("service_request_id").text for r in root.findall("request")} == numbers
    one = ET.fromstring(web_session.get(
        f"{BASE}/requests/{public['case_number']}.xml").content)
    assert one.find("request/description").text == "路边垃圾堆放"


def test_request_filters(events, web_session, worker_a):
    first = post_request(web_session).json()[0]["service_request_id"]
    second = post_request(web_session, service_code="fire_hazard_corridor",
                          lat=str(IN_A["lat"] + 0.003)).json()[0]["service_request_id"]
    spot = file(web_session, worker_a, subcategory="environmental_sanitation",
                work_category="public_opinion", handled_on_spot=True,
                location={"lon": IN_A["lon"], "lat": IN_A["lat"] - 0.003})

    def ids(**params):
        response = web_session.get(f"{BASE}/requests.json", params=params)
        assert response.status_code == 200, response.text
        return {r["service_request_id"] for r in response.json()}

    assert ids() == {first, second, spot["case_number"]}
    assert ids(service_code="fire_hazard_corridor") == {second}
    assert ids(status="closed") == {spot["case_number"]}
    assert ids(status="open") == {first, second}
    assert ids(service_request_id=f"{first},{spot['case_number']}") == {
        first, spot["case_number"]}
    assert ids(start_date="2000-01-01T00:00:00+08:00", end_date="2000-02-01T00:00:00Z") == set()
    assert ids(start_date="2000-01-01T00:00:00+08:00") == {first, second, spot["case_number"]}
    bad = web_session.get(f"{BASE}/requests.json", params={"start_date": "yesterday"})
    assert bad.status_code == 400 and bad.json()[0]["code"] == 400

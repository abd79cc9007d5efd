"""Open311 completed (issue 11): an address instead of a point (address_string through the
registry's building register, address_id), the reporter's own media_url kept and shown but
never fetched, and GeoReport's error shape on the token route. Real events and registry."""

from __future__ import annotations

import pytest

from tests.events.conftest import GRID_A, IN_A, OPEN311_KEY

BASE = "/open311/v2"


def post(web_session, **fields):
    data = {"api_key": OPEN311_KEY, "service_code": "environmental_sanitation",
            "description": "垃圾桶满溢，无人清运", **fields}
    return web_session.post(f"{BASE}/requests.json", data=data)


@pytest.fixture
def buildings(registry_http, admin, district):
    """Two buildings of grid A in the registry: 锦绣花园3幢 and 锦绣花园5幢."""
    made = {}
    for name, north in (("锦绣花园3幢", 0.0), ("锦绣花园5幢", 0.001)):
        response = registry_http.post("/buildings", headers=admin, json={
            "grid_code": GRID_A, "address": name, "lon": IN_A["lon"],
            "lat": IN_A["lat"] + north})
        assert response.status_code == 201, response.text
        made[name] = response.json()
    return made


def shown(web_session, number):
    found = web_session.get(f"{BASE}/requests/{number}.json")
    assert found.status_code == 200, found.text
    return found.json()[0]


def test_an_address_places_the_request_when_one_building_matches(events, web_session,
                                                                  buildings):
    created = post(web_session, address_string="锦绣花园5幢")
    assert created.status_code == 201, created.text
    request = shown(web_session, created.json()[0]["service_request_id"])
    assert request["address"] == "锦绣花园5幢"
    assert (request["lat"], request["long"]) == (IN_A["lat"] + 0.001, IN_A["lon"])
    several = post(web_session, address_string="锦绣花园")  # both buildings
    assert several.status_code == 400 and "several" in several.json()[0]["description"]
    unknown = post(web_session, address_string="无名路99号")
    assert unknown.status_code == 400 and "no address" in unknown.json()[0]["description"]
    nothing = post(web_session)
    assert nothing.status_code == 400
    assert "address_string or address_id" in nothing.json()[0]["description"]


def test_an_address_id_is_a_building_of_the_register(events, web_session, buildings):
    building = buildings["锦绣花园3幢"]
    created = post(web_session, address_id=str(building["id"]))
    assert created.status_code == 201, created.text
    request = shown(web_session, created.json()[0]["service_request_id"])
    assert request["address"] == "锦绣花园3幢" and request["lat"] == IN_A["lat"]
    for bad in ("999999", "abc", "-1"):
        refused = post(web_session, address_id=bad)
        assert refused.status_code == 400, (bad, refused.text)


def test_the_reporters_media_url_is_kept_and_shown_never_fetched(events, web_session):
    link = "https://pics.example.org/u/1234.jpg"
    created = post(web_session, lat=str(IN_A["lat"]), long=str(IN_A["lon"]), media_url=link)
    assert created.status_code == 201, created.text
    assert shown(web_session, created.json()[0]["service_request_id"])["media_url"] == link
    for bad in ("file:///etc/passwd", "javascript:alert(1)", "https://", "ftp://x/y.jpg",
                "https://x.org/" + "a" * 500, "https://x.org/a b.jpg"):
        refused = post(web_session, lat=str(IN_A["lat"]), long=str(IN_A["lon"]),
                       media_url=bad)
        assert refused.status_code == 400, bad
        assert "media_url" in refused.json()[0]["description"]


def test_the_token_route_answers_in_georeports_error_shape(events, web_session):
    for fmt in ("json", "xml"):
        response = web_session.get(f"{BASE}/tokens/abc123.{fmt}")
        assert response.status_code == 404
        if fmt == "json":
            [error] = response.json()
            assert error["code"] == 404 and "no tokens" in error["description"]
        else:
            assert b"<errors><error><code>404</code>" in response.content

"""The subcategory catalogue as data, over the real service, database and broker: a
district admin adds, changes and retires subcategories over the API; reports and Open311
follow at once, with no restart; every version is announced on the bus."""

from __future__ import annotations

import json

import pytest

from gridgov_common.contract import load_sample, parse_envelope
from tests.amqp import bind_queue, drain
from tests.events.conftest import case_body

CATALOGUE_SINK = "test.catalogue"
BIKES = {"code": "shared_bike_clutter", "work_category": "public_security_prevention",
         "info_class": "urban_management", "name_zh": "共享单车乱停放",
         "name_en": "Shared bikes blocking the way", "cap_category": "Transport",
         "public": True, "note": "街道反映共享单车堵塞盲道",
         "attributes": [{"code": "bikes", "datatype": "number",
                         "description": "how many bikes"}]}


@pytest.fixture
def announced(rabbit_config):
    """A plain queue bound as dispatch would: every published catalogue version. Tests
    take it before ``events``: events announces its catalogue as it starts."""
    uri = rabbit_config["AMQP_URI"]
    bind_queue(uri, CATALOGUE_SINK, "gridgov.events", ["events.catalogue.published"])

    def take(expect: int) -> list[dict]:
        return [json.loads(body) for _, _, body in drain(uri, CATALOGUE_SINK, expect=expect)]
    return take


def test_the_packaged_catalogue_is_version_1_with_names(announced, events, web_session,
                                                        worker_a):
    got = web_session.get("/catalogue", headers=worker_a)
    assert got.status_code == 200, got.text
    body = got.json()
    assert body["version"] == 1 and len(body["subcategories"]) >= 30
    fire = next(s for s in body["subcategories"] if s["code"] == "fire_hazard_corridor")
    assert fire["name_zh"] and fire["name_en"] and fire["retired"] is False
    [seed] = announced(1)
    assert parse_envelope(seed).payload["version"] == 1
    assert seed["payload"]["published_by"] == "system:packaged"
    assert {e["code"] for e in seed["payload"]["subcategories"]} == {
        s["code"] for s in body["subcategories"]}


def test_a_subcategory_added_over_the_api_is_reportable_at_once(
        announced, events, web_session, admin, worker_a):
    added = web_session.post("/catalogue/subcategories", json=BIKES, headers=admin)
    assert added.status_code == 201, added.text
    assert added.json()["version"] == 2
    case = web_session.post("/cases", headers=worker_a, json=case_body(
        subcategory="shared_bike_clutter", attributes={"bikes": 12},
        description="盲道上停了十几辆共享单车"))
    assert case.status_code == 201, case.text
    assert case.json()["info_class"] == "urban_management"  # the new default
    services = web_session.get("/open311/v2/services.json").json()
    assert "shared_bike_clutter" in {s["service_code"] for s in services}
    seed, published = announced(2)
    assert seed["payload"]["version"] == 1
    envelope = parse_envelope(published)  # valid against the contract
    sample = load_sample("events.catalogue.published", 2)  # with handling defaults
    assert set(published["payload"]) == set(sample["payload"])
    assert envelope.payload["version"] == 2 and envelope.payload["published_by"] == "admin-1"
    [entry] = [e for e in envelope.payload["subcategories"]
               if e["code"] == "shared_bike_clutter"]
    assert set(entry) == set(sample["payload"]["subcategories"][0])
    assert entry["name_zh"] == "共享单车乱停放" and entry["public"] is True
    history = web_session.get("/catalogue/versions", headers=admin).json()
    assert [(v["version"], v["created_by"]) for v in history] == [
        (2, "admin-1"), (1, "system:packaged")]
    assert history[0]["note"] == "街道反映共享单车堵塞盲道"


def test_retiring_stops_new_reports_and_leaves_old_cases_readable(
        events, web_session, admin, worker_a):
    before = web_session.post("/cases", headers=worker_a, json=case_body())
    assert before.status_code == 201, before.text
    retired = web_session.patch("/catalogue/subcategories/fire_hazard_corridor",
                                json={"retired": True}, headers=admin)
    assert retired.status_code == 200, retired.text
    after = web_session.post("/cases", headers=worker_a, json=case_body())
    assert after.status_code == 422
    assert "subcategory" in after.json()["error"]["fields"]
    old = web_session.get(f"/cases/{before.json()['case_number']}", headers=worker_a)
    assert old.status_code == 200 and old.json()["subcategory"] == "fire_hazard_corridor"
    renamed = web_session.patch("/catalogue/subcategories/fire_hazard_corridor",
                                json={"retired": False, "name_zh": "楼道堆物堵塞消防通道"},
                                headers=admin)
    assert renamed.status_code == 200 and renamed.json()["version"] == 3
    assert web_session.post("/cases", headers=worker_a, json=case_body()).status_code == 201


def test_catalogue_rules_are_422s_that_name_every_problem(events, web_session, admin,
                                                          worker_a, db_engine):
    def post(body, headers=admin):
        return web_session.post("/catalogue/subcategories", json=body, headers=headers)

    assert post(BIKES, worker_a).status_code == 403  # only the district admin
    again = post({**BIKES, "code": "petition", "work_category": "dispute_mediation",
                  "public": False})
    assert again.status_code == 422 and again.json()["error"]["code"] == "catalogue_rule"
    assert "code" in again.json()["error"]["fields"]  # codes are never reused
    exposed = post({**BIKES, "code": "addiction_relapse",
                    "work_category": "special_group_assistance"})
    error = exposed.json()["error"]
    assert exposed.status_code == 422 and {"public", "sensitive"} <= set(error["fields"])
    shape = post({**BIKES, "code": "Bad Code", "work_category": "weather", "colour": "red"})
    assert shape.status_code == 422
    assert {"code", "work_category", "colour"} <= set(shape.json()["error"]["fields"])
    unsafe = web_session.patch("/catalogue/subcategories/drug_user",
                               json={"sensitive": False}, headers=admin)
    assert unsafe.status_code == 422 and "sensitive" in unsafe.json()["error"]["fields"]
    moved = web_session.patch("/catalogue/subcategories/petition",
                              json={"work_category": "other"}, headers=admin)
    assert moved.status_code == 422 and "work_category" in moved.json()["error"]["fields"]
    unknown = web_session.patch("/catalogue/subcategories/nope", json={"name_zh": "无"},
                                headers=admin)
    assert unknown.status_code == 404
    with db_engine.connect() as conn:  # nothing refused was stored
        versions = conn.exec_driver_sql(
            "SELECT array_agg(version) FROM events.catalogue_versions").scalar()
    assert versions == [1]


def test_handling_defaults_are_set_over_the_api_and_published(announced, events, web_session,
                                                               admin):
    """Issue 11: a subcategory's level, time limits and closing condition are catalogue
    data (DOMAIN-REFERENCES §2), changed over the API and announced in v2."""
    defaults = {"handling_level": "community",
                "ack_limit": {"amount": 4, "unit": "working_hours"},
                "handle_limit": {"amount": 5, "unit": "working_days"},
                "closing_condition": "车辆已清走，盲道畅通"}
    added = web_session.post("/catalogue/subcategories", json={**BIKES, **defaults},
                             headers=admin)
    assert added.status_code == 201, added.text
    bikes = next(s for s in added.json()["subcategories"]
                 if s["code"] == "shared_bike_clutter")
    assert {k: bikes[k] for k in defaults} == defaults
    _, published = announced(2)
    entry = next(e for e in published["payload"]["subcategories"]
                 if e["code"] == "shared_bike_clutter")
    assert published["version"] == 2 and {k: entry[k] for k in defaults} == defaults

    bad = web_session.patch("/catalogue/subcategories/shared_bike_clutter", headers=admin,
                            json={"handle_limit": {"amount": 3, "unit": "fortnights"}})
    assert bad.status_code == 422
    assert "handle_limit" in str(bad.json()["error"]["fields"])
    slower = web_session.patch("/catalogue/subcategories/shared_bike_clutter", headers=admin,
                               json={"ack_limit": {"amount": 9, "unit": "working_days"}})
    assert slower.status_code == 422 and "ack_limit" in slower.json()["error"]["fields"]
    cleared = web_session.patch("/catalogue/subcategories/shared_bike_clutter", headers=admin,
                                json={"handle_limit": None, "note": "按规则办理"})
    assert cleared.status_code == 200, cleared.text
    bikes = next(s for s in cleared.json()["subcategories"]
                 if s["code"] == "shared_bike_clutter")
    assert bikes["handle_limit"] is None and bikes["handling_level"] == "community"

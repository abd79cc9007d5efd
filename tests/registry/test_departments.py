"""The department register (P4.2) has one owner, the registry: a district admin adds,
renames and retires departments over the API; every change, and the whole register at
start, is announced as registry.department.changed (real service, broker, database)."""

from __future__ import annotations

import json

import pytest

from gridgov_common.contract import load_sample, parse_envelope
from tests.amqp import bind_queue, drain

SINK = "test.departments"
WATER = {"code": "water_affairs", "name_zh": "水务", "name_en": "Water Affairs",
         "work_categories": ["public_security_prevention", "public_opinion"],
         "contact_phone": "0512-6800 1234", "contact_email": "duty@water.example.gov.cn"}


@pytest.fixture
def announced(rabbit_config):
    uri = rabbit_config["AMQP_URI"]
    bind_queue(uri, SINK, "gridgov.events", ["registry.department.changed"])

    def take(expect: int) -> list[dict]:
        return [parse_envelope(json.loads(body)).payload
                for _, _, body in drain(uri, SINK, expect=expect)]
    return take


@pytest.fixture
def registry_announcing(announced, registry):
    """The registry started after the sink was bound: its start-up announcement is seen."""
    return registry


def test_the_whole_register_is_announced_at_start(registry_announcing, announced,
                                                 web_session, admin):
    listed = web_session.get("/departments", headers=admin).json()
    assert len(listed) == 10 and all(d["active"] and d["unit"] == d["code"] for d in listed)
    fire = next(d for d in listed if d["code"] == "fire")
    assert fire["name_zh"] == "消防" and "public_security_prevention" in fire["work_categories"]
    got = announced(10)
    assert {p["code"] for p in got} == {d["code"] for d in listed}
    assert {p["action"] for p in got} == {"announced"}


def test_a_department_added_renamed_and_retired_over_the_api(registry_announcing, announced,
                                                             web_session, admin):
    announced(10)
    added = web_session.post("/departments", json=WATER, headers=admin)
    assert added.status_code == 201, added.text
    body = added.json()
    assert body["active"] is True and body["unit"] is None
    assert body["contact_phone"] == WATER["contact_phone"]
    [created] = announced(1)
    sample = load_sample("registry.department.changed", 1)["payload"]
    assert set(created) == set(sample)
    assert (created["code"], created["action"], created["name_zh"]) == (
        "water_affairs", "created", "水务")
    assert "contact_phone" not in created  # contacts stay in the registry

    again = web_session.post("/departments", json=WATER, headers=admin)
    assert again.status_code == 409 and again.json()["error"]["code"] == "department_exists"
    renamed = web_session.patch("/departments/water_affairs", headers=admin,
                                json={"name_zh": "水务局", "unit": "emergency_management"})
    assert renamed.status_code == 200 and renamed.json()["name_zh"] == "水务局"
    retired = web_session.patch("/departments/water_affairs", json={"active": False},
                                headers=admin)
    assert retired.status_code == 200 and retired.json()["active"] is False
    first, second = announced(2)
    assert (first["action"], first["name_zh"], first["unit"]) == (
        "updated", "水务局", "emergency_management")
    assert (second["active"], second["updated_at"] >= first["updated_at"]) == (False, True)
    listed = {d["code"]: d for d in web_session.get("/departments", headers=admin).json()}
    assert listed["water_affairs"]["active"] is False and len(listed) == 11


def test_bad_department_input_is_refused_with_its_fields(registry, web_session, admin,
                                                         token):
    worker = token("town_grid_chief", "town:320505001")
    assert web_session.post("/departments", json=WATER, headers=worker).status_code == 403
    bad = web_session.post("/departments", headers=admin, json={
        **WATER, "code": "Water Bureau", "unit": "water", "contact_phone": "call us",
        "work_categories": ["rivers"], "active": False})
    assert bad.status_code == 422
    assert {"code", "unit", "contact_phone", "work_categories", "active"} <= set(
        bad.json()["error"]["fields"])
    twice = web_session.post("/departments", headers=admin, json={
        **WATER, "work_categories": ["public_opinion", "public_opinion"]})
    assert twice.status_code == 422 and "work_categories" in twice.json()["error"]["fields"]
    assert web_session.patch("/departments/fire", json={}, headers=admin).status_code == 422
    assert web_session.patch("/departments/fire", json={"code": "blaze"},
                             headers=admin).status_code == 422
    missing = web_session.patch("/departments/nope", json={"name_zh": "无"}, headers=admin)
    assert missing.status_code == 404
    assert len(web_session.get("/departments", headers=admin).json()) == 10

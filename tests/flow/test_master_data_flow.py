"""Issue 11, done when: a district adds a department and a subcategory over the API only,
publishes a rule set routing the subcategory to the department, and a case reported
through the app reaches the new department's queue and closes; no restart, no code
change. Real registry, events and dispatch, the reference department adapter, the broker
and the database."""

from __future__ import annotations

import copy

import sqlalchemy as sa
from nameko.testing.services import entrypoint_hook

from tests.adapters import FAST, Lines, amqp_url, running
from tests.amqp import wait_until
from tests.events.conftest import case_body
from tests.flow.test_case_flow import FLOW_WAIT, actions_of, wait_state
from tools.department_adapter.adapter import AdapterConfig

WATER = "water_affairs"
BIKES = "shared_bike_clutter"


def known_to_dispatch(db_engine, sql: str, **params) -> bool:
    with db_engine.connect() as conn:
        return bool(conn.execute(sa.text(sql), params).scalar())


def test_a_new_department_and_subcategory_take_a_case_to_closed(
        services, registry, registry_http, web_session, dispatch_http, admin, worker_a,
        rabbit_config, db_engine):
    # the registry announces its register at start and hourly; dispatch started after it
    # here, so the test asks for the next announcement now instead of waiting an hour
    with entrypoint_hook(registry, "announce_departments") as announce:
        announce()
    assert wait_until(lambda: known_to_dispatch(
        db_engine, "SELECT count(*) = 10 FROM dispatch.departments"), FLOW_WAIT)

    # 1. the department, over the registry's API
    added = registry_http.post("/departments", headers=admin, json={
        "code": WATER, "name_zh": "水务局", "name_en": "Water Affairs Bureau",
        "work_categories": ["public_security_prevention"]})
    assert added.status_code == 201, added.text
    # 2. the subcategory, over the events API
    sub = web_session.post("/catalogue/subcategories", headers=admin, json={
        "code": BIKES, "work_category": "public_security_prevention",
        "info_class": "urban_management", "name_zh": "共享单车堵塞盲道",
        "name_en": "Shared bikes blocking a tactile path", "public": True})
    assert sub.status_code == 201, sub.text
    assert wait_until(lambda: known_to_dispatch(
        db_engine, "SELECT count(*) FROM dispatch.departments WHERE code = :c AND active",
        c=WATER) and known_to_dispatch(
        db_engine, "SELECT max(version) = 2 FROM dispatch.catalogue_versions"), FLOW_WAIT)

    # 3. a rule set routing the subcategory to the department, over dispatch's API
    current = dispatch_http.get("/config/rule-sets/1", headers=admin).json()["rules"]
    body = copy.deepcopy(current)
    body.pop("version")
    template = next(r for r in body["rules"]
                    if r["id"] == "public_security_prevention.fire_hazard_corridor")
    body["rules"].append({**template, "id": f"public_security_prevention.{BIKES}",
                          "title": "共享单车堵塞盲道 Shared bikes on a tactile path",
                          "subcategory": BIKES, "lead": WATER, "assist": []})
    published = dispatch_http.post("/config/rule-sets", json=body, headers=admin)
    assert published.status_code == 201, published.text

    # 4. the department's own system (the reference adapter) on its own queue
    water = Lines()
    with running(AdapterConfig(department=WATER, amqp_url=amqp_url(rabbit_config),
                               auto_ack=True, auto_result_after=0.3, **FAST), water):
        case = web_session.post("/cases", headers=worker_a, json=case_body(
            subcategory=BIKES, description="盲道上停满共享单车"))
        assert case.status_code == 201, case.text
        case_id = case.json()["case_id"]
        got = wait_until(lambda: [e for e in water.envelopes()
                                  if e["type"] == "dispatch.assignment"], FLOW_WAIT)
        assert got and got[0]["payload"]["case_id"] == case_id
        assert got[0]["payload"]["department"] == WATER
        assert got[0]["payload"]["rule_version"] == 2
        wait_state(dispatch_http, worker_a, case_id, "resolved")

    visit = dispatch_http.post(f"/cases/{case_id}/return-visit", headers=worker_a,
                               json={"satisfied": True, "satisfaction": 5, "method": "visit"})
    assert visit.status_code == 200, visit.text
    wait_state(dispatch_http, worker_a, case_id, "closed")
    case_file = dispatch_http.get(f"/cases/{case_id}/file", headers=worker_a).json()
    assert case_file["verification"]["valid"] is True
    actions = actions_of(case_file)
    assert actions[:2] == ["filed", "dispatch"] and "department_result" in actions

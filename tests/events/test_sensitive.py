"""Special-group cases (P5.2.5) on the real events + registry services: a case whose
subcategory reveals a special group is unknown (404) to every role the registry refuses
``unmask=special_groups``, on every read; the resident a case names must exist in the
reporter's scope (422 ``unknown_resident``), and a registry that does not answer is a 503."""

from __future__ import annotations

import eventlet
import sqlalchemy as sa
from nameko.rpc import rpc

from gridgov_common.kernel.roles import SPECIAL_GROUP_READERS, Role
from services.events.domain.catalogue_version import DEFAULT
from services.events.service import EventsService
from services.registry import privacy
from tests.events.conftest import (
    COMMUNITY,
    DISTRICT,
    GRID_A,
    GRID_B,
    IN_A,
    JPEG,
    TOWN,
    add_resident,
    case_body,
    file,
    received,
)

# the roles the registry refuses unmask=special_groups, each with a scope holding grid A
NON_READERS = {
    "town_grid_chief": f"town:{TOWN}",
    "community_grid_worker": f"community:{COMMUNITY}",
    "neighbourhood_grid_worker": f"grid:{GRID_A}",
    "ops_viewer": f"district:{DISTRICT}",
}
READERS = {
    "community_grid_chief": f"community:{COMMUNITY}",
    "grid_instructor": f"community:{COMMUNITY}",
    "district_admin": f"district:{DISTRICT}",
}


def drug_user_body(**overrides):
    return case_body(work_category="special_group_assistance", subcategory="drug_user",
                     description="社区戒毒人员本月未按时报到", **overrides)


def test_one_list_of_special_group_readers_and_the_sensitive_subcategories():
    """The registry's unmask check reads the shared list; every special-group subcategory
    is sensitive, no other is (petitions stay a dispute, P5.2.3)."""
    assert privacy.SEE_SPECIAL_GROUPS is SPECIAL_GROUP_READERS
    assert {Role(r) for r in READERS} == set(SPECIAL_GROUP_READERS)
    assert set(DEFAULT.sensitive_codes) == {
        "special_group_follow_up", "mental_illness_risk", "drug_user"}
    assert not DEFAULT.is_sensitive("petition") and not DEFAULT.is_sensitive("nope")


def test_sensitive_case_is_unknown_to_roles_that_may_not_see_special_groups(
        events, web_session, worker_a, token, registry_http, admin):
    photo = web_session.post("/photos", data=JPEG, headers={
        **worker_a, "Content-Type": "image/jpeg"}).json()["sha256"]
    resident = add_resident(registry_http, admin, GRID_A)
    response = web_session.post("/cases", json=drug_user_body(photos=[photo],
                                                              resident_id=resident),
                                headers=worker_a)
    assert response.status_code == 201, response.text
    case = response.json()
    ordinary = file(web_session, worker_a, location={"lon": IN_A["lon"] + 0.003,
                                                     "lat": IN_A["lat"]})
    number = case["case_number"]

    for role, scope in NON_READERS.items():
        who = token(role, scope, sub=f"{role}-1")
        got = web_session.get(f"/cases/{number}", headers=who)
        assert got.status_code == 404, (role, got.text)  # as if it did not exist
        assert got.json()["error"]["code"] == "not_found"
        listed = web_session.get("/cases", headers=who).json()
        assert [c["case_number"] for c in listed] == [ordinary["case_number"]], role
        assert web_session.get("/cases", params={"subcategory": "drug_user"},
                               headers=who).json() == [], role
        assert web_session.get("/cases", params={"work_category": "special_group_assistance"},
                               headers=who).json() == [], role
        assert web_session.post(f"/cases/{number}/duplicate", json={"action": "confirm"},
                                headers=who).status_code in (403, 404), role
        if role != "neighbourhood_grid_worker":  # the uploader reads their own upload
            assert web_session.get(f"/photos/{photo}", headers=who).status_code == 404, role

    for role, scope in READERS.items():
        who = token(role, scope, sub=f"{role}-1")
        got = web_session.get(f"/cases/{number}", headers=who)
        assert got.status_code == 200, (role, got.text)
        assert got.json()["subcategory"] == "drug_user"
        assert got.json()["resident_id"] == resident
        listed = {c["case_number"] for c in web_session.get("/cases", headers=who).json()}
        assert listed == {number, ordinary["case_number"]}, role
        assert web_session.get(f"/photos/{photo}", headers=who).status_code == 200, role

    # a reader of another community is still held by the scope
    other = token("community_grid_chief", "community:320505001002")
    assert web_session.get(f"/cases/{number}", headers=other).status_code == 403


def test_duplicate_of_a_sensitive_case_is_not_told_to_a_non_reader(events, web_session,
                                                                    worker_a, token,
                                                                    db_engine):
    first = web_session.post("/cases", json=drug_user_body(), headers=worker_a).json()
    second = web_session.post("/cases", json=drug_user_body(
        location={"lon": IN_A["lon"] + 0.0002, "lat": IN_A["lat"]}), headers=worker_a)
    assert second.status_code == 201, second.text
    answered = second.json()
    assert answered["duplicate_of"] is None and answered["duplicate_of_number"] is None
    with db_engine.connect() as conn:  # the link is kept, for those who may see it
        linked = conn.execute(sa.text("SELECT duplicate_of::text FROM events.cases "
                                      "WHERE case_number = :n"),
                              {"n": answered["case_number"]}).scalar_one()
    assert linked == first["case_id"]
    chief = token("community_grid_chief", f"community:{COMMUNITY}")
    seen = web_session.get(f"/cases/{answered['case_number']}", headers=chief).json()
    assert seen["duplicate_of_number"] == first["case_number"]


def test_alert_of_a_sensitive_case_only_for_its_departments_and_readers(
        events, web_session, worker_a, token, db_engine, observer):
    case = web_session.post("/cases", json=drug_user_body(severity="critical"),
                            headers=worker_a).json()
    # on gridgov.alerts (every department bound for the town) neither what nor where
    [(key, _, alert), (_, _, reported)] = received(observer, 2)
    assert key == f"{TOWN}.critical.special_group"
    assert alert["payload"]["headline"] == "特殊人群紧急情况 / Urgent special-group matter"
    assert alert["payload"]["location"] is None
    assert "报到" not in alert["payload"]["description"]
    assert reported["payload"]["sensitive"] is True  # events.case.reported v3
    url = f"/cases/{case['case_number']}/cap.xml"
    police = token("department_officer", "department:public_security")
    assert web_session.get(url, headers=police).status_code == 404  # not assigned yet
    with db_engine.begin() as conn:  # as dispatch.case.changed would record the assignment
        conn.execute(sa.text("UPDATE events.cases SET departments = '[\"public_security\"]' "
                             "WHERE case_number = :n"), {"n": case["case_number"]})
    assert web_session.get(url, headers=police).status_code == 200
    fire = token("department_officer", "department:fire")
    assert web_session.get(url, headers=fire).status_code == 404
    for role in ("town_grid_chief", "ops_viewer"):
        who = token(role, NON_READERS[role])
        assert web_session.get(url, headers=who).status_code == 404, role
    assert web_session.get(url, headers=token("district_admin", f"district:{DISTRICT}")
                           ).status_code == 200


# --- the resident a case names ------------------------------------------------------------

def test_resident_must_exist_in_the_reporters_scope(events, web_session, worker_a, admin,
                                                    registry_http):
    in_a = add_resident(registry_http, admin, GRID_A, serial="123")
    in_b = add_resident(registry_http, admin, GRID_B, serial="456", name="李四")
    filed = web_session.post("/cases", json=case_body(resident_id=in_a), headers=worker_a)
    assert filed.status_code == 201, filed.text
    assert filed.json()["resident_id"] == in_a
    for resident in (in_b, in_b + 1000):  # another grid's resident, and nobody
        refused = web_session.post("/cases", json=case_body(resident_id=resident),
                                   headers=worker_a)
        assert refused.status_code == 422, refused.text
        error = refused.json()["error"]
        assert error["code"] == "unknown_resident" and "resident_id" in error["fields"]
    # the district admin's scope holds both grids
    assert web_session.post("/cases", json=case_body(resident_id=in_b), headers=admin
                            ).status_code == 201


class SlowRegistry:
    """A registry that places every point in grid A but never answers ``resident_grids``
    (until the test lets it go): the events service must not wait for it."""

    name = "registry"
    release: eventlet.event.Event | None = None

    @rpc
    def lookup_point(self, lon, lat):
        return {"grid_code": GRID_A, "community_code": COMMUNITY, "town_code": TOWN}

    @rpc
    def resident_grids(self, resident_ids):
        SlowRegistry.release.wait()
        return []


def test_registry_not_answering_the_resident_check_is_a_503(container_factory,
                                                             service_config, rabbit_config,
                                                             clean_db, web_session, worker_a):
    SlowRegistry.release = eventlet.event.Event()
    container_factory(SlowRegistry, dict(rabbit_config)).start()
    container_factory(EventsService, service_config("events", REGISTRY_RPC_TIMEOUT=1)).start()
    try:
        placed = web_session.post("/cases", json=case_body(), headers=worker_a)
        assert placed.status_code == 201, placed.text  # the registry answers placements
        response = web_session.post("/cases", json=case_body(resident_id=7,
                                                             location={"lon": 120.0051,
                                                                       "lat": 31.005}),
                                    headers=worker_a)
        assert response.status_code == 503, response.text
        assert response.json()["error"]["code"] == "registry_unavailable"
    finally:
        SlowRegistry.release.send(None)

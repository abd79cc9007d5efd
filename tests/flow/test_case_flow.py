"""Whole cases across the real services and the reference department adapter, as a
newcomer sees them after ``make up``: a grid worker reports a case through the app API, the
town whistles it to the departments' own queues (P2.2), their systems report in and
resolve it, the grid worker makes the return visit (P5.2.1) and the case closes with a
complete, verifiable case file (P5.3.4); an Open311 report follows its case to "closed";
a dispatch replica stopped mid-flow loses nothing and duplicates nothing."""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from nameko.testing.services import entrypoint_hook

from services.dispatch.models import assignments
from services.dispatch.service import DispatchService
from tests.amqp import wait_until
from tests.events.conftest import GRID_A, IN_A, OPEN311_KEY, file, free_port
from tests.flow.conftest import DEPARTMENTS

FLOW_WAIT = 30.0


def case_state(dispatch_http, headers, case_id):
    response = dispatch_http.get(f"/cases/{case_id}", headers=headers)
    return response.json().get("state") if response.status_code == 200 else None


def wait_state(dispatch_http, headers, case_id, state):
    assert wait_until(lambda: case_state(dispatch_http, headers, case_id) == state,
                      FLOW_WAIT), (state, dispatch_http.get(f"/cases/{case_id}",
                                                            headers=headers).text)


def actions_of(case_file):
    return [entry["action"] for entry in case_file["entries"]]


def test_app_case_goes_to_departments_and_back_and_closes(services, web_session, worker_a,
                                                          dispatch_http, departments):
    case = file(web_session, worker_a)
    case_id = case["case_id"]

    # each department's own system got its assignment on its own routing key
    for code in DEPARTMENTS:
        got = wait_until(lambda c=code: [e for e in departments[c].envelopes()
                                         if e["type"] == "dispatch.assignment"], FLOW_WAIT)
        assert got, f"{code} received nothing"
        assert got[0]["payload"]["case_id"] == case_id
        assert got[0]["payload"]["department"] == code
    wait_state(dispatch_http, worker_a, case_id, "resolved")

    visit = dispatch_http.post(f"/cases/{case_id}/return-visit", headers=worker_a,
                               json={"satisfied": True, "satisfaction": 5, "method": "phone"})
    assert visit.status_code == 200, visit.text
    wait_state(dispatch_http, worker_a, case_id, "closed")

    case_file = dispatch_http.get(f"/cases/{case_id}/file", headers=worker_a).json()
    assert case_file["verification"]["valid"] is True
    actions = actions_of(case_file)
    assert actions[:2] == ["filed", "dispatch"]
    assert actions.count("ack") == 2 and actions.count("department_result") == 2
    assert actions[-1] == "return_visit_satisfied"
    closing = case_file["entries"][-1]
    assert (closing["from_state"], closing["to_state"]) == ("resolved", "closed")
    assert closing["actor_sub"] == "worker-a"


def test_open311_report_follows_its_case_to_closed(services, web_session, worker_a,
                                                   dispatch_http):
    created = web_session.post("/open311/v2/requests.json", data={
        "api_key": OPEN311_KEY, "service_code": "public_facility_damage",
        "attribute[facility_type]": "street_light", "lat": str(IN_A["lat"]),
        "long": str(IN_A["lon"]), "description": "路灯不亮"})
    assert created.status_code == 201, created.text
    number = created.json()[0]["service_request_id"]

    def public_status():
        found = web_session.get(f"/open311/v2/requests/{number}.json")
        return found.json()[0] if found.status_code == 200 else None

    assert public_status()["status"] == "open"
    def in_dispatch():
        listed = dispatch_http.get("/cases", headers=worker_a, params={"grid_code": GRID_A})
        assert listed.status_code == 200, listed.text
        return [c for c in listed.json()["items"] if c["case_number"] == number]

    [case] = wait_until(in_dispatch, FLOW_WAIT)
    wait_state(dispatch_http, worker_a, case["case_id"], "handling_local")  # P5.1.5/P5.3.2
    # Open311 expected_datetime: the grid's own handling deadline (dispatch.case.changed v2)
    expected = wait_until(lambda: public_status()["expected_datetime"], FLOW_WAIT)
    assert expected and expected.endswith("+08:00")

    result = dispatch_http.post(f"/cases/{case['case_id']}/local-result", headers=worker_a,
                                json={"note": "已报修并修复", "resolved": True})
    assert result.status_code == 200, result.text
    visit = dispatch_http.post(f"/cases/{case['case_id']}/return-visit", headers=worker_a,
                               json={"satisfied": True, "satisfaction": 4, "method": "visit"})
    assert visit.status_code == 200, visit.text

    closed = wait_until(lambda: (public_status() or {}).get("status") == "closed", FLOW_WAIT)
    assert closed, public_status()
    shown = public_status()
    assert "worker-a" not in str(shown)  # who handled it is not public
    assert shown["expected_datetime"] is None  # done: nothing is expected any more


def test_open311_names_the_departments_responsible(services, registry, web_session,
                                                   dispatch_http, worker_a, departments,
                                                   db_engine):
    """agency_responsible by name, lead first, in the reader's language (issue 11)."""
    with entrypoint_hook(registry, "announce_departments") as announce:
        announce()  # the registry started before events' queue existed (at start: hourly)
    with db_engine.connect() as conn:
        assert wait_until(lambda: conn.execute(sa.text(
            "SELECT count(*) FROM events.departments")).scalar() == 10, FLOW_WAIT)
    created = web_session.post("/open311/v2/requests.json", data={
        "api_key": OPEN311_KEY, "service_code": "fire_hazard_corridor",
        "lat": str(IN_A["lat"]), "long": str(IN_A["lon"]), "description": "楼道堆满纸箱"})
    assert created.status_code == 201, created.text
    number = created.json()[0]["service_request_id"]

    def agency(lang):
        found = web_session.get(f"/open311/v2/requests/{number}.json",
                                headers={"Accept-Language": lang})
        return found.json()[0]["agency_responsible"] if found.status_code == 200 else None

    assert wait_until(lambda: agency("zh-CN"), FLOW_WAIT) == "消防、应急管理"
    assert agency("en") == "Fire and Rescue, Emergency Management"


def test_dispatch_replica_stopped_mid_flow_loses_and_duplicates_nothing(
        services, container_factory, dispatch_config, web_session, worker_a, dispatch_http,
        db_engine):
    """Two dispatch replicas share the queues; one is killed while cases are in flight
    (its unacknowledged deliveries go back to the broker); every case still reaches
    "resolved" with exactly one assignment per department."""
    address = f"127.0.0.1:{free_port()}"
    second = container_factory(DispatchService,
                               {**dispatch_config, "WEB_SERVER_ADDRESS": address})
    second.start()
    def report(i):
        return file(web_session, worker_a, description=f"楼道堆物 {i} {uuid.uuid4().hex[:6]}",
                    location={"lon": IN_A["lon"] + i * 0.00003, "lat": IN_A["lat"]})["case_id"]

    case_ids = [report(i) for i in range(6)]
    services["dispatch"].kill()  # the first replica dies with these cases in flight
    case_ids += [report(i) for i in range(6, 12)]
    for case_id in case_ids:
        assert wait_until(lambda c=case_id: case_state_in_db(db_engine, c) == "resolved",
                          FLOW_WAIT), (case_id, case_state_in_db(db_engine, case_id))
    with db_engine.connect() as conn:
        counts = conn.execute(
            sa.select(assignments.c.case_id, assignments.c.department, sa.func.count())
            .where(assignments.c.case_id.in_(case_ids))
            .group_by(assignments.c.case_id, assignments.c.department)).all()
    assert len(counts) == len(case_ids) * len(DEPARTMENTS)
    assert {row[2] for row in counts} == {1}


def case_state_in_db(db_engine, case_id):
    with db_engine.connect() as conn:
        return conn.execute(sa.text("SELECT state FROM dispatch.cases WHERE case_id = :c"),
                            {"c": case_id}).scalar()

"""A special-group case (P5.2.5) across the real registry, events and dispatch services and
the reference department adapter: the resident it names is checked against the registry in
the reporter's scope; the ``sensitive`` flag travels on ``events.case.reported`` v3 to
dispatch; the town grid chief, the community grid worker and the ops viewer never see it
(404 in events and in dispatch, counted only in the statistics), while the community grid
chief, the district admin and the department assigned work it to the end."""

from __future__ import annotations

import sqlalchemy as sa

from tests.adapters import FAST, Lines, amqp_url, running
from tests.amqp import wait_until
from tests.events.conftest import COMMUNITY, DISTRICT, GRID_A, GRID_B, TOWN, add_resident
from tests.flow.test_case_flow import FLOW_WAIT, wait_state
from tools.department_adapter.adapter import AdapterConfig

POLICE = "public_security"  # the default rules' lead for drug_user cases


def drug_user_case(resident_id):
    return {"location": {"lon": 120.005, "lat": 31.005}, "resident_id": resident_id,
            "work_category": "special_group_assistance", "subcategory": "drug_user",
            "description": "社区戒毒人员本月未按时报到"}


def test_special_group_case_across_registry_events_and_dispatch(
        services, web_session, dispatch_http, worker_a, admin, registry_http, token,
        rabbit_config, db_engine):
    resident = add_resident(registry_http, admin, GRID_A)
    elsewhere = add_resident(registry_http, admin, GRID_B, serial="456", name="李四")
    refused = web_session.post("/cases", json=drug_user_case(elsewhere), headers=worker_a)
    assert refused.status_code == 422, refused.text  # the resident lives in grid B
    assert refused.json()["error"]["code"] == "unknown_resident"

    police = Lines()
    with running(AdapterConfig(department=POLICE, amqp_url=amqp_url(rabbit_config),
                               auto_ack=True, auto_result_after=0.3, **FAST), police):
        filed = web_session.post("/cases", json=drug_user_case(resident), headers=worker_a)
        assert filed.status_code == 201, filed.text
        case = filed.json()
        chief = token("community_grid_chief", f"community:{COMMUNITY}", sub="cchief-1")
        wait_state(dispatch_http, chief, case["case_id"], "resolved")
        assigned = [e for e in police.envelopes() if e["type"] == "dispatch.assignment"]
        assert assigned and assigned[0]["payload"]["subcategory"] == "drug_user"

    with db_engine.connect() as conn:
        assert conn.execute(sa.text("SELECT sensitive FROM dispatch.cases WHERE case_id = "
                                    ":c"), {"c": case["case_id"]}).scalar_one() is True

    others = {"town_grid_chief": f"town:{TOWN}",
              "community_grid_worker": f"community:{COMMUNITY}",
              "ops_viewer": f"district:{DISTRICT}"}
    for role, scope in others.items():
        who = token(role, scope, sub=f"{role}-1")
        assert web_session.get(f"/cases/{case['case_number']}", headers=who
                               ).status_code == 404, role
        for route in ("", "/file", "/file.html", "/file.json"):
            assert dispatch_http.get(f"/cases/{case['case_id']}{route}", headers=who
                                     ).status_code == 404, (role, route)
        assert dispatch_http.get("/cases", headers=who).json()["total"] == 0, role
    town = dispatch_http.get("/statistics", headers=token("town_grid_chief", f"town:{TOWN}"))
    assert town.status_code == 200, town.text
    assert town.json()["recent"] == [] and town.json()["by_town"][0]["total"] == 1

    # the community grid chief makes the return visit; events follows the case to closed
    visit = dispatch_http.post(f"/cases/{case['case_id']}/return-visit", headers=chief,
                               json={"satisfied": True, "satisfaction": 5, "method": "visit"})
    assert visit.status_code == 200, visit.text
    wait_state(dispatch_http, chief, case["case_id"], "closed")
    assert wait_until(lambda: web_session.get(
        f"/cases/{case['case_number']}", headers=admin).json()["status"] == "closed",
        FLOW_WAIT)
    officer = token("department_officer", f"department:{POLICE}")
    assert dispatch_http.get(f"/cases/{case['case_id']}", headers=officer).status_code == 200

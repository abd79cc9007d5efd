"""Staff ↔ token identity (``subject``), a staff member's grids, ``GET /staff/me`` and the
``registry.staff.changed`` v1 events published through the outbox (P5.0, P5.1.4, P5.1.5,
P5.4.1; no personal data in the events, P5.4.4)."""

import json

from nameko.standalone.rpc import ServiceRpcProxy

from gridgov_common.contract import parse_envelope
from tests.amqp import bind_queue, drain
from tests.registry.conftest import COMMUNITY, GRID_A, GRID_B, TOWN


def appoint(web_session, headers, **body):
    response = web_session.post("/staff", headers=headers, json=body)
    assert response.status_code == 201, response.text
    return response.json()


def test_subject_maps_a_token_to_its_staff_record_and_grids(district, web_session, token,
                                                            admin):
    worker = appoint(web_session, admin, name="钱小红", role="neighbourhood_grid_worker",
                     scope=f"grid:{GRID_A}", subject="gw-001", work_phone="13900000001")
    # P5.1.5: a neighbourhood grid worker answers for their own grid from the start
    assert worker["subject"] == "gw-001" and worker["grid_codes"] == [GRID_A]
    mine = web_session.get("/staff/me", headers=token("neighbourhood_grid_worker",
                                                      f"grid:{GRID_A}", sub="gw-001"))
    assert mine.status_code == 200, mine.text
    assert (mine.json()["id"], mine.json()["grid_codes"]) == (worker["id"], [GRID_A])
    stranger = web_session.get("/staff/me", headers=token("neighbourhood_grid_worker",
                                                          f"grid:{GRID_A}", sub="nobody"))
    assert stranger.status_code == 404
    assert stranger.json()["error"]["code"] == "unknown_subject"


def test_subject_is_unique_among_active_staff(district, web_session, token, admin):
    chief = token("community_grid_chief", f"community:{COMMUNITY}", sub="chief")
    town = token("town_grid_chief", f"town:{TOWN}", sub="town")
    first = appoint(web_session, chief, name="甲", role="neighbourhood_grid_worker",
                    scope=f"grid:{GRID_A}", subject="gw-1")
    again = web_session.post("/staff", headers=admin, json={
        "name": "乙", "role": "community_grid_worker", "scope": f"community:{COMMUNITY}",
        "subject": "gw-1"})
    assert again.status_code == 409 and again.json()["error"]["code"] == "subject_taken"
    second = appoint(web_session, admin, name="乙", role="community_grid_worker",
                     scope=f"community:{COMMUNITY}")
    taken = web_session.put(f"/staff/{second['id']}/subject", headers=admin,
                            json={"subject": "gw-1"})
    assert taken.status_code == 409
    # the first is dismissed (P5.1.5 hired and filed, P5.4.1 adjustment): subject free again
    for who, action in [(town, "review"), (town, "hire"), (admin, "file"),
                        (chief, "propose_adjustment"), (town, "approve_adjustment")]:
        step = web_session.post(f"/staff/{first['id']}/transitions", headers=who,
                                json={"action": action})
        assert step.status_code == 200, step.text
    assert step.json()["active"] is False
    moved = web_session.put(f"/staff/{second['id']}/subject", headers=admin,
                            json={"subject": "gw-1"})
    assert moved.status_code == 200 and moved.json()["subject"] == "gw-1"
    bad = web_session.put(f"/staff/{second['id']}/subject", headers=admin,
                          json={"subject": "has space"})
    assert bad.status_code == 422


def test_grids_lie_in_the_scope_and_are_valid(district, web_session, admin):
    worker = appoint(web_session, admin, name="丙", role="community_grid_worker",
                     scope=f"community:{COMMUNITY}", subject="cw-2")
    given = web_session.put(f"/staff/{worker['id']}/grids", headers=admin,
                            json={"grid_codes": [GRID_B, GRID_A, GRID_A]})
    assert given.status_code == 200 and given.json()["grid_codes"] == [GRID_A, GRID_B]
    outside = web_session.put(f"/staff/{worker['id']}/grids", headers=admin,
                              json={"grid_codes": ["320505001002001"]})
    assert outside.status_code == 422
    unknown = web_session.put(f"/staff/{worker['id']}/grids", headers=admin,
                              json={"grid_codes": [COMMUNITY + "009"]})
    assert unknown.status_code == 422
    assert web_session.put(f"/staff/{worker['id']}/grids", headers=admin,
                           json={"grid_codes": [GRID_B]}).json()["grid_codes"] == [GRID_B]


def test_every_change_is_published_without_personal_data(district, web_session, admin,
                                                          token, rabbit_config):
    uri = rabbit_config["AMQP_URI"]
    bind_queue(uri, "staff-watch", "gridgov.events", ["registry.staff.changed"])
    chief = token("community_grid_chief", f"community:{COMMUNITY}", sub="chief")
    town = token("town_grid_chief", f"town:{TOWN}", sub="town")
    worker = appoint(web_session, chief, name="钱小红", role="neighbourhood_grid_worker",
                     scope=f"grid:{GRID_A}", work_phone="13900000001")
    web_session.put(f"/staff/{worker['id']}/subject", headers=chief, json={"subject": "gw-9"})
    web_session.post(f"/staff/{worker['id']}/transitions", headers=town,
                     json={"action": "review"})
    lead = appoint(web_session, admin, name="丁", role="community_grid_worker",
                   scope=f"community:{COMMUNITY}", subject="cw-9")
    web_session.put(f"/staff/{lead['id']}/grids", headers=admin,
                    json={"grid_codes": [GRID_A, GRID_B]})
    bodies = [body for _, _, body in drain(uri, "staff-watch", expect=5)]
    for body in bodies:  # each one valid against the contract and free of personal data
        parse_envelope(body)
        text = body.decode()
        assert "钱小红" not in text and "13900000001" not in text
    seen = [json.loads(b)["payload"] for b in bodies]
    assert [(p["staff_id"], p["action"], p["subject"], p["lifecycle_state"]) for p in seen] == [
        (worker["id"], "created", None, "recruited"),
        (worker["id"], "subject_set", "gw-9", "recruited"),
        (worker["id"], "status_changed", "gw-9", "reviewed"),
        (lead["id"], "created", "cw-9", "active"),
        (lead["id"], "grids_changed", "cw-9", "active")]
    assert seen[0]["grid_codes"] == [GRID_A] and seen[0]["scope"] == f"grid:{GRID_A}"
    assert (seen[0]["town_code"], seen[0]["community_code"]) == (TOWN, COMMUNITY)
    assert seen[4]["grid_codes"] == [GRID_A, GRID_B]
    assert seen[4]["scope"] == f"community:{COMMUNITY}" and seen[4]["active"] is True


def test_staff_names_rpc_gives_grid_staff_names_only(district, web_session, admin,
                                                     rabbit_config):
    """P5.4.2/P5.4.6: the half-year assessment names the people it assesses. The registry
    answers the names the grid notice board posts, for the subjects asked, and nothing
    else: no phone, no ID number, no department officer or administrator."""
    appoint(web_session, admin, name="钱小红", role="neighbourhood_grid_worker",
            scope=f"grid:{GRID_A}", subject="gw-n1", work_phone="13900000001")
    appoint(web_session, admin, name="丁一", role="community_grid_chief",
            scope=f"community:{COMMUNITY}", subject="chief-n1")
    appoint(web_session, admin, name="王消防", role="department_officer",
            scope="department:fire", subject="officer-n1")
    with ServiceRpcProxy("registry", rabbit_config) as registry:
        names = registry.staff_names(["gw-n1", "chief-n1", "officer-n1", "nobody"])
        assert names == {"gw-n1": "钱小红", "chief-n1": "丁一"}
        assert registry.staff_names([]) == {}

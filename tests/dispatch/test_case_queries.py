"""Case lists and buttons (P5.3, P6.2) on a real broker and database: ``GET /cases`` is
scoped (grid codes nest by prefix; departments see the cases they are assigned), filtered,
paged and newest first; ``GET /cases/<id>/actions`` lists what the caller may do; the
``get_case`` / ``list_cases`` RPCs apply the same scope to the scope they are given."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from nameko.exceptions import RemoteError
from nameko.standalone.rpc import ServiceRpcProxy

from services.dispatch import place_names
from services.dispatch.models import assignments, cases
from services.dispatch.queries import SUMMARY_COLUMNS
from tests.dispatch.conftest import DISTRICT
from tests.dispatch.test_actions import (
    COMMUNITY,
    COMMUNITY_CASE,
    FIRE_CASE,
    GRID,
    TOWN,
    file_case,
)

OTHER_TOWN = DISTRICT + "002"


@pytest.fixture
def four_cases(dispatch, sinks, db_engine):
    """A (fire, this grid), B (local, this grid), C (local, next community), D (fire, other
    town), reported one after the other."""
    def report(day, state, grid, town, kind):
        return file_case(sinks, db_engine, state, grid_code=grid, town_code=town,
                         case_number=f"GS202611{day}-000001",
                         reported_at=f"2026-11-{day}T02:15:00.000Z", **kind)

    return {
        "A": report(20, "dispatched", GRID, TOWN, FIRE_CASE),
        "B": report(22, "handling_local", GRID, TOWN, COMMUNITY_CASE),
        "C": report(24, "handling_local", TOWN + "002001", TOWN, COMMUNITY_CASE),
        "D": report(26, "dispatched", OTHER_TOWN + "001001", OTHER_TOWN, FIRE_CASE),
    }


def _listed(web_session, headers, expect=200, **params):
    response = web_session.get("/cases", headers=headers, params=params)
    assert response.status_code == expect, response.text
    return response.json()


def _names(body, four_cases):
    by_id = {case_id: name for name, case_id in four_cases.items()}
    return "".join(by_id[item["case_id"]] for item in body["items"])


def test_lists_are_scoped_newest_first(four_cases, web_session, token):
    seen = {
        "neighbourhood_grid_worker": (f"grid:{GRID}", "BA"),
        "community_grid_chief": (f"community:{COMMUNITY}", "BA"),
        "town_grid_chief": (f"town:{TOWN}", "CBA"),
        "district_admin": (f"district:{DISTRICT}", "DCBA"),
        "ops_viewer": (f"district:{DISTRICT}", "DCBA"),
    }
    for role, (scope, expected) in seen.items():
        body = _listed(web_session, token(role, scope))
        assert (_names(body, four_cases), body["total"]) == (expected, len(expected)), role
    fire = _listed(web_session, token("department_officer", "department:fire"))
    assert _names(fire, four_cases) == "DA"
    police = _listed(web_session, token("department_officer", "department:police"))
    assert police == {"items": [], "total": 0}
    # over HTTP each row carries its names beside its codes (no registry runs here: None)
    assert set(fire["items"][0]) == {*SUMMARY_COLUMNS, "subcategory_name", "place"}


def test_filters_and_pages(four_cases, web_session, token):
    admin = token("district_admin", f"district:{DISTRICT}")
    checks = [
        ({"town_code": OTHER_TOWN}, "D"),
        ({"state": "handling_local"}, "CB"),
        ({"work_category": "public_security_prevention"}, "DA"),
        ({"grid_code": GRID}, "BA"),
        ({"reported_from": "2026-11-21T00:00:00Z", "reported_to": "2026-11-25T00:00:00Z"},
         "CB"),
        ({"reported_from": "2026-11-26"}, "D"),
        # P5.3.2: the fire cases' rule leaves them with the town, the others' the community
        ({"handling_level": "town"}, "DA"),
        ({"handling_level": "community", "state": "handling_local"}, "CB"),
        ({"handling_level": "grid"}, ""),
    ]
    for params, expected in checks:
        assert _names(_listed(web_session, admin, **params), four_cases) == expected, params
    page = _listed(web_session, admin, limit=2, offset=1)
    assert (_names(page, four_cases), page["total"]) == ("CB", 4)
    for bad in ({"limit": 201}, {"state": "nonsense"}, {"grid_code": "123"},
                {"handling_level": "province"}):
        _listed(web_session, admin, expect=422, **bad)


def test_overdue_means_past_the_handling_time_limit(four_cases, db_engine, web_session,
                                                    token):
    with db_engine.begin() as conn:  # the clock moved on: A's lead and C's own level are late
        conn.execute(sa.update(assignments).where(
            assignments.c.case_id == four_cases["A"], assignments.c.department == "fire")
            .values(handle_due_at=sa.text("now() - interval '1 hour'")))
        conn.execute(sa.update(cases).where(cases.c.case_id == four_cases["C"])
                     .values(handle_due_at=sa.text("now() - interval '1 minute'")))
    admin = token("district_admin", f"district:{DISTRICT}")
    assert _names(_listed(web_session, admin, overdue="true"), four_cases) == "CA"
    assert _names(_listed(web_session, admin, overdue="false"), four_cases) == "DB"
    town = token("town_grid_chief", f"town:{TOWN}")
    assert _names(_listed(web_session, town, overdue="true", state="handling_local"),
                  four_cases) == "C"


def test_actions_list_what_the_caller_may_do_now(four_cases, web_session, token):
    def buttons(headers, name):
        response = web_session.get(f"/cases/{four_cases[name]}/actions", headers=headers)
        assert response.status_code == 200, response.text
        return response.json()["transitions"]

    assert buttons(token("neighbourhood_grid_worker", f"grid:{GRID}"), "B") == ["local_result"]
    assert buttons(token("town_grid_chief", f"town:{TOWN}"), "B") == ["local_result",
                                                                       "suspend"]
    assert buttons(token("department_officer", "department:fire"), "A") == [
        "ack", "department_return"]
    body = web_session.get(f"/cases/{four_cases['A']}/actions",
                           headers=token("ops_viewer", f"district:{DISTRICT}")).json()
    assert (body["state"], body["transitions"]) == ("dispatched", [])


def test_rpc_get_case_and_list_cases_apply_the_given_scope(four_cases, rabbit_config):
    with ServiceRpcProxy("dispatch", rabbit_config) as dispatch_rpc:
        case = dispatch_rpc.get_case(four_cases["A"], "town_grid_chief", f"town:{TOWN}")
        assert case["case_id"] == four_cases["A"]
        assert [a["department"] for a in case["assignments"]] == ["fire",
                                                                 "emergency_management"]
        with pytest.raises(RemoteError) as outside:
            dispatch_rpc.get_case(four_cases["D"], "town_grid_chief", f"town:{TOWN}")
        assert outside.value.exc_type == "NotFound"
        listed = dispatch_rpc.list_cases("department_officer", "department:fire",
                                         {"state": "dispatched", "limit": 1})
        assert listed["total"] == 2 and len(listed["items"]) == 1
        assert listed["items"][0]["case_id"] == four_cases["D"]
        with pytest.raises(RemoteError) as bad_scope:
            dispatch_rpc.list_cases("town_grid_chief", "grid:320505001001003")
        assert bad_scope.value.exc_type == "Unprocessable"


def test_another_district_sees_none_of_these_cases(four_cases, web_session, token):
    """Issue 10 item 3: every dispatch route, called with a token of every role of district
    110105, on 320505's cases (path ids, queries by their grid and town): no 5xx, no answer
    carrying a 320505 code, every action refused (tests/authz/test_districts.py's walk)."""
    from tests.authz.conftest import OTHER_SCOPES
    from tests.authz.test_districts import walk
    from tests.authz.test_route_walk import routes_of

    other = {"other_district": {role.value: token(role.value, scope, sub=f"b-{role.value}")
                                for role, scope in OTHER_SCOPES.items()}}
    routes = {r: v for r, v in routes_of(web_session).items() if not r.startswith(
        ("GET /config", "POST /config", "PUT /config", "DELETE /config"))}
    failures = walk(web_session, other, routes, {"case_id": four_cases["A"]},
                    {"GET /cases": [{}, {"grid_code": GRID}, {"town_code": TOWN}],
                     "GET /statistics": [{}, {"scope": DISTRICT}],
                     "GET /delay-requests": [{}]}, {})
    assert failures == []


def test_one_case_carries_its_photos_and_the_names_of_what_and_where(four_cases, web_session,
                                                                      token, db_engine):
    place_names.forget()  # an earlier test's district of the same code may be cached
    town = token("town_grid_chief", f"town:{TOWN}")
    response = web_session.get(f"/cases/{four_cases['A']}", headers=town)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["photos"] == ["a" * 64] and body["subcategory"] == "fire_hazard_corridor"
    # no registry runs here and no catalogue was published: the codes stay, nothing fails
    assert body["subcategory_name"] is None
    assert body["place"] == {"town": None, "community": None, "grid": None}
    assert [a["department"] for a in body["assignments"]] == ["fire", "emergency_management"]
    with db_engine.connect() as conn:  # where it was seen: the case page's map (issue 14)
        seen = conn.execute(sa.select(cases.c.location).where(
            cases.c.case_id == four_cases["A"])).scalar_one()
    assert seen and body["location"] == seen

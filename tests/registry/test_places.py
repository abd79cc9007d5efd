"""Places and grids over HTTP and RPC on the real registry service (P3.1, P4.1)."""

import json

import pytest
from nameko.exceptions import RemoteError
from nameko.standalone.rpc import ServiceRpcProxy

from tests.registry.conftest import (
    COMMUNITY,
    DISTRICT,
    GRID_A,
    GRID_B,
    LEFT,
    OTHER_COMMUNITY,
    TOWN,
    square,
)


def test_grid_codes_are_issued_in_sequence_by_the_registry(district):
    assert district["grid_a"]["grid_code"] == GRID_A
    assert district["grid_b"]["grid_code"] == GRID_B
    assert district["grid_a"]["town_code"] == TOWN
    # full coverage reached: the two halves tile the community (P3.1)
    assert district["grid_b"]["coverage_gaps"] == []


def test_first_grid_reports_the_gap_it_leaves(registry, web_session, token):
    admin = token("district_admin", "district:320506")  # its own district (issue 10)
    for path, body in [("/districts", {"code": "320506", "name": "x"}),
                       ("/towns", {"code": "320506001", "name": "t"}),
                       ("/communities", {"code": "320506001001", "name": "c",
                                         "boundary": square(121.0, 31.0, 121.02, 31.01)})]:
        assert web_session.post(path, json=body, headers=admin).status_code == 201
    grid = web_session.post("/grids", headers=admin, json={
        "community_code": "320506001001", "name": "west",
        "geometry": square(121.0, 31.0, 121.01, 31.01)}).json()
    assert len(grid["coverage_gaps"]) == 1
    coverage = web_session.get("/communities/320506001001/coverage", headers=admin).json()
    assert len(coverage["gaps"]) == 1


def test_overlapping_grid_is_refused(district, web_session, admin):
    response = web_session.post("/grids", headers=admin, json={
        "community_code": COMMUNITY, "name": "overlap",
        "geometry": square(120.005, 31.00, 120.015, 31.01)})
    assert response.status_code == 409
    body = response.json()["error"]
    assert body["code"] == "grid_overlap"
    assert set(body["fields"]["geometry"]) == {GRID_A, GRID_B}


def test_a_grid_outside_its_community_is_refused(district, web_session, admin):
    """P3.1: a grid divides its community; one drawn wholly or partly outside the
    community's boundary is refused with the area outside (a community without a drawn
    boundary cannot be checked: OTHER_COMMUNITY)."""
    for geometry in (square(120.05, 31.05, 120.06, 31.06),  # wholly outside
                     square(120.015, 31.01, 120.03, 31.02)):  # touching, all outside
        response = web_session.post("/grids", headers=admin, json={
            "community_code": COMMUNITY, "name": "astray", "geometry": geometry})
        assert response.status_code == 422, response.text
        error = response.json()["error"]
        assert error["code"] == "grid_outside_community"
        assert "m² outside community 320505001001" in error["fields"]["geometry"][0]


def test_a_building_is_filed_under_the_grid_it_stands_in(district, web_session, admin):
    """P3.1: one building, one grid: a point in grid B filed under grid A is refused; a
    point a few metres off the edge (survey error) is taken."""
    wrong = web_session.post("/buildings", headers=admin, json={
        "grid_code": GRID_A, "address": "锦绣花园9幢", "lon": 120.015, "lat": 31.005})
    assert wrong.status_code == 422, wrong.text
    assert wrong.json()["error"]["code"] == "building_outside_grid"
    edge = web_session.post("/buildings", headers=admin, json={
        "grid_code": GRID_A, "address": "锦绣花园10幢", "lon": 120.01005, "lat": 31.005})
    assert edge.status_code == 201, edge.text  # ≈ 5 m east of the shared edge
    right = web_session.post("/buildings", headers=admin, json={
        "grid_code": GRID_B, "address": "锦绣花园9幢", "lon": 120.015, "lat": 31.005})
    assert right.status_code == 201, right.text


def test_self_intersecting_polygon_is_refused(district, web_session, admin):
    bowtie = {"type": "Polygon", "coordinates": [[[121, 31], [121.01, 31.01], [121.01, 31],
                                                  [121, 31.01], [121, 31]]]}
    response = web_session.post("/grids", headers=admin, json={
        "community_code": OTHER_COMMUNITY, "name": "bowtie", "geometry": bowtie})
    assert response.status_code == 422
    assert "geometry" in response.json()["error"]["fields"]


def test_bad_codes_and_unknown_parents(registry, web_session, admin):
    bad = web_session.post("/towns", headers=admin, json={"code": "12AB", "name": "x"})
    assert bad.status_code == 422
    orphan = web_session.post("/grids", headers=admin, json={
        "community_code": "320505999999", "name": "x", "geometry": LEFT})
    assert orphan.status_code == 404
    assert web_session.get("/grids/320505001001999", headers=admin).status_code == 404


def test_only_the_district_admin_issues_grid_codes(district, web_session, token):
    chief = token("town_grid_chief", f"town:{TOWN}")
    response = web_session.post("/grids", headers=chief, json={
        "community_code": OTHER_COMMUNITY, "name": "x", "geometry": square(121, 31, 121.01, 31.01)})
    assert response.status_code == 403


def test_retired_grid_code_is_never_reissued(district, web_session, admin):
    retired = web_session.post(f"/grids/{GRID_B}/retire", headers=admin,
                               json={"valid_to": "2026-12-31"})
    assert retired.status_code == 200
    assert retired.json()["valid_to"] == "2026-12-31"
    again = web_session.post(f"/grids/{GRID_B}/retire", headers=admin,
                             json={"valid_to": "2027-01-31"})
    assert again.status_code == 409
    redrawn = web_session.post("/grids", headers=admin, json={
        "community_code": COMMUNITY, "name": "东区",
        "geometry": square(120.01, 31.0, 120.02, 31.01), "valid_from": "2027-01-01"})
    assert redrawn.status_code == 201, redrawn.text
    assert redrawn.json()["grid_code"] == COMMUNITY + "003"


def test_point_lookup_http_rpc_and_batch(district, web_session, admin, rabbit_config):
    found = web_session.get("/lookup/point", params={"lon": 120.015, "lat": 31.005},
                            headers=admin)
    assert found.json() == {"grid_code": GRID_B, "community_code": COMMUNITY, "town_code": TOWN}
    outside = web_session.get("/lookup/point", params={"lon": 100, "lat": 31}, headers=admin)
    assert outside.status_code == 404
    bad = web_session.get("/lookup/point", params={"lon": "east", "lat": 31}, headers=admin)
    assert bad.status_code == 422
    batch = web_session.post("/lookup/points", headers=admin,
                             json={"points": [[120.005, 31.005], [120.015, 31.005], [0, 0]]})
    assert batch.json() == {"grid_codes": [GRID_A, GRID_B, None]}
    with ServiceRpcProxy("registry", rabbit_config) as registry:
        assert registry.lookup_point(120.005, 31.005)["grid_code"] == GRID_A
        assert registry.lookup_point(0, 0) is None
        summary = registry.get_grid_summary(GRID_A)
        assert summary["supervision_phone"] == "0512-12345"


def test_address_lookup_and_geojson(district, web_session, admin):
    hits = web_session.get("/lookup/address", params={"q": "锦绣花园"}, headers=admin).json()
    assert [h["grid_code"] for h in hits] == [GRID_A]
    collection = web_session.get("/grids.geojson", headers=admin).json()
    assert {f["properties"]["grid_code"] for f in collection["features"]} == {GRID_A, GRID_B}


def test_place_names_for_maps_and_circulars(district, web_session, admin, rabbit_config):
    """Operators and circulars show names: the grid features carry their community's and
    town's, and the place_names RPC gives the same for a scope."""
    features = web_session.get("/grids.geojson", headers=admin).json()["features"]
    town_names = {f["properties"]["town_name"] for f in features}
    community_names = {f["properties"]["community_name"] for f in features}
    assert len(town_names) == len(community_names) == 1 and all(town_names | community_names)
    with ServiceRpcProxy("registry", rabbit_config) as registry:
        names = registry.place_names(TOWN)
        assert names["towns"] == {TOWN: town_names.pop()}
        assert names["communities"][COMMUNITY] == community_names.pop()
        assert all(code.startswith(TOWN) for code in names["communities"])
        assert names["districts"] == {DISTRICT: "姑苏区"}  # a circular's scope, by name
        assert registry.place_names("999") == {"districts": {}, "towns": {},
                                               "communities": {}}
        # the half-year assessment names each worker's grid (P5.4.6): on request only
        with_grids = registry.place_names(COMMUNITY, grids=True)
        assert with_grids["grids"] == {GRID_A: "锦绣一网格", GRID_B: "锦绣二网格"}
        assert with_grids["communities"] == {COMMUNITY: names["communities"][COMMUNITY]}


def test_grid_size_is_flagged_not_rejected(district, web_session, admin):
    grid = web_session.get(f"/grids/{GRID_A}", headers=admin).json()
    assert grid["households"] == 1
    assert grid["flags"], "a base grid of one household is flagged (P4.1: ~200–300)"


def test_exclusive_grid_names_its_owner(district, web_session, admin):
    response = web_session.post("/grids", headers=admin, json={
        "community_code": OTHER_COMMUNITY, "name": "厂区", "kind": "exclusive",
        "geometry": square(121, 31, 121.01, 31.01)})
    assert response.status_code == 422
    response = web_session.post("/grids", headers=admin, json={
        "community_code": OTHER_COMMUNITY, "name": "厂区", "kind": "exclusive",
        "owner_org": "苏州某电子有限公司", "geometry": square(121, 31, 121.01, 31.01)})
    assert response.status_code == 201
    assert response.json()["flags"] == []


def test_case_context_names_a_cases_place_building_and_staff(district, web_session, admin,
                                                             rabbit_config):
    """Issue 11: a case file page names where and who; no personal data comes with it."""
    worker = web_session.post("/staff", headers=admin, json={
        "name": "钱小红", "role": "neighbourhood_grid_worker", "scope": f"grid:{GRID_A}",
        "subject": "gw-001", "work_phone": "13900000001"})
    assert worker.status_code == 201, worker.text
    building = district["building"]["id"]
    with ServiceRpcProxy("registry", rabbit_config) as registry:
        found = registry.case_context(GRID_A, building, ["gw-001", "nobody"])
        bare = registry.case_context(GRID_B)
        unknown = registry.case_context("320505001001999", 999999, [])
        with pytest.raises(RemoteError) as refused:
            registry.case_context("32050500100100", None, [])
    place = found["place"]
    assert (place["district_name"], place["town_name"], place["community_name"],
            place["grid_name"]) == ("姑苏区", "枫桥街道", "锦绣社区", "锦绣一网格")
    assert (place["town_code"], place["community_code"]) == (TOWN, COMMUNITY)
    assert place["geometry"]["type"] == "Polygon"
    assert found["building"] == {"id": building, "address": "锦绣花园3幢",
                                 "grid_code": GRID_A, "lon": 120.005, "lat": 31.005}
    assert found["staff"] == {"gw-001": {"name": "钱小红",
                                         "role": "neighbourhood_grid_worker"}}
    assert "13900000001" not in json.dumps(found, ensure_ascii=False)  # no phone
    assert bare["place"]["grid_name"] == "锦绣二网格"
    assert bare["building"] is None and bare["staff"] == {}
    assert unknown == {"place": None, "building": None, "staff": {}}
    assert refused.value.exc_type == "ValidationError"

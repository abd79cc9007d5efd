"""Scope, the other half of authorisation: a token of the right role but another town,
community or grid must not reach the record (403 or 404, as each handler answers).

Representative routes on the real services: registry residents (personal data), one-query
search and the masked export; assessment patrol tracks (location data).  The case reads
are covered by tests/events/test_cases.py::test_reads_are_scoped and dispatch's
tests/dispatch/test_case_queries.py.
"""

from __future__ import annotations

import pytest

from gridgov_common.kernel import auth
from services.registry.domain.identity import check_character

DISTRICT, TOWN, OTHER_TOWN = "320505", "320505001", "320505002"
COMMUNITY, OTHER_COMMUNITY = TOWN + "001", OTHER_TOWN + "001"
GRID = COMMUNITY + "001"


def square(lon0, lat0, lon1, lat1):
    return {"type": "Polygon", "coordinates": [[[lon0, lat0], [lon1, lat0], [lon1, lat1],
                                                [lon0, lat1], [lon0, lat0]]]}


def header(secret: str, role: str, scope: str, sub: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {auth.mint(secret, sub, role, scope)}"}


@pytest.fixture
def tokens(platform_secrets):
    secret = platform_secrets["JWT_SECRET"]
    return {
        "admin": header(secret, "district_admin", f"district:{DISTRICT}", "admin"),
        "chief": header(secret, "town_grid_chief", f"town:{TOWN}", "chief-1"),
        "other_chief": header(secret, "town_grid_chief", f"town:{OTHER_TOWN}", "chief-2"),
        "worker": header(secret, "neighbourhood_grid_worker", f"grid:{GRID}", "worker-1"),
        "other_worker": header(secret, "neighbourhood_grid_worker",
                               f"grid:{OTHER_COMMUNITY}001", "worker-2"),
        "other_cgc": header(secret, "community_grid_chief", f"community:{OTHER_COMMUNITY}",
                            "cgc-2"),
    }


def test_registry_residents_stay_in_their_town(start_service, web_session, tokens):
    start_service("registry")

    def post(path, body):
        response = web_session.post(path, json=body, headers=tokens["admin"])
        assert response.status_code == 201, response.text
        return response.json()

    post("/districts", {"code": DISTRICT, "name": "姑苏区"})
    post("/towns", {"code": TOWN, "name": "枫桥街道"})
    post("/towns", {"code": OTHER_TOWN, "name": "虎丘街道"})
    post("/communities", {"code": COMMUNITY, "name": "锦绣社区",
                          "boundary": square(120.0, 31.0, 120.02, 31.01)})
    post("/communities", {"code": OTHER_COMMUNITY, "name": "和平社区"})
    post("/grids", {"community_code": COMMUNITY, "name": "锦绣一网格",
                    "geometry": square(120.0, 31.0, 120.01, 31.01)})
    body = DISTRICT + "19800101" + "123"
    resident = post("/residents", {"grid_code": GRID, "name": "张三",
                                   "id_number": body + check_character(body),
                                   "phone": "13812341234"})
    url = f"/residents/{resident['id']}"

    assert web_session.get(url, headers=tokens["chief"]).status_code == 200
    assert web_session.get(url, headers=tokens["worker"]).status_code == 200
    own = web_session.post("/search", json={"name": "张三", "reason": "scope test"},
                          headers=tokens["chief"])
    assert own.status_code == 200 and "张三" in own.text, own.text  # the query does find her
    for who in ("other_chief", "other_worker", "other_cgc"):
        response = web_session.get(url, headers=tokens[who])
        assert response.status_code in (403, 404), (who, response.text)
        assert response.json()["error"]["code"] != "role_not_allowed"  # scope, not role
        listed = web_session.get("/residents", params={"grid_code": GRID},
                                 headers=tokens[who])
        assert listed.status_code in (403, 404) or listed.json() == [], (who, listed.text)
        found = web_session.post("/search", json={"name": "张三", "reason": "scope test"},
                                headers=tokens[who])
        assert found.status_code != 422, found.text
        assert found.status_code in (403, 404) or "张三" not in found.text, (who, found.text)
    export = web_session.get("/export/residents.csv", params={"prefix": COMMUNITY},
                             headers=tokens["other_chief"])
    assert export.status_code in (403, 404) or "张三" not in export.text, export.text


def test_assessment_tracks_stay_in_their_scope(start_service, web_session, tokens):
    start_service("assessment")
    started = web_session.post("/patrols", json={"started_at": "2026-11-28T08:00:00+08:00"},
                               headers=tokens["worker"])
    assert started.status_code == 201, started.text
    url = f"/patrols/{started.json()['patrol_id']}/track"

    assert web_session.get(url, headers=tokens["worker"]).status_code == 200
    assert web_session.get(url, headers=tokens["chief"]).status_code == 200  # supervises
    for who in ("other_chief", "other_worker", "other_cgc"):
        response = web_session.get(url, headers=tokens[who])
        assert response.status_code in (403, 404), (who, response.text)
        assert response.json()["error"]["code"] != "role_not_allowed"

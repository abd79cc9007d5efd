"""The dashboard's HTTP routes against the real registry, dispatch and broker."""

from __future__ import annotations

import pytest

from tests.assessment_dashboard.conftest import DashboardTestService
from tests.html_headers import assert_html_security_headers


def test_page_is_public_offline_html_with_a_strict_policy(dashboard, web_session):
    response = web_session.get("/dashboard")
    assert response.status_code == 200, response.text
    assert_html_security_headers(response)
    assert response.headers["Content-Type"].startswith("text/html")
    policy = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "script-src 'self'" in policy
    page = response.text
    assert '<html lang="zh-CN">' in page and "区级运行中心" in page
    assert "http://" not in page and "https://" not in page  # nothing from a CDN
    assert 'src="/dashboard/static/dashboard.js"' in page


def test_page_takes_the_language_and_refuses_unknown_ones(dashboard, web_session):
    english = web_session.get("/dashboard", params={"lang": "en", "refresh": 5})
    assert '<html lang="en">' in english.text and 'data-refresh="5"' in english.text
    refused = web_session.get("/dashboard", params={"lang": "fr"})
    assert refused.status_code == 422
    assert "lang" in refused.json()["error"]["fields"]


def test_static_files_are_served_by_plain_name_only(dashboard, web_session):
    script = web_session.get("/dashboard/static/dashboard.js")
    assert script.status_code == 200
    assert script.headers["Content-Type"].startswith("text/javascript")
    assert "/dashboard/data" in script.text
    style = web_session.get("/dashboard/static/dashboard.css")
    assert style.headers["Content-Type"].startswith("text/css")
    for name in ("missing.js", "routes.py", "..%2Froutes.py", "%2E%2E"):
        response = web_session.get(f"/dashboard/static/{name}")
        assert response.status_code == 404, name
        assert response.json()["error"]["code"] == "not_found"


def test_data_needs_an_ops_role(dashboard, web_session, token, demo_district):
    assert web_session.get("/dashboard/data").status_code == 401
    worker = token("neighbourhood_grid_worker", f"grid:{demo_district['grid_codes'][0]}")
    assert web_session.get("/dashboard/data", headers=worker).status_code == 403
    admin = token("district_admin", f"district:{demo_district['code']}")
    assert web_session.get("/dashboard/data", headers=admin).status_code == 200


def test_data_has_every_section(dashboard, web_session, viewer, demo_district, seeded_cases):
    response = web_session.get("/dashboard/data", headers=viewer)
    assert response.status_code == 200, response.text
    data = response.json()
    assert data["errors"] == {}
    assert data["scope"] == f"district:{demo_district['code']}"
    codes = [f["properties"]["grid_code"] for f in data["grids"]["features"]]
    assert codes == demo_district["grid_codes"] and len(codes) == 12
    assert {d["code"]: d["name_zh"] for d in data["departments"]}["civil_affairs"] == "民政"
    expected = seeded_cases["expected"]
    assert data["cases"]["by_department"] == [expected["department"]]
    assert {g["grid_code"]: (g["open"], g["overdue"]) for g in data["cases"]["by_grid"]} \
        == expected["by_grid"]
    assert [(t["rank"], t["town_code"]) for t in data["cases"]["by_town"]] == [
        (1, seeded_cases["town_b"]), (2, seeded_cases["town_a"])]  # by closure rate
    assert [c["case_number"] for c in data["cases"]["recent"]] == expected["recent"]
    assert [e["case_number"] for e in data["cases"]["escalations"]] == ["GS-K1"]
    queues = {q["name"]: q for q in data["queues"]["queues"]}
    assert queues["registry.intake"]["dlq"] == "registry.intake.dlq"
    assert "registry.intake.dlq" not in queues  # shown on its queue's row
    assert "rpc-dispatch" in queues
    assert not any(name.startswith("rpc.reply-") for name in queues)
    health = {h["service"]: h["status"] for h in data["health"]}
    assert health == {"registry": "ready", "assessment": "ready", "events": "unreachable"}


def test_grids_outside_the_callers_district_are_left_out(dashboard, web_session, token):
    other = token("ops_viewer", "district:110101")
    data = web_session.get("/dashboard/data", headers=other).json()
    assert data["grids"]["features"] == []


@pytest.fixture
def dashboard_without_dispatch(container_factory, dashboard_config, demo_district):
    container = container_factory(DashboardTestService, dashboard_config(
        DASHBOARD_TIMEOUT_SECONDS=1, REGISTRY_URL="http://127.0.0.1:9"))
    container.start()
    return container


def test_a_failing_source_blanks_only_its_section(dashboard_without_dispatch, web_session,
                                                  viewer, rabbit_config):
    response = web_session.get("/dashboard/data", headers=viewer)
    assert response.status_code == 200, response.text
    data = response.json()
    assert data["cases"] is None and data["grids"] is None and data["departments"] is None
    assert data["errors"]["cases"] == "dispatch is not running"
    assert "ConnectionError" in data["errors"]["grids"]
    assert data["queues"] == {"vhost": rabbit_config["vhost"], "queues": []}  # only replies
    assert sorted(data["errors"]) == ["cases", "departments", "grids"]


def test_data_refuses_parameters(dashboard, web_session, viewer):
    response = web_session.get("/dashboard/data", params={"scope": "district:1"},
                               headers=viewer)
    assert response.status_code == 422


def test_the_routes_appear_in_the_services_openapi_document(dashboard, web_session):
    document = web_session.get("/openapi.json").json()
    assert {"/dashboard", "/dashboard/data"} <= set(document["paths"])
    assert any(path.startswith("/dashboard/static/") for path in document["paths"])


def test_a_token_in_the_query_string_is_refused(dashboard, web_session, viewer):
    """Issue 10: ``/dashboard?token=`` put bearer tokens into every access log. The page
    signs in with its form or a ``#token=`` fragment; a query token is a 400."""
    token_value = viewer["Authorization"].split(" ", 1)[1]
    for path in ("/dashboard", "/dashboard/data"):
        response = web_session.get(path, params={"token": token_value, "lang": "en"},
                                   headers=viewer)
        assert response.status_code == 400, path
        error = response.json()["error"]
        assert error["code"] == "credential_in_url" and "token" in error["fields"]
        assert token_value not in response.text

"""What every HTML answer of every service carries (platform.web.add_html_security_headers,
issue 10): a Content-Security-Policy that lets nothing in from elsewhere and runs no inline
script, ``nosniff``, no referrer, no caching. The tests of each HTML route call this on a
real 200 page; tests/authz/test_hostile_input.py fails when a service grows an HTML route
that is not in HTML_ROUTES (and so not checked here)."""

from __future__ import annotations

import base64
import hashlib
import re

# every HTML route, and the test that renders it and checks its headers
HTML_ROUTES = {
    "registry GET /grids/{grid_code}/notice-board":
        "tests/registry/test_staff.py::test_notice_board_and_party_branch",
    "registry GET /auth/oidc/callback":
        "tests/registry/test_oidc.py::test_a_person_signs_in_through_the_identity_platform",
    "dispatch GET /cases/{case_id}/file.html":
        "tests/dispatch/test_case_file_export.py::test_printable_case_file_lists_every_action_escaped",
    "assessment GET /circulars/{circular_id}.html":
        "tests/assessment/test_circulars.py::test_xlsx_csv_and_html_carry_the_same_cells",
    "assessment GET /appraisals/{report_id}.html":
        "tests/assessment/test_appraisal_readable.py::"
        "test_the_printable_page_names_people_places_and_grades_in_chinese",
    "assessment GET /app": "tests/app/test_app_routes.py::test_the_app_is_served_with_its_headers",
    "assessment GET /app/": "tests/app/test_app_routes.py::test_the_app_is_served_with_its_headers",
    "assessment GET /app/{name}":
        "tests/app/test_app_routes.py::test_the_app_is_served_with_its_headers",
    "assessment GET /desk":
        "tests/app/test_app_routes.py::test_the_desk_is_served_with_its_headers",
    "assessment GET /desk/":
        "tests/app/test_app_routes.py::test_the_desk_is_served_with_its_headers",
    "assessment GET /desk/{name}":
        "tests/app/test_app_routes.py::test_the_desk_is_served_with_its_headers",
    "events GET /report":
        "tests/events/test_resident_page.py::test_the_pages_are_served_with_a_strict_policy",
    "events GET /report/status":
        "tests/events/test_resident_page.py::test_the_pages_are_served_with_a_strict_policy",
    "assessment GET /dashboard":
        "tests/assessment_dashboard/test_routes.py::test_page_is_public_offline_html_with_a_strict_policy",
}


def policy(response) -> dict[str, str]:
    text = response.headers["Content-Security-Policy"]
    return {part.split()[0]: part.strip() for part in text.split(";") if part.strip()}


def assert_html_security_headers(response) -> dict[str, str]:
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("text/html")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["Cache-Control"] == "no-store"
    found = policy(response)
    assert "default-src 'none'" in found.values() or "default-src 'self'" in found.values()
    assert found["frame-ancestors"] == "frame-ancestors 'none'"
    assert found["base-uri"] == "base-uri 'none'"
    assert "unsafe-inline" not in response.headers["Content-Security-Policy"]
    scripts = found.get("script-src", found["default-src"])
    assert "'none'" in scripts or scripts == "script-src 'self'"
    # each inline <style> block of the page is allowed by its hash, and nothing else inline
    for block in re.findall(r"<style>(.*?)</style>", response.text, re.DOTALL):
        digest = base64.b64encode(hashlib.sha256(block.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in found["style-src"], "style block not in the policy"
    return found

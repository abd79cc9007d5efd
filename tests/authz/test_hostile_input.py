"""Hostile input on every route of every real service (issue 10, item 6): a NUL in a path
value, a body nested 1,000 levels deep and a credential in the query string are refused by
the web layer (gridgov_common/platform/web.py) with a 4xx in the one error shape, on public routes
(notice board, Open311) as on guarded ones; every answer carries ``nosniff``, and every HTML
route is one tests/html_headers.py knows (and has checked for its CSP).

Each route is called as a role the matrix allows, so the request gets past the role check.
Before issue 10 the first two answered 500 (a traceback in the log) and ``?token=`` was
accepted (and written to the access log).
"""

from __future__ import annotations

import re

import pytest

from tests.authz import streams
from tests.authz.conftest import OPEN311_KEY, SERVICES
from tests.authz.test_route_walk import PATH_VALUES, code_of
from tests.html_headers import HTML_ROUTES, assert_html_security_headers

DEEP = 1000


def routes(web_session) -> list[tuple[str, str, dict]]:
    doc = web_session.get("/openapi.json").json()
    return [(method.upper(), path, op) for path, ops in doc["paths"].items()
            for method, op in ops.items()]


def fill(path: str, op: dict, poisoned: str | None = None) -> str:
    """The path with dummy values; ``poisoned`` names the value that gets a NUL."""
    def value(match: re.Match) -> str:
        name = match.group(1)
        schema = next((p.get("schema", {}) for p in op.get("parameters", [])
                       if p.get("name") == name), {})
        text = PATH_VALUES.get(name) or ("1" if schema.get("type") == "integer"
                                         else "00000000-0000-0000-0000-000000000000")
        return text[:3] + "%00" + text[3:] if name == poisoned else text
    return re.sub(r"\{(\w+)\}", value, path)


def headers_for(route: str, allowed, bearer) -> dict[str, str]:
    if allowed in ("public", "session"):
        return {"X-API-Key": OPEN311_KEY}
    role = "district_admin" if "district_admin" in allowed else sorted(allowed)[0]
    return dict(bearer["valid"][role])


@pytest.mark.parametrize("service", list(SERVICES))
def test_a_nul_in_any_path_value_is_a_404_not_a_500(service, matrix, start_service,
                                                     web_session, bearer):
    start_service(service)
    failures, tried = [], 0
    for method, path, op in routes(web_session):
        route = f"{method} {path}"
        for name in re.findall(r"\{(\w+)\}", path):
            url = fill(path, op, poisoned=name)
            body = {"json": {}} if method in ("POST", "PUT", "PATCH") else {}
            response = streams.request(web_session, method, url, timeout=30, **body,
                                           headers=headers_for(route, matrix[service][route],
                                                               bearer))
            tried += 1
            if response.status_code != 404 or code_of(response) != "not_found":
                failures.append(f"{route} ({name}): {response.status_code} {response.text[:200]}")
    assert tried, "no route with a path value"
    assert failures == []


@pytest.mark.parametrize("service", list(SERVICES))
def test_a_body_nested_a_thousand_levels_is_a_400_not_a_500(service, matrix, start_service,
                                                            web_session, bearer):
    start_service(service)
    bodies = ["[" * DEEP + "]" * DEEP, '{"a":' * DEEP + "1" + "}" * DEEP]
    failures, tried = [], 0
    for method, path, op in routes(web_session):
        content = op.get("requestBody", {}).get("content", {})
        if "application/json" not in content:
            continue
        route = f"{method} {path}"
        for body in bodies:
            response = streams.request(web_session,
                method, fill(path, op), data=body, timeout=30,
                headers={**headers_for(route, matrix[service][route], bearer),
                         "Content-Type": "application/json"})
            tried += 1
            refused = response.status_code == 400 and code_of(response) == "json_too_deep"
            query_first = response.status_code == 422 and "query" in response.text
            if not (refused or query_first):
                failures.append(f"{route}: {response.status_code} {response.text[:200]}")
    assert tried, "no route takes a JSON body"
    assert failures == []


@pytest.mark.parametrize("service", list(SERVICES))
def test_a_credential_in_the_query_string_is_refused_everywhere(service, matrix,
                                                                start_service, web_session,
                                                                bearer):
    start_service(service)
    failures = []
    for method, path, op in routes(web_session):
        route = f"{method} {path}"
        for name in ("token", "access_token"):
            response = streams.request(web_session,
                method, fill(path, op), params={name: "eyJhbGciOiJIUzI1NiJ9.x.y"},
                timeout=30, headers=headers_for(route, matrix[service][route], bearer))
            if response.status_code != 400 or code_of(response) != "credential_in_url":
                failures.append(f"{route} ?{name}=: {response.status_code}")
            elif response.headers.get("X-Content-Type-Options") != "nosniff":
                failures.append(f"{route}: no nosniff")
    assert failures == []


@pytest.mark.parametrize("service", list(SERVICES))
def test_every_html_route_is_known_and_checked_for_its_security_headers(
        service, matrix, start_service, web_session, bearer):
    """The HTML routes of the live service are exactly those of tests/html_headers.py, each
    rendered at 200 and checked by ``assert_html_security_headers`` in the test it names;
    here every one of them also answers with ``nosniff`` whatever its outcome."""
    start_service(service)
    html = {}
    for method, path, op in routes(web_session):
        content = op.get("responses", {}).get("200", {}).get("content", {})
        if any(kind.startswith("text/html") for kind in content):
            html[f"{service} {method} {path}"] = (method, path, op)
    assert sorted(html) == sorted(r for r in HTML_ROUTES if r.startswith(f"{service} "))
    for name, (method, path, op) in html.items():
        route = f"{method} {path}"
        response = streams.request(web_session, method, fill(path, op), timeout=30,
                                       headers=headers_for(route, matrix[service][route],
                                                           bearer))
        assert response.status_code < 500, name
        assert response.headers["X-Content-Type-Options"] == "nosniff", name
        if response.headers["Content-Type"].startswith("text/html"):
            assert_html_security_headers(response)

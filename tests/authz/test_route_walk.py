"""Every route of every service, called with no token, an expired one, a forged one and a
valid token of every role, against tests/authz/matrix.yaml (kept by hand).

The routes come from each running service's own /openapi.json, so a route added without
a matrix line fails here, and so does a matrix line whose route is gone.  Allowed callers
may still be refused by the handler for a reason that is not the role (dummy ids: 404,
empty bodies: 422, ids outside the caller's scope: 403 ``forbidden``); what they must
never get is a 401 or the route-level ``role_not_allowed``.
"""

from __future__ import annotations

import re

import pytest

from tests.authz import streams
from tests.authz.conftest import SERVICES

# dummy values a path parameter is filled with: well-formed enough to reach the handler
PATH_VALUES = {"fmt": "json", "day": "2026-01-01", "sha256": "0" * 64,
               "grid_code": "320505001001001", "code": "320505001001"}


def concrete(path: str, params: list[dict]) -> str:
    def value(match: re.Match) -> str:
        name = match.group(1)
        if name in PATH_VALUES:
            return PATH_VALUES[name]
        schema = next((p.get("schema", {}) for p in params if p.get("name") == name), {})
        return "1" if schema.get("type") == "integer" else "00000000-0000-0000-0000-000000000000"
    return re.sub(r"\{(\w+)\}", value, path)


def routes_of(web_session) -> dict[str, tuple[str, str]]:
    """{"METHOD /path": (method, concrete url)} from the service's live OpenAPI document."""
    doc = web_session.get("/openapi.json")
    assert doc.status_code == 200, doc.text
    found = {}
    for path, operations in doc.json()["paths"].items():
        for method, op in operations.items():
            found[f"{method.upper()} {path}"] = (method.upper(),
                                                 concrete(path, op.get("parameters", [])))
    return found


def call(web_session, method: str, url: str, headers: dict | None):
    body = {"json": {}} if method in ("POST", "PUT", "PATCH") else {}
    return streams.request(web_session, method, url, headers=headers or {}, timeout=30, **body)


def code_of(response) -> str | None:
    try:
        return response.json()["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return None


@pytest.mark.parametrize("service", list(SERVICES))
def test_every_route_with_every_role(service, matrix, start_service, web_session, bearer):
    start_service(service)
    live = routes_of(web_session)
    expected = matrix[service]
    assert sorted(set(live) - set(expected)) == [], "routes missing from tests/authz/matrix.yaml"
    assert sorted(set(expected) - set(live)) == [], "matrix.yaml lists routes the service lacks"

    failures: list[str] = []
    for route, (method, url) in sorted(live.items()):
        allowed = expected[route]
        if allowed == "public":
            response = call(web_session, method, url, None)
            if response.status_code in (401, 403):
                failures.append(f"{route}: public route answered {response.status_code}")
            continue
        if allowed == "session":  # the refresh-session cookie, not a token
            response = call(web_session, method, url, None)
            if response.status_code != 401 or code_of(response) != "no_session":
                failures.append(f"{route} no session: {response.status_code} "
                                f"{code_of(response)}")
            continue
        for label, headers, code in [("no token", None, "unauthorized"),
                                     ("expired", bearer["expired"], "token_expired"),
                                     ("forged", bearer["forged"], "invalid_token")]:
            response = call(web_session, method, url, headers)
            if response.status_code != 401 or code_of(response) != code:
                failures.append(f"{route} {label}: {response.status_code} {code_of(response)}")
        for role, headers in bearer["valid"].items():
            response = call(web_session, method, url, headers)
            denied = response.status_code == 403 and code_of(response) == "role_not_allowed"
            if role in allowed and (denied or response.status_code == 401):
                failures.append(f"{route} {role}: allowed by the matrix, got "
                                f"{response.status_code} {code_of(response)}")
            elif role not in allowed and not denied:
                failures.append(f"{route} {role}: denied by the matrix, got "
                                f"{response.status_code} {code_of(response)}")
            if response.status_code >= 500:
                failures.append(f"{route} {role}: server error {response.status_code}")
    assert failures == []


def test_matrix_names_only_known_roles_and_services(matrix):
    """A typo in matrix.yaml (a role or service that does not exist) fails loudly."""
    assert set(matrix) == set(SERVICES)
    from gridgov_common.kernel.roles import Role
    known = {r.value for r in Role}
    for routes in matrix.values():
        for route, allowed in routes.items():
            assert re.fullmatch(r"(GET|POST|PUT|PATCH|DELETE) /\S*", route), route
            assert allowed in ("public", "session") or (allowed and allowed <= known), route

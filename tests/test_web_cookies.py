"""The web layer's browser sign-in (issue 12), for every service: without an Authorization
header the gridgov_access cookie is the credential, checked like a bearer token, and a
request that changes state with it needs X-CSRF-Token equal to the gridgov_csrf cookie;
callers with an Authorization header are judged by it alone, as before."""

from __future__ import annotations

import pytest
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from gridgov_common.kernel import auth, errors
from gridgov_common.platform.web import ACCESS_COOKIE, CSRF_COOKIE, CSRF_HEADER, check_csrf
from services.registry.service import RegistryService
from tests.registry.conftest import clean_registry  # noqa: F401 (a fixture)

DISTRICT_ADMIN = ("district_admin", "district:320505")


def request_with(cookie: str | None, header: str | None) -> Request:
    headers = {CSRF_HEADER: header} if header is not None else {}
    builder = EnvironBuilder(method="POST", path="/x", headers=headers)
    if cookie is not None:
        builder.headers["Cookie"] = f"{CSRF_COOKIE}={cookie}"
    return Request(builder.get_environ())


@pytest.mark.parametrize("cookie,header", [(None, None), ("abc", None), (None, "abc"),
                                           ("abc", "abd"), ("abc", "abcd"), ("", "")])
def test_csrf_refuses_a_missing_or_different_token(cookie, header):
    with pytest.raises(errors.Forbidden) as refused:
        check_csrf(request_with(cookie, header))
    assert refused.value.code == "csrf_failed"


def test_csrf_accepts_the_cookies_value_in_the_header():
    check_csrf(request_with("tok-123", "tok-123"))


@pytest.fixture
def registry(container_factory, service_config, clean_registry):  # noqa: F811
    container_factory(RegistryService, service_config("registry")).start()


@pytest.fixture
def cookie_of(platform_secrets):
    def make(role_scope=DISTRICT_ADMIN, ttl=120, now=None, secret=None):
        value = auth.mint(secret or platform_secrets["JWT_SECRET"], "admin-1", *role_scope,
                          ttl_seconds=ttl, now=now)
        return {ACCESS_COOKIE: value, CSRF_COOKIE: "csrf-1"}
    return make




def test_the_access_cookie_is_checked_like_a_token(registry, web_session, cookie_of):
    assert web_session.get("/grids", cookies=cookie_of()).status_code == 200
    expired = web_session.get("/grids", cookies=cookie_of(ttl=60, now=1_000_000))
    assert expired.status_code == 401 and expired.json()["error"]["code"] == "token_expired"
    forged = web_session.get("/grids", cookies=cookie_of(secret="f" * 40))
    assert forged.status_code == 401 and forged.json()["error"]["code"] == "invalid_token"
    viewer = cookie_of(("ops_viewer", "district:320505"))
    denied = web_session.post("/districts", json={"code": "320505", "name": "姑苏区"},
                              cookies=viewer, headers={CSRF_HEADER: "csrf-1"})
    assert denied.status_code == 403 and denied.json()["error"]["code"] == "role_not_allowed"
    # a credential in the URL is refused with a cookie as without one
    in_url = web_session.get("/grids?token=x", cookies=cookie_of())
    assert in_url.json()["error"]["code"] == "credential_in_url"


def test_state_changes_by_cookie_need_the_csrf_header(registry, web_session, cookie_of):
    body = {"code": "320505", "name": "姑苏区"}
    for headers in ({}, {CSRF_HEADER: "other"}):
        refused = web_session.post("/districts", json=body, cookies=cookie_of(),
                                   headers=headers)
        assert refused.status_code == 403, refused.text
        assert refused.json()["error"]["code"] == "csrf_failed"
    zh = web_session.put("/staff/1/subject", json={"subject": "x"}, cookies=cookie_of(),
                         headers={"Accept-Language": "zh-CN"})
    assert zh.status_code == 403 and zh.json()["error"]["message"].startswith("页面已过期")
    made = web_session.post("/districts", json=body, cookies=cookie_of(),
                            headers={CSRF_HEADER: "csrf-1"})
    assert made.status_code == 201, made.text


def test_a_bearer_caller_is_judged_by_its_header_alone(registry, web_session, cookie_of,
                                                       token):
    body = {"code": "320505", "name": "姑苏区"}
    bearer = token(*DISTRICT_ADMIN, sub="admin-1")
    assert web_session.post("/districts", json=body, headers=bearer).status_code == 201
    # a bad header is not rescued by a good cookie
    bad = web_session.get("/grids", cookies=cookie_of(),
                          headers={"Authorization": "Bearer nonsense"})
    assert bad.status_code == 401 and bad.json()["error"]["code"] == "invalid_token"
    # no header, no cookie: the 401 of before
    nothing = web_session.get("/grids")
    assert nothing.status_code == 401 and nothing.json()["error"]["code"] == "unauthorized"

"""Single sign-on over OpenID Connect (issue 12) against a REAL provider: the certified
``oidc-provider`` npm package (tests/oidc/provider.mjs, installed by ``make test``'s
``npm ci``) runs as a subprocess on a free port; an HTTP client follows the whole redirect
flow — the registry's /auth/oidc/start, the provider's login and consent pages (filled in
as a person would), the callback — and ends signed in with the same cookies as a password
sign-in. No mock of the provider anywhere."""

from __future__ import annotations

import html
import os
import re
import subprocess
from pathlib import Path
from urllib.parse import urljoin

import pytest
import requests
import sqlalchemy as sa

from gridgov_common.platform.web import ACCESS_COOKIE, CSRF_COOKIE, REFRESH_COOKIE
from services.registry.oidc import STATE_COOKIE
from services.registry.service import RegistryService
from tests.amqp import wait_until
from tests.html_headers import assert_html_security_headers
from tests.registry.conftest import ADMIN_SCOPE, COMMUNITY
from tests.registry.test_accounts import audit_rows
from tools.ports import free_port

PROVIDER_DIR = Path(__file__).resolve().parents[1] / "oidc"
CLIENT_ID, CLIENT_SECRET = "gridgov-registry", "test-client-secret-0123456789"


@pytest.fixture
def redirect_uri(web_config_port):
    return f"http://127.0.0.1:{web_config_port}/auth/oidc/callback"


@pytest.fixture
def provider(redirect_uri, tmp_path):
    """The real OIDC provider, in its own process, until the test ends."""
    assert (PROVIDER_DIR / "node_modules" / "oidc-provider").is_dir(), (
        "tests/oidc/node_modules is missing: run `make oidc-provider` (make test does)")
    port = free_port()
    issuer = f"http://127.0.0.1:{port}"
    log = (tmp_path / "provider.log").open("w")
    process = subprocess.Popen(
        ["node", "provider.mjs"], cwd=PROVIDER_DIR, stdout=log, stderr=subprocess.STDOUT,
        env={**os.environ, "OIDC_TEST_PORT": str(port), "OIDC_TEST_CLIENT_ID": CLIENT_ID,
             "OIDC_TEST_CLIENT_SECRET": CLIENT_SECRET,
             "OIDC_TEST_REDIRECT_URI": redirect_uri})

    def answers() -> bool:
        assert process.poll() is None, (tmp_path / "provider.log").read_text()
        try:
            return requests.get(f"{issuer}/.well-known/openid-configuration",
                                timeout=2).status_code == 200
        except requests.ConnectionError:
            return False

    try:
        wait_until(answers, timeout=30)
        yield issuer
    finally:
        process.terminate()
        process.wait(10)
        log.close()


@pytest.fixture
def registry(container_factory, service_config, clean_registry, provider, redirect_uri):
    container = container_factory(RegistryService, service_config(
        "registry", AUTH_COOKIE_SECURE="false", OIDC_ISSUER=provider, OIDC_CLIENT_ID=CLIENT_ID,
        OIDC_CLIENT_SECRET=CLIENT_SECRET, OIDC_REDIRECT_URI=redirect_uri,
        OIDC_AFTER_SIGN_IN_URL="/dashboard"))
    container.start()
    return container


@pytest.fixture
def staff(registry, web_session, token, db_engine):
    """A community grid chief with no password at all (single sign-on only) and a grid
    worker who was dismissed."""
    admin = token("district_admin", ADMIN_SCOPE, sub="admin-1")
    for role, subject in (("community_grid_chief", "sso-cgc"),
                          ("community_grid_worker", "sso-gone")):
        response = web_session.post("/staff", headers=admin, json={
            "name": f"名{subject}", "role": role, "scope": f"community:{COMMUNITY}",
            "subject": subject})
        assert response.status_code == 201, response.text
    with db_engine.begin() as conn:
        conn.execute(sa.text("UPDATE registry.staff SET active = false, lifecycle_state = "
                             "'dismissed' WHERE subject = 'sso-gone'"))


def submit(session: requests.Session, page: requests.Response, **fields) -> requests.Response:
    """Fill in and send the provider's form on ``page`` (as a browser would)."""
    form = re.search(r'<form[^>]*action="([^"]+)"[^>]*>(.*?)</form>', page.text, re.DOTALL)
    assert form, page.text
    hidden = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"',
                             form.group(2)))
    return session.post(urljoin(page.url, html.unescape(form.group(1))),
                        data={**hidden, **fields})


def single_sign_on(session: requests.Session, login: str) -> requests.Response:
    """From the registry's start to the callback's answer, following every redirect."""
    page = session.get("/auth/oidc/start")
    assert page.status_code == 200 and 'name="login"' in page.text, page.text
    assert page.history[0].status_code == 302
    assert STATE_COOKIE in page.history[0].headers["Set-Cookie"]
    sent = page.history[0].headers["Location"]
    for part in ("code_challenge_method=S256", "code_challenge=", "nonce=", "state=",
                 "response_type=code", f"client_id={CLIENT_ID}", "scope=openid"):
        assert part in sent, sent
    page = submit(session, page, login=login, password="whatever the platform checks")
    if 'name="prompt" value="consent"' in page.text:
        page = submit(session, page)
    return page


def test_a_person_signs_in_through_the_identity_platform(staff, web_session, db_engine):
    answer = single_sign_on(web_session, "sso-cgc")
    assert answer.status_code == 200, answer.text
    assert "/auth/oidc/callback" in answer.url and "code=" in answer.url
    assert "已通过统一身份认证登录" in answer.text and 'url=/dashboard' in answer.text
    assert_html_security_headers(answer)
    cookies = {line.split("=", 1)[0]: line
               for line in answer.raw.headers.getlist("Set-Cookie")}
    assert {ACCESS_COOKIE, REFRESH_COOKIE, CSRF_COOKIE} <= set(cookies)
    assert "SameSite=Strict" in cookies[ACCESS_COOKIE] and "HttpOnly" in cookies[ACCESS_COOKIE]
    assert cookies[STATE_COOKIE].startswith(f'{STATE_COOKIE}=;')  # the state is spent
    me = web_session.get("/auth/me", headers={"Accept-Language": "en"})
    assert me.status_code == 200, me.text
    assert (me.json()["sub"], me.json()["role"], me.json()["scope"]) == (
        "sso-cgc", "community_grid_chief", f"community:{COMMUNITY}")
    assert me.json()["auth"] == "cookie"
    [row] = audit_rows(db_engine, "sign_in")
    assert row["actor_sub"] == "sso-cgc" and "single sign-on (OIDC)" in row["reason"]
    # the session is an ordinary one: refresh works with the CSRF header
    refreshed = web_session.post("/auth/refresh",
                                 headers={"X-CSRF-Token": web_session.cookies[CSRF_COOKIE]})
    assert refreshed.status_code == 200, refreshed.text


@pytest.mark.parametrize("login", ["somebody-unknown", "sso-gone"])
def test_an_unknown_or_dismissed_person_is_refused_as_at_a_password_sign_in(
        login, staff, web_session, db_engine):
    answer = single_sign_on(web_session, login)
    assert answer.status_code == 401, answer.text
    assert answer.json()["error"]["code"] == "sign_in_failed"
    assert web_session.cookies.get(ACCESS_COOKIE) is None
    [row] = audit_rows(db_engine, "sign_in_failed")
    assert row["actor_sub"] == login and "single sign-on" in row["reason"]


def test_a_callback_without_its_state_cookie_or_with_a_forged_one_is_refused(
        staff, web_session, db_engine):
    bare = web_session.get("/auth/oidc/callback?code=abc&state=xyz")
    assert bare.status_code == 401 and bare.json()["error"]["code"] == "sign_in_failed"
    web_session.get("/auth/oidc/start", allow_redirects=False)  # a real state cookie …
    other = web_session.get("/auth/oidc/callback?code=abc&state=another-flow")
    assert other.status_code == 401  # … for another flow
    denied = web_session.get("/auth/oidc/callback?error=access_denied&state=x")
    assert denied.status_code == 401
    reasons = [r["reason"] for r in audit_rows(db_engine, "oidc_failed")]
    assert len(reasons) == 3
    assert "no state" in reasons[0] and "does not match" in reasons[1]
    assert "access_denied" in reasons[2]


def test_single_sign_on_is_off_without_an_issuer(container_factory, service_config,
                                                 clean_registry, web_session):
    container_factory(RegistryService, service_config("registry")).start()
    answer = web_session.get("/auth/oidc/start", allow_redirects=False)
    assert answer.status_code == 404 and answer.json()["error"]["code"] == "oidc_off"

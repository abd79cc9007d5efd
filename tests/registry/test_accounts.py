"""Accounts and sign-in (issue 12) on the real registry, database and broker: cookies and
their flags, no enumeration, lock-out on an injected clock, CSRF, refresh and sign-out,
sessions ended by a dismissal, resets by the level above, the audit trail, and another
service signed in by the same cookie."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from urllib.parse import urljoin

import jwt
import pytest
import requests
import sqlalchemy as sa

from gridgov_common.platform.db import make_engine, transaction
from gridgov_common.platform.web import ACCESS_COOKIE, CSRF_COOKIE, CSRF_HEADER, REFRESH_COOKIE
from services.registry import accounts
from services.registry.service import RegistryService
from tests.registry.conftest import ADMIN_SCOPE, COMMUNITY, OTHER_COMMUNITY, TOWN
from tools.ports import free_port

PASSWORD = "Correct-horse-42"
OTHER_TOWN = "320505002"
AUTH_CONFIG = {"AUTH_COOKIE_SECURE": "false", "AUTH_LOCKOUT_FAILURES": "3",
               "AUTH_LOCKOUT_MINUTES": "10"}


class Clock:
    """The accounts' clock, moved by the test instead of sleeping."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock(monkeypatch):
    fake = Clock()
    monkeypatch.setattr(accounts, "clock", fake)
    return fake


@pytest.fixture
def registry(container_factory, service_config, clean_registry):
    container = container_factory(RegistryService, service_config("registry", **AUTH_CONFIG))
    container.start()
    return container


@pytest.fixture
def admin(token):
    return token("district_admin", ADMIN_SCOPE, sub="admin-1")


@pytest.fixture
def people(registry, web_session, admin, db_url):
    """Staff with logins: a district admin, a town grid chief, a community grid chief and
    a community grid worker of the community, a chief of another town; each with
    PASSWORD."""
    def appoint(role, scope, subject):
        response = web_session.post("/staff", headers=admin, json={
            "name": f"名{subject}", "role": role, "scope": scope, "subject": subject})
        assert response.status_code == 201, response.text
        return response.json()["id"]

    ids = {
        "da": appoint("district_admin", ADMIN_SCOPE, "da-1"),
        "tgc": appoint("town_grid_chief", f"town:{TOWN}", "tgc-1"),
        "tgc_other": appoint("town_grid_chief", f"town:{OTHER_TOWN}", "tgc-2"),
        "cgc": appoint("community_grid_chief", f"community:{COMMUNITY}", "cgc-1"),
        "cgc_other": appoint("community_grid_chief", f"community:{OTHER_COMMUNITY}", "cgc-2"),
        "cgw": appoint("community_grid_worker", f"community:{COMMUNITY}", "cgw-1"),
        "dept": appoint("department_officer", "department:fire", "fire-1"),
    }
    engine = make_engine(db_url)
    try:
        with transaction(engine) as session:
            for subject in ("da-1", "tgc-1", "tgc-2", "cgc-1", "cgc-2", "cgw-1", "fire-1"):
                accounts.set_password(session, subject, PASSWORD, operator="test")
    finally:
        engine.dispose()
    return ids


def sign_in(session, login, password=PASSWORD, **kwargs):
    return session.post("/auth/sign-in", json={"login": login, "password": password},
                        **kwargs)


def set_cookies(response) -> dict[str, str]:
    """{name: the whole Set-Cookie line} of a response."""
    lines = response.raw.headers.getlist("Set-Cookie")
    return {line.split("=", 1)[0]: line for line in lines}


def csrf(session) -> dict:
    return {CSRF_HEADER: session.cookies.get(CSRF_COOKIE)}


def audit_rows(db_engine, action=None):
    with db_engine.connect() as conn:
        stmt = "SELECT action, actor_sub, subject_id, reason FROM registry.audit_log"
        params = {}
        if action:
            stmt += " WHERE action = :action"
            params = {"action": action}
        return [r._asdict() for r in conn.execute(sa.text(stmt + " ORDER BY id"), params)]


def test_sign_in_sets_three_cookies_with_their_flags(people, web_session, platform_secrets,
                                                     caplog, db_engine):
    caplog.set_level(logging.DEBUG)
    response = sign_in(web_session, "cgc-1")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["role"] == "community_grid_chief" and body["sub"] == "cgc-1"
    assert body["role_name"] == "社区网格长" and body["auth"] == "cookie"
    assert response.headers["Cache-Control"] == "no-store"
    cookies = set_cookies(response)
    assert set(cookies) == {ACCESS_COOKIE, REFRESH_COOKIE, CSRF_COOKIE}
    for line in cookies.values():
        assert "SameSite=Strict" in line, line
        assert "Secure" not in line, line  # AUTH_COOKIE_SECURE=false in this test
    assert "HttpOnly" in cookies[ACCESS_COOKIE] and "Path=/;" in cookies[ACCESS_COOKIE] + ";"
    assert "HttpOnly" in cookies[REFRESH_COOKIE] and "Path=/auth" in cookies[REFRESH_COOKIE]
    assert "HttpOnly" not in cookies[CSRF_COOKIE]
    # the access token: role and scope from the staff record, at most five minutes
    claims = jwt.decode(web_session.cookies.get(ACCESS_COOKIE),
                        platform_secrets["JWT_SECRET"], algorithms=["HS256"],
                        audience="gridgov")
    assert (claims["role"], claims["scope"]) == ("community_grid_chief",
                                                 f"community:{COMMUNITY}")
    assert claims["exp"] - claims["iat"] <= 300
    # the refresh id is stored only hashed
    raw = web_session.cookies.get(REFRESH_COOKIE)
    assert len(raw) >= 40
    assert PASSWORD not in response.text and "argon2" not in response.text
    assert not any(PASSWORD in record.getMessage() for record in caplog.records)
    # signed in by cookie, a GET needs no CSRF header
    me = web_session.get("/auth/me", headers={"Accept-Language": "en"})
    assert me.status_code == 200, me.text
    assert me.json()["role_name"] == "Community grid chief" and me.json()["auth"] == "cookie"
    assert [r["actor_sub"] for r in audit_rows(db_engine, "sign_in")] == ["cgc-1"]


def test_cookies_are_secure_unless_configured_off_and_ttl_is_capped():
    assert accounts.Settings.from_config({}).cookie_secure is True
    assert accounts.Settings.from_config({"AUTH_COOKIE_SECURE": "false"}).cookie_secure is False
    with pytest.raises(RuntimeError, match="AUTH_ACCESS_TTL_SECONDS"):
        accounts.Settings.from_config({"AUTH_ACCESS_TTL_SECONDS": "600"})
    with pytest.raises(RuntimeError, match="AUTH_LOCKOUT_FAILURES"):
        accounts.Settings.from_config({"AUTH_LOCKOUT_FAILURES": "0"})


def test_unknown_login_wrong_password_and_dismissed_answer_alike(people, web_session, admin,
                                                                 db_engine):
    wrong = sign_in(web_session, "cgw-1", "Wrong-password-1")
    unknown = sign_in(web_session, "nobody-9", "Wrong-password-1")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()
    assert wrong.json()["error"]["code"] == "sign_in_failed"
    assert "Set-Cookie" not in wrong.headers and "Set-Cookie" not in unknown.headers
    zh = sign_in(web_session, "nobody-9", "x", headers={"Accept-Language": "zh-CN"})
    assert zh.json()["error"]["message"].startswith("账号或密码错误")
    failed = audit_rows(db_engine, "sign_in_failed")
    assert [r["actor_sub"] for r in failed] == ["cgw-1", "nobody-9", "nobody-9"]
    assert all(r["reason"].startswith("client 127.0.0.1") for r in failed)
    assert not any("Wrong-password" in r["reason"] for r in audit_rows(db_engine))


def test_lock_out_after_failures_and_its_expiry(people, web_session, clock, db_engine):
    for _ in range(3):
        assert sign_in(web_session, "cgw-1", "Wrong-password-1").status_code == 401
    locked = sign_in(web_session, "cgw-1")  # the right password, while locked
    assert locked.status_code == 401
    assert locked.json() == sign_in(web_session, "nobody-9", "x").json()  # says nothing more
    assert len(audit_rows(db_engine, "account_locked")) == 1
    assert len(audit_rows(db_engine, "sign_in_refused_locked")) == 1
    clock.advance(minutes=9)
    assert sign_in(web_session, "cgw-1").status_code == 401
    clock.advance(minutes=2)
    assert sign_in(web_session, "cgw-1").status_code == 200


def test_sign_in_is_throttled_per_login(container_factory, service_config, clean_registry,
                                        web_session, admin):
    config = service_config("registry", RATE_LIMIT_SIGNIN_LOGIN_RATE=0.001,
                            RATE_LIMIT_SIGNIN_LOGIN_BURST=2, **AUTH_CONFIG)
    container_factory(RegistryService, config).start()
    answers = [sign_in(web_session, "someone", "Wrong-password-1").status_code
               for _ in range(3)]
    assert answers == [401, 401, 429]
    assert sign_in(web_session, "someone-else", "Wrong-password-1").status_code == 401


def test_csrf_is_required_with_the_cookie_and_bearer_callers_are_unchanged(
        people, web_session, admin, base):
    assert sign_in(web_session, "da-1").status_code == 200
    new = {"name": "新人", "role": "community_grid_worker", "scope": f"community:{COMMUNITY}"}
    missing = web_session.post("/staff", json=new)
    assert missing.status_code == 403 and missing.json()["error"]["code"] == "csrf_failed"
    wrong = web_session.post("/staff", json=new, headers={CSRF_HEADER: "not-the-cookie"})
    assert wrong.status_code == 403 and wrong.json()["error"]["code"] == "csrf_failed"
    right = web_session.post("/staff", json=new, headers=csrf(web_session))
    assert right.status_code == 201, right.text
    # a machine with a bearer token: no cookie, no CSRF header, as before
    machine = requests.post(urljoin(base, "/staff"), json=new,
                            headers=admin)
    assert machine.status_code == 201, machine.text
    # a bearer token wins over cookies sent alongside it (no CSRF asked)
    both = web_session.post("/staff", json=new, headers=admin)
    assert both.status_code == 201, both.text


@pytest.fixture
def base(web_config_port) -> str:
    """The registry's address, for requests made outside the browser's session."""
    return f"http://127.0.0.1:{web_config_port}/"


def test_another_service_accepts_the_cookie(people, web_session, container_factory,
                                            service_config):
    from services.events.service import EventsService

    port = free_port()
    container_factory(EventsService, service_config(
        "events", WEB_SERVER_ADDRESS=f"127.0.0.1:{port}",
        OPEN311_API_KEYS="open311-test-key-0123456789")).start()
    events = f"http://127.0.0.1:{port}"
    assert requests.get(f"{events}/catalogue").status_code == 401
    assert sign_in(web_session, "tgc-1").status_code == 200
    jar = {ACCESS_COOKIE: web_session.cookies.get(ACCESS_COOKIE),
           CSRF_COOKIE: web_session.cookies.get(CSRF_COOKIE)}
    read = requests.get(f"{events}/catalogue", cookies=jar)
    assert read.status_code == 200, read.text
    # a state change there by cookie needs the CSRF header too
    posted = requests.post(f"{events}/cases", json={}, cookies=jar)
    assert posted.status_code == 403 and posted.json()["error"]["code"] == "csrf_failed"
    checked = requests.post(f"{events}/cases", json={}, cookies=jar,
                            headers={CSRF_HEADER: jar[CSRF_COOKIE]})
    assert checked.status_code == 422, checked.text  # past auth and CSRF: the body is empty


def test_refresh_then_sign_out_ends_the_session(people, web_session, db_engine, clock, base):
    assert sign_in(web_session, "cgc-1").status_code == 200
    no_header = web_session.post("/auth/refresh")
    assert no_header.status_code == 403 and no_header.json()["error"]["code"] == "csrf_failed"
    clock.advance(seconds=2)
    refreshed = web_session.post("/auth/refresh", headers=csrf(web_session))
    assert refreshed.status_code == 200, refreshed.text
    assert set(set_cookies(refreshed)) == {ACCESS_COOKIE}
    assert refreshed.json()["scope"] == f"community:{COMMUNITY}"
    raw = web_session.cookies.get(REFRESH_COOKIE)
    out = web_session.post("/auth/sign-out", headers=csrf(web_session))
    assert out.status_code == 200 and out.json() == {"signed_out": True}
    assert web_session.cookies.get(REFRESH_COOKIE) is None  # cleared
    # the old refresh id, replayed, is refused
    replay = requests.post(urljoin(base, "/auth/refresh"),
                           cookies={REFRESH_COOKIE: raw, CSRF_COOKIE: "c"},
                           headers={CSRF_HEADER: "c"})
    assert replay.status_code == 401 and replay.json()["error"]["code"] == "session_ended"
    assert [r["action"] for r in audit_rows(db_engine) if r["action"] != "password_set"] == [
        "sign_in", "sign_out", "refresh_refused"]
    none = requests.post(urljoin(base, "/auth/refresh"))
    assert none.status_code == 401 and none.json()["error"]["code"] == "no_session"


def test_refresh_session_expires_idle_and_absolute(people, web_session, clock):
    assert sign_in(web_session, "cgc-1").status_code == 200
    clock.advance(hours=11)
    assert web_session.post("/auth/refresh", headers=csrf(web_session)).status_code == 200
    clock.advance(hours=12, seconds=1)
    idle = web_session.post("/auth/refresh", headers=csrf(web_session))
    assert idle.status_code == 401 and idle.json()["error"]["code"] == "session_ended"
    assert sign_in(web_session, "cgc-1").status_code == 200
    started = clock.now
    for _ in range(20):  # used every 11 hours, it still ends after 7 days
        clock.advance(hours=11)
        answer = web_session.post("/auth/refresh", headers=csrf(web_session))
        if answer.status_code != 200:
            break
    assert answer.status_code == 401 and clock.now - started >= timedelta(days=7)


def test_dismissal_ends_the_sessions_at_once(registry, web_session, admin, token, db_url,
                                             db_engine):
    grid = f"grid:{COMMUNITY}001"
    made = web_session.post("/staff", headers=admin, json={
        "name": "王五", "role": "neighbourhood_grid_worker", "scope": grid,
        "subject": "ngw-1"})
    assert made.status_code == 201, made.text
    staff_id = made.json()["id"]
    town = token("town_grid_chief", f"town:{TOWN}", sub="tgc-x")
    chief = token("community_grid_chief", f"community:{COMMUNITY}", sub="cgc-x")

    def step(action, headers):
        answer = web_session.post(f"/staff/{staff_id}/transitions", headers=headers,
                                  json={"action": action, "reason": "test"})
        assert answer.status_code == 200, answer.text

    for action, headers in (("review", town), ("hire", town), ("file", admin),
                            ("propose_adjustment", chief)):
        step(action, headers)
    engine = make_engine(db_url)
    with transaction(engine) as session:
        accounts.set_password(session, "ngw-1", PASSWORD, operator="test")
    engine.dispose()
    browser = type(web_session)()
    assert sign_in(browser, "ngw-1").status_code == 200
    step("approve_adjustment", town)  # dismissed
    refused = browser.post("/auth/refresh", headers=csrf(browser))
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "session_ended"
    assert sign_in(browser, "ngw-1").status_code == 401
    with db_engine.connect() as conn:
        reasons = conn.execute(sa.text(
            "SELECT revoked_reason FROM registry.account_sessions WHERE staff_id = :id"),
            {"id": staff_id}).scalars().all()
    assert reasons == ["staff status_changed"]
    browser.close()


def test_reset_by_the_level_above_and_the_change_it_requires(people, web_session, token,
                                                             db_engine, caplog):
    caplog.set_level(logging.DEBUG)
    worker = people["cgw"]
    browser = type(web_session)()
    assert sign_in(browser, "cgw-1").status_code == 200  # a session the reset will end
    town = token("town_grid_chief", f"town:{TOWN}", sub="tgc-1")
    equal = token("community_grid_worker", f"community:{COMMUNITY}", sub="cgw-9")
    peer_chief = token("community_grid_chief", f"community:{COMMUNITY}", sub="cgc-1")
    other_town = token("town_grid_chief", f"town:{OTHER_TOWN}", sub="tgc-2")
    # a community grid chief may not reset another community grid chief (equal level)
    same = web_session.post(f"/staff/{people['cgc']}/password-reset", headers=peer_chief)
    assert same.status_code == 403 and same.json()["error"]["code"] == "reset_not_allowed"
    outside = web_session.post(f"/staff/{worker}/password-reset", headers=other_town)
    assert outside.status_code == 403 and outside.json()["error"]["code"] == "reset_not_allowed"
    lower = web_session.post(f"/staff/{people['tgc']}/password-reset", headers=peer_chief)
    assert lower.status_code == 403
    worker_role = web_session.post(f"/staff/{worker}/password-reset", headers=equal)
    assert worker_role.status_code == 403
    assert worker_role.json()["error"]["code"] == "role_not_allowed"
    dept = web_session.post(f"/staff/{people['dept']}/password-reset", headers=town)
    assert dept.status_code == 403  # only the district admin is above a department officer

    reset = web_session.post(f"/staff/{worker}/password-reset", headers=town)
    assert reset.status_code == 200, reset.text
    assert reset.headers["Cache-Control"] == "no-store"
    temporary = reset.json()["temporary_password"]
    assert reset.json()["must_change"] is True and len(temporary) >= 10
    refused = browser.post("/auth/refresh", headers=csrf(browser))
    assert refused.status_code == 401  # the reset ended the session
    assert sign_in(web_session, "cgw-1").status_code == 401  # the old password is gone
    required = sign_in(web_session, "cgw-1", temporary)
    assert required.status_code == 403
    assert required.json()["error"]["code"] == "password_change_required"
    assert "Set-Cookie" not in required.headers

    weak = web_session.post("/auth/password", headers={"Accept-Language": "zh-CN"}, json={
        "login": "cgw-1", "password": temporary, "new_password": "aaaaaaaaaaa"})
    assert weak.status_code == 422
    assert weak.json()["error"]["fields"]["new_password"] == [
        "至少包含两类字符（小写字母、大写字母、数字、其他符号）。"]
    short = web_session.post("/auth/password", json={
        "login": "cgw-1", "password": temporary, "new_password": "Ab1"})
    assert short.json()["error"]["fields"]["new_password"] == ["At least 10 characters."]
    changed = web_session.post("/auth/password", json={
        "login": "cgw-1", "password": temporary, "new_password": "New-password-77"})
    assert changed.status_code == 200, changed.text
    assert sign_in(web_session, "cgw-1", temporary).status_code == 401  # one time only
    assert sign_in(web_session, "cgw-1", "New-password-77").status_code == 200

    # the district admin resets the department officer
    da = token("district_admin", ADMIN_SCOPE, sub="da-1")
    assert web_session.post(f"/staff/{people['dept']}/password-reset",
                            headers=da).status_code == 200
    actions = [r["action"] for r in audit_rows(db_engine)]
    for expected in ("password_reset", "sign_in_password_change_required",
                     "password_changed", "refresh_refused"):
        assert expected in actions, actions
    every = " ".join(r["reason"] for r in audit_rows(db_engine))
    assert temporary not in every and "New-password-77" not in every
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert temporary not in logged and "New-password-77" not in logged
    assert "$argon2" not in logged
    with db_engine.connect() as conn:
        stored = conn.execute(sa.text("SELECT password_hash FROM registry.accounts "
                                      "WHERE staff_id = :id"), {"id": worker}).scalar_one()
    assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    browser.close()


def test_a_new_subject_or_another_scope_ends_the_session(people, web_session, admin,
                                                         db_engine):
    browser = type(web_session)()
    assert sign_in(browser, "cgw-1").status_code == 200
    moved = web_session.put(f"/staff/{people['cgw']}/subject", headers=admin,
                            json={"subject": "cgw-renamed"})
    assert moved.status_code == 200, moved.text
    refused = browser.post("/auth/refresh", headers=csrf(browser))
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "session_ended"
    # a scope changed in the database behind the registry's back (no API does it) is
    # caught at refresh too: role and scope are read again from the staff record
    assert sign_in(browser, "cgc-1").status_code == 200
    with db_engine.begin() as conn:
        conn.execute(sa.text("UPDATE registry.staff SET scope_code = :s WHERE id = :id"),
                     {"s": OTHER_COMMUNITY, "id": people["cgc"]})
    again = browser.post("/auth/refresh", headers=csrf(browser))
    assert again.status_code == 401
    reasons = [r["reason"] for r in audit_rows(db_engine, "refresh_refused")]
    assert any("staff subject_set" in r for r in reasons)
    assert any("role, scope or login changed" in r for r in reasons)
    browser.close()


def test_sign_in_is_throttled_per_client_address(container_factory, service_config,
                                                 clean_registry, web_session):
    config = service_config("registry", RATE_LIMIT_SIGNIN_RATE=0.001,
                            RATE_LIMIT_SIGNIN_BURST=2, **AUTH_CONFIG)
    container_factory(RegistryService, config).start()
    answers = [sign_in(web_session, f"login-{n}", "Wrong-password-1") for n in range(3)]
    assert [a.status_code for a in answers] == [401, 401, 429]
    assert int(answers[2].headers["Retry-After"]) >= 1
    # the password change has a bucket of the same size of its own
    changes = [web_session.post("/auth/password", json={
        "login": f"login-{n}", "password": "x", "new_password": "Another-one-55"})
        for n in range(3)]
    assert [c.status_code for c in changes] == [401, 401, 429]

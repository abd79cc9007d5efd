"""The SMS second factor of staff managers' sign-in (issue 12), end to end: the REAL
registry asks the REAL notify (RPC over the real broker), which sends the code through its
SMS gateway channel to a fake gateway — a real HTTP server — where the test reads it. The
code completes the sign-in; wrong codes count towards the lock-out; an expired code, a
spent one and a resend too soon are refused; a non-manager is not asked; all audited."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from gridgov_common.kernel import pii
from gridgov_common.platform.db import make_engine, transaction
from gridgov_common.platform.web import ACCESS_COOKIE, REFRESH_COOKIE
from services.notify.service import NotifyService
from services.registry import accounts
from services.registry.service import RegistryService
from tests.notify.servers import HttpReceiver
from tests.registry import test_accounts as base
from tests.registry.test_accounts import audit_rows, set_cookies, sign_in
from tools.ports import free_port

# the accounts tests' fixtures, used by name (people asks for this module's registry)
admin, clock, people = base.admin, base.clock, base.people

PHONE = "13800138000"
SECOND_FACTOR_CONFIG = {
    "AUTH_COOKIE_SECURE": "false", "AUTH_LOCKOUT_FAILURES": "3", "AUTH_LOCKOUT_MINUTES": "10",
    "AUTH_SECOND_FACTOR": "on", "AUTH_CODE_TTL_SECONDS": "300", "AUTH_CODE_MAX_ATTEMPTS": "2",
    "AUTH_CODE_RESEND_SECONDS": "60", "NOTIFY_RPC_TIMEOUT_SECONDS": "10"}


@pytest.fixture
def sms_gateway():
    receiver = HttpReceiver()
    yield receiver
    receiver.close()


@pytest.fixture
def notify(container_factory, service_config, sms_gateway):
    config = service_config("notify", SMS_GATEWAY_URL=f"{sms_gateway.url}/sms/send",
                            SMS_GATEWAY_TOKEN="gw-token", SEND_POLL_SECONDS=0.05,
                            HTTP_SEND_TIMEOUT=3,
                            WEB_SERVER_ADDRESS=f"127.0.0.1:{free_port()}")
    container = container_factory(NotifyService, config)
    container.start()
    return container


@pytest.fixture
def registry(container_factory, service_config, clean_registry, notify):
    container = container_factory(RegistryService,
                                  service_config("registry", **SECOND_FACTOR_CONFIG))
    container.start()
    return container


@pytest.fixture
def phones(people, service_config, db_url):
    """The sign-in phone of the district admin and the community grid chief, set as the
    operators' CLI does (encrypted with the registry's PII keys)."""
    cipher = pii.cipher_from_settings(service_config("registry"))
    engine = make_engine(db_url)
    try:
        with transaction(engine) as session:
            for subject in ("da-1", "cgc-1"):
                accounts.set_sign_in_phone(session, cipher, subject, PHONE, "test")
    finally:
        engine.dispose()
    return people


def sent_codes(gateway: HttpReceiver) -> list[str]:
    return [re.search(r"\b(\d{6})\b", body["text"]).group(1)
            for body in gateway.json_bodies()]


def actions(db_engine) -> list[str]:
    """The audit trail of sign-ins (not the fixtures' password_set, sign_in_phone_set)."""
    return [r["action"] for r in audit_rows(db_engine)
            if r["action"] not in ("password_set", "sign_in_phone_set")]


def enter(session, ticket, code):
    return session.post("/auth/sign-in/code", json={"ticket": ticket, "code": code})


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


def challenge(session, login="da-1", **kwargs) -> dict:
    response = sign_in(session, login, **kwargs)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["second_factor"] == "sms" and body["phone"] == "138****8000"
    assert set_cookies(response) == {} and response.headers["Cache-Control"] == "no-store"
    return body


def test_the_code_sent_by_sms_completes_the_sign_in(phones, sms_gateway, web_session,
                                                    db_engine, clock):
    body = challenge(web_session, headers={"Accept-Language": "en"})
    assert body["expires_in"] == 300 and "sub" not in body
    [request] = sms_gateway.requests
    sent = sms_gateway.json_bodies()[0]
    assert request["path"] == "/sms/send" and sent["to"] == PHONE
    assert request["headers"]["Authorization"] == "Bearer gw-token"
    assert "sign-in code" in sent["text"]
    [code] = sent_codes(sms_gateway)
    assert code not in str(audit_rows(db_engine))  # never written down
    with db_engine.connect() as conn:
        stored = conn.execute(sa.text("SELECT code_hash, sign_in_phone_enc FROM "
                                      "registry.accounts WHERE code_hash IS NOT NULL")).one()
    assert code not in stored.code_hash and PHONE.encode() not in stored.sign_in_phone_enc
    done = enter(web_session, body["ticket"], code)
    assert done.status_code == 200, done.text
    assert done.json()["role"] == "district_admin" and done.json()["auth"] == "cookie"
    assert {ACCESS_COOKIE, REFRESH_COOKIE} <= set(set_cookies(done))
    assert web_session.get("/auth/me").json()["sub"] == "da-1"
    again = enter(web_session, body["ticket"], code)  # a code is good once
    assert again.status_code == 401 and again.json()["error"]["code"] == "sign_in_failed"
    assert actions(db_engine) == ["sign_in_code_sent", "sign_in", "sign_in_code_failed"]
    assert "password and SMS code" in audit_rows(db_engine, "sign_in")[0]["reason"]


def test_wrong_codes_void_the_code_and_count_towards_the_lock_out(phones, sms_gateway,
                                                                   web_session, db_engine,
                                                                   clock):
    body = challenge(web_session)
    [code] = sent_codes(sms_gateway)
    assert enter(web_session, body["ticket"], wrong(code)).status_code == 401  # failure 1
    assert enter(web_session, body["ticket"], "12ab").status_code == 401  # 2; code spent
    voided = enter(web_session, body["ticket"], code)  # the right code, too late
    assert voided.status_code == 401 and voided.json()["error"]["code"] == "sign_in_failed"
    # a new code at once is refused (resend throttle); a minute later it comes
    too_soon = sign_in(web_session, "da-1")
    assert too_soon.status_code == 429 and int(too_soon.headers["Retry-After"]) >= 1
    clock.advance(seconds=61)
    body = challenge(web_session)  # a right password alone clears no failure
    code = sent_codes(sms_gateway)[-1]
    locked = enter(web_session, body["ticket"], wrong(code))  # failure 3: locked
    assert locked.status_code == 401
    assert enter(web_session, body["ticket"], code).status_code == 401  # void with the lock
    assert sign_in(web_session, "da-1").status_code == 401  # locked, even the password
    assert len(sms_gateway.requests) == 2
    clock.advance(minutes=11)
    body = challenge(web_session)
    done = enter(web_session, body["ticket"], sent_codes(sms_gateway)[-1])
    assert done.status_code == 200, done.text
    with db_engine.connect() as conn:
        state = conn.execute(sa.text(
            "SELECT a.failed_count, a.code_hash, a.code_attempts FROM registry.accounts a "
            "JOIN registry.staff s ON s.id = a.staff_id WHERE s.subject = 'da-1'")).one()
    assert tuple(state) == (0, None, 0)
    trail = actions(db_engine)
    # wrong, malformed, spent ticket, wrong (locks), the ticket voided by the lock
    assert trail.count("sign_in_code_failed") == 5
    assert trail.count("account_locked") == 1 and "sign_in_code_throttled" in trail
    assert "sign_in_refused_locked" in trail
    assert trail.count("sign_in_code_sent") == 3 and trail[-1] == "sign_in"


def test_an_expired_code_is_refused(phones, sms_gateway, web_session, db_engine, clock):
    body = challenge(web_session, "cgc-1")
    [code] = sent_codes(sms_gateway)
    assert "登录验证码" in sms_gateway.json_bodies()[0]["text"]  # zh-CN by default
    clock.advance(seconds=301)
    expired = enter(web_session, body["ticket"], code)
    assert expired.status_code == 401 and expired.json()["error"]["code"] == "code_expired"
    assert enter(web_session, body["ticket"], code).status_code == 401
    assert web_session.cookies.get(ACCESS_COOKIE) is None
    assert "code expired" in audit_rows(db_engine, "sign_in_code_failed")[0]["reason"]


def test_other_roles_are_not_asked_and_a_manager_without_phone_is_refused(
        phones, sms_gateway, web_session, db_engine, clock):
    for login in ("cgw-1", "fire-1"):  # a community grid worker, a department officer
        response = sign_in(web_session, login)
        assert response.status_code == 200, response.text
        assert "second_factor" not in response.json() and ACCESS_COOKIE in set_cookies(response)
    refused = sign_in(web_session, "tgc-1")  # a town grid chief: no sign-in phone set
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "second_factor_unavailable"
    assert sms_gateway.requests == []
    assert [r["actor_sub"] for r in audit_rows(db_engine, "sign_in_refused_no_phone")] == [
        "tgc-1"]


def test_a_gateway_that_refuses_leaves_no_code_and_answers_503(phones, sms_gateway,
                                                                web_session, db_engine,
                                                                clock):
    sms_gateway.status = 500
    response = sign_in(web_session, "da-1")
    assert response.status_code == 503 and response.json()["error"]["code"] == "sms_unavailable"
    assert len(audit_rows(db_engine, "sign_in_code_not_sent")) == 1
    sms_gateway.status = 200
    challenge(web_session)  # not throttled: the first code never left

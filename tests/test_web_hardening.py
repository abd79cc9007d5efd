"""Issue 10, item 4 and 6 in the web layer and the token code: a token must name its
subject; the services' request log never holds a token, an ID number or a phone number.
The route-by-route walks are in tests/authz/test_hostile_input.py."""

from __future__ import annotations

import io
import json
import logging
import time

import jwt
import pytest

from gridgov_common.kernel import auth
from gridgov_common.platform.logs import JsonFormatter, redact
from gridgov_common.platform.web import MAX_JSON_DEPTH, json_depth
from services.registry.service import RegistryService

SECRET = "s" * 40
ID_NUMBER, PHONE = "110105199001011234", "13800138000"
TOKEN_VALUE = "eyJhbGciOiJIUzI1NiJ9.c2VjcmV0LXBhcnQ.signature-part"


def forged(sub: str, secret: str = SECRET, role: str = "ops_viewer",
           scope: str = "district:320505") -> str:
    """A token as a careless signer would make it, with this ``sub``."""
    now = int(time.time())
    return jwt.encode({"iss": auth.ISSUER, "aud": auth.AUDIENCE, "sub": sub, "role": role,
                       "scope": scope, "iat": now, "exp": now + 600}, secret,
                      algorithm=auth.ALGORITHM)


@pytest.mark.parametrize("sub", ["", "   ", " ops-1"])
def test_a_token_without_a_subject_is_neither_minted_nor_accepted(sub, capsys, monkeypatch):
    with pytest.raises(ValueError, match="sub"):
        auth.mint(SECRET, sub, "ops_viewer", "district:320505")
    monkeypatch.setenv("GRIDGOV_JWT_SECRET", SECRET)
    assert auth.main(["mint", "--role", "ops_viewer", "--scope", "district:320505",
                      "--sub", sub]) == 2
    assert "sub" in capsys.readouterr().err
    with pytest.raises(auth.Unauthorized, match="sub") as refused:
        auth.verify(SECRET, forged(sub))
    assert refused.value.code == "invalid_token"
    assert auth.verify(SECRET, forged("ops-1")).sub == "ops-1"


def test_a_service_refuses_a_token_with_an_empty_subject(container_factory, service_config,
                                                         platform_secrets, web_session):
    container_factory(RegistryService, service_config("registry")).start()
    empty = forged("", platform_secrets["JWT_SECRET"], "district_admin")
    response = web_session.get("/grids", headers={"Authorization": f"Bearer {empty}"})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_token"


def test_redact_hides_tokens_id_numbers_and_phones_in_any_url():
    line = (f'127.0.0.1 - - "GET /a?token={TOKEN_VALUE}&lang=en&ID_Number={ID_NUMBER};'
            f'phone={PHONE}&id%5Fnumber={ID_NUMBER}&page_token=keep&JWT={TOKEN_VALUE}'
            f'&bearer={TOKEN_VALUE} HTTP/1.1" 200')
    cleaned = redact(line)
    for value in (TOKEN_VALUE, ID_NUMBER, PHONE):
        assert value not in cleaned
    assert "token=[REDACTED]&lang=en&ID_Number=[REDACTED];phone=[REDACTED]" in cleaned
    assert "page_token=keep" in cleaned
    assert "JWT=[REDACTED]&bearer=[REDACTED]" in cleaned


def test_the_request_log_of_a_running_service_holds_no_credential_or_personal_data(
        container_factory, service_config, web_session, token):
    """nameko's request log (eventlet.wsgi through the logger ``nameko.web.server``) is
    written by the services' JSON formatter: what reaches var/log/<svc>.log."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("nameko.web.server")
    old_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        container_factory(RegistryService, service_config("registry")).start()
        admin = token("district_admin", "district:320505")
        for url in (f"/grids?token={TOKEN_VALUE}",
                    f"/residents?id_number={ID_NUMBER}&phone={PHONE}",
                    f"/healthz?access_token={TOKEN_VALUE}"):
            assert web_session.get(url, headers=admin).status_code < 500
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    requests_logged = [entry["msg"] for entry in lines if "GET /" in entry["msg"]]
    assert len(requests_logged) == 3, lines
    text = out.getvalue()
    for value in (TOKEN_VALUE, ID_NUMBER, PHONE):
        assert value not in text
    assert any("/grids?token=[REDACTED]" in msg for msg in requests_logged)


def test_json_depth_counts_without_recursion():
    assert json_depth(1) == 0 and json_depth([]) == 1 and json_depth({"a": [1]}) == 2
    deep: list = []
    for _ in range(100_000):
        deep = [deep]
    assert json_depth(deep) == 100_001 > MAX_JSON_DEPTH


def test_a_routing_redirect_gets_the_headers_too(container_factory, service_config,
                                                 web_session, web_config_port):
    """werkzeug answers a path with doubled slashes with a redirect of its own: it passes
    through the same header helper (nosniff) instead of failing in it."""
    container_factory(RegistryService, service_config("registry")).start()
    response = web_session.get(f"http://127.0.0.1:{web_config_port}/healthz//",
                               allow_redirects=False)
    assert response.status_code == 308
    assert "//" not in response.headers["Location"].split("://", 1)[1]
    assert response.headers["X-Content-Type-Options"] == "nosniff"

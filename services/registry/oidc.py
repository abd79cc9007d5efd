"""Single sign-on with the district's unified identity platform (统一身份认证) over OpenID
Connect (issue 12), with ``authlib`` (the OAuth 2 client) and ``joserfc`` (the ID token).

``GET /auth/oidc/start`` sends the browser to the platform: authorization code flow with
PKCE (S256), a random ``state`` and ``nonce``; the state, nonce and code verifier travel in
a short-lived signed cookie (``gridgov_oidc``: HS256 under ``JWT_SECRET`` with its own
audience, HttpOnly, ``SameSite=Lax`` — it must come back on the platform's top-level
redirect — path the callback's, ``OIDC_STATE_TTL_SECONDS``). ``GET /auth/oidc/callback``
checks the state against the cookie, redeems the code at the token endpoint (client
secret, code verifier) and verifies the ID token: signature against the platform's JWKS
(refetched once for an unknown key), ``iss``, ``aud`` (and ``azp``), ``exp``/``iat``, and
the ``nonce``. The person is the staff record whose ``subject`` equals the token's
``OIDC_SUBJECT_CLAIM`` (``sub`` by default: stable and unique per issuer, OIDC Core §2);
role and scope come from that record, as at a password sign-in (accounts.oidc_sign_in).
Off while ``OIDC_ISSUER`` is empty. docs/SECURITY.md "Single sign-on".
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import jwt as pyjwt
import requests
from authlib.integrations.requests_client import OAuth2Session
from joserfc import jwt as jose_jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from nameko.extensions import DependencyProvider
from werkzeug.wrappers import Response

from gridgov_common.kernel.errors import NotFound
from gridgov_common.platform.settings import Setting, check_container
from gridgov_common.platform.web import JWT_SECRET
from services.registry import settings as declared

STATE_COOKIE = "gridgov_oidc"
STATE_AUDIENCE = "gridgov-oidc-state"
ALGORITHMS = ("RS256", "PS256", "ES256", "EdDSA")  # never "none", never a shared secret
LEEWAY = 60  # seconds of clock difference tolerated on exp/iat


class OidcFailed(Exception):
    """The platform's answer does not sign anyone in (the reason is audited, never shown)."""


@dataclass(frozen=True)
class OidcSettings:
    """``OIDC_*`` of services/registry/config.yaml; incomplete settings stop the service."""

    issuer: str = ""
    client_id: str = ""
    client_secret: str = ""
    redirect_uri: str = ""
    scope: str = "openid profile"
    subject_claim: str = "sub"
    after_sign_in: str = "/"
    state_ttl: int = 600
    timeout: float = 10

    @property
    def enabled(self) -> bool:
        return bool(self.issuer)

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> OidcSettings:
        def text(setting: Setting) -> str:
            return setting.read(config).strip()

        settings = cls(issuer=text(declared.OIDC_ISSUER).rstrip("/"),
                       client_id=text(declared.OIDC_CLIENT_ID),
                       client_secret=text(declared.OIDC_CLIENT_SECRET),
                       redirect_uri=text(declared.OIDC_REDIRECT_URI),
                       scope=text(declared.OIDC_SCOPE),
                       subject_claim=text(declared.OIDC_SUBJECT_CLAIM),
                       after_sign_in=text(declared.OIDC_AFTER_SIGN_IN_URL),
                       state_ttl=declared.OIDC_STATE_TTL_SECONDS.read(config),
                       timeout=declared.OIDC_HTTP_TIMEOUT_SECONDS.read(config))
        if settings.enabled:
            missing = [key for key, value in (("OIDC_CLIENT_ID", settings.client_id),
                                              ("OIDC_CLIENT_SECRET", settings.client_secret),
                                              ("OIDC_REDIRECT_URI", settings.redirect_uri))
                       if not value]
            if missing:
                raise RuntimeError(f"config OIDC_ISSUER is set but {', '.join(missing)} "
                                   f"is empty")
            if "openid" not in settings.scope.split():
                raise RuntimeError("config OIDC_SCOPE must include openid")
        return settings


# -- the state cookie (pure) -------------------------------------------------------------

def seal_state(secret: str, state: str, nonce: str, verifier: str, ttl: int,
               now: float | None = None) -> str:
    now = time.time() if now is None else now
    return pyjwt.encode({"aud": STATE_AUDIENCE, "state": state, "nonce": nonce,
                         "verifier": verifier, "iat": int(now), "exp": int(now) + ttl},
                        secret, algorithm="HS256")


def open_state(secret: str, cookie: str | None, state: str | None) -> dict[str, str]:
    """The nonce and code verifier of the flow this callback ends; :class:`OidcFailed`
    without the cookie, with a forged or expired one, or for another flow's state."""
    if not cookie or not state:
        raise OidcFailed("no state or no state cookie (expired, or not started here)")
    try:
        sealed = pyjwt.decode(cookie, secret, algorithms=["HS256"], audience=STATE_AUDIENCE)
    except pyjwt.PyJWTError as exc:
        raise OidcFailed(f"state cookie refused: {exc}") from None
    if not secrets.compare_digest(str(sealed.get("state", "")), state):
        raise OidcFailed("state does not match the state cookie")
    return {"nonce": sealed["nonce"], "verifier": sealed["verifier"]}


def subject_of(claims: dict[str, Any], claim: str) -> str:
    value = claims.get(claim)
    if not isinstance(value, str) or not value.strip():
        raise OidcFailed(f"the ID token has no {claim!r} claim to map to a staff record")
    return value.strip()


# -- the provider --------------------------------------------------------------------------

class Oidc(DependencyProvider):
    """The OIDC client: settings, the platform's metadata and keys (cached per process)."""

    def setup(self) -> None:
        check_container(self.container)
        self.settings = OidcSettings.from_config(self.container.config)
        self.secret = JWT_SECRET.of(self.container)
        self.cookie_secure = declared.AUTH_COOKIE_SECURE.of(self.container)
        # only the callback gets the state cookie (behind the proxy, its /api/registry path)
        self.cookie_path = urlsplit(self.settings.redirect_uri).path or "/"
        self._metadata: dict[str, Any] | None = None
        self._keys: KeySet | None = None

    def get_dependency(self, worker_ctx) -> Oidc:
        return self

    def require_enabled(self) -> None:
        if not self.settings.enabled:
            raise NotFound("single sign-on is not configured here (OIDC_ISSUER is empty)",
                           code="oidc_off")

    def _get_json(self, url: str) -> dict[str, Any]:
        try:
            response = requests.get(url, timeout=self.settings.timeout)
            response.raise_for_status()
            return response.json()
        except (requests.RequestException, ValueError) as exc:
            raise OidcFailed(f"the identity platform did not answer {url}: {exc}") from None

    def metadata(self) -> dict[str, Any]:
        if self._metadata is None:
            found = self._get_json(f"{self.settings.issuer}/.well-known/openid-configuration")
            if found.get("issuer", "").rstrip("/") != self.settings.issuer:
                raise OidcFailed(f"discovery names issuer {found.get('issuer')!r}, "
                                 f"not {self.settings.issuer!r}")
            self._metadata = found
        return self._metadata

    def _keyset(self, refresh: bool = False) -> KeySet:
        if self._keys is None or refresh:
            self._keys = KeySet.import_key_set(self._get_json(self.metadata()["jwks_uri"]))
        return self._keys

    def _client(self) -> OAuth2Session:
        s = self.settings
        return OAuth2Session(s.client_id, s.client_secret, scope=s.scope,
                             redirect_uri=s.redirect_uri, code_challenge_method="S256",
                             token_endpoint_auth_method="client_secret_basic")

    # -- the two legs ------------------------------------------------------------------

    def begin(self) -> Response:
        """302 to the platform's authorization endpoint, with the state cookie."""
        self.require_enabled()
        state, nonce = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        verifier = secrets.token_urlsafe(64)  # 86 characters (RFC 7636: 43–128)
        with self._client() as client:
            url, _ = client.create_authorization_url(
                self.metadata()["authorization_endpoint"], state=state, nonce=nonce,
                code_verifier=verifier)
        response = Response(status=302, headers={"Location": url,
                                                 "Cache-Control": "no-store"})
        response.set_cookie(STATE_COOKIE, seal_state(self.secret, state, nonce, verifier,
                                                     self.settings.state_ttl),
                            max_age=self.settings.state_ttl, path=self.cookie_path,
                            secure=self.cookie_secure, httponly=True, samesite="Lax")
        return response

    def finish(self, params: dict[str, Any], cookie: str | None) -> str:
        """The mapped subject of the person the platform signed in; :class:`OidcFailed`
        for every reason it did not."""
        self.require_enabled()
        if params.get("error"):
            raise OidcFailed(f"the platform answered {params['error']}: "
                             f"{params.get('error_description') or ''}"[:200])
        sealed = open_state(self.secret, cookie, params.get("state"))
        if params.get("iss") and params["iss"].rstrip("/") != self.settings.issuer:
            raise OidcFailed("the authorization response names another issuer (RFC 9207)")
        if not params.get("code"):
            raise OidcFailed("no authorization code")
        try:
            with self._client() as client:
                token = client.fetch_token(self.metadata()["token_endpoint"],
                                           grant_type="authorization_code",
                                           code=params["code"],
                                           code_verifier=sealed["verifier"],
                                           timeout=self.settings.timeout)
        except Exception as exc:  # noqa: BLE001  (authlib's OAuthError, requests' errors)
            raise OidcFailed(f"token endpoint refused the code: {exc}"[:300]) from None
        if not token.get("id_token"):
            raise OidcFailed("the token response has no ID token")
        claims = self.verify_id_token(token["id_token"], sealed["nonce"])
        return subject_of(claims, self.settings.subject_claim)

    def verify_id_token(self, id_token: str, nonce: str) -> dict[str, Any]:
        supported = self.metadata().get("id_token_signing_alg_values_supported") or ["RS256"]
        algorithms = [a for a in ALGORITHMS if a in supported] or ["RS256"]
        try:
            try:
                decoded = jose_jwt.decode(id_token, self._keyset(), algorithms=algorithms)
            except JoseError:  # a rotated key: fetch the set once more
                decoded = jose_jwt.decode(id_token, self._keyset(refresh=True),
                                          algorithms=algorithms)
            jose_jwt.JWTClaimsRegistry(
                leeway=LEEWAY,
                iss={"essential": True, "value": self.settings.issuer},
                sub={"essential": True},
                exp={"essential": True}, iat={"essential": True},
                nonce={"essential": True, "value": nonce},
            ).validate(decoded.claims)
        except (JoseError, ValueError) as exc:
            raise OidcFailed(f"ID token refused: {type(exc).__name__}: {exc}"[:300]) from None
        claims = decoded.claims
        audience = claims.get("aud")
        audiences = audience if isinstance(audience, list) else [audience]
        if self.settings.client_id not in audiences:
            raise OidcFailed("ID token refused: not issued to this client (aud)")
        if len(audiences) > 1 and claims.get("azp") != self.settings.client_id:
            raise OidcFailed("ID token refused: several audiences and azp is not this client")
        return claims


PAGE = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta http-equiv="refresh" content="0; url={url}">
<title>已登录 · Signed in</title></head>
<body><p>已通过统一身份认证登录，正在进入平台…… <a href="{url}">继续</a></p>
<p lang="en">Signed in through the unified identity platform. <a href="{url}">Continue</a></p>
</body></html>
"""


def signed_in_page(url: str) -> Response:
    """The callback's answer: an HTML page that moves on at once. A page, not a redirect:
    the session cookies are SameSite=Strict, and a browser does not send them on a
    redirect chain that a cross-site navigation (the platform's) started; the refresh
    from this page is a same-site navigation, which carries them."""
    from html import escape

    response = Response(PAGE.format(url=escape(url, quote=True)), status=200,
                        mimetype="text/html")
    response.headers["Cache-Control"] = "no-store"
    return response

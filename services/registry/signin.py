"""The browser side of sign-in (issue 12): cookies, throttles and the settings provider.

Three cookies, all ``SameSite=Strict`` and ``Secure`` unless ``AUTH_COOKIE_SECURE`` is off
(only for http://127.0.0.1 development):

* ``gridgov_access`` — the access JWT (≤ 5 minutes), HttpOnly, ``Path=/``: every service
  reads it (gridgov_common/platform/web.py) when a request has no Authorization header;
* ``gridgov_refresh`` — the random refresh session id, HttpOnly, only sent to the
  registry's ``/auth`` routes (``AUTH_REFRESH_COOKIE_PATH``: ``/api/registry/auth``
  behind the proxy);
* ``gridgov_csrf`` — readable by the page, echoed in ``X-CSRF-Token`` (double submit).
"""

from __future__ import annotations

from nameko.extensions import DependencyProvider
from werkzeug.wrappers import Response

from gridgov_common.platform import ratelimit
from gridgov_common.platform.settings import check_container
from gridgov_common.platform.web import (
    ACCESS_COOKIE,
    CSRF_COOKIE,
    JWT_SECRET,
    REFRESH_COOKIE,
    check_csrf,
    json_response,
)
from services.registry import settings as declared
from services.registry.accounts import Grant, Settings

# The per-login bucket (RATE_LIMIT_SIGNIN_LOGIN_*) is on top of the route's per-address
# "signin" bucket: slow guessing of one person's password from many addresses (lock-out is
# the stronger guard; this one keeps the argon2 work bounded).


class SignIn(DependencyProvider):
    """Gives the entrypoints the ``AUTH_*`` settings and the per-login throttle."""

    def setup(self) -> None:
        check_container(self.container)
        config = self.container.config
        self.secret = JWT_SECRET.read(config)  # mints the access tokens
        self.settings = Settings.from_config(config)
        self.refresh_path = declared.AUTH_REFRESH_COOKIE_PATH.read(config)
        self.by_login = ratelimit.bucket_of(config, declared.RATE_LIMIT_SIGNIN_LOGIN_RATE,
                                            declared.RATE_LIMIT_SIGNIN_LOGIN_BURST)
        self.trusted = ratelimit.TRUSTED_PROXIES.read(config)

    def get_dependency(self, worker_ctx):
        return self

    def client_ip(self, request) -> str:
        """The client's address as the rate limits see it (X-Real-IP from a trusted
        proxy, else the peer)."""
        return ratelimit.client_key(request, None, self.trusted).removeprefix("addr:")

    def throttle_login(self, login: str) -> None:
        wait = self.by_login.take(f"login:{login}")
        if wait > 0:
            raise ratelimit.TooManyRequests("too many sign-in attempts for this login; "
                                            "retry later", wait)

    def grant_response(self, grant: Grant, payload: dict) -> Response:
        return self.set_grant_cookies(json_response(payload), grant)

    def set_grant_cookies(self, response: Response, grant: Grant) -> Response:
        response.headers["Cache-Control"] = "no-store"
        secure = self.settings.cookie_secure
        response.set_cookie(ACCESS_COOKIE, grant.access_token, max_age=self.settings.access_ttl,
                            path="/", secure=secure, httponly=True, samesite="Strict")
        if grant.refresh_id is not None:
            response.set_cookie(REFRESH_COOKIE, grant.refresh_id, expires=grant.expires_at,
                                path=self.refresh_path, secure=secure, httponly=True,
                                samesite="Strict")
            response.set_cookie(CSRF_COOKIE, grant.csrf_token, expires=grant.expires_at,
                                path="/", secure=secure, httponly=False, samesite="Strict")
        return response

    def cleared(self, payload: dict) -> Response:
        response = json_response(payload)
        response.headers["Cache-Control"] = "no-store"
        secure = self.settings.cookie_secure
        for name, path, http_only in ((ACCESS_COOKIE, "/", True),
                                      (REFRESH_COOKIE, self.refresh_path, True),
                                      (CSRF_COOKIE, "/", False)):
            response.delete_cookie(name, path=path, secure=secure, httponly=http_only,
                                   samesite="Strict")
        return response


def require_csrf_with_session(request) -> str | None:
    """The refresh cookie's value; a request carrying one must pass the CSRF check
    (refresh and sign-out change state on the strength of a cookie)."""
    raw = request.cookies.get(REFRESH_COOKIE)
    if raw:
        check_csrf(request)
    return raw

"""The registry's settings: every key services/registry/config.yaml holds (``SETTINGS``),
its own declared here, the shared ones imported from the modules that read them."""

from __future__ import annotations

from gridgov_common.platform import audit_retention, messaging, pii_provider, ratelimit
from gridgov_common.platform.service import PLATFORM_SETTINGS
from gridgov_common.platform.settings import (
    FLAG,
    POSITIVE,
    POSITIVE_INTEGER,
    SECRET,
    TEXT,
    Setting,
    Settings,
)

MAX_ACCESS_TTL = 300  # a revoked session's access cookie lives at most this long


def _check_access_ttl(key: str, ttl: int) -> None:
    if ttl > MAX_ACCESS_TTL:
        raise RuntimeError(f"config {key}: at most {MAX_ACCESS_TTL} s "
                           f"(a revoked session's access cookie lives that long)")


# -- sign-in and sessions (issue 12; docs/SECURITY.md "Sign-in and sessions") -------------
RATE_LIMIT_SIGNIN_LOGIN_RATE, RATE_LIMIT_SIGNIN_LOGIN_BURST = ratelimit.limit_settings(
    "signin_login")
AUTH_LOCKOUT_FAILURES = Setting("AUTH_LOCKOUT_FAILURES", POSITIVE_INTEGER, 5,
                                "wrong passwords before a login is locked")
AUTH_LOCKOUT_MINUTES = Setting("AUTH_LOCKOUT_MINUTES", POSITIVE, 15.0, "lock-out length")
AUTH_ACCESS_TTL_SECONDS = Setting("AUTH_ACCESS_TTL_SECONDS", POSITIVE_INTEGER, MAX_ACCESS_TTL,
                                  "access cookie lifetime (at most 300 s)",
                                  check=_check_access_ttl)
AUTH_SESSION_IDLE_HOURS = Setting("AUTH_SESSION_IDLE_HOURS", POSITIVE, 12.0,
                                  "a refresh session unused this long ends")
AUTH_SESSION_ABSOLUTE_DAYS = Setting("AUTH_SESSION_ABSOLUTE_DAYS", POSITIVE, 7.0,
                                     "a refresh session ends this long after sign-in")
AUTH_COOKIE_SECURE = Setting("AUTH_COOKIE_SECURE", FLAG, True,
                             "false only for plain http://127.0.0.1 development")
AUTH_REFRESH_COOKIE_PATH = Setting("AUTH_REFRESH_COOKIE_PATH", TEXT, "/auth",
                                   "the refresh cookie's path (behind the proxy "
                                   "/api/registry/auth)")
AUTH_SECOND_FACTOR = Setting("AUTH_SECOND_FACTOR", FLAG, False,
                             "staff managers confirm their sign-in by an SMS code")
AUTH_CODE_TTL_SECONDS = Setting("AUTH_CODE_TTL_SECONDS", POSITIVE_INTEGER, 300,
                                "a sign-in code's lifetime")
AUTH_CODE_MAX_ATTEMPTS = Setting("AUTH_CODE_MAX_ATTEMPTS", POSITIVE_INTEGER, 3,
                                 "wrong codes that void a code")
AUTH_CODE_RESEND_SECONDS = Setting("AUTH_CODE_RESEND_SECONDS", POSITIVE_INTEGER, 60,
                                   "at most one code per account per this long")
NOTIFY_RPC_TIMEOUT_SECONDS = Setting("NOTIFY_RPC_TIMEOUT_SECONDS", POSITIVE, 10.0,
                                     "time limit of notify's send_sign_in_code")

# -- single sign-on (services/registry/oidc.py; docs/SECURITY.md "Single sign-on") --------
OIDC_ISSUER = Setting("OIDC_ISSUER", TEXT, "", "the identity platform; empty: SSO off")
OIDC_CLIENT_ID = Setting("OIDC_CLIENT_ID", TEXT, "", "this registry's client id")
OIDC_CLIENT_SECRET = Setting("OIDC_CLIENT_SECRET", SECRET, "", "this registry's client secret")
OIDC_REDIRECT_URI = Setting("OIDC_REDIRECT_URI", TEXT, "",
                            "/auth/oidc/callback as the browser reaches it")
OIDC_SCOPE = Setting("OIDC_SCOPE", TEXT, "openid profile", "scopes asked (openid needed)")
OIDC_SUBJECT_CLAIM = Setting("OIDC_SUBJECT_CLAIM", TEXT, "sub",
                             "the ID token claim naming the staff record")
OIDC_AFTER_SIGN_IN_URL = Setting("OIDC_AFTER_SIGN_IN_URL", TEXT, "/",
                                 "where the browser goes once signed in")
OIDC_STATE_TTL_SECONDS = Setting("OIDC_STATE_TTL_SECONDS", POSITIVE_INTEGER, 600,
                                 "the state cookie's lifetime")
OIDC_HTTP_TIMEOUT_SECONDS = Setting("OIDC_HTTP_TIMEOUT_SECONDS", POSITIVE, 10.0,
                                    "time limit of calls to the identity platform")

# -- timers and retention -------------------------------------------------------------------
CALLBACK_PHONE_CONFIRM_MINUTES = Setting(
    "CALLBACK_PHONE_CONFIRM_MINUTES", POSITIVE, 60.0,
    "a call-back phone events has not confirmed within this long is deleted")
CALLBACK_PHONE_PURGE_SECONDS = Setting("CALLBACK_PHONE_PURGE_SECONDS", POSITIVE, 300.0,
                                       "seconds between purges of unconfirmed phones")
AUDIT_PURGE_SECONDS = Setting("AUDIT_PURGE_SECONDS", POSITIVE, 3600.0,
                              "seconds between purges of the audit log (P5.4.4)")
DEPARTMENTS_ANNOUNCE_SECONDS = Setting("DEPARTMENTS_ANNOUNCE_SECONDS", POSITIVE, 3600.0,
                                       "seconds between announcements of the register")

SETTINGS = Settings(
    PLATFORM_SETTINGS, pii_provider.PII_SETTINGS,
    ratelimit.RATE_LIMIT_LOOKUP_RATE, ratelimit.RATE_LIMIT_LOOKUP_BURST,
    ratelimit.RATE_LIMIT_IMPORT_RATE, ratelimit.RATE_LIMIT_IMPORT_BURST,
    ratelimit.RATE_LIMIT_SIGNIN_RATE, ratelimit.RATE_LIMIT_SIGNIN_BURST,
    RATE_LIMIT_SIGNIN_LOGIN_RATE, RATE_LIMIT_SIGNIN_LOGIN_BURST,
    AUTH_LOCKOUT_FAILURES, AUTH_LOCKOUT_MINUTES, AUTH_ACCESS_TTL_SECONDS,
    AUTH_SESSION_IDLE_HOURS, AUTH_SESSION_ABSOLUTE_DAYS, AUTH_COOKIE_SECURE,
    AUTH_REFRESH_COOKIE_PATH, AUTH_SECOND_FACTOR, AUTH_CODE_TTL_SECONDS,
    AUTH_CODE_MAX_ATTEMPTS, AUTH_CODE_RESEND_SECONDS, NOTIFY_RPC_TIMEOUT_SECONDS,
    OIDC_ISSUER, OIDC_CLIENT_ID, OIDC_CLIENT_SECRET, OIDC_REDIRECT_URI, OIDC_SCOPE,
    OIDC_SUBJECT_CLAIM, OIDC_AFTER_SIGN_IN_URL, OIDC_STATE_TTL_SECONDS,
    OIDC_HTTP_TIMEOUT_SECONDS,
    CALLBACK_PHONE_CONFIRM_MINUTES, CALLBACK_PHONE_PURGE_SECONDS,
    audit_retention.AUDIT_RETENTION_DAYS, AUDIT_PURGE_SECONDS,
    messaging.REQUIRE_INTAKE_USER_ID, DEPARTMENTS_ANNOUNCE_SECONDS,
)

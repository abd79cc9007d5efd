"""Bearer tokens (signed JWT) carrying a role and a scope, and a CLI to mint them.

A token says who (``sub``), in which role and over which scope: ``district:320505``,
``town:320505001``, ``community:320505001001``, ``grid:320505001001003`` or
``department:fire``.  Geographic codes nest by prefix, so "is this grid inside my scope"
is a prefix test.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass

import jwt

from gridgov_common.kernel import scoping
from gridgov_common.kernel.errors import Forbidden, Unauthorized
from gridgov_common.kernel.roles import CODE_LENGTH, ROLE_SCOPE, Role, ScopeLevel

ISSUER = "gridgov"
AUDIENCE = "gridgov"
ALGORITHM = "HS256"
DEFAULT_TTL_SECONDS = 8 * 3600  # one working day
# No token lives longer than a day, whoever minted it: a leaked token is worth a day at
# most (there is no revocation list; rotating GRIDGOV_JWT_SECRET without keeping the old
# one as GRIDGOV_JWT_PREVIOUS_SECRET revokes all).
MAX_TTL_SECONDS = 24 * 3600
MIN_SECRET_BYTES = 32


@dataclass(frozen=True)
class Principal:
    """The authenticated caller of an entrypoint."""

    sub: str
    role: Role
    scope_level: ScopeLevel
    scope_code: str
    name: str = ""

    # No "district-wide sees everything" shortcut (issue 10): a district scope covers the
    # codes of *its* district; gridgov_common/kernel/scoping.py is the one place of these rules.
    def covers(self, code: str | None) -> bool:
        """True if the geographic ``code`` (district/town/community/grid) lies in this
        scope."""
        return scoping.covers(self, code)

    def require_covers(self, code: str | None, what: str = "this record") -> None:
        scoping.require(self, code, what)

    def require_role(self, *roles: Role) -> None:
        if self.role not in roles:
            raise Forbidden(f"role {self.role} may not do this")

    @property
    def scope(self) -> str:
        return f"{self.scope_level}:{self.scope_code}"


def parse_scope(role: Role, scope: str) -> tuple[ScopeLevel, str]:
    """Check that ``scope`` ("level:code") fits the role (P5.0) and the code's length."""
    level_text, _, code = scope.partition(":")
    try:
        level = ScopeLevel(level_text)
    except ValueError:
        raise ValueError(f"unknown scope level {level_text!r}") from None
    if ROLE_SCOPE[role] != level:
        raise ValueError(f"role {role} holds a {ROLE_SCOPE[role]} scope, not {level}")
    expected = CODE_LENGTH.get(level)
    if expected is not None and (len(code) != expected or not code.isdigit()):
        raise ValueError(f"a {level} code has {expected} digits, got {code!r}")
    if level == ScopeLevel.DEPARTMENT and not code.replace("_", "").isalpha():
        raise ValueError(f"bad department code {code!r}")
    return level, code


def check_sub(sub: object) -> str:
    """A subject names someone: an empty or blank ``sub`` (audited as ``''``, issue 10) is
    refused when minting and when verifying."""
    if not isinstance(sub, str) or not sub.strip():
        raise ValueError("sub must name the staff member or service account (not empty)")
    if sub != sub.strip():
        raise ValueError("sub must not start or end with whitespace")
    return sub


def check_secret(secret: str | None) -> str:
    if not secret or len(secret.encode()) < MIN_SECRET_BYTES:
        raise RuntimeError(
            f"JWT_SECRET must be set from the environment, at least {MIN_SECRET_BYTES} bytes"
        )
    return secret


def mint(secret: str, sub: str, role: str, scope: str, name: str = "",
         ttl_seconds: int = DEFAULT_TTL_SECONDS, now: float | None = None) -> str:
    """Mint a signed token; refuses a scope that does not fit the role."""
    check_sub(sub)
    role_value = Role(role)
    parse_scope(role_value, scope)
    if ttl_seconds > MAX_TTL_SECONDS:
        raise ValueError(f"a token lives at most {MAX_TTL_SECONDS} s, not {ttl_seconds}")
    issued = int(now if now is not None else time.time())
    claims = {
        "iss": ISSUER, "aud": AUDIENCE, "sub": sub, "name": name, "role": role_value.value,
        "scope": scope, "iat": issued, "exp": issued + ttl_seconds,
    }
    return jwt.encode(claims, check_secret(secret), algorithm=ALGORITHM)


def _decode(token: str, secret: str, previous: str | None) -> dict:
    """Rotation (issue 5): a token whose signature fails under the current secret is tried
    once more under the previous one, so tokens minted before the switch live out their
    (at most a day's) lifetime; minting only ever uses the current secret."""
    options = {"require": ["exp", "iat", "sub", "role", "scope"]}
    try:
        return jwt.decode(token, check_secret(secret), algorithms=[ALGORITHM],
                          audience=AUDIENCE, issuer=ISSUER, options=options)
    except jwt.InvalidSignatureError:
        if not previous:
            raise
    return jwt.decode(token, check_secret(previous), algorithms=[ALGORITHM],
                      audience=AUDIENCE, issuer=ISSUER, options=options)


def verify(secret: str, token: str, previous: str | None = None) -> Principal:
    """Decode and check a token (signed with ``secret`` or, during a rotation, with
    ``previous``); every failure is a 401 with a reason."""
    try:
        claims = _decode(token, secret, previous)
    except jwt.ExpiredSignatureError:
        raise Unauthorized("token expired", code="token_expired") from None
    except jwt.PyJWTError as exc:
        raise Unauthorized(f"invalid token: {exc}", code="invalid_token") from None
    lifetime = claims["exp"] - claims["iat"]
    if not isinstance(lifetime, int) or lifetime > MAX_TTL_SECONDS:
        raise Unauthorized(f"invalid token: lifetime over {MAX_TTL_SECONDS} s",
                           code="invalid_token")
    try:
        sub = check_sub(claims["sub"])
        role = Role(claims["role"])
        level, code = parse_scope(role, claims["scope"])
    except ValueError as exc:
        raise Unauthorized(f"invalid token: {exc}", code="invalid_token") from None
    return Principal(sub=sub, role=role, scope_level=level, scope_code=code,
                     name=claims.get("name", ""))


def principal_from_header(secret: str, header: str | None,
                          previous: str | None = None) -> Principal:
    if not header:
        raise Unauthorized("missing Authorization: Bearer <token>")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("Authorization header must be 'Bearer <token>'")
    return verify(secret, token.strip(), previous)


def require(principal: Principal, roles: frozenset[Role] | set[Role]) -> None:
    """The route-level role check; its own error code tells it from a scope refusal."""
    if principal.role not in roles:
        raise Forbidden(f"role {principal.role} may not call this endpoint",
                        code="role_not_allowed")


def main(argv: list[str] | None = None) -> int:
    """``python -m gridgov_common.kernel.auth mint --role R --scope level:code --sub ID``."""
    parser = argparse.ArgumentParser(prog="python -m gridgov_common.kernel.auth")
    sub = parser.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("mint", help="mint a bearer token (secret from GRIDGOV_JWT_SECRET)")
    m.add_argument("--role", required=True, choices=[r.value for r in Role])
    m.add_argument("--scope", required=True, help="e.g. district:320505, grid:320505001001003")
    m.add_argument("--sub", required=True, help="staff id or service account")
    m.add_argument("--name", default="")
    m.add_argument("--ttl", type=int, default=DEFAULT_TTL_SECONDS, help="seconds")
    args = parser.parse_args(argv)
    try:
        token = mint(os.environ.get("GRIDGOV_JWT_SECRET", ""), args.sub, args.role, args.scope,
                     args.name, args.ttl)
    except (ValueError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(token)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Accounts and sign-in of staff and department officers (issue 12; P5.0, P5.1, P5.4.1).

An account belongs to one staff record (``accounts.staff_id``; a department officer is a
staff row with a ``department:<code>`` scope). The login is the record's ``subject`` (the
``sub`` of its tokens); the role and scope of every token minted here are read from the
staff record at sign-in and at every refresh, never stored on the account, so an
appointment decides what a person may do and nothing typed at sign-in does.

Passwords are kept as argon2id hashes only; a failed sign-in answers the same for an
unknown login, a person without an account or no longer active, a wrong password and a
locked account (no enumeration). Refresh sessions are random ids kept as SHA-256 hashes,
ended by sign-out, by expiry, and by any change of the staff record (:func:`revoke_all`,
called in the transaction of that change). Every sign-in, failure, lock-out, refused
refresh, sign-out, reset and password change is written to the append-only audit log;
never a password or a hash. docs/SECURITY.md "Sign-in and sessions".
"""

from __future__ import annotations

import hashlib
import secrets
import string
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, NoReturn

import sqlalchemy as sa
from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from gridgov_common.kernel import auth
from gridgov_common.kernel.auth import Principal
from gridgov_common.kernel.errors import Forbidden, NotFound, Unauthorized, Unprocessable
from gridgov_common.kernel.pii import PiiCipher, mask_phone
from gridgov_common.kernel.roles import ROLE_SCOPE, Role
from gridgov_common.platform.ratelimit import TooManyRequests
from services.registry import settings as declared
from services.registry.domain import identity
from services.registry.domain import second_factor as factor
from services.registry.models import account_sessions, accounts, audit_log, staff

# argon2id with explicit parameters (OWASP's first choice: 19 MiB, 2 passes, 1 lane);
# a hash made with other parameters is upgraded at the next successful sign-in.
HASHER = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1, hash_len=32,
                        salt_len=16, type=Type.ID)
MIN_LENGTH, MAX_LENGTH = 10, 128  # the upper bound caps the cost of hashing what is sent
MAX_ACCESS_TTL = declared.MAX_ACCESS_TTL  # seconds: the access cookie outlives a revocation

LENGTH_SHORT = f"At least {MIN_LENGTH} characters."
LENGTH_LONG = f"At most {MAX_LENGTH} characters."
ONE_CLASS = "Mix at least two kinds of characters (lower case, upper case, digits, others)."
HAS_LOGIN = "Must not contain the login."
SAME_AS_OLD = "Must differ from the current password."

SIGN_IN_FAILED = "sign-in failed: wrong login or password, or too many failures (try later)"
ANONYMOUS_ROLE, NO_SCOPE = "anonymous", "none:-"
PHONE_FIELD = "sign_in_phone"  # the PII cipher's field name (its own associated data)

# P5.0 hierarchy for resets: a lower number is the level above. The district admin is
# above everyone; a department officer and an ops viewer have only the district admin
# above them; equals (two community grid chiefs, two district admins) never reset each
# other. Who may reset at all: the staff managers (services/registry/service.py).
RANK: dict[Role, int] = {
    Role.DISTRICT_ADMIN: 0,
    Role.TOWN_GRID_CHIEF: 1,
    Role.GRID_INSTRUCTOR: 2,
    Role.COMMUNITY_GRID_CHIEF: 3,
    Role.COMMUNITY_GRID_WORKER: 4,
    Role.NEIGHBOURHOOD_GRID_WORKER: 5,
    Role.DEPARTMENT_OFFICER: 1,
    Role.OPS_VIEWER: 1,
}
DISTRICT_ONLY = frozenset({Role.DEPARTMENT_OFFICER, Role.OPS_VIEWER})
RESETTERS = frozenset({Role.DISTRICT_ADMIN, Role.TOWN_GRID_CHIEF, Role.COMMUNITY_GRID_CHIEF})
# lifecycle states that never sign in, whatever ``active`` says (a rejected recruit)
ENDED_STATES = ("dismissed", "rejected")


def _now() -> datetime:
    return datetime.now(UTC)


# the clock of lock-outs and session expiry; tests replace it instead of sleeping
clock: Callable[[], datetime] = _now


@dataclass(frozen=True)
class Settings:
    """``AUTH_*`` of services/registry/config.yaml; a bad value stops the service."""

    lockout_failures: int = 5
    lockout_minutes: float = 15
    access_ttl: int = MAX_ACCESS_TTL
    idle_hours: float = 12
    absolute_days: float = 7
    cookie_secure: bool = True
    second_factor: bool = False  # AUTH_SECOND_FACTOR: staff managers confirm by SMS code
    code_ttl: int = 300  # AUTH_CODE_TTL_SECONDS
    code_max_attempts: int = 3  # AUTH_CODE_MAX_ATTEMPTS: wrong codes before a new sign-in
    code_resend: int = 60  # AUTH_CODE_RESEND_SECONDS: at most one code per account per …

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Settings:
        """The ``AUTH_*`` values (services/registry/settings.py); a bad one raises."""
        return cls(lockout_failures=declared.AUTH_LOCKOUT_FAILURES.read(config),
                   lockout_minutes=declared.AUTH_LOCKOUT_MINUTES.read(config),
                   access_ttl=declared.AUTH_ACCESS_TTL_SECONDS.read(config),
                   idle_hours=declared.AUTH_SESSION_IDLE_HOURS.read(config),
                   absolute_days=declared.AUTH_SESSION_ABSOLUTE_DAYS.read(config),
                   cookie_secure=declared.AUTH_COOKIE_SECURE.read(config),
                   second_factor=declared.AUTH_SECOND_FACTOR.read(config),
                   code_ttl=declared.AUTH_CODE_TTL_SECONDS.read(config),
                   code_max_attempts=declared.AUTH_CODE_MAX_ATTEMPTS.read(config),
                   code_resend=declared.AUTH_CODE_RESEND_SECONDS.read(config))

    @property
    def idle(self) -> timedelta:
        return timedelta(hours=self.idle_hours)

    @property
    def absolute(self) -> timedelta:
        return timedelta(days=self.absolute_days)


@dataclass(frozen=True)
class Grant:
    """What a successful sign-in or refresh hands the browser (as cookies)."""

    access_token: str
    refresh_id: str | None  # None on refresh: the cookie keeps its value
    csrf_token: str
    expires_at: datetime  # of the refresh session
    principal: Principal


@dataclass(frozen=True)
class Challenge:
    """The password was right; the sign-in waits for the SMS code sent to ``phone``."""

    ticket: str
    phone: str  # masked
    expires_in: int  # seconds


# -- passwords ---------------------------------------------------------------------------

def policy_problems(password: str, login: str | None = None) -> list[str]:
    """What is wrong with ``password`` (English; error_text has the Chinese)."""
    problems = []
    if len(password) < MIN_LENGTH:
        problems.append(LENGTH_SHORT)
    if len(password) > MAX_LENGTH:
        problems.append(LENGTH_LONG)
    classes = {"lower" if c.islower() else "upper" if c.isupper() else
               "digit" if c.isdigit() else "other" for c in password}
    if len(classes) < 2:
        problems.append(ONE_CLASS)
    if login and login.lower() in password.lower():
        problems.append(HAS_LOGIN)
    return problems


def check_policy(password: str, login: str | None = None, field: str = "new_password") -> None:
    problems = policy_problems(password, login)
    if problems:
        raise Unprocessable("the new password does not meet the password policy",
                            fields={field: problems})


def hash_password(password: str) -> str:
    return HASHER.hash(password)


def _verify(password_hash: str, password: str) -> bool:
    try:
        return HASHER.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


_DUMMY: list[str] = []


def _dummy_verify(password: str) -> None:
    """Spend the time of a real check, so that an unknown login answers as slowly as a
    wrong password (no enumeration by timing)."""
    if not _DUMMY:
        _DUMMY.append(HASHER.hash(secrets.token_urlsafe(16)))
    _verify(_DUMMY[0], password)


def generate_password(length: int = 16) -> str:
    """A random password that meets the policy (letters and digits, both present)."""
    alphabet = string.ascii_letters + string.digits
    while True:
        candidate = "".join(secrets.choice(alphabet) for _ in range(length))
        if (any(c.isdigit() for c in candidate) and any(c.islower() for c in candidate)
                and any(c.isupper() for c in candidate)):
            return candidate


def token_hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


# -- audit -------------------------------------------------------------------------------

def _audit(session: Session, action: str, *, actor_sub: str, actor_role: str,
           actor_scope: str, subject: str, ip: str | None, detail: str = "") -> None:
    """One audit row (who, what, when, from which client); the reason names the client
    address as the rate limits see it (gridgov_common.platform.ratelimit.client_key)."""
    reason = f"client {ip or '-'}" + (f"; {detail}" if detail else "")
    session.execute(audit_log.insert().values(
        actor_sub=actor_sub[:200], actor_role=actor_role, actor_scope=actor_scope,
        action=action, subject_type="account", subject_id=subject[:200], fields=[],
        reason=reason[:500]))


def _scope_of(role: str, scope_code: str) -> str:
    return f"{ROLE_SCOPE[Role(role)]}:{scope_code}"


def _audit_staff(session: Session, action: str, row, ip: str | None, detail: str = "") -> None:
    _audit(session, action, actor_sub=row.subject, actor_role=row.role,
           actor_scope=_scope_of(row.role, row.scope_code), subject=str(row.staff_id), ip=ip,
           detail=detail)


def _refuse(session: Session, error: Exception, write: Callable[[], None]) -> NoReturn:
    """Write (audit rows, failure counts) and commit, then raise ``error``: the answer is
    an error, which would roll the worker's transaction back."""
    session.rollback()
    write()
    session.commit()
    raise error


# -- sign-in -----------------------------------------------------------------------------

def _account_by_login(session: Session, login: str):
    return session.execute(
        sa.select(staff.c.id.label("staff_id"), staff.c.subject, staff.c.role,
                  staff.c.scope_code, staff.c.name, accounts.c.password_hash,
                  accounts.c.must_change, accounts.c.failed_count, accounts.c.locked_until)
        .select_from(staff.join(accounts, accounts.c.staff_id == staff.c.id))
        .where(staff.c.subject == login, staff.c.active.is_(True),
               staff.c.lifecycle_state.not_in(ENDED_STATES))).first()


def authenticate(session: Session, login: str, password: str, ip: str | None,
                 settings: Settings, keep_failures: bool = False):
    """The active staff member's account whose login and password these are; else the
    failure is counted (lock-out after ``lockout_failures``), audited, committed and
    answered 401 ``sign_in_failed``, the same for every cause. The failure count is
    cleared unless ``keep_failures`` (a sign-in still waiting for its SMS code: only a
    completed sign-in clears it)."""
    now = clock()
    failed = Unauthorized(SIGN_IN_FAILED, code="sign_in_failed")
    row = _account_by_login(session, login)
    if row is None:
        _dummy_verify(password)
        _refuse(session, failed, lambda: _audit(
            session, "sign_in_failed", actor_sub=login, actor_role=ANONYMOUS_ROLE,
            actor_scope=NO_SCOPE, subject=login, ip=ip,
            detail="no active staff member with an account has this login"))
    if row.locked_until is not None and row.locked_until > now:
        _dummy_verify(password)
        _refuse(session, failed, lambda: _audit_staff(
            session, "sign_in_refused_locked", row, ip,
            f"locked until {row.locked_until.isoformat()}"))
    if not _verify(row.password_hash, password):
        def count_failure() -> None:
            failures = session.execute(
                accounts.update().where(accounts.c.staff_id == row.staff_id)
                .values(failed_count=accounts.c.failed_count + 1)
                .returning(accounts.c.failed_count)).scalar_one()
            _audit_staff(session, "sign_in_failed", row, ip, f"wrong password ({failures})")
            if failures >= settings.lockout_failures:
                until = now + timedelta(minutes=settings.lockout_minutes)
                session.execute(accounts.update().where(accounts.c.staff_id == row.staff_id)
                                .values(failed_count=0, locked_until=until))
                _audit_staff(session, "account_locked", row, ip,
                             f"{failures} failures; locked until {until.isoformat()}")
        _refuse(session, failed, count_failure)
    if HASHER.check_needs_rehash(row.password_hash):
        session.execute(accounts.update().where(accounts.c.staff_id == row.staff_id)
                        .values(password_hash=hash_password(password)))
    if not keep_failures:
        _clear_failures(session, row.staff_id)
    return row


def _clear_failures(session: Session, staff_id: int) -> None:
    session.execute(accounts.update().where(accounts.c.staff_id == staff_id)
                    .values(failed_count=0, locked_until=None))


def _principal(row) -> Principal:
    role = Role(row.role)
    return Principal(sub=row.subject, role=role, scope_level=ROLE_SCOPE[role],
                     scope_code=row.scope_code, name=row.name)


def _mint(secret: str, row, settings: Settings) -> str:
    return auth.mint(secret, row.subject, row.role, _scope_of(row.role, row.scope_code),
                     name=row.name, ttl_seconds=settings.access_ttl)


SendCode = Callable[[str, str], None]  # (phone, code); raises ServiceUnavailable


def sign_in(session: Session, secret: str, login: str, password: str, ip: str | None,
            settings: Settings, cipher: PiiCipher | None = None,
            send_code: SendCode | None = None) -> Grant | Challenge:
    """Check the password; open a refresh session; mint a short-lived access token. A
    staff manager's sign-in (``AUTH_SECOND_FACTOR`` on) stops at a :class:`Challenge`:
    an SMS code is sent through notify and :func:`complete_sign_in` finishes."""
    row = authenticate(session, login, password, ip, settings, keep_failures=True)
    if row.must_change:
        _refuse(session, Forbidden(
            "the password was reset: set a new one with POST /auth/password, then sign in",
            code="password_change_required"),
            lambda: _audit_staff(session, "sign_in_password_change_required", row, ip))
    if factor.needs_second_factor(row.role, settings.second_factor):
        if cipher is None or send_code is None:
            raise RuntimeError("the second factor needs the PII cipher and a code sender")
        return _challenge(session, row, ip, settings, cipher, send_code)
    _clear_failures(session, row.staff_id)
    return _open_session(session, secret, row, ip, settings)


def _open_session(session: Session, secret: str, row, ip: str | None, settings: Settings,
                  detail: str = "") -> Grant:
    now = clock()
    raw = secrets.token_urlsafe(32)
    expires = now + settings.absolute
    session.execute(account_sessions.insert().values(
        staff_id=row.staff_id, token_hash=token_hash(raw), role=row.role,
        scope_code=row.scope_code, subject=row.subject, created_at=now, last_used_at=now,
        expires_at=expires))
    _audit_staff(session, "sign_in", row, ip, detail)
    return Grant(_mint(secret, row, settings), raw, secrets.token_urlsafe(32), expires,
                 _principal(row))


# -- the SMS second factor (staff managers; domain/second_factor.py) ---------------------

def _challenge(session: Session, row, ip: str | None, settings: Settings, cipher: PiiCipher,
               send_code: SendCode) -> Challenge:
    """A fresh code for the account, sent to its sign-in phone; the ticket that goes with
    it. At most one code per ``code_resend`` seconds (a new sign-in is the resend)."""
    now = clock()
    account = session.execute(
        sa.select(accounts.c.sign_in_phone_enc, accounts.c.sign_in_phone_masked,
                  accounts.c.code_sent_at)
        .where(accounts.c.staff_id == row.staff_id).with_for_update()).one()
    if account.sign_in_phone_enc is None:
        _refuse(session, Forbidden(
            "a second factor is required for this role and no sign-in phone is set: ask "
            "an operator (python -m services.registry.cli set-sign-in-phone)",
            code="second_factor_unavailable"),
            lambda: _audit_staff(session, "sign_in_refused_no_phone", row, ip))
    wait = factor.resend_wait(account.code_sent_at, now, timedelta(seconds=settings.code_resend))
    if wait > 0:
        _refuse(session, TooManyRequests("a sign-in code was sent a moment ago; use it, or "
                                         "sign in again later", wait),
                lambda: _audit_staff(session, "sign_in_code_throttled", row, ip))
    ticket, code = factor.new_ticket(), factor.new_code()
    expires = now + timedelta(seconds=settings.code_ttl)
    session.execute(accounts.update().where(accounts.c.staff_id == row.staff_id).values(
        code_ticket_hash=factor.ticket_hash(ticket), code_hash=factor.code_hash(ticket, code),
        code_expires_at=expires, code_sent_at=now, code_attempts=0))
    masked = account.sign_in_phone_masked or "-"
    try:
        send_code(cipher.decrypt(account.sign_in_phone_enc, PHONE_FIELD), code)
    except Exception as exc:  # noqa: BLE001  (audited and answered; the code never left)
        detail = f"to {masked}: {type(exc).__name__}: {exc}"[:300]
        _refuse(session, exc, lambda: _audit_staff(session, "sign_in_code_not_sent", row, ip,
                                                   detail))
    _audit_staff(session, "sign_in_code_sent", row, ip,
                 f"to {masked}; valid until {expires.isoformat()}")
    return Challenge(ticket, masked, settings.code_ttl)


def _account_by_ticket(session: Session, ticket: str):
    return session.execute(
        sa.select(staff.c.id.label("staff_id"), staff.c.subject, staff.c.role,
                  staff.c.scope_code, staff.c.name, accounts.c.must_change,
                  accounts.c.failed_count, accounts.c.locked_until, accounts.c.code_hash,
                  accounts.c.code_expires_at, accounts.c.code_attempts)
        .select_from(staff.join(accounts, accounts.c.staff_id == staff.c.id))
        .where(accounts.c.code_ticket_hash == factor.ticket_hash(ticket),
               staff.c.active.is_(True), staff.c.lifecycle_state.not_in(ENDED_STATES))
        .with_for_update(of=accounts)).first()


def _end_code(session: Session, staff_id: int) -> None:
    session.execute(accounts.update().where(accounts.c.staff_id == staff_id).values(
        code_ticket_hash=None, code_hash=None, code_expires_at=None, code_attempts=0))


def complete_sign_in(session: Session, secret: str, ticket: str, code: str, ip: str | None,
                     settings: Settings) -> Grant:
    """The SMS code of a :class:`Challenge`: right and in time, the sign-in completes (and
    only now is the failure count cleared); a wrong code counts towards the account's
    lock-out like a wrong password, and after ``code_max_attempts`` the code is void."""
    now = clock()
    failed = Unauthorized(SIGN_IN_FAILED, code="sign_in_failed")
    row = _account_by_ticket(session, ticket) if ticket else None
    if row is None:
        _refuse(session, failed, lambda: _audit(
            session, "sign_in_code_failed", actor_sub="-", actor_role=ANONYMOUS_ROLE,
            actor_scope=NO_SCOPE, subject="-", ip=ip,
            detail="unknown, used or void sign-in ticket"))
    if row.locked_until is not None and row.locked_until > now:
        def locked() -> None:
            _end_code(session, row.staff_id)
            _audit_staff(session, "sign_in_refused_locked", row, ip,
                         f"locked until {row.locked_until.isoformat()}")
        _refuse(session, failed, locked)
    verdict = factor.judge(factor.Pending(row.code_hash, row.code_expires_at,
                                          row.code_attempts),
                           ticket, code, now, settings.code_max_attempts)
    if verdict in (factor.Verdict.EXPIRED, factor.Verdict.SPENT):
        def void() -> None:
            _end_code(session, row.staff_id)
            _audit_staff(session, "sign_in_code_failed", row, ip, f"code {verdict}")
        _refuse(session, Unauthorized("the sign-in code has expired or was used up: sign "
                                      "in again", code="code_expired"), void)
    if verdict == factor.Verdict.WRONG:
        def count_failure() -> None:
            counted = session.execute(
                accounts.update().where(accounts.c.staff_id == row.staff_id)
                .values(failed_count=accounts.c.failed_count + 1,
                        code_attempts=accounts.c.code_attempts + 1)
                .returning(accounts.c.failed_count, accounts.c.code_attempts)).one()
            _audit_staff(session, "sign_in_code_failed", row, ip,
                         f"wrong code ({counted.failed_count} failures, "
                         f"{counted.code_attempts} on this code)")
            if counted.failed_count >= settings.lockout_failures:
                until = now + timedelta(minutes=settings.lockout_minutes)
                session.execute(accounts.update().where(accounts.c.staff_id == row.staff_id)
                                .values(failed_count=0, locked_until=until))
                _end_code(session, row.staff_id)
                _audit_staff(session, "account_locked", row, ip,
                             f"{counted.failed_count} failures; locked until "
                             f"{until.isoformat()}")
            elif counted.code_attempts >= settings.code_max_attempts:
                _end_code(session, row.staff_id)
        _refuse(session, failed, count_failure)
    _end_code(session, row.staff_id)
    _clear_failures(session, row.staff_id)
    return _open_session(session, secret, row, ip, settings, "password and SMS code")


# -- single sign-on (services/registry/oidc.py) -------------------------------------------

def oidc_sign_in(session: Session, secret: str, subject: str, ip: str | None,
                 settings: Settings) -> Grant:
    """The identity platform signed in the person whose mapped claim is ``subject``: a
    session for the active staff record with that subject (role and scope from it, as at
    a password sign-in); no such person, dismissed, rejected or locked out → the same 401
    ``sign_in_failed`` as a password sign-in, audited."""
    now = clock()
    failed = Unauthorized(SIGN_IN_FAILED, code="sign_in_failed")
    row = session.execute(
        sa.select(staff.c.id.label("staff_id"), staff.c.subject, staff.c.role,
                  staff.c.scope_code, staff.c.name, accounts.c.locked_until)
        .select_from(staff.outerjoin(accounts, accounts.c.staff_id == staff.c.id))
        .where(staff.c.subject == subject, staff.c.active.is_(True),
               staff.c.lifecycle_state.not_in(ENDED_STATES))).first()
    if row is None:
        _refuse(session, failed, lambda: _audit(
            session, "sign_in_failed", actor_sub=subject, actor_role=ANONYMOUS_ROLE,
            actor_scope=NO_SCOPE, subject=subject, ip=ip,
            detail="single sign-on: no active staff member has this subject"))
    if row.locked_until is not None and row.locked_until > now:
        _refuse(session, failed, lambda: _audit_staff(
            session, "sign_in_refused_locked", row, ip,
            f"single sign-on; locked until {row.locked_until.isoformat()}"))
    return _open_session(session, secret, row, ip, settings, "single sign-on (OIDC)")


def refuse_oidc(session: Session, reason: str, ip: str | None) -> NoReturn:
    """The platform's answer signed no one in (state, error, code, ID token): audited
    (``oidc_failed``, the reason), answered as any failed sign-in."""
    _refuse(session, Unauthorized(SIGN_IN_FAILED, code="sign_in_failed"), lambda: _audit(
        session, "oidc_failed", actor_sub="-", actor_role=ANONYMOUS_ROLE,
        actor_scope=NO_SCOPE, subject="-", ip=ip, detail=reason))


def set_sign_in_phone(session: Session, cipher: PiiCipher, subject: str, phone: str | None,
                      operator: str) -> int:
    """The operators' CLI: the mobile number the sign-in codes of ``subject`` go to (None
    removes it). Stored encrypted (P5.4.4) with a masked copy for display; audited."""
    row = session.execute(
        sa.select(staff.c.id).select_from(staff.join(accounts,
                                                      accounts.c.staff_id == staff.c.id))
        .where(staff.c.subject == subject, staff.c.active.is_(True))).first()
    if row is None:
        raise ValueError(f"no active staff member with an account has the subject {subject!r} "
                         f"(set a password first)")
    values: dict[str, Any] = {"sign_in_phone_enc": None, "sign_in_phone_masked": None}
    if phone is not None:
        try:
            number = identity.normalise_phone(phone)
        except identity.IdentityError as exc:
            raise ValueError(f"phone: {exc}") from None
        if not (len(number) == 11 and number.startswith("1")):
            raise ValueError("phone: a mobile number (11 digits, 1…) is needed for SMS")
        values = {"sign_in_phone_enc": cipher.encrypt(number, PHONE_FIELD),
                  "sign_in_phone_masked": mask_phone(number)}
    session.execute(accounts.update().where(accounts.c.staff_id == row.id).values(**values))
    _end_code(session, row.id)
    _audit(session, "sign_in_phone_set" if phone else "sign_in_phone_removed",
           actor_sub=operator, actor_role="operator", actor_scope=NO_SCOPE,
           subject=str(row.id), ip=None,
           detail=f"command line; {values['sign_in_phone_masked'] or 'none'}")
    return row.id


def _session_by_raw(session: Session, raw: str):
    return session.execute(
        sa.select(account_sessions.c.id, account_sessions.c.staff_id,
                  account_sessions.c.role.label("session_role"),
                  account_sessions.c.scope_code.label("session_scope"),
                  account_sessions.c.subject.label("session_subject"),
                  account_sessions.c.last_used_at, account_sessions.c.expires_at,
                  account_sessions.c.revoked_at, account_sessions.c.revoked_reason,
                  staff.c.subject, staff.c.role, staff.c.scope_code, staff.c.name,
                  staff.c.active, staff.c.lifecycle_state)
        .select_from(account_sessions.join(staff, staff.c.id == account_sessions.c.staff_id))
        .where(account_sessions.c.token_hash == token_hash(raw))
        .with_for_update(of=account_sessions)).first()


def _why_ended(row, now: datetime, settings: Settings) -> str | None:
    if row.revoked_at is not None:
        return f"revoked ({row.revoked_reason})"
    if now >= row.expires_at:
        return "expired (absolute lifetime)"
    if now >= row.last_used_at + settings.idle:
        return "expired (idle)"
    if not row.active or row.lifecycle_state in ENDED_STATES:
        return "staff member no longer active"
    if (row.subject, row.role, row.scope_code) != (
            row.session_subject, row.session_role, row.session_scope):
        return "role, scope or login changed since sign-in"
    return None


def refresh(session: Session, secret: str, raw: str | None, ip: str | None,
            settings: Settings) -> Grant:
    """A new access token for a live refresh session, with the role and scope read again
    from the staff record; an ended session is refused (401 ``session_ended``) and
    audited."""
    if not raw:
        raise Unauthorized("no sign-in session: sign in", code="no_session")
    now = clock()
    row = _session_by_raw(session, raw)
    ended = Unauthorized("the sign-in session has ended: sign in again", code="session_ended")
    if row is None:
        _refuse(session, ended, lambda: _audit(
            session, "refresh_refused", actor_sub="-", actor_role=ANONYMOUS_ROLE,
            actor_scope=NO_SCOPE, subject="-", ip=ip, detail="unknown session"))
    why = _why_ended(row, now, settings)
    if why is not None:
        def record() -> None:
            if row.revoked_at is None:
                session.execute(account_sessions.update()
                                .where(account_sessions.c.id == row.id)
                                .values(revoked_at=now, revoked_reason=why[:200]))
            _audit(session, "refresh_refused", actor_sub=row.session_subject,
                   actor_role=row.session_role,
                   actor_scope=_scope_of(row.session_role, row.session_scope),
                   subject=str(row.staff_id), ip=ip, detail=f"session {row.id}: {why}")
        _refuse(session, ended, record)
    session.execute(account_sessions.update().where(account_sessions.c.id == row.id)
                    .values(last_used_at=now))
    return Grant(_mint(secret, row, settings), None, secrets.token_urlsafe(32),
                 row.expires_at, _principal(row))


def sign_out(session: Session, raw: str | None, ip: str | None) -> bool:
    """End the refresh session of this cookie (True if there was a live one)."""
    if not raw:
        return False
    row = _session_by_raw(session, raw)
    if row is None or row.revoked_at is not None:
        return False
    session.execute(account_sessions.update().where(account_sessions.c.id == row.id)
                    .values(revoked_at=clock(), revoked_reason="sign_out"))
    _audit(session, "sign_out", actor_sub=row.session_subject, actor_role=row.session_role,
           actor_scope=_scope_of(row.session_role, row.session_scope),
           subject=str(row.staff_id), ip=ip, detail=f"session {row.id}")
    return True


def revoke_all(session: Session, staff_id: int, reason: str) -> int:
    """End every open refresh session of ``staff_id``, in the caller's transaction (staff
    changes call this: a dismissed or transferred person signs in again or not at all)."""
    result = session.execute(account_sessions.update().where(
        account_sessions.c.staff_id == staff_id, account_sessions.c.revoked_at.is_(None))
        .values(revoked_at=clock(), revoked_reason=reason[:200]))
    return result.rowcount or 0


# -- setting passwords -------------------------------------------------------------------

def _store(session: Session, staff_id: int, password_hash: str, must_change: bool) -> None:
    now = clock()
    values = {"password_hash": password_hash, "must_change": must_change, "failed_count": 0,
              "locked_until": None, "password_changed_at": now}
    stmt = pg_insert(accounts).values(staff_id=staff_id, **values)
    session.execute(stmt.on_conflict_do_update(index_elements=[accounts.c.staff_id],
                                               set_=values))


def change_password(session: Session, login: str, password: str, new_password: str,
                    ip: str | None, settings: Settings) -> None:
    """The person sets a new password with the current (or temporary) one: same checks,
    throttling and lock-out as a sign-in; ends every session."""
    row = authenticate(session, login, password, ip, settings)
    check_policy(new_password, login)
    if new_password == password:
        raise Unprocessable("the new password does not meet the password policy",
                            fields={"new_password": [SAME_AS_OLD]})
    _store(session, row.staff_id, hash_password(new_password), must_change=False)
    revoke_all(session, row.staff_id, "password_changed")
    _audit_staff(session, "password_changed", row, ip)


def may_reset(actor: Principal, target_role: Role, target_scope_code: str) -> bool:
    """P5.0: the actor is a staff manager of a level above the person's, and (for grid
    staff) the person's scope lies in the actor's; department officers and ops viewers,
    in no place below a town, are reset by the district admin."""
    if actor.role not in RESETTERS:
        return False
    if target_role in DISTRICT_ONLY or target_role == Role.DISTRICT_ADMIN:
        return actor.role == Role.DISTRICT_ADMIN and target_role != Role.DISTRICT_ADMIN
    return RANK[actor.role] < RANK[target_role] and actor.covers(target_scope_code)


def reset_password(session: Session, actor: Principal, staff_id: int,
                   ip: str | None) -> str:
    """A one-time temporary password for ``staff_id``, to be changed at the next sign-in;
    every session of the person ends. Returned once; only its hash is kept."""
    row = session.execute(sa.select(staff).where(staff.c.id == staff_id)
                          .with_for_update()).first()
    if row is None:
        raise NotFound(f"staff {staff_id} not found")
    if not may_reset(actor, Role(row.role), row.scope_code):
        raise Forbidden(f"only an administrator of a level above a {row.role}, whose scope "
                        f"covers theirs, may reset their password", code="reset_not_allowed")
    if not row.active or not row.subject:
        raise Unprocessable(f"staff {staff_id} is not active or has no login (subject)",
                            fields={"staff_id": ["not active or no subject"]})
    temporary = generate_password()
    _store(session, staff_id, hash_password(temporary), must_change=True)
    ended = revoke_all(session, staff_id, "password_reset")
    _audit(session, "password_reset", actor_sub=actor.sub, actor_role=str(actor.role),
           actor_scope=actor.scope, subject=str(staff_id), ip=ip,
           detail=f"temporary password issued; {ended} sessions ended")
    return temporary


def set_password(session: Session, subject: str, password: str, operator: str) -> int:
    """The operators' CLI: set the password of the active staff member ``subject``."""
    row = session.execute(sa.select(staff).where(staff.c.subject == subject,
                                                 staff.c.active.is_(True))).first()
    if row is None:
        raise ValueError(f"no active staff member has the subject {subject!r}")
    problems = policy_problems(password, subject)
    if problems:
        raise ValueError("password policy: " + " ".join(problems))
    _store(session, row.id, hash_password(password), must_change=False)
    revoke_all(session, row.id, "password_set_by_operator")
    _audit(session, "password_set", actor_sub=operator, actor_role="operator",
           actor_scope=NO_SCOPE, subject=str(row.id), ip=None, detail="command line")
    return row.id

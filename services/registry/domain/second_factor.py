"""The SMS one-time code of an administrator's sign-in (issue 12): pure rules, no database.

Who is asked (P5.0, P5.1.1, P5.1.3): the roles that manage staff — the district admin,
the town grid chief (allocates the town's staff) and the community grid chief (appoints
and resets the community's workers). A stolen password of one of them would let a
stranger appoint staff, give them logins and reset others' passwords, so their sign-in
takes a second factor; the other roles (field workers, instructors, departments, ops
viewers) read and report within their own scope only.

The code is six random digits. It is kept only as HMAC-SHA256 keyed by the sign-in
ticket, a random 256-bit value that lives only in the person's browser (the account holds
the SHA-256 of the ticket): someone who reads the database cannot try the million codes
offline, and a code is good only with the ticket it was sent for.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

CODE_DIGITS = 6
SECOND_FACTOR_ROLES = frozenset({"district_admin", "town_grid_chief", "community_grid_chief"})


def needs_second_factor(role: str, enabled: bool) -> bool:
    """Whether a sign-in of ``role`` must be completed with an SMS code."""
    return enabled and role in SECOND_FACTOR_ROLES


def new_code() -> str:
    return f"{secrets.randbelow(10 ** CODE_DIGITS):0{CODE_DIGITS}d}"


def new_ticket() -> str:
    return secrets.token_urlsafe(32)


def ticket_hash(ticket: str) -> str:
    return hashlib.sha256(ticket.encode()).hexdigest()


def code_hash(ticket: str, code: str) -> str:
    return hmac.new(ticket.encode(), code.encode(), hashlib.sha256).hexdigest()


def is_well_formed(code: str) -> bool:
    return len(code) == CODE_DIGITS and code.isascii() and code.isdigit()


class Verdict(StrEnum):
    ACCEPTED = "accepted"
    WRONG = "wrong"  # counted: towards the code's attempts and the account's lock-out
    EXPIRED = "expired"  # the code's time is over: sign in again
    SPENT = "spent"  # no attempts left on this code: sign in again


@dataclass(frozen=True)
class Pending:
    """The code an account waits for (what migration 0010 keeps on the account)."""

    code_hash: str
    expires_at: datetime
    attempts: int  # wrong codes so far


def judge(pending: Pending, ticket: str, code: str, now: datetime,
          max_attempts: int) -> Verdict:
    """What a code typed ``now`` with ``ticket`` is worth."""
    if now >= pending.expires_at:
        return Verdict.EXPIRED
    if pending.attempts >= max_attempts:
        return Verdict.SPENT
    if is_well_formed(code) and hmac.compare_digest(pending.code_hash,
                                                    code_hash(ticket, code)):
        return Verdict.ACCEPTED
    return Verdict.WRONG


def resend_wait(sent_at: datetime | None, now: datetime, interval: timedelta) -> float:
    """Seconds before another code may be sent to the account (0: now)."""
    if sent_at is None:
        return 0.0
    return max(0.0, (sent_at + interval - now).total_seconds())


"""Proof of work for the resident's page (issue 12): abuse protection without a third party.

A resident has no account, and an offline government network has no CAPTCHA service (and
sending residents' browsers to one would hand a third party who reported what, P5.4.4).
So a report costs the sender's machine some work instead, hashcash-style:

1. the server issues a challenge ``<nonce>.<expires>.<bits>`` (a random nonce, a Unix time
   after which it is refused, the difficulty) with an HMAC signature of it: no state is
   kept until it is spent;
2. the browser finds a counter such that ``sha256("<challenge>:<counter>")`` starts with
   ``bits`` zero bits (about 2**bits hashes: a second or two on a phone at 16 bits);
3. the server checks the signature, the expiry, the difficulty and the work, and spends
   the nonce once (``events.spent_challenges``: a replayed solution is refused).

Pure: no clock, no randomness and no storage of its own (the caller passes ``now``, the
random nonce and the secret).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass

MIN_BITS, MAX_BITS = 1, 32
NONCE_RE = re.compile(r"^[0-9a-f]{32}$")
CHALLENGE_RE = re.compile(r"^([0-9a-f]{32})\.(\d{1,12})\.(\d{1,2})$")
SIGNATURE_RE = re.compile(r"^[0-9a-f]{64}$")
MAX_COUNTER = 2**53 - 1  # what a browser's Number counts to exactly


class ChallengeError(ValueError):
    """A solution refused; ``code`` is the error code the API answers with."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Challenge:
    challenge: str  # "<nonce>.<expires>.<bits>", what the browser hashes
    signature: str  # HMAC-SHA256(secret, challenge), hex
    nonce: str
    expires: int  # Unix seconds
    bits: int

    def as_json(self) -> dict[str, object]:
        return {"challenge": self.challenge, "signature": self.signature,
                "bits": self.bits, "expires": self.expires, "algorithm": "sha256"}


def _sign(secret: bytes, challenge: str) -> str:
    return hmac.new(secret, challenge.encode("ascii"), hashlib.sha256).hexdigest()


def issue(secret: bytes, nonce: str, now: float, ttl_seconds: int, bits: int) -> Challenge:
    """A signed challenge for ``nonce`` (32 hex digits), valid ``ttl_seconds`` from ``now``."""
    if not NONCE_RE.match(nonce):
        raise ValueError("the nonce is 32 lower-case hex digits")
    if not MIN_BITS <= bits <= MAX_BITS:
        raise ValueError(f"bits between {MIN_BITS} and {MAX_BITS}")
    if ttl_seconds <= 0:
        raise ValueError("ttl_seconds must be positive")
    expires = int(now) + int(ttl_seconds)
    text = f"{nonce}.{expires}.{bits}"
    return Challenge(text, _sign(secret, text), nonce, expires, bits)


def leading_zero_bits(digest: bytes) -> int:
    """How many zero bits ``digest`` starts with."""
    count = 0
    for byte in digest:
        if byte == 0:
            count += 8
            continue
        return count + 8 - byte.bit_length()
    return count


def work(challenge: str, counter: int) -> bytes:
    return hashlib.sha256(f"{challenge}:{counter}".encode("ascii")).digest()


def verify(secret: bytes, challenge: str, signature: str, counter: int, now: float,
           min_bits: int) -> Challenge:
    """The challenge, if ``counter`` solves it, it is ours, unexpired and at least as hard as
    ``min_bits`` (the difficulty in force now: a raised difficulty refuses easier ones);
    else :class:`ChallengeError`. Whether it was spent already is the caller's question."""
    match = CHALLENGE_RE.match(challenge or "")
    if not match or not SIGNATURE_RE.match(signature or ""):
        raise ChallengeError("challenge_invalid", "not a challenge this server issued")
    if not hmac.compare_digest(_sign(secret, challenge), signature):
        raise ChallengeError("challenge_invalid", "not a challenge this server issued")
    nonce, expires, bits = match.group(1), int(match.group(2)), int(match.group(3))
    if now > expires:
        raise ChallengeError("challenge_expired", "the challenge expired: ask for a new one")
    if bits < min_bits:
        raise ChallengeError("challenge_invalid", "the challenge is easier than required")
    if not isinstance(counter, int) or isinstance(counter, bool) or \
            not 0 <= counter <= MAX_COUNTER:
        raise ChallengeError("challenge_unsolved", "the counter is not a whole number")
    if leading_zero_bits(work(challenge, counter)) < bits:
        raise ChallengeError("challenge_unsolved", "the counter does not solve the challenge")
    return Challenge(challenge, signature, nonce, expires, bits)


def solve(challenge: str, bits: int, start: int = 0) -> int:
    """The first counter from ``start`` that solves ``challenge`` (what the page does in
    JavaScript; here for tests and scripted clients)."""
    counter = start
    while leading_zero_bits(work(challenge, counter)) < bits:
        counter += 1
    return counter

"""The resident page's proof of work (services/events/domain/challenge.py, issue 12)."""

from __future__ import annotations

import hashlib

import pytest

from services.events.domain import challenge as pow_

SECRET = b"s" * 32
NONCE = "0123456789abcdef0123456789abcdef"
NOW = 1_800_000_000


def issued(bits=8, ttl=300):
    return pow_.issue(SECRET, NONCE, NOW, ttl, bits)


def test_issue_signs_nonce_expiry_and_difficulty():
    found = issued()
    assert found.challenge == f"{NONCE}.{NOW + 300}.8"
    assert found.expires == NOW + 300 and found.bits == 8 and found.nonce == NONCE
    assert len(found.signature) == 64
    assert found.as_json()["algorithm"] == "sha256"


@pytest.mark.parametrize("nonce,bits,ttl", [("xyz", 8, 60), (NONCE.upper(), 8, 60),
                                             (NONCE, 0, 60), (NONCE, 33, 60), (NONCE, 8, 0)])
def test_issue_refuses_bad_parameters(nonce, bits, ttl):
    with pytest.raises(ValueError):
        pow_.issue(SECRET, nonce, NOW, ttl, bits)


@pytest.mark.parametrize("digest,zeros", [
    (b"\x80" + b"\0" * 31, 0), (b"\x40", 1), (b"\x01", 7), (b"\x00\xff", 8),
    (b"\x00\x00\x10", 19), (b"\x00" * 32, 256)])
def test_leading_zero_bits(digest, zeros):
    assert pow_.leading_zero_bits(digest) == zeros


def test_a_solved_challenge_verifies():
    found = issued(bits=10)
    counter = pow_.solve(found.challenge, 10)
    digest = hashlib.sha256(f"{found.challenge}:{counter}".encode()).digest()
    assert pow_.leading_zero_bits(digest) >= 10
    ok = pow_.verify(SECRET, found.challenge, found.signature, counter, NOW + 1, 10)
    assert ok.nonce == NONCE and ok.bits == 10


def _refused(code, *args):
    with pytest.raises(pow_.ChallengeError) as caught:
        pow_.verify(*args)
    assert caught.value.code == code


def test_refusals():
    found = issued(bits=8)
    counter = pow_.solve(found.challenge, 8)
    wrong = next(c for c in range(10_000)
                 if pow_.leading_zero_bits(pow_.work(found.challenge, c)) < 8)
    _refused("challenge_invalid", b"other" * 8, found.challenge, found.signature, counter,
             NOW, 8)
    _refused("challenge_invalid", SECRET, found.challenge.replace(".8", ".9"),
             found.signature, counter, NOW, 8)
    _refused("challenge_invalid", SECRET, "junk", found.signature, counter, NOW, 8)
    _refused("challenge_invalid", SECRET, found.challenge, "zz", counter, NOW, 8)
    _refused("challenge_expired", SECRET, found.challenge, found.signature, counter,
             NOW + 301, 8)
    _refused("challenge_invalid", SECRET, found.challenge, found.signature, counter, NOW, 12)
    _refused("challenge_unsolved", SECRET, found.challenge, found.signature, wrong, NOW, 8)
    _refused("challenge_unsolved", SECRET, found.challenge, found.signature, -1, NOW, 8)
    _refused("challenge_unsolved", SECRET, found.challenge, found.signature, True, NOW, 8)
    _refused("challenge_unsolved", SECRET, found.challenge, found.signature, 2**53, NOW, 8)
    # the last valid second still counts
    assert pow_.verify(SECRET, found.challenge, found.signature, counter, NOW + 300, 8)


def test_solve_starts_where_told():
    found = issued(bits=4)
    first = pow_.solve(found.challenge, 4)
    assert pow_.solve(found.challenge, 4, start=first) == first
    assert pow_.solve(found.challenge, 4, start=first + 1) > first

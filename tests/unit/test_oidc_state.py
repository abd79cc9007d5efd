"""The pure parts of single sign-on (issue 12): the signed state cookie, the mapping
claim and the settings."""

from __future__ import annotations

import pytest

from services.registry import oidc

SECRET = "s" * 40


def test_the_state_cookie_carries_nonce_and_verifier_for_its_own_state_only():
    cookie = oidc.seal_state(SECRET, "st-1", "n-1", "v-1", 600)
    assert oidc.open_state(SECRET, cookie, "st-1") == {"nonce": "n-1", "verifier": "v-1"}
    with pytest.raises(oidc.OidcFailed, match="does not match"):
        oidc.open_state(SECRET, cookie, "st-2")
    with pytest.raises(oidc.OidcFailed, match="refused"):
        oidc.open_state("t" * 40, cookie, "st-1")  # forged: another key
    with pytest.raises(oidc.OidcFailed, match="refused"):
        oidc.open_state(SECRET, oidc.seal_state(SECRET, "st-1", "n", "v", 600, now=0), "st-1")
    with pytest.raises(oidc.OidcFailed, match="no state"):
        oidc.open_state(SECRET, None, "st-1")


def test_the_mapping_claim_must_be_a_non_empty_string():
    assert oidc.subject_of({"sub": " cgc-1 "}, "sub") == "cgc-1"
    for claims in ({}, {"sub": ""}, {"sub": 7}):
        with pytest.raises(oidc.OidcFailed, match="'sub'"):
            oidc.subject_of(claims, "sub")


def test_settings_are_off_without_issuer_and_complete_with_one():
    assert oidc.OidcSettings.from_config({}).enabled is False
    with pytest.raises(RuntimeError, match="OIDC_CLIENT_SECRET"):
        oidc.OidcSettings.from_config({"OIDC_ISSUER": "https://idp", "OIDC_CLIENT_ID": "c",
                                       "OIDC_REDIRECT_URI": "https://x/cb"})
    with pytest.raises(RuntimeError, match="openid"):
        oidc.OidcSettings.from_config({"OIDC_ISSUER": "https://idp/", "OIDC_CLIENT_ID": "c",
                                       "OIDC_CLIENT_SECRET": "s",
                                       "OIDC_REDIRECT_URI": "https://x/cb",
                                       "OIDC_SCOPE": "profile"})
    on = oidc.OidcSettings.from_config({"OIDC_ISSUER": "https://idp/", "OIDC_CLIENT_ID": "c",
                                        "OIDC_CLIENT_SECRET": "s",
                                        "OIDC_REDIRECT_URI": "https://x/cb"})
    assert on.enabled and on.issuer == "https://idp" and on.subject_claim == "sub"

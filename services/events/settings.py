"""The events service's settings: every key services/events/config.yaml holds
(``SETTINGS``), its own declared here, the shared ones imported from the modules that read
them."""

from __future__ import annotations

import re
from typing import Any

from gridgov_common.platform import messaging, ratelimit
from gridgov_common.platform.service import PLATFORM_SETTINGS
from gridgov_common.platform.settings import (
    INTEGER,
    POSITIVE,
    POSITIVE_INTEGER,
    TEXT,
    Kind,
    Setting,
    Settings,
)
from services.events.domain.numbers import check_prefix

MIN_API_KEY_LENGTH = 16
TILE_URL = re.compile(r"^https?://[^\s\"'<>]+$")


def _api_keys(key: str, raw: Any) -> tuple[str, ...]:
    keys = tuple(k.strip() for k in str(raw).split(",") if k.strip())
    if any(len(k) < MIN_API_KEY_LENGTH for k in keys):
        raise RuntimeError(f"{key}: every key needs {MIN_API_KEY_LENGTH}+ characters")
    return keys


def _case_prefix(key: str, prefix: str) -> None:
    try:
        check_prefix(prefix)
    except ValueError as exc:
        raise RuntimeError(f"{key}: {exc}") from None


def _tile_url(key: str, url: str) -> None:
    url = url.strip()
    if url and (not TILE_URL.match(url) or not all(k in url for k in ("{z}", "{x}", "{y}"))):
        raise RuntimeError(f"{key}: an http(s) template with {{z}}, {{x}} and {{y}}")


def _challenge_bits(key: str, bits: int) -> None:
    if not 1 <= bits <= 32:
        raise RuntimeError(f"{key}: a whole number from 1 to 32")


API_KEYS = Kind("api_keys", _api_keys, secret=True)

CASE_NUMBER_PREFIX = Setting("CASE_NUMBER_PREFIX", TEXT, "GS",
                             "district letters of case numbers", check=_case_prefix)
DUPLICATE_DISTANCE_METRES = Setting("DUPLICATE_DISTANCE_METRES", POSITIVE, 100.0,
                                    "reports this close may be one case")
DUPLICATE_WINDOW_HOURS = Setting("DUPLICATE_WINDOW_HOURS", POSITIVE, 72.0,
                                 "…and this recent")
OPEN311_API_KEYS = Setting("OPEN311_API_KEYS", API_KEYS, (),
                           "comma-separated keys of Open311 clients (16+ characters each); "
                           "empty: Open311 POST refused")
OPEN311_CONTACT = Setting("OPEN311_CONTACT", TEXT, "", "contact shown in Open311 discovery")
CAP_SENDER = Setting("CAP_SENDER", TEXT, "gridgov-events", "sender of CAP 1.2 alerts")
REGISTRY_RPC_TIMEOUT = Setting("REGISTRY_RPC_TIMEOUT", POSITIVE, 5.0,
                               "time limit of calls to the registry")
PHOTO_RETENTION_HOURS = Setting("PHOTO_RETENTION_HOURS", POSITIVE, 48.0,
                                "an upload no case shows is deleted after this (P5.4.4)")
PHOTO_PURGE_SECONDS = Setting("PHOTO_PURGE_SECONDS", POSITIVE, 3600.0,
                              "seconds between purges of unattached photos")
RESIDENT_CHALLENGE_BITS = Setting("RESIDENT_CHALLENGE_BITS", INTEGER, 16,
                                  "proof-of-work difficulty of the residents' page (1-32)",
                                  check=_challenge_bits)
RESIDENT_CHALLENGE_TTL_SECONDS = Setting("RESIDENT_CHALLENGE_TTL_SECONDS", POSITIVE_INTEGER,
                                         600, "a challenge's lifetime")
CHALLENGE_PURGE_SECONDS = Setting("CHALLENGE_PURGE_SECONDS", POSITIVE, 3600.0,
                                  "seconds between purges of spent challenges")
RESIDENT_TILE_URL = Setting("RESIDENT_TILE_URL", TEXT, "",
                            "a raster base map's https://…/{z}/{x}/{y}.png; empty: outlines",
                            check=_tile_url)
RESIDENT_TILE_ATTRIBUTION = Setting("RESIDENT_TILE_ATTRIBUTION", TEXT, "",
                                    "the base map's attribution")
CATALOGUE_ANNOUNCE_SECONDS = Setting("CATALOGUE_ANNOUNCE_SECONDS", POSITIVE, 3600.0,
                                     "seconds between announcements of the catalogue")

SETTINGS = Settings(
    PLATFORM_SETTINGS,
    CASE_NUMBER_PREFIX, DUPLICATE_DISTANCE_METRES, DUPLICATE_WINDOW_HOURS, CAP_SENDER,
    OPEN311_API_KEYS, OPEN311_CONTACT, REGISTRY_RPC_TIMEOUT,
    messaging.REQUIRE_INTAKE_USER_ID,
    PHOTO_RETENTION_HOURS, PHOTO_PURGE_SECONDS,
    RESIDENT_CHALLENGE_BITS, RESIDENT_CHALLENGE_TTL_SECONDS, CHALLENGE_PURGE_SECONDS,
    RESIDENT_TILE_URL, RESIDENT_TILE_ATTRIBUTION,
    ratelimit.RATE_LIMIT_INTAKE_RATE, ratelimit.RATE_LIMIT_INTAKE_BURST,
    ratelimit.RATE_LIMIT_PUBLIC_RATE, ratelimit.RATE_LIMIT_PUBLIC_BURST,
    CATALOGUE_ANNOUNCE_SECONDS,
)

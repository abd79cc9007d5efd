"""The dispatch service's settings: every key services/dispatch/config.yaml holds
(``SETTINGS``), its own declared here, the shared ones imported from the modules that read
them."""

from __future__ import annotations

from gridgov_common.platform.service import PLATFORM_SETTINGS
from gridgov_common.platform.settings import (
    FLAG,
    NON_NEGATIVE_INTEGER,
    POSITIVE,
    POSITIVE_INTEGER,
    TEXT,
    Setting,
    Settings,
)


def _hour(key: str, hour: int) -> None:
    if hour > 23:
        raise RuntimeError(f"config {key} must be an hour 0-23, got {hour}")


ESCALATION_POLL_SECONDS = Setting("ESCALATION_POLL_SECONDS", POSITIVE, 15.0,
                                  "seconds between escalation runs (P6.2 督办)")
ESCALATION_BATCH = Setting("ESCALATION_BATCH", POSITIVE_INTEGER, 200,
                           "due cases escalated per run")
REQUIRE_REPORT_USER_ID = Setting(
    "REQUIRE_REPORT_USER_ID", FLAG, False,
    "true in production: a department's report counts only when published by its own broker "
    "user with its user_id property (docs/BUS-SECURITY.md)")
DIGEST_HOUR = Setting("DIGEST_HOUR", NON_NEGATIVE_INTEGER, 8,
                      "local hour from which the daily digests go out", check=_hour)
DIGEST_POLL_SECONDS = Setting("DIGEST_POLL_SECONDS", POSITIVE, 300.0,
                              "seconds between checks for due digests")
EVENTS_PUBLIC_URL = Setting("EVENTS_PUBLIC_URL", TEXT, "",
                            "the residents' page as printed case files link it")
REGISTRY_RPC_TIMEOUT_SECONDS = Setting("REGISTRY_RPC_TIMEOUT_SECONDS", POSITIVE, 5.0,
                                       "time limit of calls to the registry (place names)")

SETTINGS = Settings(
    PLATFORM_SETTINGS,
    ESCALATION_POLL_SECONDS, REQUIRE_REPORT_USER_ID, ESCALATION_BATCH, DIGEST_HOUR,
    DIGEST_POLL_SECONDS, EVENTS_PUBLIC_URL, REGISTRY_RPC_TIMEOUT_SECONDS,
)

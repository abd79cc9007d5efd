"""The assessment service's settings: every key services/assessment/config.yaml holds
(``SETTINGS``), its own declared here, the shared ones imported from the modules that read
them."""

from __future__ import annotations

from typing import Any

from gridgov_common.platform.audit_retention import retention_setting
from gridgov_common.platform.service import PLATFORM_SETTINGS
from gridgov_common.platform.settings import (
    JSON,
    POSITIVE,
    POSITIVE_INTEGER,
    TEXT,
    Kind,
    Setting,
    Settings,
)


def parse_service_urls(key: str, value: Any) -> dict[str, str]:
    """A YAML mapping, or ``"name=url,name=url"`` as an environment variable gives it."""
    if isinstance(value, dict):
        pairs = [(str(k), str(v)) for k, v in value.items()]
    else:
        pairs = [tuple(item.split("=", 1)) for item in str(value).split(",") if item.strip()]
    urls: dict[str, str] = {}
    for pair in pairs:
        name, url = (pair[0].strip(), pair[1].strip()) if len(pair) == 2 else ("", "")
        if not name or not url.startswith(("http://", "https://")):
            raise RuntimeError(f"{key}: want name=http://host:port, got {pair!r}")
        urls[name] = url.rstrip("/")
    return urls


def _card_rules(key: str, rules: Any) -> None:
    from services.assessment.domain import circular_rules  # pure; checked at start

    try:
        circular_rules.check_rules(rules)
    except (ValueError, TypeError) as exc:
        raise RuntimeError(f"config {key}: {exc}") from None


SERVICE_URL_MAP = Kind("service_urls", parse_service_urls)

# -- the operations dashboard (docs/DASHBOARD.md) -------------------------------------------
REGISTRY_URL = Setting("REGISTRY_URL", TEXT, "http://127.0.0.1:8001",
                       "the registry as the dashboard fetches grids from it")
RABBIT_API_URL = Setting("RABBIT_API_URL", TEXT, "",
                         "RabbitMQ's management API; empty: derived from AMQP_URI")
RABBIT_VHOST = Setting("RABBIT_VHOST", TEXT, "", "the vhost whose queues are shown; empty: "
                       "AMQP_URI's")
SERVICE_URLS = Setting("SERVICE_URLS", SERVICE_URL_MAP, {},
                       "name=url of each service whose health the dashboard shows")
DASHBOARD_TIMEOUT_SECONDS = Setting("DASHBOARD_TIMEOUT_SECONDS", POSITIVE, 3.0,
                                    "time limit of the dashboard's calls")
DASHBOARD_GRIDS_CACHE_SECONDS = Setting("DASHBOARD_GRIDS_CACHE_SECONDS", POSITIVE, 60.0,
                                        "grids kept this long between fetches")
WALL_HEARTBEAT_SECONDS = Setting("WALL_HEARTBEAT_SECONDS", POSITIVE, 15.0,
                                 "a ping on the wall's stream every this many seconds")

# -- field work (docs/FIELD-WORK.md) --------------------------------------------------------
TRACK_MAX_AGE_DAYS = Setting("TRACK_MAX_AGE_DAYS", POSITIVE_INTEGER, 7,
                             "track points older than this are refused")
TRACK_RETENTION_DAYS = Setting("TRACK_RETENTION_DAYS", POSITIVE_INTEGER, 180,
                               "tracks are deleted after this")
TRACK_PURGE_SECONDS = Setting("TRACK_PURGE_SECONDS", POSITIVE, 3600.0,
                              "seconds between purges of tracks and their audit")
TRACK_AUDIT_RETENTION_DAYS = retention_setting(
    "TRACK_AUDIT_RETENTION_DAYS", "days who-read-whose-track is kept (P5.4.4: >= 183)")
PATROL_MAX_GAP_SECONDS = Setting("PATROL_MAX_GAP_SECONDS", POSITIVE_INTEGER, 900,
                                 "a longer gap between points is not time in the grid")
MEETING_REMINDER_SECONDS = Setting("MEETING_REMINDER_SECONDS", POSITIVE, 3600.0,
                                   "seconds between meeting reminder runs")
MEETING_REMINDER_DAYS = Setting("MEETING_REMINDER_DAYS", POSITIVE_INTEGER, 5,
                                "remind this many days before a meeting is due")

# -- circulars (P5.3.5, docs/CIRCULARS.md) --------------------------------------------------
CIRCULAR_SCHEDULE = Setting("CIRCULAR_SCHEDULE", TEXT, "weekly,monthly",
                            "kinds published on schedule")
CIRCULAR_POLL_SECONDS = Setting("CIRCULAR_POLL_SECONDS", POSITIVE, 600.0,
                                "seconds between checks for due circulars")
CIRCULAR_SCOPE = Setting("CIRCULAR_SCOPE", TEXT, "district:320505",
                         "the scope of scheduled circulars")
CIRCULAR_CARD_RULES = Setting("CIRCULAR_CARD_RULES", JSON, None,
                              "red/yellow card rules as JSON; empty: the defaults",
                              check=_card_rules)
CIRCULAR_ISSUER = Setting("CIRCULAR_ISSUER", TEXT, "区网格化服务管理中心",
                          "the issuing body printed on circulars")
CIRCULAR_NUMBER_PREFIX = Setting("CIRCULAR_NUMBER_PREFIX", TEXT, "网格通",
                                 "the prefix of circulars' document numbers (文号)")
CIRCULAR_PUBLIC_URL = Setting("CIRCULAR_PUBLIC_URL", TEXT, "http://127.0.0.1:8004",
                              "where circulars' pages are linked from")
CIRCULAR_RPC_TIMEOUT_SECONDS = Setting("CIRCULAR_RPC_TIMEOUT_SECONDS", POSITIVE, 60.0,
                                       "time limit of dispatch's handling figures")
APPRAISAL_RPC_TIMEOUT_SECONDS = Setting("APPRAISAL_RPC_TIMEOUT_SECONDS", POSITIVE, 60.0,
                                        "time limit of dispatch's KPIs (P5.4.6)")
CALENDAR_RPC_TIMEOUT_SECONDS = Setting("CALENDAR_RPC_TIMEOUT_SECONDS", POSITIVE, 5.0,
                                       "time limit of dispatch's working calendar")
REGISTRY_RPC_TIMEOUT_SECONDS = Setting("REGISTRY_RPC_TIMEOUT_SECONDS", POSITIVE, 10.0,
                                       "time limit of calls to the registry")

SETTINGS = Settings(
    PLATFORM_SETTINGS,
    REGISTRY_URL, RABBIT_API_URL, RABBIT_VHOST, SERVICE_URLS, DASHBOARD_TIMEOUT_SECONDS,
    DASHBOARD_GRIDS_CACHE_SECONDS, WALL_HEARTBEAT_SECONDS,
    TRACK_MAX_AGE_DAYS, TRACK_RETENTION_DAYS, TRACK_PURGE_SECONDS, TRACK_AUDIT_RETENTION_DAYS,
    PATROL_MAX_GAP_SECONDS, MEETING_REMINDER_SECONDS, MEETING_REMINDER_DAYS,
    CIRCULAR_SCHEDULE, CIRCULAR_POLL_SECONDS, CIRCULAR_SCOPE, CIRCULAR_CARD_RULES,
    CIRCULAR_ISSUER, CIRCULAR_NUMBER_PREFIX, CIRCULAR_PUBLIC_URL, CIRCULAR_RPC_TIMEOUT_SECONDS,
    REGISTRY_RPC_TIMEOUT_SECONDS, APPRAISAL_RPC_TIMEOUT_SECONDS, CALENDAR_RPC_TIMEOUT_SECONDS,
)

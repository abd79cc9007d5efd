"""The notify service's settings: every key services/notify/config.yaml holds
(``SETTINGS``), its own declared here, the shared ones imported from the modules that read
them."""

from __future__ import annotations

from gridgov_common.platform import pii_provider
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


def _gateway(key: str, name: str) -> None:
    from services.notify.channels import SMS_GATEWAYS  # the channels read these settings

    if name not in SMS_GATEWAYS:
        raise RuntimeError(f"config {key} must be one of {', '.join(sorted(SMS_GATEWAYS))}, "
                           f"got {name!r}")


DEFAULT_LOCALE = Setting("DEFAULT_LOCALE", TEXT, "zh-CN",
                         "language of messages whose recipient has none")
# the sender (services/notify/sending.py)
SEND_BATCH = Setting("SEND_BATCH", POSITIVE_INTEGER, 200, "deliveries leased per round")
SEND_CONCURRENCY = Setting("SEND_CONCURRENCY", POSITIVE_INTEGER, 64,
                           "deliveries sent at once")
SENDER_LOOPS = Setting("SENDER_LOOPS", POSITIVE_INTEGER, 2, "sender loops per process")
SEND_POLL_SECONDS = Setting("SEND_POLL_SECONDS", POSITIVE, 0.1,
                            "the sender's poll when nothing wakes it")
LEASE_SECONDS = Setting("LEASE_SECONDS", POSITIVE, 60.0,
                        "a leased delivery returns to the queue after this")
RETRY_BASE_SECONDS = Setting("RETRY_BASE_SECONDS", POSITIVE, 30.0,
                             "first retry delay; doubles per attempt")
RETRY_MAX_SECONDS = Setting("RETRY_MAX_SECONDS", POSITIVE, 3600.0, "longest retry delay")
MAX_ATTEMPTS = Setting("MAX_ATTEMPTS", POSITIVE_INTEGER, 6, "attempts before a delivery fails")
HTTP_SEND_TIMEOUT = Setting("HTTP_SEND_TIMEOUT", POSITIVE, 10.0,
                            "time limit of a webhook or SMS gateway call")
WEBHOOK_SECRET_OVERLAP_HOURS = Setting("WEBHOOK_SECRET_OVERLAP_HOURS", POSITIVE, 24.0,
                                       "a rotated webhook secret still signs this long")
# the channels (services/notify/channels.py)
SMTP_HOST = Setting("SMTP_HOST", TEXT, "127.0.0.1", "mail relay")
SMTP_PORT = Setting("SMTP_PORT", POSITIVE_INTEGER, 25, "mail relay port")
SMTP_FROM = Setting("SMTP_FROM", TEXT, "gridgov@localhost", "sender address")
SMTP_USER = Setting("SMTP_USER", TEXT, "", "login at the relay; empty: none")
SMTP_PASSWORD = Setting("SMTP_PASSWORD", SECRET, "", "password at the relay")
SMTP_STARTTLS = Setting("SMTP_STARTTLS", FLAG, False, "STARTTLS before the login")
SMTP_TIMEOUT = Setting("SMTP_TIMEOUT", POSITIVE, 10.0, "time limit of an SMTP exchange")
SMS_GATEWAY = Setting("SMS_GATEWAY", TEXT, "http_json",
                      "the SMS provider (channels.SMS_GATEWAYS)", check=_gateway)
SMS_GATEWAY_URL = Setting("SMS_GATEWAY_URL", TEXT, "", "the gateway; empty: SMS not sent")
SMS_GATEWAY_TOKEN = Setting("SMS_GATEWAY_TOKEN", SECRET, "", "bearer token at the gateway")
SMS_SIGN = Setting("SMS_SIGN", TEXT, "网格治理", "the SMS signature (签名)")

SETTINGS = Settings(
    PLATFORM_SETTINGS, pii_provider.PII_SETTINGS,
    DEFAULT_LOCALE, SEND_BATCH, SEND_CONCURRENCY, SENDER_LOOPS, SEND_POLL_SECONDS,
    LEASE_SECONDS, RETRY_BASE_SECONDS, RETRY_MAX_SECONDS, MAX_ATTEMPTS, HTTP_SEND_TIMEOUT,
    WEBHOOK_SECRET_OVERLAP_HOURS,
    SMTP_HOST, SMTP_PORT, SMTP_FROM, SMTP_USER, SMTP_PASSWORD, SMTP_STARTTLS, SMTP_TIMEOUT,
    SMS_GATEWAY, SMS_GATEWAY_URL, SMS_GATEWAY_TOKEN, SMS_SIGN,
)

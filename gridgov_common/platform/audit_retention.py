"""How long an audit log of personal-data reads is kept, for every service that has one.

P5.4.4 ("personal privacy must never leak") and the Cybersecurity Law Art. 21: logs are kept
at least six months. A service's database role may only SELECT and INSERT on its audit table
(platform/db_roles.py); the table refuses UPDATE and TRUNCATE in the database and lets a
DELETE through only inside its purge function, which itself refuses fewer than 183 days
(registry migration 0004, assessment migration 0005) and runs with its owner's rights
(SECURITY DEFINER, fixed search_path: registry and assessment migrations 0006). Here: the
configured retention, checked when the service starts (a value under six months stops it),
and the purge call.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from nameko.extensions import DependencyProvider

from gridgov_common.platform.settings import INTEGER, Setting

MIN_RETENTION_DAYS = 183  # six months; the same floor is in the migrations' triggers
DEFAULT_RETENTION_DAYS = 365


def check_retention(key: str, days: int) -> None:
    """Under six months is refused (P5.4.4)."""
    if days < MIN_RETENTION_DAYS:
        raise RuntimeError(f"{key} must be at least {MIN_RETENTION_DAYS} "
                           f"(six months, P5.4.4), got {days}")


def retention_setting(key: str, doc: str) -> Setting:
    """An audit log's retention in days, at least six months."""
    return Setting(key, INTEGER, DEFAULT_RETENTION_DAYS, doc, check=check_retention)


AUDIT_RETENTION_DAYS = retention_setting(
    "AUDIT_RETENTION_DAYS", "days the registry's audit log is kept (P5.4.4: >= 183)")


def retention_days(config: Mapping[str, Any], setting: Setting = AUDIT_RETENTION_DAYS) -> int:
    """``setting`` from the config; under six months is refused (P5.4.4)."""
    return setting.read(config)


def purge(session, function: str, days: int) -> int:
    """Delete rows older than ``days`` through the database's one allowed path,
    ``function`` (a constant such as ``registry.purge_audit_log``, never user input)."""
    return int(session.execute(sa.text(f"SELECT {function}(:days)"),
                               {"days": days}).scalar_one())


class AuditRetention(DependencyProvider):
    """The configured retention, checked when the service starts (not at the first purge)."""

    def __init__(self, setting: Setting = AUDIT_RETENTION_DAYS) -> None:
        self.setting = setting

    def setup(self) -> None:
        self.days = self.setting.of(self.container)

    def get_dependency(self, worker_ctx) -> int:
        return self.days

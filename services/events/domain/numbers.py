"""Case numbers people can read over the phone: ``GS20261128-000123``.

Prefix (district letters, config), the district's calendar day, a dash, a daily sequence of
at least six digits.  The sequence comes from a per-day counter row that the filing
transaction locks (see ``services.events.cases``), so replicas never collide and numbers
have no gaps.  The day is China Standard Time (UTC+8, no daylight saving): a case filed at
07:30 UTC on 28 November is a case of 28 November for everyone who reads it.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

from gridgov_common.contract.cases import CASE_NUMBER_RE
from gridgov_common.kernel import area

DISTRICT_TZ = area.TZ  # the district's clock (gridgov_common/kernel/area.py)
PREFIX_RE = re.compile(r"^[A-Z]{1,8}$")
SEQUENCE_DIGITS = 6


def local_day(moment: datetime) -> date:
    """The district's calendar day of an aware instant."""
    if moment.tzinfo is None:
        raise ValueError("an aware datetime is required")
    return moment.astimezone(DISTRICT_TZ).date()


def check_prefix(prefix: str) -> str:
    if not isinstance(prefix, str) or not PREFIX_RE.match(prefix):
        raise ValueError(f"case number prefix must be 1-8 capital letters, got {prefix!r}")
    return prefix


def format_case_number(prefix: str, day: date, sequence: int) -> str:
    """``<prefix><yyyymmdd>-<sequence, zero-padded to 6 digits>``; valid on the bus."""
    if sequence < 1:
        raise ValueError("sequences start at 1")
    number = f"{check_prefix(prefix)}{day:%Y%m%d}-{sequence:0{SEQUENCE_DIGITS}d}"
    if not CASE_NUMBER_RE.match(number):
        raise ValueError(f"{number} does not fit the contract's case number format")
    return number


def now_utc() -> datetime:
    return datetime.now(UTC)

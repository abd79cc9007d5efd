"""Days off to assume for a year whose State Council holiday notice is not published yet.

The holiday library's estimate of such a year (``holidays.China``) has the statutory days
plus "observed" days, but not the arrangement the State Council actually publishes each
autumn: long breaks bridged by make-up working days (调休).  For 2027 it gives National Day
as 10-01…10-05, so 2027-09-30 16:00 + 3 working days falls on 10-08 — two working days
earlier than under the usual eight-day break.  The code's promise is that an unknown
calendar makes deadlines err *late*, never early (P5.3.3: a department is never overdue
because our calendar was short), so for such a year we assume the usual long breaks:

- Spring Festival: New Year's Eve through the seventh day of the new year (9 days, as in
  2025 and 2026);
- Labour Day: 1–5 May;
- National Day: 1–8 October (the Mid-Autumn Festival often joins it);
- a one-day holiday on a Tuesday or Thursday: the Monday or Friday between it and the
  weekend too (the usual bridge).

Make-up working days are never assumed (a 调休 Saturday stays a day off): that errs late
as well.  The State Council's notice, once entered as calendar data, replaces all of it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta

SPRING_FESTIVAL = "Chinese New Year (Spring Festival)"
SPRING_FESTIVAL_DAYS_AFTER = 7  # the seventh day of the new year (初七)
LABOUR_DAY = (5, 1, 5)  # month, first day, last day
NATIONAL_DAY = (10, 1, 8)
_TUESDAY, _THURSDAY = 1, 3
ESTIMATED = "(estimated: the usual arrangement until the State Council's notice is entered)"


def usual_days_off(year: int, statutory: Mapping[date, str]) -> dict[date, str]:
    """Days off to assume in ``year`` besides ``statutory`` (the library's estimate:
    date → holiday name); each with the name of the break it belongs to."""
    extra: dict[date, str] = {}
    new_year = _spring_festival_day(year, statutory)
    if new_year is not None:
        for offset in range(-1, SPRING_FESTIVAL_DAYS_AFTER + 1):  # the eve … 初七
            extra[new_year + timedelta(days=offset)] = "Spring Festival"
    for (month, first, last), name in ((LABOUR_DAY, "Labour Day"),
                                       (NATIONAL_DAY, "National Day")):
        for day in range(first, last + 1):
            extra[date(year, month, day)] = name
    for day, name in statutory.items():
        if day.year == year and _single_day(day, statutory):
            bridge = _bridge(day)
            if bridge is not None:
                extra.setdefault(bridge, name)
    return {day: name for day, name in extra.items() if day not in statutory}


def _spring_festival_day(year: int, statutory: Mapping[date, str]) -> date | None:
    days = sorted(day for day, name in statutory.items()
                  if day.year == year and name == SPRING_FESTIVAL)
    return days[0] if days else None


def _single_day(day: date, statutory: Mapping[date, str]) -> bool:
    """A holiday with no other holiday the day before or after."""
    return (day - timedelta(days=1) not in statutory
            and day + timedelta(days=1) not in statutory)


def _bridge(day: date) -> date | None:
    """The workday between a Tuesday or Thursday holiday and its weekend."""
    if day.weekday() == _TUESDAY:
        return day - timedelta(days=1)
    if day.weekday() == _THURSDAY:
        return day + timedelta(days=1)
    return None

"""Working-time calendar for prescribed time limits (P5.3.3), shared code: dispatch counts
deadlines with it and assessment counts patrol days with it (P5.4.3), from the same data —
dispatch's overrides and entered notices, which assessment reads over dispatch's
``calendar_data`` RPC (issue 11: one owner, not a copy in each service).

Time limits are counted in working time (DOMAIN-REFERENCES §2: urgent minutes, working
hours, working days, natural days, with a work-time window and a holiday/调休 calendar).
Holidays are data, not code (DOMAIN-REFERENCES §4, the Zürich lesson), and every date says
which source decided it, in this order:

1. ``override`` — operator-provided dates (the ``calendar_overrides`` table): the State
   Council publishes next year's schedule each autumn, before any library knows it, and an
   operator must be able to correct a library.
2. ``operator_schedule`` — a year the operator declared complete (``complete_years``):
   dates it does not list follow the plain weekday rule, and no library is asked.
3. ``chinese_calendar`` — official holidays and make-up working days (调休) for 2004–2026;
   it raises ``NotImplementedError`` for any other year, which is caught per year.
4. ``holidays`` — ``holidays.China`` (0.108), for years up to ``holidays_until``.  For years
   with a published State Council notice it knows the days off and the make-up working
   days (``weekend_workdays``, e.g. 2026-10-10).  For later years it only *estimates*: the
   statutory holidays by lunar/solar date plus "observed" days for those falling on a
   weekend (e.g. Spring Festival 2027-02-05…08 plus 02-09/10), and NO make-up working days
   at all — a 调休 Saturday is counted as a day off, so deadlines err late, never early.
   Its breaks are shorter than the ones the State Council publishes (National Day
   10-01…05 instead of 01…08), which would err early: for such a year the usual long
   breaks are assumed on top (``holiday_estimates``) until the notice is entered.
   By default ``holidays_until`` is the last year with official make-up days in the
   installed library plus one (2027 with 0.108): next year's estimate is useful, estimates
   further ahead are guesses.
5. ``fallback`` — Saturdays and Sundays off, everything else a workday; logged once per
   year as a warning so that an operator loads the schedule; never a crash.

All instants are timezone-aware; they come in as any offset (normally UTC), go out in
UTC, and are computed on the local wall clock of ``tz`` (Asia/Shanghai).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from functools import cache
from zoneinfo import ZoneInfo

import chinese_calendar
import holidays as holidays_lib

from gridgov_common.kernel import area, holiday_estimates

__all__ = [
    "DEFAULT_TZ", "DEFAULT_WINDOWS", "CalendarSource", "DayInfo", "TimeLimit", "TimeUnit",
    "WorkCalendar", "library_holidays_until",
]

log = logging.getLogger(__name__)

DEFAULT_TZ = area.TZ_NAME  # the district's clock (gridgov_common/kernel/area.py)
# Office hours of town and district bodies: morning and afternoon, with a lunch break.
DEFAULT_WINDOWS: tuple[tuple[time, time], ...] = (
    (time(8, 30), time(12, 0)),
    (time(13, 30), time(17, 30)),
)
# A calendar that yields no working time for ten years is misconfigured, not slow.
_MAX_DAYS_SEARCHED = 3660
_SATURDAY = 5


class TimeUnit(StrEnum):
    """DOMAIN-REFERENCES §2: the time types of prescribed limits (P5.3.3)."""

    WORKING_HOURS = "working_hours"
    WORKING_DAYS = "working_days"  # one working day = the length of the daily window
    NATURAL_DAYS = "natural_days"  # same wall-clock time N calendar days later
    URGENT_MINUTES = "urgent_minutes"  # natural minutes, for urgent/major priorities (P2.1)


NATURAL_UNITS = frozenset({TimeUnit.NATURAL_DAYS, TimeUnit.URGENT_MINUTES})


@dataclass(frozen=True, slots=True)
class TimeLimit:
    """An amount of time in a unit, e.g. 3 working days (P5.3.3)."""

    amount: float
    unit: TimeUnit

    def __post_init__(self) -> None:
        object.__setattr__(self, "unit", TimeUnit(self.unit))
        if not isinstance(self.amount, int | float) or isinstance(self.amount, bool):
            raise ValueError(f"time limit amount must be a number (got {self.amount!r})")
        if self.amount < 0:
            raise ValueError(f"time limit amount must not be negative (got {self.amount})")

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> TimeLimit:
        return cls(data["amount"], TimeUnit(data["unit"]))  # type: ignore[arg-type]

    def to_dict(self) -> dict[str, object]:
        return {"amount": self.amount, "unit": self.unit.value}

    def __str__(self) -> str:
        return f"{self.amount:g} {self.unit}"


class CalendarSource(StrEnum):
    """Which source decided whether a date is a workday (shown to operators)."""

    OVERRIDE = "override"
    OPERATOR_SCHEDULE = "operator_schedule"
    CHINESE_CALENDAR = "chinese_calendar"
    HOLIDAYS = "holidays"
    FALLBACK = "fallback"


@dataclass(frozen=True, slots=True)
class DayInfo:
    day: date
    is_workday: bool
    source: CalendarSource
    note: str  # holiday name where the source gives one, else ""


@cache
def library_holidays_until() -> int:
    """The last year ``holidays.China`` is trusted for by default: the last year with
    official make-up working days in the installed library, plus one (see module doc)."""
    china = holidays_lib.China(years=range(2000, 2101))
    return max(day.year for day in china.weekend_workdays) + 1


def _note(workday: bool, name: str | None) -> str:
    """A workday that carries a holiday's name is that holiday's make-up day (调休)."""
    if not name:
        return ""
    return f"make-up working day (调休) for {name}" if workday else name


def _check_windows(windows: Sequence[tuple[time, time]]) -> tuple[tuple[time, time], ...]:
    """Windows must be ordered, non-empty and non-overlapping, or arithmetic goes wrong."""
    result = tuple((start, end) for start, end in windows)
    if not result:
        raise ValueError("at least one working-hours window is needed")
    previous_end: time | None = None
    for start, end in result:
        if start >= end:
            raise ValueError(f"working-hours window {start}–{end} ends before it starts")
        if previous_end is not None and start < previous_end:
            raise ValueError("working-hours windows must be in order and must not overlap")
        previous_end = end
    return result


def _aware(moment: datetime, what: str) -> datetime:
    if not isinstance(moment, datetime) or moment.tzinfo is None \
            or moment.tzinfo.utcoffset(moment) is None:
        raise ValueError(f"{what} must be a timezone-aware datetime (got {moment!r})")
    return moment


class WorkCalendar:
    """Workdays, working hours and deadline arithmetic (P5.3.3).

    Build one per process and replace it (``with_overrides``) when the operator's table
    changes: the once-per-year fallback warning is remembered across those replacements.
    """

    def __init__(self, overrides: Mapping[date, bool] | None = None, *,
                 windows: Sequence[tuple[time, time]] = DEFAULT_WINDOWS,
                 tz: str | ZoneInfo = DEFAULT_TZ,
                 complete_years: Iterable[int] = (),
                 holidays_until: int | None = None,
                 use_chinese_calendar: bool = True,
                 use_holidays: bool = True,
                 _warned_years: set[int] | None = None) -> None:
        self.tz = tz if isinstance(tz, ZoneInfo) else ZoneInfo(tz)
        self.windows = _check_windows(windows)
        self._overrides = {self._plain_date(d): bool(v) for d, v in (overrides or {}).items()}
        self.complete_years = frozenset(int(y) for y in complete_years)
        self.holidays_until = (library_holidays_until() if holidays_until is None
                               else int(holidays_until))
        self.use_chinese_calendar = use_chinese_calendar
        self.use_holidays = use_holidays
        self._warned_years = set() if _warned_years is None else _warned_years
        self._cc_unsupported: set[int] = set()
        self._holidays = holidays_lib.China()
        self._assumed: dict[int, dict[date, str]] = {}  # year -> usual breaks (estimates)
        # what the libraries say of a day never changes: asked once per day per calendar
        # (deadline arithmetic asks about the same few days for every case)
        self._library_days: dict[date, DayInfo] = {}

    @property
    def overrides(self) -> dict[date, bool]:
        """The operators' corrections this calendar was built with."""
        return dict(self._overrides)

    # --- which days are workdays --------------------------------------------------------

    def with_overrides(self, overrides: Mapping[date, bool], *,
                       complete_years: Iterable[int] | None = None) -> WorkCalendar:
        """A calendar like this one with new operator data (same window, zone, sources)."""
        return WorkCalendar(
            overrides, windows=self.windows, tz=self.tz,
            complete_years=self.complete_years if complete_years is None else complete_years,
            holidays_until=self.holidays_until, use_chinese_calendar=self.use_chinese_calendar,
            use_holidays=self.use_holidays, _warned_years=self._warned_years,
        )

    def _plain_date(self, day: date) -> date:
        """Accept a date, or an aware datetime meaning its local date in ``tz``."""
        if isinstance(day, datetime):
            return _aware(day, "day").astimezone(self.tz).date()
        if not isinstance(day, date):
            raise TypeError(f"expected a date (got {day!r})")
        return day

    def _from_chinese_calendar(self, day: date) -> DayInfo | None:
        if not self.use_chinese_calendar or day.year in self._cc_unsupported:
            return None
        try:
            workday = chinese_calendar.is_workday(day)
            _, name = chinese_calendar.get_holiday_detail(day)
        except NotImplementedError:  # the library knows 2004–2026 only
            self._cc_unsupported.add(day.year)
            return None
        return DayInfo(day, workday, CalendarSource.CHINESE_CALENDAR, _note(workday, name))

    def _from_holidays(self, day: date) -> DayInfo | None:
        if not self.use_holidays or day.year > self.holidays_until:
            return None
        workday = self._holidays.is_working_day(day)
        if self.is_estimated_year(day.year):  # err late: the usual long breaks (weekends
            # inside one are named after it too)
            assumed = self._usual_days_off(day.year).get(day)
            if assumed is not None:
                return DayInfo(day, False, CalendarSource.HOLIDAYS,
                               f"{assumed} {holiday_estimates.ESTIMATED}")
        return DayInfo(day, workday, CalendarSource.HOLIDAYS,
                       _note(workday, self._holidays.get(day)))

    def is_estimated_year(self, year: int) -> bool:
        """No official schedule for ``year`` in the libraries and none entered by the
        operators: its holidays are the library's estimate plus the usual long breaks."""
        return year > library_holidays_until() - 1 and year not in self.complete_years

    def _usual_days_off(self, year: int) -> dict[date, str]:
        if year not in self._assumed:
            statutory = dict(holidays_lib.China(years=year).items())
            self._assumed[year] = holiday_estimates.usual_days_off(year, statutory)
        return self._assumed[year]

    def _fallback(self, day: date) -> DayInfo:
        if day.year not in self._warned_years:
            self._warned_years.add(day.year)
            log.warning(
                "work calendar: no holiday data for %d; counting only Saturdays and Sundays "
                "as days off. Load the State Council's schedule as calendar overrides.",
                day.year,
            )
        return DayInfo(day, day.weekday() < _SATURDAY, CalendarSource.FALLBACK, "")

    def day_info(self, day: date) -> DayInfo:
        """Whether ``day`` is a workday, which source decided it, and the holiday's name."""
        day = self._plain_date(day)
        if day in self._overrides:
            return DayInfo(day, self._overrides[day], CalendarSource.OVERRIDE, "")
        if day.year in self.complete_years:
            return DayInfo(day, day.weekday() < _SATURDAY, CalendarSource.OPERATOR_SCHEDULE, "")
        known = self._library_days.get(day)
        if known is None:
            known = (self._from_chinese_calendar(day) or self._from_holidays(day)
                     or self._fallback(day))
            self._library_days[day] = known
        return known

    def is_workday(self, day: date) -> bool:
        return self.day_info(day).is_workday

    def source_for(self, day: date) -> CalendarSource:
        return self.day_info(day).source

    # --- working-time arithmetic ------------------------------------------------------------

    @property
    def day_length(self) -> timedelta:
        """Working time in one working day (7 h 30 min with the default window)."""
        today = date(2000, 1, 3)
        return sum((datetime.combine(today, end) - datetime.combine(today, start)
                    for start, end in self.windows), timedelta())

    def _windows_on(self, day: date) -> list[tuple[datetime, datetime]]:
        """The day's working windows as UTC instants (empty on a day off)."""
        if not self.is_workday(day):
            return []
        return [
            (datetime.combine(day, start, self.tz).astimezone(UTC),
             datetime.combine(day, end, self.tz).astimezone(UTC))
            for start, end in self.windows
        ]

    def _local_date(self, moment: datetime) -> date:
        return moment.astimezone(self.tz).date()

    def _add_working(self, start: datetime, amount: timedelta) -> datetime:
        """Walk the working windows from ``start`` until ``amount`` is used up.  A start
        outside working time starts the clock at the next window."""
        remaining = amount
        day = self._local_date(start)
        for _ in range(_MAX_DAYS_SEARCHED):
            for window_start, window_end in self._windows_on(day):
                if window_end <= start:
                    continue
                begin = max(start, window_start)
                if remaining <= window_end - begin:
                    return begin + remaining
                remaining -= window_end - begin
            day += timedelta(days=1)
        raise ValueError(f"no working time found within {_MAX_DAYS_SEARCHED} days of {start}")

    def add_working_time(self, start: datetime, amount: float,
                         unit: TimeUnit | str) -> datetime:
        """The instant ``amount`` ``unit`` after ``start``, in UTC (P5.3.3 due times).

        Working units skip days off and hours outside the windows; a zero amount returns
        ``start`` itself.  Natural units ignore the calendar.
        """
        start = _aware(start, "start").astimezone(UTC)
        limit = TimeLimit(amount, TimeUnit(unit))
        if limit.amount == 0:
            return start
        if limit.unit == TimeUnit.URGENT_MINUTES:
            return start + timedelta(minutes=limit.amount)
        if limit.unit == TimeUnit.NATURAL_DAYS:
            local = start.astimezone(self.tz).replace(tzinfo=None)
            return (local + timedelta(days=limit.amount)).replace(tzinfo=self.tz).astimezone(UTC)
        per_unit = timedelta(hours=1) if limit.unit == TimeUnit.WORKING_HOURS else self.day_length
        return self._add_working(start, per_unit * limit.amount)

    def add(self, start: datetime, limit: TimeLimit) -> datetime:
        """``add_working_time`` for a ``TimeLimit``."""
        return self.add_working_time(start, limit.amount, limit.unit)

    def working_time_between(self, a: datetime, b: datetime) -> timedelta:
        """Working time from ``a`` to ``b`` (negative if ``b`` is earlier)."""
        a = _aware(a, "a").astimezone(UTC)
        b = _aware(b, "b").astimezone(UTC)
        if b < a:
            return -self.working_time_between(b, a)
        total = timedelta()
        day, last = self._local_date(a), self._local_date(b)
        while day <= last:
            for window_start, window_end in self._windows_on(day):
                overlap = min(b, window_end) - max(a, window_start)
                if overlap > timedelta():
                    total += overlap
            day += timedelta(days=1)
        return total

    def fraction_used(self, start: datetime, due: datetime, now: datetime,
                      unit: TimeUnit | str = TimeUnit.WORKING_HOURS) -> float:
        """Share of the allowed time used at ``now`` (uReport's "% of time used").

        Measured in working time, or in natural time for natural units (pass the limit's
        unit).  0.0 before ``start``; above 1.0 once overdue (not clamped, so lists can show
        "130 %").  If no time at all was allowed, 1.0 from ``due`` on.
        """
        if TimeUnit(unit) in NATURAL_UNITS:
            start, due, now = (_aware(x, "datetime") for x in (start, due, now))
            allowed, used = due - start, now - start
        else:
            allowed = self.working_time_between(start, due)
            used = self.working_time_between(start, now)
        if allowed <= timedelta():
            return 1.0 if now >= due else 0.0
        return max(0.0, used / allowed)

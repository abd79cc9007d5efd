"""Working-time calendar for prescribed time limits (P5.3.3): sources, fallback, arithmetic."""

import logging
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from gridgov_common.kernel.work_calendar import (
    CalendarSource,
    TimeLimit,
    TimeUnit,
    WorkCalendar,
    library_holidays_until,
)

CST = ZoneInfo("Asia/Shanghai")
LOGGER = "gridgov_common.kernel.work_calendar"


def cst(*args):
    return datetime(*args, tzinfo=CST)


@pytest.fixture
def cal():
    return WorkCalendar()


def _days(start, end):
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


# --- sources -------------------------------------------------------------------------------

def test_make_up_saturday_2026_10_10_is_a_workday(cal):
    info = cal.day_info(date(2026, 10, 10))
    assert info.is_workday is True
    assert info.source == CalendarSource.CHINESE_CALENDAR
    assert "调休" in info.note
    assert cal.is_workday(date(2026, 10, 11)) is False  # the Sunday after stays off


def test_national_day_2026_is_off(cal):
    for day in _days(date(2026, 10, 1), date(2026, 10, 7)):
        assert cal.is_workday(day) is False, day
        assert cal.source_for(day) == CalendarSource.CHINESE_CALENDAR
    assert cal.is_workday(date(2026, 10, 8)) is True


def test_spring_festival_2027_comes_from_holidays(cal):
    for day in _days(date(2027, 2, 5), date(2027, 2, 8)):
        assert cal.is_workday(day) is False, day
        assert cal.source_for(day) == CalendarSource.HOLIDAYS
    assert cal.day_info(date(2027, 2, 5)).note  # the holiday's name is shown


def test_holidays_knows_no_make_up_days_for_2027(cal):
    # documented limitation: for unpublished years holidays.China gives no 调休 working
    # weekends, so every Saturday and Sunday of 2027 counts as a day off (deadlines err late)
    weekend = [d for d in _days(date(2027, 1, 1), date(2027, 12, 31)) if d.weekday() >= 5]
    assert not any(cal.is_workday(d) for d in weekend)
    assert {cal.source_for(d) for d in weekend} == {CalendarSource.HOLIDAYS}


def test_holidays_trusted_up_to_the_year_after_its_last_published_schedule():
    assert library_holidays_until() == 2027  # holidays 0.108 has official data to 2026
    assert WorkCalendar().holidays_until == 2027
    assert WorkCalendar(holidays_until=2026).source_for(date(2027, 2, 5)) \
        == CalendarSource.FALLBACK


def test_holidays_serves_years_chinese_calendar_does_not_know():
    cal = WorkCalendar(use_chinese_calendar=False)
    assert cal.is_workday(date(2026, 10, 10)) is True  # holidays knows 2026's make-up days
    assert cal.is_workday(date(2026, 10, 7)) is False
    assert cal.source_for(date(2026, 10, 7)) == CalendarSource.HOLIDAYS
    # chinese_calendar starts in 2004; holidays has the official 2003 schedule
    assert WorkCalendar().source_for(date(2003, 10, 1)) == CalendarSource.HOLIDAYS


def test_fallback_2031_is_weekends_only_with_one_warning_per_year(cal, caplog):
    caplog.set_level(logging.WARNING, logger=LOGGER)
    january = _days(date(2031, 1, 1), date(2031, 1, 31))
    for day in january:
        assert cal.is_workday(day) is (day.weekday() < 5), day
        assert cal.source_for(day) == CalendarSource.FALLBACK
    assert cal.is_workday(date(2031, 1, 1)) is True  # New Year's Day unknown: a workday
    warnings = [r for r in caplog.records if r.name == LOGGER]
    assert len(warnings) == 1
    assert warnings[0].levelno == logging.WARNING
    assert "2031" in warnings[0].getMessage()
    cal.is_workday(date(2032, 3, 1))
    assert len([r for r in caplog.records if r.name == LOGGER]) == 2


def test_fallback_warning_is_remembered_across_override_reloads(cal, caplog):
    caplog.set_level(logging.WARNING, logger=LOGGER)
    cal.is_workday(date(2031, 5, 5))
    reloaded = cal.with_overrides({date(2026, 12, 24): False})
    reloaded.is_workday(date(2031, 5, 6))
    assert len([r for r in caplog.records if r.name == LOGGER]) == 1
    assert reloaded.is_workday(date(2026, 12, 24)) is False


def test_deadline_across_the_new_year_does_not_crash(cal):
    # 2026-12-31 (Thu) 15:00 + 2 working days: 2027-01-01 is a holiday (holidays),
    # 01-02/03 a weekend, so 2 days of working time end on Tue 2027-01-05 15:00
    due = cal.add_working_time(cst(2026, 12, 31, 15, 0), 2, "working_days")
    assert due == cst(2027, 1, 5, 15, 0)
    assert due.tzinfo == UTC
    assert cal.source_for(date(2027, 1, 1)) == CalendarSource.HOLIDAYS
    assert cal.source_for(date(2027, 1, 4)) == CalendarSource.HOLIDAYS


def test_overrides_win_over_every_source(caplog):
    caplog.set_level(logging.WARNING, logger=LOGGER)
    cal = WorkCalendar({
        date(2026, 10, 1): True,  # chinese_calendar says holiday
        date(2026, 10, 10): False,  # chinese_calendar says make-up workday
        date(2027, 2, 5): True,  # holidays says holiday
        date(2031, 1, 1): False,  # fallback says workday
    })
    assert cal.is_workday(date(2026, 10, 1)) is True
    assert cal.is_workday(date(2026, 10, 10)) is False
    assert cal.is_workday(date(2027, 2, 5)) is True
    assert cal.is_workday(date(2031, 1, 1)) is False
    assert {cal.source_for(d) for d in (date(2026, 10, 1), date(2031, 1, 1))} \
        == {CalendarSource.OVERRIDE}
    assert not caplog.records  # an overridden date never reaches the fallback


def test_complete_operator_schedule_replaces_the_libraries(caplog):
    caplog.set_level(logging.WARNING, logger=LOGGER)
    cal = WorkCalendar({date(2031, 1, 1): False, date(2031, 1, 26): True},
                       complete_years=[2031])
    assert cal.is_workday(date(2031, 1, 1)) is False
    assert cal.is_workday(date(2031, 1, 26)) is True  # a make-up Sunday
    assert cal.day_info(date(2031, 1, 2)).source == CalendarSource.OPERATOR_SCHEDULE
    assert cal.is_workday(date(2031, 1, 4)) is False
    assert not caplog.records


def test_a_datetime_means_its_local_date():
    cal = WorkCalendar()
    # 2026-09-30 20:00 UTC is 2026-10-01 04:00 in Shanghai: National Day
    assert cal.is_workday(datetime(2026, 9, 30, 20, 0, tzinfo=UTC)) is False
    assert cal.is_workday(datetime(2026, 9, 30, 8, 0, tzinfo=UTC)) is True
    with pytest.raises(ValueError):
        cal.is_workday(datetime(2026, 9, 30, 8, 0))


# --- arithmetic ----------------------------------------------------------------------------

def test_day_length_of_the_default_window(cal):
    assert cal.day_length == timedelta(hours=7, minutes=30)


@pytest.mark.parametrize("start, hours, expected", [
    (cst(2026, 11, 26, 9, 0), 1, cst(2026, 11, 26, 10, 0)),  # inside the morning
    (cst(2026, 11, 26, 11, 30), 1, cst(2026, 11, 26, 14, 0)),  # over the lunch break
    (cst(2026, 11, 26, 7, 0), 1, cst(2026, 11, 26, 9, 30)),  # before opening
    (cst(2026, 11, 26, 12, 30), 1, cst(2026, 11, 26, 14, 30)),  # during lunch
    (cst(2026, 11, 26, 17, 0), 1, cst(2026, 11, 27, 9, 0)),  # over the night
    (cst(2026, 11, 27, 17, 0), 1, cst(2026, 11, 30, 9, 0)),  # Fri → Mon
    (cst(2026, 11, 28, 10, 15), 1, cst(2026, 11, 30, 9, 30)),  # filed on a Saturday
    (cst(2026, 9, 30, 17, 0), 1, cst(2026, 10, 8, 9, 0)),  # over National Day
    (cst(2026, 10, 9, 17, 0), 1, cst(2026, 10, 10, 9, 0)),  # onto the make-up Saturday
    (cst(2026, 11, 26, 9, 0), 0.5, cst(2026, 11, 26, 9, 30)),
])
def test_add_working_hours(cal, start, hours, expected):
    assert cal.add_working_time(start, hours, TimeUnit.WORKING_HOURS) == expected


def test_window_end_is_a_valid_due_time(cal):
    assert cal.add_working_time(cst(2026, 11, 26, 11, 0), 1, "working_hours") \
        == cst(2026, 11, 26, 12, 0)


def test_working_days_keep_the_clock_time_or_end_the_day(cal):
    # inside working time: the same clock time N working days later
    assert cal.add_working_time(cst(2026, 11, 26, 15, 0), 3, "working_days") \
        == cst(2026, 12, 1, 15, 0)
    # filed Friday night: the clock starts Monday 08:30, 2 days end Tuesday 17:30
    assert cal.add_working_time(cst(2026, 11, 27, 20, 0), 2, "working_days") \
        == cst(2026, 12, 1, 17, 30)


def test_natural_units_ignore_the_calendar(cal):
    night = cst(2026, 10, 1, 3, 0)  # a holiday, at night
    assert cal.add_working_time(night, 10, "urgent_minutes") == cst(2026, 10, 1, 3, 10)
    assert cal.add_working_time(night, 1, "natural_days") == cst(2026, 10, 2, 3, 0)
    assert cal.add_working_time(night, 0.5, "natural_days") == cst(2026, 10, 1, 15, 0)


def test_utc_in_utc_out_whatever_the_offset(cal):
    utc_start = datetime(2026, 11, 26, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai
    local_start = utc_start.astimezone(CST)
    a = cal.add_working_time(utc_start, 2, "working_hours")
    b = cal.add_working_time(local_start, 2, "working_hours")
    assert a == b == datetime(2026, 11, 26, 3, 0, tzinfo=UTC)
    assert a.tzinfo is UTC and b.tzinfo is UTC


def test_add_with_a_time_limit(cal):
    start = cst(2026, 11, 26, 9, 0)
    assert cal.add(start, TimeLimit(1, TimeUnit.WORKING_HOURS)) == cst(2026, 11, 26, 10, 0)


def test_zero_returns_start_and_bad_input_is_refused(cal):
    saturday = cst(2026, 11, 28, 10, 0)
    assert cal.add_working_time(saturday, 0, "working_hours") == saturday
    with pytest.raises(ValueError):
        cal.add_working_time(datetime(2026, 11, 26, 9, 0), 1, "working_hours")
    with pytest.raises(ValueError):
        cal.add_working_time(saturday, -1, "working_hours")
    with pytest.raises(ValueError):
        cal.add_working_time(saturday, 1, "fortnights")


def test_a_calendar_without_workdays_fails_instead_of_looping():
    everything_off = WorkCalendar({date(2031, 1, 1) + timedelta(days=i): False
                                   for i in range(4000)})
    with pytest.raises(ValueError, match="no working time"):
        everything_off.add_working_time(cst(2031, 1, 1, 9), 1, "working_hours")


@pytest.mark.parametrize("start", [
    cst(2026, 11, 26, 9, 0), cst(2026, 12, 31, 16, 45), cst(2026, 9, 30, 12, 10),
    cst(2027, 2, 4, 10, 0), cst(2031, 6, 6, 23, 0),
])
@pytest.mark.parametrize("hours", [0.25, 1, 3.5, 7.5, 20, 100])
def test_between_is_the_inverse_of_add(cal, start, hours):
    due = cal.add_working_time(start, hours, "working_hours")
    # a start outside working time adds nothing: the clock starts at the next window
    assert cal.working_time_between(start, due) == timedelta(hours=hours)
    assert cal.working_time_between(due, start) == -timedelta(hours=hours)


def test_working_time_between(cal):
    assert cal.working_time_between(cst(2026, 11, 26, 9, 0), cst(2026, 11, 26, 15, 0)) \
        == timedelta(hours=4, minutes=30)  # lunch excluded
    assert cal.working_time_between(cst(2026, 11, 27, 18, 0), cst(2026, 11, 30, 8, 0)) \
        == timedelta()  # the weekend
    assert cal.working_time_between(cst(2026, 9, 30, 8, 30), cst(2026, 10, 8, 17, 30)) \
        == 2 * cal.day_length  # National Day in between


def test_fraction_used(cal):
    start = cst(2026, 11, 26, 9, 0)
    due = cal.add_working_time(start, 4, "working_hours")  # 14:30
    assert cal.fraction_used(start, due, cst(2026, 11, 26, 11, 0)) == pytest.approx(0.5)
    assert cal.fraction_used(start, due, cst(2026, 11, 26, 12, 45)) == pytest.approx(0.75)
    assert cal.fraction_used(start, due, cst(2026, 11, 26, 8, 0)) == 0.0
    assert cal.fraction_used(start, due, cst(2026, 11, 26, 16, 30)) == pytest.approx(1.5)


def test_fraction_used_in_natural_time(cal):
    start = cst(2026, 10, 1, 3, 0)
    due = cal.add_working_time(start, 10, "urgent_minutes")
    now = cst(2026, 10, 1, 3, 5)
    assert cal.fraction_used(start, due, now, "urgent_minutes") == pytest.approx(0.5)
    # measured in working time there is none to use on a holiday night: 0 until due, then 1
    assert cal.fraction_used(start, due, now) == 0.0
    assert cal.fraction_used(start, due, cst(2026, 10, 1, 3, 10)) == 1.0


def test_custom_window_and_zone():
    cal = WorkCalendar(windows=[(time(9), time(17))], tz="Asia/Urumqi")
    assert cal.day_length == timedelta(hours=8)
    start = datetime(2026, 11, 26, 9, 0, tzinfo=ZoneInfo("Asia/Urumqi"))
    assert cal.add_working_time(start, 8, "working_hours") \
        == datetime(2026, 11, 26, 17, 0, tzinfo=ZoneInfo("Asia/Urumqi"))


@pytest.mark.parametrize("windows", [
    [],
    [(time(12), time(9))],
    [(time(8), time(12)), (time(11), time(17))],
    [(time(13), time(17)), (time(8), time(12))],
])
def test_bad_windows_are_refused(windows):
    with pytest.raises(ValueError):
        WorkCalendar(windows=windows)


def test_time_limit_values():
    assert str(TimeLimit(3, "working_days")) == "3 working_days"
    assert TimeLimit.from_dict({"amount": 10, "unit": "urgent_minutes"}) \
        == TimeLimit(10, TimeUnit.URGENT_MINUTES)
    assert TimeLimit(1.5, TimeUnit.WORKING_HOURS).to_dict() \
        == {"amount": 1.5, "unit": "working_hours"}
    with pytest.raises(ValueError):
        TimeLimit(True, TimeUnit.WORKING_HOURS)


# --- which source decided a day, and a calendar re-made with new operator data ------------

def test_each_source_answers_for_the_day_asked():
    from gridgov_common.kernel.work_calendar import CalendarSource, DayInfo
    day = date(2026, 10, 10)  # a Saturday
    assert WorkCalendar({day: True}).day_info(day) == DayInfo(
        day, True, CalendarSource.OVERRIDE, "")
    assert WorkCalendar(complete_years=[2026]).day_info(day) == DayInfo(
        day, False, CalendarSource.OPERATOR_SCHEDULE, "")
    bare = WorkCalendar(use_chinese_calendar=False, use_holidays=False, holidays_until=2000)
    assert bare.day_info(date(2026, 10, 9)) == DayInfo(
        date(2026, 10, 9), True, CalendarSource.FALLBACK, "")


def test_holiday_names_and_make_up_days_from_the_chinese_calendar():
    cal = WorkCalendar(use_holidays=False)
    national_day = cal.day_info(date(2024, 10, 1))
    assert national_day.day == date(2024, 10, 1) and not national_day.is_workday
    assert national_day.note and not national_day.note.startswith("make-up")
    make_up = cal.day_info(date(2024, 9, 29))  # a Sunday worked for the National Day week
    assert make_up.day == date(2024, 9, 29) and make_up.is_workday
    assert make_up.note.startswith("make-up working day (调休) for ")
    assert cal.day_info(date(2024, 3, 5)).note == ""


def test_new_operator_data_keeps_the_calendars_other_settings():
    cal = WorkCalendar(windows=[(time(8, 0), time(12, 0))], tz="Asia/Urumqi",
                       complete_years=[2030], holidays_until=2025,
                       use_chinese_calendar=False, use_holidays=False)
    again = cal.with_overrides({date(2030, 1, 1): False})
    assert again.windows == ((time(8, 0), time(12, 0)),)
    assert str(again.tz) == "Asia/Urumqi"
    assert again.complete_years == {2030} and again.holidays_until == 2025
    assert (again.use_chinese_calendar, again.use_holidays) == (False, False)
    assert not again.day_info(date(2030, 1, 1)).is_workday
    assert cal.with_overrides({}, complete_years=[2031]).complete_years == {2031}


def test_working_hours_windows_may_touch_but_not_be_empty():
    touching = WorkCalendar(windows=[(time(9, 0), time(12, 0)), (time(12, 0), time(17, 0))])
    assert len(touching.windows) == 2
    with pytest.raises(ValueError):
        WorkCalendar(windows=[(time(9, 0), time(9, 0))])

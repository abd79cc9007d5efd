"""A year without the State Council's notice errs late (M12): the usual long breaks are
assumed on top of the holiday library's estimate, and make-up days never are."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import holidays as holidays_lib
import pytest

from gridgov_common.kernel.holiday_estimates import ESTIMATED, usual_days_off
from gridgov_common.kernel.work_calendar import CalendarSource, WorkCalendar

SHANGHAI = ZoneInfo("Asia/Shanghai")


def statutory(year: int) -> dict[date, str]:
    return dict(holidays_lib.China(years=year).items())


def test_2027_assumes_the_usual_long_breaks_and_only_adds_days():
    extra = usual_days_off(2027, statutory(2027))
    # Spring Festival: the eve (02-05) … 初七 (02-13); the library has 02-05 … 02-10
    assert {day for day, name in extra.items() if name == "Spring Festival"} == {
        date(2027, 2, 11), date(2027, 2, 12), date(2027, 2, 13)}
    assert {day for day, name in extra.items() if name == "National Day"} == {
        date(2027, 10, 6), date(2027, 10, 7), date(2027, 10, 8)}
    assert {day for day, name in extra.items() if name == "Labour Day"} == {
        date(2027, 5, 5)}
    assert not set(extra) & set(statutory(2027))  # only days the library has not
    # one-day holidays: Tomb-Sweeping Day is a Monday, Dragon Boat and Mid-Autumn
    # Wednesdays: no bridge day for any of them
    assert set(extra) == {date(2027, 2, 11), date(2027, 2, 12), date(2027, 2, 13),
                          date(2027, 5, 5), date(2027, 10, 6), date(2027, 10, 7),
                          date(2027, 10, 8)}


@pytest.mark.parametrize(("holiday", "bridge"), [
    (date(2030, 6, 4), date(2030, 6, 3)),   # a Tuesday: the Monday before
    (date(2030, 6, 6), date(2030, 6, 7)),   # a Thursday: the Friday after
])
def test_a_tuesday_or_thursday_holiday_is_bridged_to_its_weekend(holiday, bridge):
    extra = usual_days_off(2030, {holiday: "Dragon Boat Festival"})
    assert extra[bridge] == "Dragon Boat Festival"
    assert usual_days_off(2030, {holiday: "x", bridge: "x"}).get(bridge) is None


def test_a_holiday_of_two_days_is_not_bridged():
    tuesday, wednesday = date(2030, 6, 4), date(2030, 6, 5)
    assert date(2030, 6, 3) not in usual_days_off(2030, {tuesday: "x", wednesday: "x"})
    monday = date(2030, 6, 3)  # Monday + Tuesday: the Tuesday has a neighbour
    assert usual_days_off(2030, {monday: "x", tuesday: "x"}) == usual_days_off(2030, {})


def test_a_year_without_spring_festival_data_keeps_the_fixed_breaks():
    extra = usual_days_off(2031, {})
    assert len([d for d, n in extra.items() if n == "National Day"]) == 8
    assert len([d for d, n in extra.items() if n == "Labour Day"]) == 5
    assert not [d for d, n in extra.items() if n == "Spring Festival"]


def test_deadlines_across_national_day_2027_err_late_not_early():
    calendar = WorkCalendar()
    assert calendar.is_estimated_year(2027) and not calendar.is_estimated_year(2026)
    start = datetime(2027, 9, 30, 16, 0, tzinfo=SHANGHAI)
    due = calendar.add_working_time(start, 3, "working_days").astimezone(SHANGHAI)
    # the usual arrangement (10-01 … 10-08 off, Saturday 10-09 a make-up day) gives
    # 10-12 16:00; the estimate must not be earlier (the library alone gave 10-08)
    assert due == datetime(2027, 10, 13, 16, 0, tzinfo=SHANGHAI)
    info = calendar.day_info(date(2027, 10, 8))
    assert (info.is_workday, info.source) == (False, CalendarSource.HOLIDAYS)
    assert info.note == f"National Day {ESTIMATED}"
    # the library's own estimate ends the Spring Festival on 02-10; the usual break runs
    # to 初七 (02-13, a Saturday, named after the break too)
    assert calendar.day_info(date(2027, 2, 11)).is_workday is False
    assert calendar.day_info(date(2027, 2, 13)).note == f"Spring Festival {ESTIMATED}"
    assert calendar.day_info(date(2027, 2, 15)).is_workday is True


def test_an_entered_notice_replaces_the_estimate():
    entered = WorkCalendar({date(2027, 10, 8): False, date(2027, 10, 9): True},
                           complete_years=[2027])
    assert not entered.is_estimated_year(2027)
    assert entered.day_info(date(2027, 10, 9)).is_workday  # the make-up Saturday
    assert entered.day_info(date(2027, 10, 11)).source is CalendarSource.OPERATOR_SCHEDULE


def test_spring_festival_runs_from_the_eve_even_when_the_library_lacks_it():
    new_year = date(2030, 2, 3)
    extra = usual_days_off(2030, {new_year: "Chinese New Year (Spring Festival)"})
    spring = sorted(day for day, name in extra.items() if name == "Spring Festival")
    assert spring[0] == date(2030, 2, 2) and spring[-1] == date(2030, 2, 10)
    assert len(spring) == 8  # the eve and 初二 … 初七 (初一 is the library's own)


def test_a_thursday_holiday_after_a_wednesday_one_is_not_bridged():
    wednesday, thursday = date(2030, 6, 5), date(2030, 6, 6)
    assert date(2030, 6, 7) not in usual_days_off(2030, {wednesday: "x", thursday: "x"})


def test_a_holiday_two_days_after_another_is_still_bridged():
    sunday, tuesday = date(2030, 6, 2), date(2030, 6, 4)
    assert date(2030, 6, 3) in usual_days_off(2030, {sunday: "x", tuesday: "x"})

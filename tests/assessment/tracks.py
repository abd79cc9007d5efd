"""Track data for the tests: a walk along a route, one GPS fix every ``step`` seconds,
as a phone records it (local Asia/Shanghai clock)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from gridgov_common.kernel.work_calendar import WorkCalendar
from services.assessment.compliance import TZ


def recent_workday() -> date:
    """The latest working day before today (tracks must be younger than the upload limit)."""
    day = datetime.now(TZ).date() - timedelta(days=1)
    calendar = WorkCalendar()  # no operator overrides in these tests
    while not calendar.is_workday(day):
        day -= timedelta(days=1)
    return day


def walk(day: date, start: time, end: time, lon_lat: tuple[float, float],
         step: int = 300, prefix: str = "p", drift: float = 0.0001) -> list[dict]:
    """Fixes from ``start`` to ``end`` (inclusive) wandering a little around ``lon_lat``."""
    moment = datetime.combine(day, start, TZ)
    stop = datetime.combine(day, end, TZ)
    points, n = [], 0
    while moment <= stop:
        lon = lon_lat[0] + drift * (n % 5)
        lat = lon_lat[1] + drift * (n % 3)
        points.append({"id": f"{prefix}{n}", "recorded_at": moment.isoformat(),
                       "lon": lon, "lat": lat})
        moment += timedelta(seconds=step)
        n += 1
    return points

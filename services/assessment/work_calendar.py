"""The working calendar as dispatch keeps it (its overrides and entered State Council
notices), for the field-work rules: a daily patrol is required on a working day (P5.4.3),
and that must be the same working day the deadlines count (issue 11: assessment built the
calendar alone and a 调休 Saturday was a working day for one and not the other).

Read from dispatch's ``calendar_data`` RPC at most every ``TTL_SECONDS``; while dispatch
does not answer, the last calendar read is used (or, before any, the libraries' calendar
alone, with a warning).
"""

from __future__ import annotations

import logging
import time
from datetime import date

from gridgov_common.errors import ServiceUnavailable
from gridgov_common.rpc import TimedClient, TimedRpcProxy, timeout_setting
from services.dispatch.domain.calendar import WorkCalendar

log = logging.getLogger(__name__)
TTL_SECONDS = 300.0
_cached: list[tuple[float, WorkCalendar]] = []


class CalendarClient:
    def __init__(self, rpc: TimedClient) -> None:
        self.rpc = rpc

    def calendar(self) -> WorkCalendar:
        if _cached and time.monotonic() - _cached[0][0] < TTL_SECONDS:
            return _cached[0][1]
        try:
            data = self.rpc.call("calendar_data")
        except ServiceUnavailable:
            log.warning("dispatch did not answer calendar_data: field work uses the last "
                        "calendar read (or the libraries' alone)")
            return _cached[0][1] if _cached else WorkCalendar()
        overrides = {date.fromisoformat(day): bool(workday)
                     for day, workday in data["overrides"].items()}
        previous = _cached[0][1] if _cached else None
        if previous is None or previous.overrides != overrides \
                or previous.complete_years != frozenset(data["complete_years"]):
            previous = WorkCalendar(overrides, complete_years=data["complete_years"])
        _cached[:] = [(time.monotonic(), previous)]
        return previous


class DispatchCalendar(TimedRpcProxy):
    """``RpcProxy("dispatch")`` with a time limit, injecting a :class:`CalendarClient`."""

    def __init__(self) -> None:
        super().__init__("dispatch", timeout_setting("CALENDAR_RPC_TIMEOUT_SECONDS", 5),
                         CalendarClient)


def forget() -> None:
    """Drop the cached calendar (tests)."""
    _cached.clear()

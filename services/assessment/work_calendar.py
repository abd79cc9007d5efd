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
import uuid
from datetime import date

from gridgov_common.errors import ServiceUnavailable
from gridgov_common.rpc import TimedClient, TimedRpcProxy, timeout_setting
from gridgov_common.work_calendar import WorkCalendar

log = logging.getLogger(__name__)
TTL_SECONDS = 300.0
# one cache per running container (its provider's key): a container's calendar is never
# another's, and a new one starts from dispatch's current calendar
_cached: dict[str, tuple[float, WorkCalendar]] = {}


class CalendarClient:
    def __init__(self, rpc: TimedClient, key: str) -> None:
        self.rpc = rpc
        self.key = key

    def calendar(self) -> WorkCalendar:
        cached = _cached.get(self.key)
        if cached and time.monotonic() - cached[0] < TTL_SECONDS:
            return cached[1]
        try:
            data = self.rpc.call("calendar_data")
        except ServiceUnavailable:
            log.warning("dispatch did not answer calendar_data: field work uses the last "
                        "calendar read (or the libraries' alone)")
            return cached[1] if cached else WorkCalendar()
        overrides = {date.fromisoformat(day): bool(workday)
                     for day, workday in data["overrides"].items()}
        previous = cached[1] if cached else None
        if previous is None or previous.overrides != overrides \
                or previous.complete_years != frozenset(data["complete_years"]):
            previous = WorkCalendar(overrides, complete_years=data["complete_years"])
        _cached[self.key] = (time.monotonic(), previous)
        return previous


class DispatchCalendar(TimedRpcProxy):
    """``RpcProxy("dispatch")`` with a time limit, injecting a :class:`CalendarClient`."""

    def __init__(self) -> None:
        super().__init__("dispatch", timeout_setting("CALENDAR_RPC_TIMEOUT_SECONDS", 5),
                         self._client)
        self.key = str(uuid.uuid4())

    def _client(self, rpc: TimedClient) -> CalendarClient:
        return CalendarClient(rpc, self.key)

    def stop(self) -> None:
        _cached.pop(self.key, None)
        super().stop()


def forget() -> None:
    """Drop every cached calendar (tests: read dispatch's again at once)."""
    _cached.clear()

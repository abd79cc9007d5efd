"""Everything the assessment asks dispatch, through ONE proxy (issue 13): the handling
figures of circulars (P5.3.5), the KPIs of the half-year assessment (P5.4.6), the working
calendar of field-work rules (P5.4.3) and the dashboard's case statistics.

Each question keeps its own time limit (a circular's figures may take a minute; the
calendar must not hold a page for more than a few seconds). Arguments and replies are
checked against the RPC contract by ``TimedClient`` (docs/RPC-CONTRACT.md).
"""

from __future__ import annotations

import logging
import time
import uuid
from datetime import date, datetime
from typing import Any

from nameko.exceptions import RemoteError

from gridgov_common.kernel.errors import NotFound, ServiceUnavailable
from gridgov_common.kernel.work_calendar import WorkCalendar
from gridgov_common.platform.rpc import TimedClient, TimedRpcProxy
from services.assessment import settings as declared
from services.assessment.dashboard.schemas import CaseStatisticsSchema

log = logging.getLogger(__name__)
CALENDAR_TTL_SECONDS = 300.0
# one calendar cache per running container (its provider's key): a container's calendar
# is never another's, and a new one starts from dispatch's current calendar
_calendars: dict[str, tuple[float, WorkCalendar]] = {}


def time_limits(config: dict) -> dict[str, float]:
    """Seconds per question, from the service's configuration."""
    return {
        "handling_figures": declared.CIRCULAR_RPC_TIMEOUT_SECONDS.read(config),
        "kpis": declared.APPRAISAL_RPC_TIMEOUT_SECONDS.read(config),
        "calendar_data": declared.CALENDAR_RPC_TIMEOUT_SECONDS.read(config),
        "case_statistics": declared.DASHBOARD_TIMEOUT_SECONDS.read(config),
        "get_case": declared.DASHBOARD_TIMEOUT_SECONDS.read(config),
    }


class DispatchClient:
    def __init__(self, rpc: TimedClient, limits: dict[str, float], calendar_key: str) -> None:
        self.rpc = rpc
        self.limits = limits
        self.calendar_key = calendar_key

    def _call(self, method: str, *args: Any) -> Any:
        return self.rpc.within(self.limits[method]).call(method, *args)

    def handling_figures(self, scope: str, start: datetime, end: datetime) -> dict[str, Any]:
        """How the items sent in [start, end) were handled (circulars, P5.3.5)."""
        return self._call("handling_figures", scope, start.isoformat(), end.isoformat())

    def kpis(self, scope: str, first: str, last: str, by: str,
             timeout: float | None = None) -> dict[str, Any]:
        """Case-handling KPIs of a period (the half-year assessment, P5.4.6)."""
        if timeout is not None:  # the wall's day figures: a few seconds, not a report's minute
            return self.rpc.within(timeout).call("kpis", scope, first, last, by)
        return self._call("kpis", scope, first, last, by)

    def case_statistics(self, scope: str) -> dict[str, Any]:
        """Counts by grid, department and town, recent cases and escalations (validated
        as the dashboard reads them)."""
        return CaseStatisticsSchema().load(self._call("case_statistics", scope))

    def case(self, case_id: str, role: str, scope: str) -> dict[str, Any]:
        """The case as ``role`` over ``scope`` sees it (a person acknowledging a major
        event on the wall, issue 14); ``NotFound`` when it may not see it."""
        try:
            return self._call("get_case", case_id, role, scope)
        except RemoteError as exc:
            if exc.exc_type == "NotFound":
                raise NotFound(f"no case {case_id}") from None
            raise

    def calendar(self) -> WorkCalendar:
        """dispatch's working calendar (read every five minutes): field-work rules count
        the same working days as deadlines (issue 11). A dispatch that does not answer
        leaves the last calendar read (or the libraries' alone)."""
        cached = _calendars.get(self.calendar_key)
        if cached and time.monotonic() - cached[0] < CALENDAR_TTL_SECONDS:
            return cached[1]
        try:
            data = self._call("calendar_data")
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
        _calendars[self.calendar_key] = (time.monotonic(), previous)
        return previous


class Dispatch(TimedRpcProxy):
    """``RpcProxy("dispatch")`` injecting a :class:`DispatchClient`."""

    def __init__(self) -> None:
        super().__init__("dispatch", lambda config: max(time_limits(config).values()),
                         self._client)
        self.calendar_key = str(uuid.uuid4())

    def setup(self) -> None:
        super().setup()
        self.limits = time_limits(self.container.config)

    def _client(self, rpc: TimedClient) -> DispatchClient:
        return DispatchClient(rpc, self.limits, self.calendar_key)

    def stop(self) -> None:
        _calendars.pop(self.calendar_key, None)
        super().stop()


def forget() -> None:
    """Drop every cached calendar (tests: read dispatch's again at once)."""
    _calendars.clear()

"""Events refreshes its copy of the grids at start, hourly after a run that succeeded and
at the timer's next tick (SYNC_RETRY_SECONDS) after one that failed
(services/events/grid_index.py): a registry that starts after events no longer leaves
every report placed by an RPC for an hour."""

from __future__ import annotations

from nameko.testing.services import worker_factory

from gridgov_common.kernel.errors import ServiceUnavailable
from services.events import grid_index
from services.events.service import EventsService


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_due_at_start_hourly_after_success_soon_after_failure():
    clock = Clock()
    schedule = grid_index.SyncSchedule(clock)
    assert schedule.due()
    schedule.succeeded()
    clock.now += grid_index.SYNC_SECONDS - 1
    assert not schedule.due()
    clock.now += 1
    assert schedule.due()
    schedule.succeeded()
    schedule.failed()  # the timer ticks every SYNC_RETRY_SECONDS: due at the next tick
    assert schedule.due()
    assert grid_index.SYNC_RETRY_SECONDS < grid_index.SYNC_SECONDS


class Registry:
    """The registry's two sync questions: down for the first ``down`` calls."""

    def __init__(self, down: int) -> None:
        self.down = down
        self.asked = 0

    def grid_outlines(self):
        self.asked += 1
        if self.asked <= self.down:
            raise ServiceUnavailable("registry is not running", code="registry_unavailable")
        return [{"grid_code": "320505001001002"}, {"grid_code": "320505001001001"}]

    def grid_geometry(self, codes):
        return []


def test_the_timer_retries_a_failed_sync_and_then_waits_an_hour(monkeypatch):
    clock = Clock()
    schedule = grid_index.SyncSchedule(clock)
    registry = Registry(down=1)
    synced: list[list[str]] = []
    monkeypatch.setattr(grid_index, "sync_all",
                        lambda db, codes, fetch: synced.append(codes) or len(codes))
    service = worker_factory(EventsService, grid_sync=schedule, registry=registry)
    service.sync_grid_index()  # the registry is down: nothing copied, due at the next tick
    assert (registry.asked, synced) == (1, [])
    clock.now += grid_index.SYNC_RETRY_SECONDS
    service.sync_grid_index()
    assert synced == [["320505001001001", "320505001001002"]]
    clock.now += grid_index.SYNC_RETRY_SECONDS
    service.sync_grid_index()  # succeeded: the next run is an hour later
    assert registry.asked == 2
    clock.now += grid_index.SYNC_SECONDS
    service.sync_grid_index()
    assert registry.asked == 3 and len(synced) == 2

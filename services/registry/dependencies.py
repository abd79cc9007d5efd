"""Dependency providers of the registry: each injects a small domain-shaped interface."""

from __future__ import annotations

import logging
import time

from nameko.extensions import DependencyProvider

from gridgov_common.platform.db import Database, transaction
from services.registry import places
from services.registry.domain.spatial import GridIndex

log = logging.getLogger(__name__)


class GridLocator(DependencyProvider):
    """Point → grid from an in-memory STRtree snapshot of the grids valid today.

    Each replica keeps its own snapshot and rebuilds it when the grid table's fingerprint
    changes (checked by a timer, and at once after a local change); readers keep the old
    snapshot until the new one is swapped in whole.
    """

    # a miss re-checks the database at most this often (misses must not cost a query each)
    MISS_RECHECK_SECONDS = 1.0

    def setup(self) -> None:
        self.index = GridIndex.build([])
        self.version: tuple | None = None
        self._last_miss_check = float("-inf")  # never checked, even just after boot

    def start(self) -> None:
        self.refresh_if_changed()

    def _engine(self):
        for provider in self.container.dependencies:
            if isinstance(provider, Database) and provider.engine is not None:
                return provider.engine
        raise RuntimeError("GridLocator needs a Database dependency on the service")

    def refresh_if_changed(self) -> bool:
        with transaction(self._engine()) as session:
            version = places.grid_version(session)
            if version == self.version:
                return False
            shapes = places.active_grid_shapes(session)
        self.index = GridIndex.build(shapes)
        self.version = version
        log.info("grid index rebuilt: %d grids", len(self.index))
        return True

    def get_dependency(self, worker_ctx) -> GridLocator:
        return self

    def lookup(self, lon: float, lat: float) -> str | None:
        return self.index.lookup(lon, lat)

    def locate(self, lon: float, lat: float) -> str | None:
        """Look up; on a miss, pick up grids drawn since the last rebuild (rate-limited) and
        look again whenever the snapshot changed — also when another request rebuilt it."""
        index = self.index
        found = index.lookup(lon, lat)
        if found is not None:
            return found
        now = time.monotonic()
        if now - self._last_miss_check >= self.MISS_RECHECK_SECONDS:
            self._last_miss_check = now
            self.refresh_if_changed()
        if self.index is not index:
            return self.index.lookup(lon, lat)
        return None

    def lookup_many(self, points: list[tuple[float, float]]) -> list[str | None]:
        return self.index.lookup_many(points)

"""Names from the registry, for what people read: a town's daily digest says 枫桥街道, not
320505001, and a department's to-do list where each case is (``place_names`` with the
grids, asked once an hour per district), and a case file page names
its place, building and staff (``case_context``, asked per page).  A registry that does not
answer costs the names, not the digest or the page (the codes stay).
"""

from __future__ import annotations

import logging
import time
from typing import Any

from gridgov_common.kernel.area import community_of, district_of, town_of
from gridgov_common.kernel.errors import ServiceUnavailable
from gridgov_common.platform.rpc import TimedClient, TimedRpcProxy
from services.dispatch.settings import REGISTRY_RPC_TIMEOUT_SECONDS

log = logging.getLogger(__name__)
TTL_SECONDS = 3600.0
RETRY_SECONDS = 60.0
_cache: dict[str, tuple[float, dict[str, dict[str, str]]]] = {}
_asked: dict[str, float] = {}  # district → when the registry was last asked (monotonic)


class RegistryNames:
    def __init__(self, rpc: TimedClient) -> None:
        self.rpc = rpc

    def case_context(self, grid_code: str, building_id: int | None, subjects: list[str],
                     on: str | None = None) -> dict[str, Any] | None:
        """Place, building and staff names of one case — the places by their names on
        ``on`` (ISO date: the day it was reported) — or None when the registry does not
        answer (the page then shows codes)."""
        try:
            return self.rpc.call("case_context", grid_code, building_id, subjects, on)
        except ServiceUnavailable:
            log.warning("registry did not answer case_context(%s): the page shows codes",
                        grid_code)
            return None

    def of(self, town_code: str) -> str | None:
        """The town's name, or None when the registry has none (or does not answer)."""
        return self._district(district_of(town_code)).get("towns", {}).get(town_code)

    def place(self, grid_code: str) -> dict[str, str | None]:
        """The names of a grid and of its community and town (a department's to-do list
        says where, in words); None where the registry has none or does not answer."""
        district = district_of(grid_code)
        known = self._district(district)
        if grid_code not in known.get("grids", {}) and \
                time.monotonic() - _asked.get(district, 0.0) > RETRY_SECONDS:
            known = self._district(district, fresh=True)  # a grid issued since: ask again
        return {"town": known.get("towns", {}).get(town_of(grid_code)),
                "community": known.get("communities", {}).get(community_of(grid_code)),
                "grid": known.get("grids", {}).get(grid_code)}

    def _district(self, district: str, fresh: bool = False) -> dict[str, dict[str, str]]:
        cached = _cache.get(district)
        if cached and not fresh and time.monotonic() - cached[0] < TTL_SECONDS:
            return cached[1]
        _asked[district] = time.monotonic()
        try:
            found = self.rpc.call("place_names", district, True, None)
            names = {level: dict(found.get(level) or {})
                     for level in ("towns", "communities", "grids")}
        except ServiceUnavailable:
            log.warning("registry did not answer place_names(%s): codes are shown", district)
            names = cached[1] if cached else {}
            # asked again in a minute, not at every digest of this tick
            _cache[district] = (time.monotonic() - TTL_SECONDS + RETRY_SECONDS, names)
            return names
        _cache[district] = (time.monotonic(), names)
        return names


class Registry(TimedRpcProxy):
    """``RpcProxy("registry")`` with a time limit, injecting :class:`RegistryNames`."""

    def __init__(self) -> None:
        super().__init__("registry", REGISTRY_RPC_TIMEOUT_SECONDS,
                         RegistryNames)


def forget() -> None:
    """Drop the cached names (tests)."""
    _cache.clear()
    _asked.clear()

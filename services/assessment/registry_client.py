"""Everything the assessment asks the registry, through ONE proxy (issue 13): names for
the documents people read (circulars, P5.3.5; the half-year report, P5.4.6) and grid
outlines for the patrol checks (P5.4.3). Arguments and replies are checked against the
RPC contract by ``TimedClient`` (docs/RPC-CONTRACT.md)."""

from __future__ import annotations

from typing import Any

from gridgov_common.kernel.errors import ServiceUnavailable
from gridgov_common.platform.rpc import TimedClient, TimedRpcProxy
from services.assessment import appraisal_names
from services.assessment.settings import REGISTRY_RPC_TIMEOUT_SECONDS


class RegistryClient:
    def __init__(self, rpc: TimedClient) -> None:
        self.rpc = rpc

    def for_report(self, scope: str, subjects: list[str], on: str | None = None
                   ) -> dict[str, dict]:
        """Names for the half-year report (cached; ``appraisal_names``)."""
        return appraisal_names.NamesClient(self.rpc).for_report(scope, subjects, on)

    def for_scope(self, scope: str, on: str | None = None) -> dict[str, Any]:
        """Department, town and community names for a circular; ``on`` (ISO date): the
        places by their names that day (division codes are dated, M1). A registry that
        does not answer costs the names, not the circular (codes remain)."""
        try:
            departments = self.rpc.call("list_departments")
            places = self.rpc.call("place_names", scope.partition(":")[2], False, on)
        except ServiceUnavailable:
            return {}
        return {"departments": {d["code"]: {"zh-CN": d["name_zh"], "en": d["name_en"]}
                                for d in departments},
                "districts": places.get("districts", {}),
                "towns": places["towns"], "communities": places["communities"]}

    def grid_geometry(self, grid_codes: list[str]) -> list[dict]:
        """GeoJSON features of the grids. A registry that does not answer raises
        ``ServiceUnavailable``: the message is retried, then dead-lettered."""
        return self.rpc.call("get_grid_geometry", grid_codes)


class Registry(TimedRpcProxy):
    """``RpcProxy("registry")`` with a time limit, injecting a :class:`RegistryClient`."""

    def __init__(self) -> None:
        super().__init__("registry", REGISTRY_RPC_TIMEOUT_SECONDS,
                         RegistryClient)

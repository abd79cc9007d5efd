"""Where the dashboard's figures come from besides dispatch (whose ``case_statistics`` it
asks through the assessment's one dispatch client, ``dispatch_client.py``).

``DashboardSources``: the registry's grid GeoJSON (HTTP, cached briefly: grids change
rarely and the page polls), RabbitMQ's management API and each service's ``/readyz``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import requests
from nameko.extensions import DependencyProvider

from services.assessment.dashboard import health, rabbit
from services.assessment.dashboard.settings import Settings, settings_from_config


class TtlCache:
    """Registry answers by name and when they were fetched (shared by the workers)."""

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self.entries: dict[str, tuple[float, Any]] = {}

    def get(self, name: str) -> Any:
        fetched_at, value = self.entries.get(name, (0.0, None))
        if value is not None and time.monotonic() - fetched_at < self.ttl:
            return value
        return None

    def put(self, name: str, value: Any) -> Any:
        self.entries[name] = (time.monotonic(), value)
        return value


def _feature_collection(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict) or body.get("type") != "FeatureCollection":
        raise ValueError("the registry did not answer with a FeatureCollection")
    return body


def _departments(body: Any) -> list[dict[str, str]]:
    if not isinstance(body, list):
        raise ValueError("the registry did not answer with a list of departments")
    return [{"code": d["code"], "name_zh": d.get("name_zh") or d["code"],
             "name_en": d.get("name_en") or d["code"]} for d in body]


class Sources:
    """What one worker asks: registry data (with the caller's token), queues, health."""

    def __init__(self, settings: Settings, cache: TtlCache) -> None:
        self.settings = settings
        self.cache = cache

    def _registry(self, path: str, authorization: str,
                  shape: Callable[[Any], Any]) -> Any:
        """``GET`` a registry route any signed-in role may read, as the caller; ``shape``
        checks and trims the answer, which is then kept for ``grids_cache_seconds``."""
        cached = self.cache.get(path)
        if cached is not None:
            return cached
        response = requests.get(f"{self.settings.registry_url}{path}",
                                headers={"Authorization": authorization},
                                timeout=self.settings.timeout)
        response.raise_for_status()
        return self.cache.put(path, shape(response.json()))

    def grids(self, authorization: str) -> dict[str, Any]:
        """The registry's valid grids (``GET /grids.geojson``) as a FeatureCollection."""
        return self._registry("/grids.geojson", authorization, _feature_collection)

    def departments(self, authorization: str) -> list[dict[str, str]]:
        """The P4.2 departments' codes with their zh-CN and en names (for the table)."""
        return self._registry("/departments", authorization, _departments)

    def queues(self) -> dict[str, Any]:
        found = rabbit.fetch_queues(self.settings.queues_url, self.settings.timeout)
        return {"vhost": self.settings.vhost, "queues": rabbit.summarise(found)}

    def health(self) -> list[dict[str, Any]]:
        return health.probe_all(self.settings.service_urls, self.settings.timeout)


class DashboardSources(DependencyProvider):
    def setup(self) -> None:
        self.settings = settings_from_config(self.container.config)
        self.cache = TtlCache(self.settings.grids_cache_seconds)

    def get_dependency(self, worker_ctx) -> Sources:
        return Sources(self.settings, self.cache)





"""Dashboard settings read from the nameko config, checked once when the service starts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from gridgov_common.platform.dead_letters import api_url_from_amqp as rabbit_api_url_from_amqp
from gridgov_common.platform.dead_letters import vhost_from_amqp
from gridgov_common.platform.settings import AMQP_URI
from services.assessment import settings as declared

DEFAULT_TIMEOUT = declared.DASHBOARD_TIMEOUT_SECONDS.default
DEFAULT_GRIDS_CACHE_SECONDS = declared.DASHBOARD_GRIDS_CACHE_SECONDS.default


@dataclass(frozen=True)
class Settings:
    registry_url: str
    rabbit_api_url: str
    vhost: str
    service_urls: dict[str, str]
    timeout: float
    grids_cache_seconds: float

    @property
    def queues_url(self) -> str:
        return f"{self.rabbit_api_url}/api/queues/{quote(self.vhost, safe='')}"


def parse_service_urls(value: Any) -> dict[str, str]:
    """A YAML mapping, or ``"name=url,name=url"`` as an environment variable gives it."""
    return declared.parse_service_urls(declared.SERVICE_URLS.key, value) if value else {}


def settings_from_config(config: dict[str, Any]) -> Settings:
    """Read and check the dashboard's keys (services/assessment/settings.py); a bad value
    stops the service at start."""
    amqp_uri = AMQP_URI.read(config)
    registry_url = declared.REGISTRY_URL.read(config).rstrip("/")
    rabbit_api = declared.RABBIT_API_URL.read(config) or rabbit_api_url_from_amqp(amqp_uri)
    return Settings(
        registry_url=registry_url,
        rabbit_api_url=rabbit_api.rstrip("/"),
        vhost=declared.RABBIT_VHOST.read(config) or vhost_from_amqp(amqp_uri),
        service_urls=declared.SERVICE_URLS.read(config),
        timeout=declared.DASHBOARD_TIMEOUT_SECONDS.read(config),
        grids_cache_seconds=declared.DASHBOARD_GRIDS_CACHE_SECONDS.read(config),
    )

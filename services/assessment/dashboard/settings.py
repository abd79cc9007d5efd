"""Dashboard settings read from the nameko config, checked once when the service starts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from gridgov_common.config import positive_number

from gridgov_common.dead_letters import api_url_from_amqp as rabbit_api_url_from_amqp
from gridgov_common.dead_letters import vhost_from_amqp

DEFAULT_TIMEOUT = 3.0
DEFAULT_GRIDS_CACHE_SECONDS = 60.0


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
    if not value:
        return {}
    if isinstance(value, dict):
        pairs = [(str(k), str(v)) for k, v in value.items()]
    else:
        pairs = [tuple(item.split("=", 1)) for item in str(value).split(",") if item.strip()]
    urls: dict[str, str] = {}
    for pair in pairs:
        name, url = (pair[0].strip(), pair[1].strip()) if len(pair) == 2 else ("", "")
        if not name or not url.startswith(("http://", "https://")):
            raise RuntimeError(f"SERVICE_URLS: want name=http://host:port, got {pair!r}")
        urls[name] = url.rstrip("/")
    return urls


def settings_from_config(config: dict[str, Any]) -> Settings:
    """Read and check the dashboard's keys; a bad value stops the service at start."""
    amqp_uri = str(config.get("AMQP_URI") or "pyamqp://guest:guest@127.0.0.1:5672/")
    registry_url = str(config.get("REGISTRY_URL") or "http://127.0.0.1:8001").rstrip("/")
    rabbit_api = str(config.get("RABBIT_API_URL") or rabbit_api_url_from_amqp(amqp_uri))
    return Settings(
        registry_url=registry_url,
        rabbit_api_url=rabbit_api.rstrip("/"),
        vhost=str(config.get("RABBIT_VHOST") or vhost_from_amqp(amqp_uri)),
        service_urls=parse_service_urls(config.get("SERVICE_URLS")),
        timeout=positive_number(config, "DASHBOARD_TIMEOUT_SECONDS", DEFAULT_TIMEOUT),
        grids_cache_seconds=positive_number(config, "DASHBOARD_GRIDS_CACHE_SECONDS",
                                            DEFAULT_GRIDS_CACHE_SECONDS),
    )

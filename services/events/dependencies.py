"""Dependency providers of the events service: its settings and the registry client.

Each injects a small domain-shaped interface, so the plain modules (``cases``, ``intake``,
``open311``) never touch nameko.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from dataclasses import dataclass
from typing import Any

from nameko.exceptions import RemoteError
from nameko.extensions import DependencyProvider

from gridgov_common.platform.rpc import TimedClient, TimedRpcProxy
from gridgov_common.platform.settings import check_container
from gridgov_common.platform.web import JWT_SECRET
from services.events import grid_index
from services.events import settings as declared
from services.events.domain.numbers import check_prefix

log = logging.getLogger(__name__)

DEFAULT_CHALLENGE_BITS = declared.RESIDENT_CHALLENGE_BITS.default  # ~65,000 hashes: a
# second or two in a phone's browser
DEFAULT_CHALLENGE_TTL = declared.RESIDENT_CHALLENGE_TTL_SECONDS.default


@dataclass(frozen=True)
class Settings:
    case_number_prefix: str
    duplicate_distance_m: float
    duplicate_window_hours: float
    open311_api_keys: tuple[str, ...]
    cap_sender: str
    open311_contact: str
    registry_timeout: float
    photo_retention_hours: float = 48.0  # an upload no case shows is deleted after this
    # the residents' report page (issue 12, docs/RESIDENT-REPORTS.md)
    challenge_secret: bytes = b""  # HMAC key of its proof-of-work challenges
    challenge_bits: int = DEFAULT_CHALLENGE_BITS
    challenge_ttl_seconds: int = DEFAULT_CHALLENGE_TTL
    tile_url: str = ""  # a raster base map's tile-URL template; empty: outlines only
    tile_attribution: str = ""

    def open311_client(self, api_key: str | None) -> str | None:
        """A stable pseudonym of the Open311 client holding ``api_key`` (never the key
        itself, which must not reach the database), or None if the key is not ours."""
        if not api_key:
            return None
        given = api_key.encode()
        for key in self.open311_api_keys:
            if hmac.compare_digest(given, key.encode()):
                return "open311:" + hashlib.sha256(given).hexdigest()[:12]
        return None


def challenge_secret(config: dict[str, Any]) -> bytes:
    """The proof-of-work HMAC key, derived from the service's signing secret (one secret
    less to distribute; rotating JWT_SECRET only voids challenges issued minutes ago)."""
    secret = (JWT_SECRET.read(config) if JWT_SECRET.given(config) else "").encode()
    return hmac.new(secret, b"gridgov events resident challenge v1", hashlib.sha256).digest()


def settings_from_config(config: dict[str, Any]) -> Settings:
    """Read and check the events settings (services/events/settings.py); a bad value stops
    the service at start."""
    return Settings(
        case_number_prefix=check_prefix(declared.CASE_NUMBER_PREFIX.read(config)),
        duplicate_distance_m=declared.DUPLICATE_DISTANCE_METRES.read(config),
        duplicate_window_hours=declared.DUPLICATE_WINDOW_HOURS.read(config),
        open311_api_keys=declared.OPEN311_API_KEYS.read(config),
        cap_sender=declared.CAP_SENDER.read(config),
        open311_contact=declared.OPEN311_CONTACT.read(config),
        registry_timeout=declared.REGISTRY_RPC_TIMEOUT.read(config),
        photo_retention_hours=declared.PHOTO_RETENTION_HOURS.read(config),
        challenge_secret=challenge_secret(config),
        challenge_bits=declared.RESIDENT_CHALLENGE_BITS.read(config),
        challenge_ttl_seconds=declared.RESIDENT_CHALLENGE_TTL_SECONDS.read(config),
        tile_url=declared.RESIDENT_TILE_URL.read(config).strip(),
        tile_attribution=declared.RESIDENT_TILE_ATTRIBUTION.read(config).strip(),
    )


class EventsSettings(DependencyProvider):
    def setup(self) -> None:
        check_container(self.container)
        self.settings = settings_from_config(self.container.config)
        if not self.settings.open311_api_keys:
            log.warning("OPEN311_API_KEYS is empty: Open311 POST requests are refused")

    def get_dependency(self, worker_ctx) -> Settings:
        return self.settings


class RegistryClient:
    """The registry questions intake asks, with a time limit.

    Why a time limit: nameko's RPC waits forever for a reply, and a registry that is down
    would hang every report; better to answer 503 (HTTP) or requeue (bus) at once.
    """

    def __init__(self, rpc: TimedClient) -> None:
        self.rpc = rpc

    def lookup_point(self, lon: float, lat: float) -> dict[str, str] | None:
        """{grid_code, community_code, town_code} of the grid containing the point."""
        return self._call("lookup_point", lon, lat)

    def lookup_points(self, points: list[tuple[float, float]]) -> list[str | None]:
        """The grid code containing each (lon, lat), None where no grid does: one call
        for a whole batch of reports."""
        return self._call("lookup_points", [list(point) for point in points])

    def grid(self, grid_code: str) -> dict[str, Any] | None:
        """The grid's summary (valid_from/valid_to …), or None if no such grid."""
        try:
            return self._call("get_grid_summary", grid_code)
        except RemoteError as exc:
            if exc.exc_type == "NotFound":
                return None
            raise

    def find_address(self, text: str) -> list[dict[str, Any]]:
        """Up to two buildings whose address contains ``text`` (Open311 address_string)."""
        return self._call("find_address", text)

    def building_location(self, building_id: int) -> dict[str, Any] | None:
        """The building's address and point (Open311 address_id), or None."""
        return self._call("building_location", building_id)

    def resident_grids(self, resident_ids: list[int]) -> dict[int, str]:
        """The grid of each given resident that exists (unknown ids are left out)."""
        return {int(row["resident_id"]): str(row["grid_code"])
                for row in self._call("resident_grids", list(resident_ids))}

    def grid_geometry(self, grid_codes: list[str]) -> list[dict[str, Any]]:
        """GeoJSON features of the given grids with their validity (grid_index.py)."""
        return self._call("get_grid_geometry", list(grid_codes))

    def grid_outlines(self) -> list[dict[str, Any]]:
        """Simplified outlines of the grids valid today (the residents' page map)."""
        return self._call("grid_outlines")

    def keep_callback_phone(self, case_number: str, phone: str, grid_code: str
                            ) -> dict[str, Any]:
        """Hand a resident's call-back phone to the registry, which keeps it encrypted."""
        return self._call("keep_callback_phone", case_number, phone, grid_code)

    def _call(self, method: str, *args):
        return self.rpc.call(method, *args)


class GridSync(DependencyProvider):
    """The container's :class:`~services.events.grid_index.SyncSchedule` (one per service
    instance: every worker of the timer sees the same)."""

    def setup(self) -> None:
        self.schedule = grid_index.SyncSchedule()

    def get_dependency(self, worker_ctx) -> grid_index.SyncSchedule:
        return self.schedule


class Registry(TimedRpcProxy):
    """``RpcProxy("registry")`` with a time limit, injecting a :class:`RegistryClient`."""

    def __init__(self) -> None:
        super().__init__("registry", declared.REGISTRY_RPC_TIMEOUT, RegistryClient)

"""The running platform as the simulator sees it: the registry's grids, the events app
API, dispatch's case list and actions — plain HTTP with role tokens minted from the
platform's signing secret (the demo holds it; a real district's app gets its tokens from
the identity provider)."""

from __future__ import annotations

import time
from typing import Any

import requests
from shapely.geometry import shape

from gridgov_common.kernel.auth import mint

TIMEOUT = 30
REMINT_SECONDS = 600.0  # well inside the default token lifetime (gridgov_common.kernel.auth)


class PlatformError(RuntimeError):
    """A call answered with an error the simulator cannot act on."""


class Platform:
    """``urls``: base URLs of ``registry``, ``events`` and ``dispatch``."""

    def __init__(self, urls: dict[str, str], jwt_secret: str, district: str) -> None:
        self.urls = {name: url.rstrip("/") for name, url in urls.items()}
        self.secret = jwt_secret
        self.district = district
        self.http = requests.Session()
        self._tokens: dict[tuple[str, str, str], tuple[str, float | None]] = {}

    def headers(self, role: str, scope: str, sub: str) -> dict[str, str]:
        key = (role, scope, sub)
        token, minted = self._tokens.get(key, ("", None))
        # Tokens expire and a demo runs for days.  ``None`` means never minted: a monotonic
        # clock starts near 0 at boot, so "minted at 0" would look fresh for the first
        # REMINT_SECONDS after a reboot and the empty token would be sent.
        if minted is None or time.monotonic() - minted > REMINT_SECONDS:
            token = mint(self.secret, sub=sub, role=role, scope=scope, name="模拟 / simulated")
            self._tokens[key] = (token, time.monotonic())
        return {"Authorization": f"Bearer {token}"}

    def _call(self, method: str, service: str, path: str, headers: dict[str, str],
              **kwargs: Any) -> dict[str, Any]:
        response = self.http.request(method, self.urls[service] + path, headers=headers,
                                     timeout=TIMEOUT, **kwargs)
        if response.status_code >= 400:
            raise PlatformError(f"{method} {service}{path}: {response.status_code} "
                                f"{response.text[:300]}")
        return response.json()

    def grids(self) -> list[dict[str, Any]]:
        """Every valid grid with a point inside it (where the simulated worker stands)."""
        admin = self.headers("district_admin", f"district:{self.district}", "sim-admin")
        features = self._call("GET", "registry", "/grids.geojson", admin)["features"]
        grids = []
        for feature in features:
            point = shape(feature["geometry"]).representative_point()
            grids.append({"grid_code": feature["properties"]["grid_code"],
                          "point": {"lon": point.x, "lat": point.y}})
        return grids

    def report(self, grid_code: str, body: dict[str, Any]) -> dict[str, Any]:
        """P5.1.5: the grid's neighbourhood grid worker reports from the app."""
        worker = self.headers("neighbourhood_grid_worker", f"grid:{grid_code}",
                              f"demo-neighbourhood_grid_worker-{grid_code}")
        return self._call("POST", "events", "/cases", worker, json=body)

    def cases(self, state: str, limit: int = 200) -> list[dict[str, Any]]:
        viewer = self.headers("district_admin", f"district:{self.district}", "sim-admin")
        return self._call("GET", "dispatch", "/cases", viewer,
                          params={"state": state, "limit": limit})["items"]

    def act(self, case: dict[str, Any], action: str, role: str, scope: str,
            body: dict[str, Any]) -> dict[str, Any]:
        """``action``: triage, local-result or return-visit, as the person at ``scope``."""
        person = self.headers(role, scope, f"demo-{role}-{scope.split(':', 1)[1]}")
        return self._call("POST", "dispatch", f"/cases/{case['case_id']}/{action}", person,
                          json=body)

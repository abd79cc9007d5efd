"""Service health: each service's ``GET /readyz`` (database and broker reachable)."""

from __future__ import annotations

from typing import Any

import eventlet
import requests


def probe(name: str, base_url: str, timeout: float) -> dict[str, Any]:
    """``ready`` (200), ``not_ready`` (it answered, a check failed) or ``unreachable``."""
    row: dict[str, Any] = {"service": name, "url": base_url, "status": "unreachable",
                           "checks": {}, "detail": ""}
    try:
        response = requests.get(f"{base_url}/readyz", timeout=timeout)
    except requests.RequestException as exc:
        row["detail"] = type(exc).__name__
        return row
    try:
        body = response.json()
    except ValueError:
        body = {}
    if response.status_code == 200:
        row.update(status="ready", checks=body.get("checks") or {})
        return row
    error = body.get("error") if isinstance(body, dict) else None
    row.update(status="not_ready", detail=f"HTTP {response.status_code}",
               checks=(error or {}).get("fields") or {})
    return row


def probe_all(service_urls: dict[str, str], timeout: float) -> list[dict[str, Any]]:
    """All probes at once (green threads), so one slow service costs one timeout."""
    if not service_urls:
        return []
    pool = eventlet.GreenPool(len(service_urls))
    names = sorted(service_urls)
    return list(pool.imap(lambda n: probe(n, service_urls[n], timeout), names))

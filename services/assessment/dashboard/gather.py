"""The one JSON document the page polls: every section fetched at once, each one failing
on its own (an operations screen must keep showing what it can when a source is down)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import eventlet
from marshmallow import ValidationError

from gridgov_common.kernel.errors import ApiError

log = logging.getLogger(__name__)


def in_scope(collection: dict[str, Any], scope_code: str) -> dict[str, Any]:
    """Only the grids whose code lies under the caller's district (P4.1 nested codes)."""
    features = [f for f in collection.get("features") or []
                if str((f.get("properties") or {}).get("grid_code", "")).startswith(scope_code)]
    return {"type": "FeatureCollection", "features": features}


def _rank_key(town: dict[str, Any]) -> tuple:
    rate = town.get("closure_rate")
    return (rate is None, -(rate or 0.0), -int(town.get("total") or 0), town["town_code"])


def rank_towns(towns: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Best closure rate first; towns without cases (rate null) last; ties by volume."""
    return [{**town, "rank": n} for n, town in enumerate(sorted(towns, key=_rank_key), 1)]


def with_rankings(stats: dict[str, Any]) -> dict[str, Any]:
    return {**stats, "by_town": rank_towns(stats["by_town"])}


def describe(exc: Exception) -> str:
    """A short operator-readable reason (never a traceback) for a section that failed."""
    if isinstance(exc, ApiError):
        return exc.message
    if isinstance(exc, ValidationError):
        return f"unexpected reply: {exc.messages}"
    return f"{type(exc).__name__}: {exc}"[:300]


def _run(name: str, fetch: Callable[[], Any]) -> tuple[str, Any, str | None]:
    try:
        return name, fetch(), None
    except Exception as exc:  # a failing source becomes a message on the page
        log.warning("dashboard section %s failed: %s", name, exc)
        return name, None, describe(exc)


def gather(scope: str, fetchers: dict[str, Callable[[], Any]]) -> dict[str, Any]:
    """Run the fetchers concurrently; ``{section: value or None, "errors": {section: why}}``."""
    pool = eventlet.GreenPool(max(len(fetchers), 1))
    document: dict[str, Any] = {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "scope": scope, "errors": {}}
    for name, value, error in pool.imap(lambda item: _run(*item), fetchers.items()):
        document[name] = value
        if error is not None:
            document["errors"][name] = error
    return document

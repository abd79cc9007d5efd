"""Reading numbers from a service's config: a bad value stops the service at start, with
the key named, instead of failing later in a worker."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def positive_number(config: Mapping[str, Any], key: str, default: float) -> float:
    """``config[key]`` as a positive float; ``default`` when missing or empty."""
    value = config.get(key)
    if value in (None, ""):
        return default
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise RuntimeError(f"config {key} must be a number, got {value!r}") from None
    if number <= 0:
        raise RuntimeError(f"config {key} must be positive")
    return number

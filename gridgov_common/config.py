"""Reading numbers from a service's config: a bad value stops the service at start, with
the key named, instead of failing later in a worker."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any


def positive_number(config: Mapping[str, Any], key: str, default: float) -> float:
    """``config[key]`` as a positive float; ``default`` when missing or empty."""
    number = _number(config, key, default)
    if number <= 0:
        raise RuntimeError(f"config {key} must be positive")
    return number


def non_negative_number(config: Mapping[str, Any], key: str, default: float) -> float:
    """``config[key]`` as a float ≥ 0 (0 often means "off"); ``default`` when missing."""
    number = _number(config, key, default)
    if number < 0:
        raise RuntimeError(f"config {key} must be >= 0")
    return number


def _number(config: Mapping[str, Any], key: str, default: float) -> float:
    value = config.get(key)
    if value in (None, ""):
        return default
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise RuntimeError(f"config {key} must be a number, got {value!r}") from None
    if math.isnan(number):
        raise RuntimeError(f"config {key} must be a number, got {value!r}")
    return number

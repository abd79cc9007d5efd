"""Reading numbers and flags from a service's config: a bad value stops the service at
start, with the key named, instead of failing later in a worker."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from nameko.extensions import DependencyProvider


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


TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
FALSE_WORDS = frozenset({"0", "false", "no", "off"})


def flag(config: Mapping[str, Any], key: str, default: bool = False) -> bool:
    """``config[key]`` as a boolean (true/false, yes/no, on/off, 1/0, any case);
    ``default`` when missing or empty; anything else is a configuration error."""
    value = config.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        return default
    if isinstance(value, bool):
        return value
    word = str(value).strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise RuntimeError(f"config {key} must be true or false, got {value!r}")


class ConfigFlag(DependencyProvider):
    """A boolean setting as a dependency: read and checked once, when the container starts
    (a value that is not a boolean stops the service there, named), then given to every
    worker as a plain ``bool``."""

    def __init__(self, key: str, default: bool = False) -> None:
        self.key = key
        self.default = default
        self.value = default

    def setup(self) -> None:
        self.value = flag(self.container.config, self.key, self.default)

    def get_dependency(self, worker_ctx) -> bool:
        return self.value


class ConfigNumber(DependencyProvider):
    """A positive number setting as a dependency, checked when the container starts (a bad
    value stops the service there, named), then given to every worker as a ``float``."""

    def __init__(self, key: str, default: float) -> None:
        self.key = key
        self.value = default

    def setup(self) -> None:
        self.value = positive_number(self.container.config, self.key, self.value)

    def get_dependency(self, worker_ctx) -> float:
        return self.value

"""Timers whose interval comes from the service's config."""

from __future__ import annotations

from typing import Any

from nameko.timer import Timer


class ConfigTimer(Timer):
    """nameko's timer with its interval read from the container config at ``setup`` (the
    stock one takes a fixed interval when the class is defined)."""

    def __init__(self, config_key: str, default: float, **kwargs: Any) -> None:
        self.config_key = config_key
        self.default = default
        super().__init__(interval=default, **kwargs)

    def setup(self) -> None:
        self.interval = float(self.container.config.get(self.config_key, self.default))


config_timer = ConfigTimer.decorator

"""Timers whose interval comes from the service's config."""

from __future__ import annotations

from typing import Any

from nameko.timer import Timer

from gridgov_common.platform.settings import Setting


class ConfigTimer(Timer):
    """nameko's timer with its interval read from the container config at ``setup`` (the
    stock one takes a fixed interval when the class is defined)."""

    def __init__(self, setting: Setting, **kwargs: Any) -> None:
        self.setting = setting
        super().__init__(interval=setting.default, **kwargs)

    def setup(self) -> None:
        self.interval = float(self.setting.of(self.container))


config_timer = ConfigTimer.decorator

"""Where Debian's chromium is (Playwright drives it through ``executable_path``: no browser
download, which an offline government network would not allow anyway)."""

from __future__ import annotations

import shutil

CHROMIUM_NAMES = ("chromium", "chromium-browser")
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]


def chromium_path() -> str:
    for name in CHROMIUM_NAMES:
        path = shutil.which(name)
        if path:
            return path
    raise AssertionError(
        "headless Chromium is missing: install Debian's package with "
        "`apt-get install -y --no-install-recommends chromium` (`make test` does it as "
        "root: scripts/system_deps.sh)")

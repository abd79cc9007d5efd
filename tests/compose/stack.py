"""The running compose stack of `make compose-test` (tests/compose/run.sh brings it up under
the project name and env file below): docker compose commands, where its published ports
went, the secrets of its env file, and waiting on conditions."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gridgov_common.kernel.auth import mint

ROOT = Path(__file__).resolve().parents[2]
PROJECT = os.environ.get("GRIDGOV_COMPOSE_PROJECT", "gridgov-compose-test")
ENV_FILE = Path(os.environ.get("GRIDGOV_COMPOSE_ENV_FILE", ROOT / "var" / "compose-test" / "env"))
SERVICES = ("registry", "events", "dispatch", "assessment", "notify")


def compose_command() -> list[str]:
    return ["docker", "compose", "--project-directory", str(ROOT), "-p", PROJECT,
            "--env-file", str(ENV_FILE), "-f", str(ROOT / "docker-compose.yml"),
            "-f", str(ROOT / "tests" / "compose" / "compose.test.yml")]


def read_env(path: Path) -> dict[str, str]:
    values = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            values[key.strip()] = value.strip()
    return values


def bearer(stack: Stack, role: str, scope: str, sub: str) -> dict[str, str]:
    """An Authorization header for a user of ``role`` over ``scope``, signed with the
    stack's own secret."""
    return {"Authorization": "Bearer " + mint(stack.env["GRIDGOV_JWT_SECRET"], sub=sub,
                                              role=role, scope=scope)}


def wait_until(check: Callable[[], Any], timeout: float, what: str, interval: float = 0.5) -> Any:
    """Poll ``check`` until it returns something truthy; fail with ``what`` and the last
    value or error after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        try:
            last = check()
            if last:
                return last
        except Exception as exc:  # noqa: BLE001 - reported below
            last = exc
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout:.0f} s (last: {last!r})")
        time.sleep(interval)


@dataclass
class Stack:
    env: dict[str, str]

    @classmethod
    def running(cls) -> Stack | str:
        """The stack, or why there is none (a failure under compose-test, not a skip)."""
        if shutil.which("docker") is None:
            return "docker is missing: make compose-test installs it (tests/compose/README.md)"
        info = subprocess.run(["docker", "info"], capture_output=True, text=True)
        if info.returncode != 0:
            return f"no Docker engine answers: {info.stderr.strip()[:300]}"
        if not ENV_FILE.exists():
            return f"{ENV_FILE} is missing: run `make compose-test`"
        stack = cls(read_env(ENV_FILE))
        running = stack.compose("ps", "--status", "running", "--services").stdout.split()
        if "proxy" not in running:
            return f"the stack {PROJECT} is not up: run `make compose-test` (running: {running})"
        return stack

    def compose(self, *args: str, check: bool = True, timeout: float = 600,
                input: str | None = None) -> subprocess.CompletedProcess:
        done = subprocess.run([*compose_command(), *args], capture_output=True, text=True,
                              timeout=timeout, input=input, cwd=ROOT)
        if check and done.returncode != 0:
            raise AssertionError(f"docker compose {' '.join(args)}: exit {done.returncode}\n"
                                 f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
        return done

    def url(self, service: str, container_port: int, path: str = "") -> str:
        """http://127.0.0.1:<the port Docker chose for it><path>"""
        published = self.compose("port", service, str(container_port)).stdout.strip()
        return f"http://{published.splitlines()[0]}{path}"

    @property
    def proxy(self) -> str:
        return self.url("proxy", 8080)

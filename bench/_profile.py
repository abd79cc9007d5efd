"""py-spy profiles of the service processes while a benchmark phase runs (issue 16:
"profile before and after each step"), and where their time went by library.

``record(pids, directory)`` samples each process (``py-spy record --format raw``: collapsed
stacks, one line per stack with its sample count) until the ``with`` block ends;
``shares(path)`` reads such a file back as the share of samples whose stack passes
through each library group (inclusive: a stack in SQLAlchemy that calls psycopg counts for
both). py-spy is in requirements-dev.txt; it needs ptrace, which root has here.
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

# library group → a path fragment of its frames (py-spy prints "function (file:line)")
GROUPS = {
    "sqlalchemy": "sqlalchemy/", "psycopg": "psycopg/", "marshmallow": "marshmallow/",
    "eventlet": "eventlet/", "amqp/kombu": ("amqp/", "kombu/"), "nameko": "nameko/",
    "gridgov platform": "gridgov_common/platform/", "gridgov contract": "gridgov_common/contract/",
    "services": "services/", "json": "json/",
}


@contextlib.contextmanager
def record(pids: dict[str, int], directory: Path, rate: int = 200) -> Iterator[None]:
    """py-spy on every process of ``pids`` (name → pid) for the duration of the block."""
    spy_bin = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which(
        "py-spy")
    if spy_bin is None:
        raise RuntimeError("py-spy is missing: pip install -r requirements-dev.txt")
    directory.mkdir(parents=True, exist_ok=True)
    spies = [subprocess.Popen([spy_bin, "record", "--pid", str(pid), "--rate", str(rate),
                               "--format", "raw", "--nonblocking", "--output",
                               str(directory / f"{name}.txt")],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
             for name, pid in pids.items()]
    try:
        yield
    finally:
        for spy in spies:  # SIGINT: py-spy writes what it sampled and exits
            spy.send_signal(signal.SIGINT)
        for spy in spies:
            spy.wait(30)


def shares(path: Path) -> tuple[int, dict[str, float]]:
    """(samples, {group: share of the samples whose stack passes through it})."""
    total = 0
    hits: Counter[str] = Counter()
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        samples = int(count)
        total += samples
        for group, fragments in GROUPS.items():
            if isinstance(fragments, str):
                fragments = (fragments,)
            if any(fragment in stack for fragment in fragments):
                hits[group] += samples
    return total, {group: hits[group] / total for group in GROUPS} if total else {}

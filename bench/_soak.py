"""The arithmetic of bench/soak.py: slopes, first/last windows, per-case figures, and error
lines grouped by class.  Pure functions over plain numbers and strings.

Why apart from the script: the soak's verdicts (a leak of 1 MB/h, a drift of 10 %) are
small numbers taken from noisy samples, so the way they are computed is pinned by a test
with fixed numbers (tests/test_bench_soak.py) without running a 40-minute soak.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

EDGE_SECONDS = 300.0  # the issue compares the first 5 minutes with the last 5 minutes
ERROR_LEVELS = ("ERROR", "CRITICAL")
_EXCEPTION_LINE = re.compile(r"^([A-Za-z_][\w.]*)(?::|$)")  # "psycopg.errors.X: text"
_WRAPPED = re.compile(r"^ \(([A-Za-z_][\w.]*)\)")  # SQLAlchemy's ": (psycopg.errors.X) text"


@dataclass(frozen=True)
class Window:
    """A stretch of the run, in seconds since the first case was offered."""

    start: float
    end: float

    def holds(self, t: float) -> bool:
        return self.start <= t <= self.end


def edge_windows(duration: float, edge: float = EDGE_SECONDS) -> tuple[Window, Window]:
    """The first and the last ``edge`` seconds of a run of ``duration`` seconds.

    A run shorter than three edges (a smoke run) compares its first and last thirds
    instead, so the two windows never overlap and a middle third separates them.
    """
    edge = min(edge, duration / 3)
    return Window(0.0, edge), Window(duration - edge, duration)


def slope_per_hour(points: Sequence[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, value) points, in value per hour (NaN below two
    distinct times).  A fitted line, not last minus first: one sample taken during a
    garbage collection or a burst must not decide whether a service leaks."""
    if len({t for t, _v in points}) < 2:
        return math.nan
    n = len(points)
    mean_t = sum(t for t, _v in points) / n
    mean_v = sum(v for _t, v in points) / n
    covariance = sum((t - mean_t) * (v - mean_v) for t, v in points)
    variance = sum((t - mean_t) ** 2 for t, _v in points)
    return covariance / variance * 3600.0


def after(points: Sequence[tuple[float, float]], warm_up: float) -> list[tuple[float, float]]:
    """The points taken at or after ``warm_up`` seconds (start-up allocations excluded)."""
    return [(t, v) for t, v in points if t >= warm_up]


def delta_in(points: Sequence[tuple[float, float]], window: Window) -> float:
    """How much a cumulative value grew within ``window``: the last sample inside it
    minus the first one (NaN if fewer than two samples fall inside)."""
    inside = [v for t, v in points if window.holds(t)]
    if len(inside) < 2:
        return math.nan
    return inside[-1] - inside[0]


def per_case(amount: Sequence[tuple[float, float]], cases: Sequence[tuple[float, float]],
             window: Window) -> float:
    """Growth of a cumulative ``amount`` per case counted in the same window (both sampled
    at the same times); NaN when no case was counted."""
    count = delta_in(cases, window)
    if not count or math.isnan(count):
        return math.nan
    return delta_in(amount, window) / count


def drift(first: float, last: float) -> float:
    """Relative change from the first to the last window: 0.1 means 10 % more."""
    if not first or math.isnan(first) or math.isnan(last):
        return math.nan
    return last / first - 1.0


def within(value: float, tolerance: float) -> bool:
    """|value| ≤ tolerance (a NaN is never within)."""
    return not math.isnan(value) and abs(value) <= tolerance


def latencies_in(records: Iterable[tuple[float, float]], window: Window) -> list[float]:
    """Sorted latencies of the (offered at, latency) records offered within ``window``."""
    return sorted(latency for offered_at, latency in records if window.holds(offered_at))


def error_class(line: str) -> str | None:
    """The class of one log line that reports an error, or None for any other line.

    Service logs are JSON lines (gridgov_common.platform.logs): an ERROR/CRITICAL entry is grouped
    by the exception class at the end of its traceback, else by its logger.  A plain-text
    line (a crash before logging was configured) counts when it starts a traceback; its
    class is then unknown until the traceback ends, so it is "Traceback (plain text)".
    """
    text = line.strip()
    if not text:
        return None
    if text.startswith("{"):
        try:
            entry = json.loads(text)
        except ValueError:
            return None
        if entry.get("level") not in ERROR_LEVELS:
            return None
        return _exception_class(entry.get("exc")) or f"logger {entry.get('logger')}"
    if text.startswith("Traceback (most recent call last)"):
        return "Traceback (plain text)"
    return None


def _exception_class(traceback: str | None) -> str | None:
    """The class of the exception a formatted traceback ends with: the first unindented
    line after its last frame (the message may run over several lines, as SQLAlchemy's
    do).  A wrapped driver error names both, e.g. ``sqlalchemy.exc.OperationalError
    (psycopg.errors.DeadlockDetected)``: the wrapper alone would lump every database
    error together."""
    if not traceback:
        return None
    lines = traceback.strip().splitlines()
    frames = [i for i, line in enumerate(lines) if line.startswith("  File ")]
    for line in lines[frames[-1] + 1 if frames else 0:]:
        if line.startswith(" "):
            continue  # the frame's source line and its ^^^ markers
        found = _EXCEPTION_LINE.match(line)
        if not found:
            return None
        wrapped = _WRAPPED.match(line[found.end():])
        return found.group(1) + (f" ({wrapped.group(1)})" if wrapped else "")
    return None


def error_classes(lines: Iterable[str]) -> Counter[str]:
    """Error lines of a log, counted by class (see ``error_class``)."""
    return Counter(kind for kind in map(error_class, lines) if kind is not None)


def warning_loggers(lines: Iterable[str]) -> Counter[str]:
    """WARNING lines of a JSON log, counted by logger (retries, refusals: informative)."""
    found: Counter[str] = Counter()
    for line in lines:
        text = line.strip()
        if not text.startswith("{"):
            continue
        try:
            entry = json.loads(text)
        except ValueError:
            continue
        if entry.get("level") == "WARNING":
            found[str(entry.get("logger"))] += 1
    return found

"""Domain metrics of the dispatch service, computed from the database at scrape time (P6.2).

Why a collector and not counters updated by the code: the figures (open, overdue, closure
ratio) are states of the case table that change with the clock as well as with writes
(a case becomes overdue with no event), and several replicas share one database, so any
replica's answer is the whole district's.  ``collect`` runs a few aggregate queries
(``statistics.by_town`` / ``by_department`` / one percentile query) under a statement
timeout and caches the result for ``CACHE_SECONDS`` so frequent scrapes (two Prometheus
servers, a dashboard refresh) do not hammer PostgreSQL.  Labels are bounded sets: town
codes and department codes, never a case, grid or person.

Ack latency: the 50th, 90th and 99th percentiles of ``acked_at - sent_at`` over the
assignments acked in the last ``ACK_WINDOW_DAYS`` days, per department, exposed as *gauges*
with a ``percentile`` label ("50", "90", "99").  Not a Prometheus histogram or summary:
their ``_sum``/``_count`` are cumulative counters that ``rate()`` relies on, and a window
recomputed from the database would go down as old acks leave it, so ``rate()`` would lie.
The label is not called ``quantile`` because that name belongs to summaries (promtool
refuses it on a gauge).  ``percentile_cont`` in the database makes the values exact for
the window.

If the database cannot answer, ``gridgov_domain_metrics_up`` is 0 and nothing else is
exported: the rest of /metrics keeps working (a raising collector would fail the scrape).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from nameko.extensions import DependencyProvider
from prometheus_client import REGISTRY
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from gridgov_common.platform.db import Database
from gridgov_common.platform.metrics import PREFIX
from services.dispatch import statistics
from services.dispatch.models import assignments, waiting_file_entries

log = logging.getLogger(__name__)

CACHE_SECONDS = 10.0
ACK_WINDOW_DAYS = 30
QUANTILES = (0.5, 0.9, 0.99)
PERCENTILES = ("50", "90", "99")  # label values, one per quantile
STATEMENT_TIMEOUT_MS = 5000


def _gauge(name: str, documentation: str, labels: list[str]) -> GaugeMetricFamily:
    return GaugeMetricFamily(f"{PREFIX}{name}", documentation, labels=labels)


def _families() -> dict[str, GaugeMetricFamily]:
    return {
        "open": _gauge("cases_open", "Open cases (filed … resolved, not suspended)", ["town"]),
        "overdue": _gauge("cases_overdue",
                          "Cases past a handling deadline (P5.3.3)", ["town"]),
        "closure": _gauge("closure_ratio", "Closed cases / all cases of the town", ["town"]),
        "assignments": _gauge("assignments_overdue",
                              "Active assignments past handle_due_at", ["department"]),
        "ack": _gauge("ack_latency_seconds",
                      f"Report-in (ack) latency percentiles over the last {ACK_WINDOW_DAYS} "
                      "days", ["department", "percentile"]),
        "waiting": _gauge("case_file_entries_waiting",
                          "Case-file entries waiting for their case to be filed", []),
        "waiting_age": _gauge("case_file_entry_wait_seconds",
                              "How long the oldest waiting case-file entry has waited", []),
    }


def waiting_entries(connection, now: datetime) -> tuple[int, float]:
    """(count, seconds the oldest has waited) of entries whose case is not filed yet: a few
    milliseconds normally; minutes mean a case id no case will ever have."""
    w = waiting_file_entries.c
    count, oldest = connection.execute(
        sa.select(sa.func.count(), sa.func.min(w.waiting_since))).one()
    return count, (now - oldest).total_seconds() if oldest is not None else 0.0


def ack_latency(connection, now: datetime, window_days: int = ACK_WINDOW_DAYS):
    """(department, [p50, p90, p99]) over the assignments acked in the window."""
    a = assignments.c
    seconds = sa.extract("epoch", a.acked_at - a.sent_at)
    query = (sa.select(a.department, sa.func.percentile_cont(sa.literal(list(QUANTILES)))
                       .within_group(seconds))
             .where(a.acked_at.is_not(None), a.acked_at >= now - timedelta(days=window_days))
             .group_by(a.department).order_by(a.department))
    return [(row[0], list(row[1])) for row in connection.execute(query)]


def compute(connection, now: datetime) -> list[Metric]:
    """Every domain metric family, from a few aggregate queries on ``connection``."""
    found = _families()
    for town in statistics.by_town(connection, None, now):
        code = town["town_code"]
        found["open"].add_metric([code], town["open"])
        found["overdue"].add_metric([code], town["overdue"])
        found["closure"].add_metric([code], town["closure_rate"] or 0.0)
    for department in statistics.by_department(connection, None, now):
        found["assignments"].add_metric([department["department"]], department["overdue"])
    count, age = waiting_entries(connection, now)
    found["waiting"].add_metric([], count)
    found["waiting_age"].add_metric([], age)
    for department, values in ack_latency(connection, now):
        for percentile, value in zip(PERCENTILES, values, strict=True):
            found["ack"].add_metric([department, percentile], value)
    return list(found.values())


def _up(value: int) -> GaugeMetricFamily:
    return GaugeMetricFamily(f"{PREFIX}domain_metrics_up",
                             "1 if the last domain metrics query succeeded", value=value)


class CaseMetricsCollector(Collector):
    """Runs ``compute`` on the most recently attached engine, at most every ``ttl`` s."""

    def __init__(self, ttl: float = CACHE_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self.clock = clock
        self.engines: list[sa.Engine] = []
        self._cached: list[Metric] | None = None
        self._cached_at = 0.0

    def attach(self, engine: sa.Engine) -> None:
        self.engines.append(engine)
        self._cached = None  # the figures of another engine's database are not this one's

    def detach(self, engine: sa.Engine) -> None:
        if engine in self.engines:
            self.engines.remove(engine)
        self._cached = None

    def describe(self) -> Iterator[Metric]:
        """Names only: lets the registry check duplicates without querying the database."""
        yield from _families().values()
        yield _up(0)

    def collect(self) -> Iterator[Metric]:
        if not self.engines:
            return
        if self._cached is None or self.clock() - self._cached_at >= self.ttl:
            self._cached = self._query(self.engines[-1])
            self._cached_at = self.clock()
        yield from self._cached

    def _query(self, engine: sa.Engine) -> list[Metric]:
        try:
            with engine.connect() as connection:
                connection.execute(sa.text(
                    f"SET LOCAL statement_timeout = {STATEMENT_TIMEOUT_MS}"))
                families = compute(connection, datetime.now(UTC))
                connection.rollback()  # read only
        except Exception as exc:  # noqa: BLE001  (a failed query must not fail the scrape)
            log.warning("domain metrics query failed: %r", exc)
            return [_up(0)]
        return [*families, _up(1)]


COLLECTOR = CaseMetricsCollector()


class DomainMetrics(DependencyProvider):
    """Registers ``COLLECTOR`` on prometheus_client's default registry (the one
    ``PlatformService.metrics`` serves) with this container's database engine.

    One collector per process: a second container in the same process (tests, replicas
    in one interpreter) attaches its engine to it instead of registering the same metric
    names twice, which the registry would refuse."""

    def start(self) -> None:
        engine = next(d.engine for d in self.container.dependencies
                      if isinstance(d, Database) and d.engine is not None)
        self._engine = engine
        if not COLLECTOR.engines:
            REGISTRY.register(COLLECTOR)
        COLLECTOR.attach(engine)

    def stop(self) -> None:
        engine = getattr(self, "_engine", None)
        if engine is None:
            return
        COLLECTOR.detach(engine)
        self._engine = None
        if not COLLECTOR.engines:
            REGISTRY.unregister(COLLECTOR)

    def kill(self) -> None:
        self.stop()

"""The operations wall's push (issue 14, P6.2): server-sent events to every open wall.

How changes are found: while at least one wall is open, the service's one-second timer
(``WallRoutes.wall_tick``) asks dispatch ``case_statistics`` once per *scope* that is
watched (the district, or a town for a town grid chief), however many walls show it, and
each open wall gets only what differs from what it already has (:func:`diff`). Why a
poll and not the bus: every assessment replica must see every change for the walls it
serves, and the broker users (gridgov_common/bus_users.py) give each service only its
own, platform-declared, shared queues; one statistics call a second per watched scope
costs dispatch a few aggregate queries (docs/DASHBOARD.md), and intake → wall stays under
2 s (bench/bench_13_wall.py).

A major event (P5.2.7: a major-event case, or anything reported as critical) that a
wall has not seen yet is sent as its own ``major`` message, before the counts, so the
page can sound and pin it at once. The last major events of each scope are kept (in this
process) so a wall opened later still pins them until its operator acknowledges them.

Messages (``text/event-stream``, one JSON ``data`` line each): ``snapshot`` (the first:
geometry unless the page already has it, names, figures, major events), ``change``
(:func:`diff`), ``major``, ``expired`` (the session's access token ends: the page renews
it and reconnects) and ``ping`` heartbeats (the page counts
a stream silent for two of them as dropped).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from typing import Any

import eventlet
from eventlet.queue import Empty, Full, LightQueue
from nameko.extensions import DependencyProvider

from services.assessment import settings as declared

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 15.0  # a ping: proxies keep the stream, the page knows it is live
QUEUE_SIZE = 256  # messages waiting for one slow wall; more and it is dropped (reconnects)
KEEP_MAJOR = 50  # major events remembered per scope
TREND_SECONDS = 60.0  # the day-by-day figures are asked at most once a minute per scope
# A scope's next question waits this many times as long as its last answer took: at most a
# fifth of dispatch's time goes to one watched scope, however large the district grows
# (a 50 ms answer: every tick; a 600 ms one: every 3 s — the wall is then slower, not
# dispatch)
LOAD_FACTOR = 5.0
MAJOR_CATEGORY = "major_event"  # gridgov_common.contract WorkCategory.MAJOR_EVENT
CRITICAL = "critical"  # Severity.CRITICAL


def is_major(row: dict[str, Any]) -> bool:
    """P5.2.7: a major event, or anything reported as critical (events' catalogue.is_major)."""
    return row.get("work_category") == MAJOR_CATEGORY or row.get("severity") == CRITICAL


def _keyed(rows: list[dict[str, Any]], key: str) -> dict[str, dict[str, Any]]:
    return {str(row[key]): row for row in rows or []}


def _escalation_key(row: dict[str, Any]) -> str:
    return f"{row.get('case_number')}|{row.get('kind')}|{row.get('level')}|{row.get('at')}"


def diff(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """What a wall showing ``old`` needs to show ``new`` (both ``case_statistics``
    answers): grids whose counts changed (``grids``) or that have none left
    (``grids_cleared``), towns and departments whose rows changed, recent cases that are
    new or changed (the page merges them by case id and keeps the latest 20), escalations
    not shown yet. Empty when nothing changed."""
    out: dict[str, Any] = {}
    old_grids, new_grids = _keyed(old.get("by_grid"), "grid_code"), \
        _keyed(new.get("by_grid"), "grid_code")
    grids = [row for code, row in new_grids.items() if old_grids.get(code) != row]
    cleared = sorted(code for code in old_grids if code not in new_grids)
    if grids:
        out["grids"] = grids
    if cleared:
        out["grids_cleared"] = cleared
    for section, key, name in (("by_town", "town_code", "towns"),
                               ("by_department", "department", "departments")):
        before = _keyed(old.get(section), key)
        changed = [row for k, row in _keyed(new.get(section), key).items()
                   if before.get(k) != row]
        if changed:
            out[name] = changed
    before = _keyed(old.get("recent"), "case_id")
    recent = [row for row in new.get("recent") or [] if before.get(str(row["case_id"])) != row]
    if recent:
        out["recent"] = recent
    if new.get("trend") is not None and old.get("trend") != new["trend"]:
        out["trend"] = new["trend"]
    shown = {_escalation_key(row) for row in old.get("escalations") or []}
    escalations = [row for row in new.get("escalations") or []
                   if _escalation_key(row) not in shown]
    if escalations:
        out["escalations"] = escalations
    return out


def event(name: str, data: Any, ident: int | None = None) -> bytes:
    """One server-sent event (the JSON on one line: no newline inside ``data``)."""
    head = f"id: {ident}\n" if ident is not None else ""
    body = json.dumps(data, ensure_ascii=False, separators=(",", ":"), default=str)
    return f"{head}event: {name}\ndata: {body}\n\n".encode()


class Subscriber:
    """One open wall: its scope, what it was last sent, the major events it knows."""

    def __init__(self, scope: str, baseline: dict[str, Any], majors: set[str]) -> None:
        self.scope = scope
        self.last = baseline
        self.majors = set(majors)
        self.queue: LightQueue = LightQueue(maxsize=QUEUE_SIZE)
        self.dropped = False

    def put(self, message: bytes | None) -> None:
        try:
            self.queue.put_nowait(message)
        except Full:  # a wall that does not read: end its stream (it reconnects)
            self.dropped = True


class Hub:
    """The open walls of this process, grouped by scope (shared by the workers)."""

    def __init__(self, heartbeat: float = HEARTBEAT_SECONDS) -> None:
        self.heartbeat = heartbeat
        self.subscribers: set[Subscriber] = set()
        self.trends: dict[str, tuple[float, Any]] = {}  # scope -> (monotonic, trend)
        self.next_at: dict[str, float] = {}  # scope -> not asked again before (monotonic)
        self.majors: dict[str, dict[str, dict[str, Any]]] = {}  # scope -> case id -> row
        self.sequence = 0
        self.busy = False

    # -- the walls ---------------------------------------------------------------------

    def remember_majors(self, scope: str, stats: dict[str, Any]) -> None:
        kept = self.majors.setdefault(scope, {})
        for row in stats.get("recent") or []:
            if is_major(row):
                kept[str(row["case_id"])] = row
        while len(kept) > KEEP_MAJOR:
            kept.pop(next(iter(kept)))

    def major_events(self, scope: str) -> list[dict[str, Any]]:
        """The major events this process has seen in ``scope``, newest first."""
        rows = list(self.majors.get(scope, {}).values())
        return sorted(rows, key=lambda row: str(row.get("updated_at")), reverse=True)

    def subscribe(self, scope: str, stats: dict[str, Any]) -> Subscriber:
        self.remember_majors(scope, stats)
        subscriber = Subscriber(scope, stats, set(self.majors.get(scope, {})))
        self.subscribers.add(subscriber)
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        self.subscribers.discard(subscriber)

    def scopes(self) -> list[str]:
        """Every scope at least one wall watches."""
        return sorted({s.scope for s in self.subscribers})

    def publish(self, scope: str, stats: dict[str, Any]) -> int:
        """Send each wall of ``scope`` its new major events, then what changed; how many
        messages were queued."""
        self.remember_majors(scope, stats)
        sent = 0
        fresh = [row for row in stats.get("recent") or [] if is_major(row)]
        for subscriber in [s for s in self.subscribers if s.scope == scope]:
            for row in fresh:
                if str(row["case_id"]) not in subscriber.majors:
                    subscriber.majors.add(str(row["case_id"]))
                    subscriber.put(self._message("major", row))
                    sent += 1
            changes = diff(subscriber.last, stats)
            subscriber.last = stats
            if changes:
                changes["generated_at"] = stats.get("generated_at")
                subscriber.put(self._message("change", changes))
                sent += 1
        return sent

    def _message(self, name: str, data: Any) -> bytes:
        self.sequence += 1
        return event(name, data, self.sequence)

    def close_all(self) -> None:
        for subscriber in list(self.subscribers):
            subscriber.put(None)

    # -- the stream of one wall --------------------------------------------------------

    def stream(self, subscriber: Subscriber, snapshot: dict[str, Any],
               expires_at: float | None) -> Iterator[bytes]:
        """The body of ``GET /dashboard/events``: the snapshot, then the wall's messages
        and heartbeats until the token expires, the service stops or the client leaves
        (the server's write fails; ``finally`` forgets the wall)."""
        try:
            yield b"retry: 3000\n" + event("snapshot", snapshot)
            while not subscriber.dropped:
                wait = self.heartbeat
                if expires_at is not None:
                    left = expires_at - time.time()
                    if left <= 0:
                        yield event("expired", {"reason": "token_expired"})
                        return
                    wait = min(wait, left)
                try:
                    message = subscriber.queue.get(timeout=wait)
                except Empty:  # an event, not a comment: the page's watchdog sees it
                    yield event("ping", {"at": time.time()})
                    continue
                if message is None:  # the service stops
                    return
                yield message
        finally:
            self.unsubscribe(subscriber)

    # -- the timer -----------------------------------------------------------------------

    def due(self) -> list[str]:
        """The watched scopes to ask now: every tick (changes reach a wall within about a
        second) unless the scope's last answer was slow (``LOAD_FACTOR``); one round of
        questions at a time."""
        if self.busy:
            return []
        now = time.monotonic()
        return [scope for scope in self.scopes() if self.next_at.get(scope, 0.0) <= now]

    def trend(self, scope: str, trend) -> Any:
        """The scope's day-by-day figures (``trend(scope)``), asked again once they are
        older than ``TREND_SECONDS``; the last answer (or None) when the source fails."""
        at, value = self.trends.get(scope, (None, None))
        if at is None or time.monotonic() - at >= TREND_SECONDS:
            fresh = _ask(trend, scope)
            if fresh is not None or at is None:
                self.trends[scope] = (time.monotonic(), fresh)
                value = fresh if fresh is not None else value
        return value

    def tick(self, statistics, trend=None) -> int:
        """Ask ``statistics(scope)`` (and, once a minute, ``trend(scope)``) for every
        watched scope and publish the answers; a scope whose source fails is skipped this
        time (its walls keep their figures and their heartbeat says the stream is alive;
        the page shows the figures' time)."""
        scopes = self.due()
        if not scopes:
            return 0
        self.busy = True
        sent = 0

        def ask(scope: str) -> tuple[str, dict[str, Any] | None]:
            started = time.monotonic()
            stats = _ask(statistics, scope)
            self.next_at[scope] = started + LOAD_FACTOR * (time.monotonic() - started)
            if stats is not None and trend is not None:
                stats = {**stats, "trend": self.trend(scope, trend)}
            return scope, stats

        try:
            for scope, stats in eventlet.GreenPool(4).imap(ask, scopes):
                if stats is not None:
                    sent += self.publish(scope, stats)
        finally:
            self.busy = False
        return sent


def _ask(statistics, scope: str) -> dict[str, Any] | None:
    try:
        return statistics(scope)
    except Exception as exc:  # a source down: the walls keep what they show
        log.warning("wall: case_statistics(%s) failed: %s", scope, exc)
        return None


class WallHub(DependencyProvider):
    """The process's :class:`Hub` (``WALL_HEARTBEAT_SECONDS``, default 15)."""

    def setup(self) -> None:
        heartbeat = declared.WALL_HEARTBEAT_SECONDS.of(self.container)
        self.hub = Hub(heartbeat=heartbeat)

    def stop(self) -> None:
        self.hub.close_all()

    def get_dependency(self, worker_ctx) -> Hub:
        return self.hub

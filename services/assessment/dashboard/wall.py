"""The operations wall's push (issue 14, P6.2): server-sent events to every open wall.

How changes are found: while at least one wall is open, the service's one-second timer
(``WallRoutes.wall_tick``) asks dispatch ``case_statistics`` once per *scope* that is
watched (the district, or a town for a town grid chief), however many walls show it, and
each open wall gets only what differs from what it already has (:func:`diff`). Why a
poll and not the bus: every assessment replica must see every change for the walls it
serves, and the broker users (tools/bus_users.py) give each service only its
own, platform-declared, shared queues; one statistics call a second per watched scope
costs dispatch a few aggregate queries (docs/DASHBOARD.md), and intake → wall stays under
2 s (bench/bench_13_wall.py).

A major event (P5.2.7: a major-event case, or anything reported as critical) that a
wall has not seen yet is sent as its own ``major`` message, before the counts, so the
page can sound and pin it at once. The major events come from dispatch's own query
(``majors`` of ``case_statistics``: those of the last days, however many other cases
changed), and the ones seen among the latest changes are kept too (in this process).
A major event stays pinned on every wall until someone acknowledges it on the server
(``acknowledgements.py``): each tick reads the acknowledgements stored since the last it
saw — by this replica or another — and tells every wall of the case's area
(``acknowledged``: who, by name, and when); a major event already acknowledged is not
pinned again.

Messages (``text/event-stream``, one JSON ``data`` line each): ``snapshot`` (the first:
geometry unless the page already has it, names, figures, major events with their
acknowledgement or null), ``change`` (:func:`diff`), ``major``, ``acknowledged``,
``expired`` (the session's access token ends: the page renews it and reconnects) and
``ping`` heartbeats (the page counts a stream silent for two of them as dropped).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from datetime import date, timedelta
from functools import partial
from typing import Any

import eventlet
from eventlet.queue import Empty, Full, LightQueue
from nameko.extensions import DependencyProvider

from services.assessment import settings as declared

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 15.0  # a ping: proxies keep the stream, the page knows it is live
QUEUE_SIZE = 256  # messages waiting for one slow wall; more and it is dropped (reconnects)
KEEP_MAJOR = 50  # major events remembered per scope
KEEP_ACKS = 500  # acknowledgements remembered (a week of major events, many times over)
TREND_SECONDS = 60.0  # the days before today are asked at most once a minute per scope
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


def covers(scope: str, grid_code: str | None) -> bool:
    """A wall's scope ("district:320505", "town:320505001") holds the grid (codes nest)."""
    return bool(grid_code) and str(grid_code).startswith(scope.partition(":")[2])


class Subscriber:
    """One open wall: its scope, what it was last sent, the major events it knows and the
    acknowledgements it was told."""

    def __init__(self, scope: str, baseline: dict[str, Any], majors: set[str],
                 acked: set[str] | None = None) -> None:
        self.scope = scope
        self.last = baseline
        self.majors = set(majors)
        self.acked = set(acked or ())
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
        self.trends: dict[str, tuple[float, Any]] = {}  # scope -> (monotonic, days before)
        self.last_trend: dict[str, Any] = {}  # scope -> the last whole answer
        self.next_at: dict[str, float] = {}  # scope -> not asked again before (monotonic)
        self.majors: dict[str, dict[str, dict[str, Any]]] = {}  # scope -> case id -> row
        self.acks: dict[str, dict[str, Any]] = {}  # case id -> its acknowledgement
        self.ack_cursor = 0  # the newest acknowledgement read (its id)
        self.sequence = 0
        self.busy = False

    # -- the walls ---------------------------------------------------------------------

    @staticmethod
    def _majors_in(stats: dict[str, Any]) -> list[dict[str, Any]]:
        """dispatch's major events of the last days, and any among the latest changes."""
        rows = list(stats.get("majors") or [])
        rows += [row for row in stats.get("recent") or [] if is_major(row)]
        return rows

    def remember_majors(self, scope: str, stats: dict[str, Any]) -> None:
        kept = self.majors.setdefault(scope, {})
        for row in reversed(self._majors_in(stats)):  # oldest first: the newest stay
            kept.pop(str(row["case_id"]), None)
            kept[str(row["case_id"])] = {k: v for k, v in row.items() if k != "acknowledged"}
        while len(kept) > KEEP_MAJOR:
            kept.pop(next(iter(kept)))

    def major_events(self, scope: str) -> list[dict[str, Any]]:
        """The major events known in ``scope``, newest first, each with its
        ``acknowledged`` (who and when, or None)."""
        rows = [{**row, "acknowledged": self.acks.get(case_id)}
                for case_id, row in self.majors.get(scope, {}).items()]
        return sorted(rows, key=lambda row: str(row.get("reported_at") or row.get("updated_at")),
                      reverse=True)

    def subscribe(self, scope: str, stats: dict[str, Any]) -> Subscriber:
        self.remember_majors(scope, stats)
        subscriber = Subscriber(scope, stats, set(self.majors.get(scope, {})), set(self.acks))
        self.subscribers.add(subscriber)
        return subscriber

    def learn_acknowledgements(self, rows) -> None:
        """Acknowledgements read elsewhere (a wall's snapshot asked the database)."""
        for row in rows:
            self.acks[str(row["case_id"])] = row

    def take_acknowledgements(self, rows: list[dict[str, Any]]) -> int:
        """Acknowledgements stored since the last read (``acknowledgements.since``): every
        wall of the case's area not told yet is sent ``acknowledged``; how many were."""
        for row in rows:
            self.acks[str(row["case_id"])] = row
            self.ack_cursor = max(self.ack_cursor, int(row["id"]))
        while len(self.acks) > KEEP_ACKS:  # the oldest first (insertion order)
            self.acks.pop(next(iter(self.acks)))
        sent = 0
        for subscriber in list(self.subscribers):
            for case_id, row in self.acks.items():
                if case_id not in subscriber.acked and covers(subscriber.scope,
                                                              row.get("grid_code")):
                    subscriber.acked.add(case_id)
                    subscriber.put(self._message("acknowledged", row))
                    sent += 1
        return sent

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
        fresh = [row for row in self._majors_in(stats) if str(row["case_id"]) not in self.acks]
        for subscriber in [s for s in self.subscribers if s.scope == scope]:
            for row in fresh:
                if str(row["case_id"]) not in subscriber.majors:
                    subscriber.majors.add(str(row["case_id"]))
                    subscriber.put(self._message("major", {**row, "acknowledged": None}))
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
        """The scope's day-by-day figures, oldest first. Today's (``trend(scope, True)``)
        are asked every time, so a case reported now is in the wall's "reported today"
        within a tick; the days before (``trend(scope, False)``) change slowly and are
        asked again once older than ``TREND_SECONDS`` or when a new day has begun. When a
        source fails: the last whole answer (or None)."""
        today = _ask(partial(trend, today=True), scope)
        at, past = self.trends.get(scope, (None, None))
        if (at is None or time.monotonic() - at >= TREND_SECONDS
                or (today is not None and past is not None and not _follows(past, today))):
            fresh = _ask(partial(trend, today=False), scope)
            if fresh is not None or at is None:
                self.trends[scope] = (time.monotonic(), fresh)
                past = fresh if fresh is not None else past
        if today is None or past is None or not _follows(past, today):
            return self.last_trend.get(scope)
        self.last_trend[scope] = {"days": [*past["days"], *today["days"]]}
        return self.last_trend[scope]

    def tick(self, statistics, trend=None, acknowledgements=None) -> int:
        """Ask ``statistics(scope)`` and ``trend`` (today every tick, the days before once
        a minute) for every watched scope and publish the answers; a scope whose source
        fails is skipped this time (its walls keep their figures and their heartbeat says
        the stream is alive; the page shows the figures' time).
        ``acknowledgements(after_id)``: the major events acknowledged since (every tick
        while a wall is open, before the figures: an acknowledged event is not pinned
        again)."""
        if acknowledgements is not None and self.subscribers:
            sent = self.take_acknowledgements(_ask(acknowledgements, self.ack_cursor) or [])
        else:
            sent = 0
        scopes = self.due()
        if not scopes:
            return sent
        self.busy = True

        def ask(scope: str) -> tuple[str, dict[str, Any] | None]:
            started = time.monotonic()
            stats = _ask(statistics, scope)
            if stats is not None and trend is not None:
                stats = {**stats, "trend": self.trend(scope, trend)}
            self.next_at[scope] = started + LOAD_FACTOR * (time.monotonic() - started)
            return scope, stats

        try:
            for scope, stats in eventlet.GreenPool(4).imap(ask, scopes):
                if stats is not None:
                    sent += self.publish(scope, stats)
        finally:
            self.busy = False
        return sent


def _follows(past: dict[str, Any], today: dict[str, Any]) -> bool:
    """Whether the cached days end the day before ``today``'s (not so after midnight)."""
    try:
        last = date.fromisoformat(past["days"][-1]["day"])
        return last + timedelta(days=1) == date.fromisoformat(today["days"][0]["day"])
    except (KeyError, IndexError, TypeError, ValueError):
        return False


def _ask(source, argument):
    try:
        return source(argument)
    except Exception as exc:  # a source down: the walls keep what they show
        log.warning("wall: %s(%s) failed: %s", getattr(source, "__name__", source),
                    argument, exc)
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

"""The electronic case file (P5.3.4 立案建档): every step of a case, kept for good.

Entries are append-only and hash-chained: ``hash = sha256(canonical_json(body) +
prev_hash)``, where the body is the entry without ``prev_hash`` and ``hash`` and the first
entry's ``prev_hash`` is 64 zeros.  Changing, removing or reordering any entry breaks every
hash after it, so ``verify`` finds where a file was tampered with (the table also refuses
UPDATE and DELETE).  The vocabulary follows the flow records of real platforms
(DOMAIN-REFERENCES §1: node, operation, result, opinion, operator, time used, timeout
flag) and uReport's history (§4: named actions and the notifications each step sent).

On-time flags are frozen when a stage ends (Zürich, §4): ``stage_outcome`` computes the
flag once, it is written into the entry that ends the stage, and it is never recomputed.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from enum import Enum
from typing import Any

from gridgov_common.contract.labels import CASE_ACTION, CASE_STATE

__all__ = [
    "ACTION_LABELS", "GENESIS_HASH", "LANGUAGES", "Entry", "canonical_json", "chain",
    "entry_hash", "format_instant", "link", "parse_instant", "stage_outcome", "verify",
]

GENESIS_HASH = "0" * 64
LANGUAGES = ("zh-CN", "en")
_INSTANT_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"  # always microseconds: lossless and canonical


def _require_aware(moment: datetime, what: str) -> datetime:
    if not isinstance(moment, datetime) or moment.tzinfo is None \
            or moment.tzinfo.utcoffset(moment) is None:
        raise ValueError(f"{what} must be a timezone-aware datetime (got {moment!r})")
    return moment


def format_instant(moment: datetime) -> str:
    """ISO-8601 UTC with ``Z`` and microseconds, the one form hashed."""
    return _require_aware(moment, "instant").astimezone(UTC).strftime(_INSTANT_FORMAT)


def parse_instant(text: str) -> datetime:
    return datetime.strptime(text, _INSTANT_FORMAT).replace(tzinfo=UTC)


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return format_instant(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    # sets have no stable order, floats-as-Decimal no single spelling: refuse, don't guess
    raise TypeError(f"{type(value).__name__} cannot go into a case file entry")


def canonical_json(value: Any) -> bytes:
    """Sorted keys, UTF-8, no spaces, datetimes as ISO UTC ``Z``: one byte string per
    value, so that a hash can be recomputed by anyone, in any language."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"),
                      allow_nan=False, default=_json_default).encode("utf-8")


def _plain(value: Any) -> Any:
    """A JSON value equal to what canonical_json writes (so stored = hashed)."""
    return json.loads(canonical_json(value))


@dataclass(frozen=True)
class Entry:
    """One step of a case (P5.3.4).  ``notifications``: what the step sent, e.g.
    ``{"to": "department:fire", "type": "dispatch.assignment"}``; ``data``: any JSON facts
    (assignment ids, rule id and version, department reference, …) — never a resident's
    personal data (P5.4.4)."""

    seq: int
    at: datetime
    actor_sub: str
    actor_role: str
    action: str
    from_state: str | None = None
    to_state: str | None = None
    reason: str | None = None
    deadline: datetime | None = None
    on_time: bool | None = None
    notifications: tuple[Mapping[str, Any], ...] = ()
    data: Mapping[str, Any] = field(default_factory=dict)
    prev_hash: str | None = None
    hash: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.seq, int) or isinstance(self.seq, bool) or self.seq < 1:
            raise ValueError(f"seq must be a positive integer (got {self.seq!r})")
        _require_aware(self.at, "at")
        if self.deadline is not None:
            _require_aware(self.deadline, "deadline")
        if not self.action:
            raise ValueError("an entry names its action")
        object.__setattr__(self, "notifications", tuple(self.notifications))

    def body(self) -> dict[str, Any]:
        """The hashed part, as plain JSON values."""
        return _plain({
            "seq": self.seq, "at": self.at, "actor_sub": self.actor_sub,
            "actor_role": self.actor_role, "action": self.action,
            "from_state": self.from_state, "to_state": self.to_state, "reason": self.reason,
            "deadline": self.deadline, "on_time": self.on_time,
            "notifications": list(self.notifications), "data": dict(self.data),
        })

    def to_dict(self) -> dict[str, Any]:
        """What the service stores (the ``entry`` column holds the body; the hashes have
        columns of their own, but are included here too)."""
        return {**self.body(), "prev_hash": self.prev_hash, "hash": self.hash}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Entry:
        """Back from storage (timestamps as strings) or from ``to_dict``."""
        deadline = data.get("deadline")
        return cls(
            seq=data["seq"], at=_instant(data["at"]), actor_sub=data["actor_sub"],
            actor_role=data["actor_role"], action=data["action"],
            from_state=data.get("from_state"), to_state=data.get("to_state"),
            reason=data.get("reason"),
            deadline=None if deadline is None else _instant(deadline),
            on_time=data.get("on_time"),
            notifications=tuple(data.get("notifications") or ()),
            data=dict(data.get("data") or {}),
            prev_hash=data.get("prev_hash"), hash=data.get("hash"),
        )


def _instant(value: datetime | str) -> datetime:
    return value if isinstance(value, datetime) else parse_instant(value)


def as_entry(value: Entry | Mapping[str, Any]) -> Entry:
    """An entry, from itself or from its stored (or exported) form."""
    return value if isinstance(value, Entry) else Entry.from_dict(value)


def entry_hash(entry: Entry, prev_hash: str) -> str:
    """sha256(canonical_json(entry without its hashes) + prev_hash), hex."""
    return hashlib.sha256(canonical_json(entry.body()) + prev_hash.encode("ascii")).hexdigest()


def link(entry: Entry, prev_hash: str) -> Entry:
    """The entry with its place in the chain: append after the entry hashed ``prev_hash``."""
    return replace(entry, prev_hash=prev_hash, hash=entry_hash(entry, prev_hash))


def chain(entries: Iterable[Entry | Mapping[str, Any]],
          prev_hash: str = GENESIS_HASH) -> list[Entry]:
    """Link entries in order, starting after ``prev_hash`` (the genesis for a new file)."""
    result = []
    for entry in entries:
        linked = link(as_entry(entry), prev_hash)
        result.append(linked)
        prev_hash = linked.hash  # type: ignore[assignment]
    return result


def verify(entries: Iterable[Entry | Mapping[str, Any]]) -> tuple[bool, int | None]:
    """Check a whole case file: seq 1, 2, 3, … each linked to the one before, each hash
    right.  Returns (True, None), or (False, the first seq that cannot be trusted)."""
    prev_hash = GENESIS_HASH
    for expected_seq, raw in enumerate(entries, start=1):
        try:
            entry = as_entry(raw)
        except (KeyError, TypeError, ValueError):
            return False, expected_seq
        if (entry.seq != expected_seq or entry.prev_hash != prev_hash
                or entry.hash != entry_hash(entry, prev_hash)):
            return False, expected_seq
        prev_hash = entry.hash
    return True, None


def stage_outcome(due_at: datetime, ended_at: datetime) -> bool:
    """On time = the stage ended no later than it was due.  Call it once, when the stage
    ends, and store the answer in that entry (frozen, never recomputed: Zürich, §4)."""
    return _require_aware(ended_at, "ended_at") <= _require_aware(due_at, "due_at")


# --- names of actions and states (the printable page is casefile_page.py) -----------------

# History vocabulary (uReport, §4): named actions, one table for the case file page and the
# app's timeline (gridgov_common/contract/labels.py CASE_ACTION); unknown actions show their code.
ACTION_LABELS = CASE_ACTION
# the other case a merge entry names by its number, shown after the label (P5.3.1)
NAMES_CASE = ("original_case_number", "duplicate_case_number")

STATE_LABELS = CASE_STATE  # one table of state names (gridgov_common/contract/labels.py)

"""Storing the electronic case file (P5.3.4): append hash-chained entries, read and verify.

The table refuses UPDATE and DELETE (trigger of migration 0001). Appending takes a
per-case transaction lock (a PostgreSQL advisory lock keyed on the case) before it reads the
last entry, so a second writer waits for the first to commit and then reads the entry the
first wrote. Locking the last entry's row instead (``FOR UPDATE``) is not enough: once its
lock is granted the second writer still sees the *old* last row and reuses its seq, and a
new file has no row to lock; the unique (case_id, seq) constraint stays as the backstop.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, UUID

from gridgov_common.platform import bulk
from gridgov_common.platform.frozen import frozen
from services.dispatch.domain.casefile import GENESIS_HASH, Entry, chain, link, verify
from services.dispatch.models import case_file, cases, waiting_file_entries

HEADS_KEY = "gridgov_casefile_heads"  # session.info: {case_id: (transaction, seq, hash)}
# Advisory-lock name space of case files (the int4 pair form; "cf"): other advisory locks of
# the platform use the single bigint form, whose keys never meet these.
LOCK_CLASS = 0x6366


def append(session, case_id: str, *, action: str, actor_sub: str, actor_role: str,
           at: datetime | None = None, **fields: Any) -> Entry:
    """Append one entry to the case's file, after its last one; returns the linked entry."""
    case_id = str(case_id)
    seq, prev_hash = _head(session, case_id)
    entry = link(Entry(seq=seq + 1, at=at or datetime.now(UTC), actor_sub=actor_sub,
                       actor_role=actor_role, action=action, **fields), prev_hash)
    session.execute(sa.insert(case_file).values(
        case_id=case_id, seq=entry.seq, entry=entry.body(),
        prev_hash=entry.prev_hash, hash=entry.hash))
    session.info.setdefault(HEADS_KEY, {})[case_id] = (
        session.get_transaction(), entry.seq, entry.hash)
    return entry


def lock(session, case_id: str) -> None:
    """Take the case's append lock for the rest of the transaction (re-entrant)."""
    session.execute(sa.text("SELECT pg_advisory_xact_lock(:cls, hashtext(:case_id))"),
                    {"cls": LOCK_CLASS, "case_id": str(case_id)})


def lock_cases(session, case_ids) -> None:
    """Take the append locks of several cases at once, in one global order (by lock key).

    A transaction that writes to several case files (a batch of filings or notifications,
    an escalation run) must take their locks before its first append and always in the
    same order, or two of them deadlock (seen in the soak: a notification batch and a
    filing batch locking two cases in opposite orders). The sorted subquery feeds the
    aggregate in order, so the locks are taken one by one in key order."""
    ids = sorted({str(case_id) for case_id in case_ids if case_id is not None})
    if not ids:
        return
    session.execute(sa.text(
        "SELECT count(pg_advisory_xact_lock(:cls, k)) FROM ("
        " SELECT DISTINCT hashtext(id) AS k FROM unnest(CAST(:ids AS text[])) AS id"
        " ORDER BY 1) AS keys"), {"cls": LOCK_CLASS, "ids": ids})


def append_or_wait(session, case_id: str, *, action: str, actor_sub: str, actor_role: str,
                   at: datetime, data: dict[str, Any]) -> bool:
    """Append the entry, or keep it until the case is filed; True when appended now.

    Under the case's lock: filing takes the same lock for its first entry and then appends
    whatever waits (:func:`append_waiting`), so an entry is either seen waiting by the
    filing or finds the case filed, never neither."""
    case_id = str(case_id)
    lock(session, case_id)
    known = session.execute(sa.select(cases.c.case_id).where(cases.c.case_id == case_id)
                            ).first()
    if known is None:
        session.execute(sa.insert(waiting_file_entries).values(
            case_id=case_id, action=action, actor_sub=actor_sub, actor_role=actor_role,
            at=at, data=data))
        return False
    append(session, case_id, action=action, actor_sub=actor_sub, actor_role=actor_role,
           at=at, data=data)
    return True


def append_waiting(session, case_id: str) -> int:
    """Append the entries that arrived before the case was filed, in their own time order;
    called by filing after its first entry (the case's lock is held)."""
    table = waiting_file_entries
    rows = session.execute(sa.delete(table).where(table.c.case_id == str(case_id))
                           .returning(table.c.id, table.c.action, table.c.actor_sub,
                                      table.c.actor_role, table.c.at, table.c.data)).all()
    for row in sorted(rows, key=lambda r: (r.at, r.id)):
        append(session, case_id, action=row.action, actor_sub=row.actor_sub,
               actor_role=row.actor_role, at=row.at, data=row.data)
    return len(rows)


def _take_waiting() -> sa.TextualSelect:
    """The statement of :func:`take_waiting`, compiled once; ``= ANY(:case_ids)`` keeps
    one SQL text (and one server-prepared statement) for any batch size, where ``IN``
    wrote one per size (issue 16)."""
    table = waiting_file_entries
    return frozen(sa.delete(table).where(table.c.case_id == sa.any_(
        sa.bindparam("case_ids", type_=ARRAY(UUID(as_uuid=False)))))
        .returning(table.c.case_id, table.c.id, table.c.action, table.c.actor_sub,
                   table.c.actor_role, table.c.at, table.c.data), "case_ids")


_TAKE_WAITING = _take_waiting()


def take_waiting(session, case_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
    """:func:`append_waiting` for a batch of new files, in one statement: the entries that
    waited for each case, in their own time order, taken off the waiting table; the caller
    appends them (:func:`append_new_files`)."""
    if not case_ids:
        return {}
    rows = session.execute(_TAKE_WAITING, {"case_ids": case_ids}).all()
    found: dict[str, list[dict[str, Any]]] = {}
    for row in sorted(rows, key=lambda r: (r.at, r.id)):
        found.setdefault(str(row.case_id), []).append(
            {"action": row.action, "actor_sub": row.actor_sub, "actor_role": row.actor_role,
             "at": row.at, "data": row.data})
    return found


def append_new_files(session, files: dict[str, list[dict[str, Any]]]) -> None:
    """The first entries of new case files (their cases filed in this transaction, their
    locks held), chained from the genesis in Python and written in one statement."""
    rows = []
    heads = session.info.setdefault(HEADS_KEY, {})
    transaction = session.get_transaction()
    for case_id, fields in files.items():
        for entry in chain([Entry(seq=seq, **entry) for seq, entry in
                            enumerate(fields, start=1)]):
            rows.append({"case_id": case_id, "seq": entry.seq, "entry": entry.body(),
                         "prev_hash": entry.prev_hash, "hash": entry.hash})
        heads[case_id] = (transaction, entry.seq, entry.hash)
    if rows:
        bulk.insert_rows(session, case_file, rows)


def _head(session, case_id: str) -> tuple[int, str]:
    """(seq, hash) of the case's last entry, 0 and the genesis hash for a new file.

    The first append of a transaction takes the case's lock, then reads the head (read
    committed: the statement after the wait sees what the previous writer committed);
    later appends of the same transaction know it already (the lock is still ours), which
    saves two queries for every entry after the first — filing a case writes two or three."""
    known = session.info.get(HEADS_KEY, {}).get(case_id)
    if known is not None and known[0] is session.get_transaction() and known[0].is_active:
        return known[1], known[2]
    lock(session, case_id)
    last = session.execute(
        sa.select(case_file.c.seq, case_file.c.hash)
        .where(case_file.c.case_id == case_id)
        .order_by(case_file.c.seq.desc()).limit(1)).first()
    return (last.seq, last.hash) if last else (0, GENESIS_HASH)


def entries(session, case_id: str) -> list[dict[str, Any]]:
    """The whole file in order, each entry with its hashes."""
    rows = session.execute(
        sa.select(case_file.c.entry, case_file.c.prev_hash, case_file.c.hash)
        .where(case_file.c.case_id == str(case_id)).order_by(case_file.c.seq)).all()
    return [{**row.entry, "prev_hash": row.prev_hash, "hash": row.hash} for row in rows]


def verified(session, case_id: str) -> dict[str, Any]:
    """The file and whether its chain holds (``broken_at``: first seq not to be trusted)."""
    found = entries(session, case_id)
    ok, broken_at = verify(found)
    return {"case_id": str(case_id), "entries": found,
            "verification": {"valid": ok, "broken_at": broken_at, "count": len(found)}}

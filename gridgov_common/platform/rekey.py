"""Re-encryption of personal data after a PII key rotation (P5.4.4; issue 5, "keys and
secrets come only from the environment"), in batches, idempotent and resumable.

Every blob names the key that wrote it in its first byte (gridgov_common/kernel/pii.py), so "still
to do" is a plain SQL condition, ``get_byte(column, 0) <> current version``: a batch takes
the next rows that match (keyset order on the primary key, ``FOR UPDATE`` so a service's
concurrent write of the same row waits rather than being overwritten), decrypts each stale
blob with whichever key wrote it, encrypts it with the current key and commits.  Run it
twice and the second run finds nothing; stop it anywhere and the next run starts with what
is left.  Once ``status`` shows no blob under an old version, that key can be removed from
``PII_OLD_KEYS``.

The services declare what they encrypt (``Target``); their CLIs call :func:`rekey` and
:func:`status` (``python -m services.registry.cli rekey-pii``,
``python -m services.notify.cli rekey-pii``).  Plain module: no nameko.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from gridgov_common.kernel.pii import PiiCipher, PiiError
from gridgov_common.platform.db import transaction

DEFAULT_BATCH = 500


@dataclass(frozen=True)
class Encrypted:
    """One encrypted column; ``field`` is the associated data it was sealed with, fixed or
    computed from the row (notify's address field depends on the channel)."""

    column: str
    field: str | Callable[[Any], str]

    def field_of(self, row: Any) -> str:
        return self.field(row) if callable(self.field) else self.field


@dataclass(frozen=True)
class Target:
    """A table with encrypted columns; ``needs`` are the other columns ``field`` reads."""

    table: sa.Table
    key: str
    columns: tuple[Encrypted, ...]
    needs: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return f"{self.table.schema}.{self.table.name}"


@dataclass
class Report:
    """What one run did, per target: rows rewritten and blobs re-encrypted per column."""

    rows: Counter = field(default_factory=Counter)
    blobs: Counter = field(default_factory=Counter)
    batches: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {"batches": self.batches, "rows_rewritten": dict(self.rows),
                "blobs_reencrypted": dict(self.blobs)}


def _stale(target: Target, version: int) -> sa.ColumnElement[bool]:
    return sa.or_(*(sa.and_(target.table.c[c.column].is_not(None),
                            sa.func.get_byte(target.table.c[c.column], 0) != version)
                    for c in target.columns))


def _batch(session, cipher: PiiCipher, target: Target, after: Any, size: int,
           report: Report) -> Any:
    """Re-encrypt the next ``size`` stale rows after key ``after``; returns the last key
    seen (None when nothing is left)."""
    table, key = target.table, target.table.c[target.key]
    names = [c.column for c in target.columns]
    query = (sa.select(key, *(table.c[n] for n in (*names, *target.needs)))
             .where(_stale(target, cipher.key_version)).order_by(key).limit(size)
             .with_for_update(of=table))
    if after is not None:
        query = query.where(key > after)
    rows = session.execute(query).all()
    if not rows:
        return None
    updates = []
    for row in rows:
        values = {"b_key": getattr(row, target.key)}
        for column in target.columns:
            blob = getattr(row, column.column)
            if blob is not None and cipher.needs_rotation(blob):
                try:
                    blob = cipher.reencrypt(blob, column.field_of(row))
                except PiiError as exc:
                    raise PiiError(f"{target.name} {target.key}={values['b_key']} "
                                   f"{column.column}: {exc}") from None
                report.blobs[f"{target.name}.{column.column}"] += 1
            values[f"b_{column.column}"] = blob
        updates.append(values)
    session.execute(sa.update(table).where(key == sa.bindparam("b_key"))
                    .values({n: sa.bindparam(f"b_{n}") for n in names}), updates)
    report.rows[target.name] += len(rows)
    report.batches += 1
    return getattr(rows[-1], target.key)


def rekey(engine: sa.Engine, cipher: PiiCipher, targets: list[Target],
          batch: int = DEFAULT_BATCH, progress: Callable[[str, int], None] | None = None
          ) -> Report:
    """Re-encrypt every blob not under the current key, one committed batch at a time.

    A blob under a version the cipher has no key for stops the run with PiiError (what was
    committed stays done); nothing is ever written that the current key cannot read.
    """
    if batch < 1:
        raise ValueError("batch must be at least 1")
    report = Report()
    for target in targets:
        after = None
        while True:
            with transaction(engine) as session:
                after = _batch(session, cipher, target, after, batch, report)
            if after is None:
                break
            if progress:
                progress(target.name, report.rows[target.name])
    return report


def status(engine: sa.Engine, targets: list[Target]) -> dict[str, dict[str, int]]:
    """Blobs per key version, per encrypted column: ``{"registry.residents.phone_enc":
    {"1": 12, "2": 40000}}``.  An old version absent everywhere can leave PII_OLD_KEYS."""
    out: dict[str, dict[str, int]] = {}
    with engine.connect() as conn:
        for target in targets:
            for column in target.columns:
                col = target.table.c[column.column]
                version = sa.func.get_byte(col, 0)
                rows = conn.execute(sa.select(version, sa.func.count())
                                    .where(col.is_not(None)).group_by(version)
                                    .order_by(version)).all()
                out[f"{target.name}.{column.column}"] = {str(v): n for v, n in rows}
    return out


def versions_in_use(counts: dict[str, dict[str, int]]) -> set[int]:
    """Every key version some blob still names."""
    return {int(v) for per_column in counts.values() for v, n in per_column.items() if n}


def summary(cipher: PiiCipher, counts: dict[str, dict[str, int]]) -> dict[str, Any]:
    """The status plus what an operator needs to decide: which old keys can go."""
    used = versions_in_use(counts)
    old = sorted(cipher.key_versions - {cipher.key_version})
    return {"current_version": cipher.key_version, "blobs_by_version": counts,
            "old_versions_still_used": sorted(used - {cipher.key_version}),
            "old_keys_removable": [v for v in old if v not in used]}


def add_parser(subparsers) -> None:
    """The ``rekey-pii`` subcommand, the same in every service's CLI."""
    cmd = subparsers.add_parser("rekey-pii", help="re-encrypt personal data under the "
                                "current GRIDGOV_PII_KEY (after a rotation), in batches")
    cmd.add_argument("--batch", type=int, default=DEFAULT_BATCH, help="rows per transaction")
    cmd.add_argument("--status", action="store_true",
                     help="only count blobs per key version (nothing is written)")


def run(engine: sa.Engine, cipher: PiiCipher, targets: list[Target], batch: int,
        only_status: bool) -> int:
    """``rekey-pii``: re-encrypt (unless ``only_status``), then print as JSON what was done,
    the blobs per key version and which old keys may now leave PII_OLD_KEYS."""
    done: dict[str, Any] = {}
    if not only_status:
        done = rekey(engine, cipher, targets, batch, progress=lambda name, rows: sys.stderr
                     .write(f"\r{name}: {rows} rows re-encrypted")).as_dict()
        sys.stderr.write("\n")
    print(json.dumps({**done, **summary(cipher, status(engine, targets))}, indent=2))
    return 0

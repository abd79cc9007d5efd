"""Database access for nameko services: one engine per container, one session per worker.

Why commit *before* replying: nameko calls an entrypoint's ``handle_result`` (which sends
the RPC reply, builds the HTTP response or acks the AMQP message) *before* the
dependencies' ``worker_result``.  A provider that committed only in ``worker_result`` could
tell a caller "stored" or ack a message and then fail to commit.  Our entrypoints therefore
call :func:`finish_worker_transactions` first; ``worker_result`` then commits whatever is
left (timers, stock entrypoints) or rolls back on error.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from nameko.extensions import DependencyProvider
from sqlalchemy.orm import Session, sessionmaker

import gridgov_common.platform.greening  # noqa: F401  (psycopg must be green before connecting)
from gridgov_common.platform.settings import TEXT, Setting

log = logging.getLogger(__name__)

DB_URL = Setting("DB_URL", TEXT, None, "the service's database, as its own role "
                 "(gridgov_common/platform/db_roles.py)", required=True)
DB_SCHEMA = Setting("DB_SCHEMA", TEXT, None, "the service's own schema (outbox, claims)")
DEFAULT_POOL_SIZE = 10


def make_engine(url: str, pool_size: int = DEFAULT_POOL_SIZE) -> sa.Engine:
    """An engine for PostgreSQL via psycopg 3; pre-ping survives a database restart."""
    if not url.startswith("postgresql"):
        raise ValueError("gridgov runs on PostgreSQL only; DB_URL must be postgresql+psycopg://")
    return sa.create_engine(
        url, pool_pre_ping=True, pool_size=pool_size, max_overflow=pool_size, future=True
    )


def fixed(value: str | bool) -> sa.BindParameter:
    """A constant written into the SQL text rather than sent as a parameter.

    Use it where the query compares a column with the constant of a partial index's
    predicate (``state = 'pending'``). psycopg prepares a statement after a few runs and
    PostgreSQL may then use a generic plan, which cannot prove that a *parameter* equals
    the predicate's constant and so never uses the partial index: notify's sender then
    scanned every delivery ~20 times a second and events' duplicate search the whole
    window (issue 17 soak: database CPU drifting 10 % -> 29 % at constant load).
    ``literal_execute`` keeps SQLAlchemy's compiled-statement cache: the value is
    rendered, quoted by the dialect, at execution."""
    return sa.bindparam(None, value, literal_execute=True)


@contextmanager
def transaction(engine: sa.Engine) -> Iterator[Session]:
    """A session committed on success and rolled back on error, for scripts and timers."""
    session = Session(bind=engine, expire_on_commit=False)
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


class Database(DependencyProvider):
    """Injects a SQLAlchemy ``Session`` per worker.

    The session is committed by :func:`finish_worker_transactions` (called by our
    entrypoints before they reply) or in ``worker_result``; rolled back if the worker
    raised.  ``self.engine`` is available to other extensions of the same container.
    """

    def __init__(self, pool_size: int = DEFAULT_POOL_SIZE) -> None:
        self.pool_size = pool_size
        self.engine: sa.Engine | None = None
        self._sessions: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    def setup(self) -> None:
        url = DB_URL.of(self.container)
        self.engine = make_engine(url, self.pool_size)
        # the outbox and the idempotency table live in the service's own schema
        self._factory = sessionmaker(bind=self.engine, expire_on_commit=False,
                                     info={"db_schema": DB_SCHEMA.of(self.container)})

    def stop(self) -> None:
        if self.engine is not None:
            self.engine.dispose()

    def kill(self) -> None:
        """Drop the connections of workers that were killed, as a dying process would: their
        transactions roll back and their locks go at once, not when the garbage collector
        gets round to them (a lock left behind would stall every other replica)."""
        for session in list(self._sessions.values()):
            try:
                session.invalidate()
            except Exception as exc:  # noqa: BLE001  (the container is dying anyway)
                log.warning("could not drop a killed worker's connection: %r", exc)
        self.stop()

    def get_dependency(self, worker_ctx) -> Session:
        session = self._factory()
        self._sessions[worker_ctx] = session
        return session

    def commit(self, worker_ctx) -> None:
        """Commit the worker's session now (idempotent: a second commit is a no-op)."""
        session = self._sessions.get(worker_ctx)
        if session is not None:
            session.commit()

    def worker_result(self, worker_ctx, result=None, exc_info=None) -> None:
        """Commit what is left (timers, stock entrypoints), or roll back a failed worker.

        Never raises: an exception here would kill the whole container (nameko runs it in
        the worker's thread), and a database that just restarted makes even ROLLBACK fail.
        A lost commit is logged; the entrypoint's own error handling has run already."""
        session = self._sessions.get(worker_ctx)
        if session is None:
            return
        try:
            if exc_info is None:
                session.commit()
            else:
                session.rollback()
        except Exception as exc:  # noqa: BLE001  (see the docstring)
            log.warning("%s: could not end the worker's transaction: %r", worker_ctx, exc)
            _drop(session)

    def worker_teardown(self, worker_ctx) -> None:
        session = self._sessions.pop(worker_ctx, None)
        if session is not None:
            try:
                session.close()
            except Exception as exc:  # noqa: BLE001  (the connection is gone already)
                log.warning("could not close a worker's session: %r", exc)
                _drop(session)


def finish_worker_transactions(worker_ctx) -> BaseException | None:
    """Commit every :class:`Database` session of this worker; return the error if one fails.

    Called by entrypoints before they reply or ack, so that an acknowledged message or
    a 2xx response always means the data is stored.
    """
    for provider in worker_ctx.container.dependencies:
        if not isinstance(provider, Database):
            continue
        try:
            provider.commit(worker_ctx)
        except Exception as exc:  # the reply must carry the failure, not hide it
            _rollback_quietly(provider, worker_ctx)
            return exc
    return None


def _drop(session: Session) -> None:
    """Discard the session's connections without talking to the server."""
    try:
        session.invalidate()
    except Exception as exc:  # noqa: BLE001
        log.warning("could not invalidate a session: %r", exc)


def _rollback_quietly(provider: Database, worker_ctx) -> None:
    session = provider._sessions.get(worker_ctx)
    if session is None:
        return
    try:
        session.rollback()
    except Exception as exc:  # noqa: BLE001  (the commit's failure is what is reported)
        log.warning("could not roll back after a failed commit: %r", exc)
        _drop(session)

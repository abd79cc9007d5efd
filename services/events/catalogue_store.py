"""The subcategory catalogue kept in events' database: versions a district admin publishes
over the API, read by intake, Open311 and the visibility rules without a restart.

Like dispatch's rule sets (services/dispatch/config_store.py): a version once stored never
changes, so versions are cached per process for good; "current" (the highest version) is
re-read at most every ``CURRENT_TTL`` seconds, so a version published through one replica
reaches the others within that time, and the publishing replica at once.  When the table
is empty the packaged catalogue is stored as version 1 and announced; the current version
is announced again at start and hourly (``announce_current``).

Each version is announced as ``events.catalogue.published`` in the same transaction
(outbox), so dispatch checks rule sets against the catalogue the reports are checked
against.
"""

from __future__ import annotations

import time
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gridgov_common.kernel.errors import Conflict
from gridgov_common.platform.messaging import resolve_schema
from gridgov_common.platform.outbox import add_event
from services.events.domain.catalogue_version import Catalogue, packaged, subcategory_to_dict
from services.events.models import catalogue_versions

CURRENT_TTL = 5.0
PRODUCER = "events"
CATALOGUE_PUBLISHED = "events.catalogue.published"
SEEDED_BY = "system:packaged"
PUBLISHED_FIELDS = ("code", "work_category", "info_class", "name_zh", "name_en", "severity",
                    "public", "sensitive", "retired", "handling_level", "ack_limit",
                    "handle_limit", "closing_condition")  # v2

_versions: dict[int, Catalogue] = {}
_current: list[tuple[float, int]] = []


def current(session) -> Catalogue:
    """The catalogue new reports are checked against."""
    if _current and time.monotonic() - _current[0][0] < CURRENT_TTL:
        return version(session, _current[0][1])
    number = session.execute(sa.select(sa.func.max(catalogue_versions.c.version))).scalar()
    if number is None:
        number = _seed(session)
    _current[:] = [(time.monotonic(), number)]
    return version(session, number)


def version(session, number: int) -> Catalogue:
    """Stored version ``number`` (LookupError when there is none)."""
    if number not in _versions:
        body = session.execute(sa.select(catalogue_versions.c.catalogue)
                               .where(catalogue_versions.c.version == number)).scalar()
        if body is None:
            raise LookupError(f"no catalogue version {number}")
        _versions[number] = Catalogue.from_dict(body)
    return _versions[number]


def history(session) -> list[dict[str, Any]]:
    """Every version, newest first: number, who, when, note and size."""
    rows = session.execute(sa.select(
        catalogue_versions.c.version, catalogue_versions.c.created_by,
        catalogue_versions.c.created_at, catalogue_versions.c.note,
        sa.func.jsonb_array_length(catalogue_versions.c.catalogue["subcategories"])
        .label("subcategories"),
    ).order_by(catalogue_versions.c.version.desc()))
    return [dict(row._mapping) for row in rows]


def publish(session, catalogue: Catalogue, by: str, note: str = "") -> Catalogue:
    """Store ``catalogue`` as the next version and announce it, in the caller's transaction.

    Two admins publishing at once: the second insert meets the first's primary key and
    gets a 409 telling them to re-read the catalogue, never a silent overwrite."""
    try:
        with session.begin_nested():
            session.execute(sa.insert(catalogue_versions).values(
                version=catalogue.version, catalogue=catalogue.to_dict(), created_by=by,
                note=note))
    except IntegrityError:
        raise Conflict(f"catalogue version {catalogue.version} was published meanwhile: "
                       "read the catalogue again and repeat the change",
                       code="catalogue_version_taken") from None
    announce(session, catalogue, by)
    _versions[catalogue.version] = catalogue
    _current[:] = [(time.monotonic(), catalogue.version)]
    return catalogue


def announce_current(session) -> int:
    """The current version on the bus again (at start and hourly): a consumer whose
    database is new, or who missed a message, converges without a replay. Stores and
    announces the packaged catalogue first when there is none."""
    latest = session.execute(sa.select(sa.func.max(catalogue_versions.c.version))).scalar()
    if latest is None:
        return current(session).version  # seeding announced it
    found = version(session, latest)
    by = session.execute(sa.select(catalogue_versions.c.created_by)
                         .where(catalogue_versions.c.version == latest)).scalar()
    announce(session, found, by)
    return found.version


def announce(session, catalogue: Catalogue, by: str, schema: str | None = None) -> None:
    add_event(session, CATALOGUE_PUBLISHED, {
        "version": catalogue.version, "published_by": by,
        "subcategories": [{name: entry[name] for name in PUBLISHED_FIELDS}
                          for entry in map(subcategory_to_dict, catalogue.subcategories)],
    }, PRODUCER, schema=schema)


def _seed(session) -> int:
    """Store and announce the packaged catalogue as version 1, committed on its own so
    that no case transaction holds it (dispatch's config_store explains why)."""
    seed = packaged()
    bind = session.get_bind()
    if not isinstance(bind, sa.Engine):  # a session bound to a caller's connection
        _store_seed(session, seed, resolve_schema(session, None))
        return seed.version
    with Session(bind=bind, info=dict(session.info)) as own:
        _store_seed(own, seed, resolve_schema(session, None))
        own.commit()
    return seed.version


def _store_seed(session, seed: Catalogue, schema: str) -> None:
    inserted = session.execute(
        pg.insert(catalogue_versions)
        .values(version=seed.version, catalogue=seed.to_dict(), created_by=SEEDED_BY,
                note="packaged catalogue")
        .on_conflict_do_nothing(index_elements=["version"])
        .returning(catalogue_versions.c.version)).scalar()
    if inserted is not None:  # the replica that stored it announces it, once
        announce(session, seed, SEEDED_BY, schema=schema)


def forget() -> None:
    """Drop every cached version (tests: after truncating the tables)."""
    _versions.clear()
    _current.clear()

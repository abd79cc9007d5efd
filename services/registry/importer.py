"""Import a real district: grids from GeoJSON, residents from CSV.

All or nothing: every row is validated and the report lists each rejected row with its
field and reason; if any row is rejected nothing is written (what was already streamed is
rolled back to a savepoint).  Residents go in with one binary PostgreSQL COPY, encrypted
chunk by chunk while PostgreSQL writes the previous chunk, so a district's population
loads at close to the speed of the database itself (bench/bench_02_resident_import.py).
"""

from __future__ import annotations

import csv
import io
import itertools
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import psycopg
import psycopg.types.string
import sqlalchemy as sa
from shapely.geometry import shape
from sqlalchemy.orm import Session

from gridgov_common.kernel import pii
from gridgov_common.kernel.errors import ApiError
from services.registry import people, places
from services.registry.domain import geometry, identity
from services.registry.models import communities, grids
from services.registry.schemas import SPECIAL_GROUPS

RESIDENT_COLUMNS = ("grid_code", "address", "unit", "name", "id_number", "phone",
                    "relationship", "special_groups")
REQUIRED_RESIDENT_COLUMNS = ("grid_code", "address", "unit", "name", "id_number")
MAX_REPORTED = 1000
Progress = Callable[[int, int], None]


@dataclass
class ImportReport:
    total: int = 0
    imported: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)
    rejected_count: int = 0

    def reject(self, row: int, column: str, message: str) -> None:
        self.rejected_count += 1
        if len(self.rejected) < MAX_REPORTED:
            self.rejected.append({"row": row, "field": column, "message": message})

    def as_dict(self) -> dict[str, Any]:
        return {"total": self.total, "imported": self.imported,
                "rejected_count": self.rejected_count, "rejected": self.rejected}


class ImportRejected(ApiError):
    status, code = 422, "import_rejected"

    def __init__(self, report: ImportReport) -> None:
        super().__init__(f"{report.rejected_count} of {report.total} rows rejected; "
                         "nothing was imported", fields={"report": report.as_dict()})
        self.report = report


def _noop(done: int, total: int) -> None:
    return None


# -- grids ------------------------------------------------------------------------------

def import_grids(session: Session, collection: dict[str, Any],
                 progress: Progress = _noop, scope_prefix: str = "") -> ImportReport:
    """All or nothing; a grid of a community outside ``scope_prefix`` (the caller's
    district, issue 10) is a rejected row like an unknown community (the CLI, run by the
    operator of the deployment, passes "")."""
    features = collection.get("features") if isinstance(collection, dict) else None
    report = ImportReport()
    if collection.get("type") != "FeatureCollection" or not isinstance(features, list):
        report.reject(0, "type", "expected a GeoJSON FeatureCollection")
        raise ImportRejected(report)
    report.total = len(features)
    _validate_features(session, features, report, scope_prefix)
    if report.rejected_count:
        raise ImportRejected(report)
    for n, feature in enumerate(features, start=1):
        props = feature["properties"]
        places.issue_grid(session, {**props, "geometry": feature["geometry"],
                                    "kind": props.get("kind", "base")})
        report.imported += 1
        progress(n, report.total)
    return report


def _validate_features(session: Session, features: list, report: ImportReport,
                       scope_prefix: str = "") -> None:
    # P3.1: no grid is drawn under a community retired by a division adjustment
    known = set(session.execute(sa.select(communities.c.code).where(
        communities.c.code.startswith(scope_prefix, autoescape=True),
        communities.c.valid_to.is_(None))).scalars())
    accepted: list[tuple[str, Any]] = []
    for n, feature in enumerate(features, start=1):
        props = (feature or {}).get("properties") or {}
        if props.get("community_code") not in known:
            report.reject(n, "community_code",
                          f"unknown or retired community {props.get('community_code')}")
            continue
        if not props.get("name"):
            report.reject(n, "name", "required")
            continue
        try:
            geom = geometry.validate_grid_polygon(feature.get("geometry"))
        except geometry.GeometryError as exc:
            report.reject(n, "geometry", str(exc))
            continue
        clash = geometry.find_overlaps(geom, accepted)
        if clash:
            report.reject(n, "geometry", f"overlaps row(s) {', '.join(clash)} of this file")
            continue
        accepted.append((f"#{n}", geom))
    existing = [(r.grid_code, shape(r.geometry)) for r in session.execute(
        sa.select(grids.c.grid_code, grids.c.geometry).where(grids.c.valid_to.is_(None)))]
    for label, geom in accepted:
        clash = geometry.find_overlaps(geom, existing)
        if clash:
            report.reject(int(label[1:]), "geometry", f"overlaps grid(s) {', '.join(clash)}")


# -- residents --------------------------------------------------------------------------

def read_csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))


# Rows checked and encrypted at a time: encryption is batched per chunk, and the COPY
# streams each chunk to PostgreSQL while Python checks the next.
CHUNK = 2_000
COPY_COLUMNS = ("household_id", "grid_code", "name", "sex", "birth_year", "relationship",
                "id_number_enc", "id_number_bidx", "id_number_masked", "phone_enc",
                "phone_bidx", "phone_masked", "special_groups_enc")
COPY_TYPES = ("int8", "text", "text", "text", "int2", "text", "bytea", "bytea", "text",
              "bytea", "bytea", "text", "bytea")
_ACTIVE_ID_INDEX = "ux_residents_active_id"  # models.residents: one active registration
_SAVEPOINT = "resident_import"


def import_residents(session: Session, cipher: pii.PiiCipher, rows: Iterable[dict[str, str]],
                     progress: Progress = _noop, scope_prefix: str = "") -> ImportReport:
    """See ``_import_residents``; the driver's errors come out as SQLAlchemy's, like those
    of every other statement, so a database lost mid-import answers 503 (web.py)."""
    try:
        return _import_residents(session, cipher, rows, progress, scope_prefix)
    except psycopg.OperationalError as exc:
        raise sa.exc.OperationalError(None, None, exc) from exc
    except psycopg.IntegrityError as exc:
        raise sa.exc.IntegrityError(None, None, exc) from exc


def _import_residents(session: Session, cipher: pii.PiiCipher, rows: Iterable[dict[str, str]],
                      progress: Progress, scope_prefix: str) -> ImportReport:
    """All or nothing: every row is checked and any rejection (the report lists each one)
    leaves the registry as it was.

    The buildings and households the rows live in are found first (one query each) and
    the missing ones given ids from their sequences; their INSERTs (one each) go out in
    libpq's pipeline mode, and while PostgreSQL writes them Python checks and encrypts the
    first chunks of rows.  Then one binary COPY into ``registry.residents`` takes every
    chunk as soon as it is ready, so PostgreSQL's index and FK work on one core overlaps
    Python's checks and encryption on the other.  A person already registered (P3.1) is
    refused by the unique index on the blind index; then, as after any other rejection,
    the writes are rolled back to a savepoint and the registry is asked which people of
    the file it holds, so the report is the one a check before writing would give.
    """
    rows = rows if isinstance(rows, list) else list(rows)
    report = ImportReport(total=len(rows))
    if rows and (missing := [c for c in REQUIRED_RESIDENT_COLUMNS if c not in rows[0]]):
        report.reject(1, ",".join(missing), "missing CSV columns")
        raise ImportRejected(report)
    today = date.today()
    valid_grids = set(session.execute(sa.select(grids.c.grid_code).where(
        places.active_on(today))).scalars())
    places_of = [_place(raw, valid_grids, scope_prefix) for raw in rows]
    connection = session.connection().connection.driver_connection
    cursor = connection.cursor()
    # the C dumper for bytea (psycopg's DB-API module registers a slower one for the type)
    cursor.adapters.register_dumper(bytes, psycopg.types.string.BytesBinaryDumper)
    household_ids, new_buildings, new_households = _plan_households(session, cursor,
                                                                    places_of)
    parser = _Parser(cipher, valid_grids, scope_prefix, identity.IdNumberChecker(today),
                     report)
    chunks = iter(range(0, len(rows), CHUNK))
    ready: list[list[tuple]] = []  # chunks checked while the households were written

    def next_chunk(start: int) -> list[tuple] | None:
        checked = parser.chunk(rows, places_of, household_ids, start, start + CHUNK)
        progress(min(start + CHUNK, len(rows)), len(rows))
        return checked

    with connection.pipeline():
        cursor.execute(f"SAVEPOINT {_SAVEPOINT}")
        _insert_places(cursor, new_buildings, new_households)
        # about as many rows as households take PostgreSQL as long as Python needs
        for start in chunks:
            ready.append(next_chunk(start))
            if start + CHUNK >= len(new_households) + len(new_buildings):
                break
    refused: Exception | None = None
    try:
        with cursor.copy(f"COPY registry.residents ({', '.join(COPY_COLUMNS)}) "
                         "FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(COPY_TYPES)
            write_row = copy.write_row
            for checked in itertools.chain(ready, map(next_chunk, chunks)):
                if checked is not None and not parser.rejected:
                    for row in checked:
                        write_row(row)
    except psycopg.errors.UniqueViolation as exc:
        if exc.diag.constraint_name != _ACTIVE_ID_INDEX:
            raise
        refused = exc  # P3.1: someone in the file is registered already; found below
    for start in chunks:  # the rows after a refusal are still checked, for the report
        next_chunk(start)
    if refused is None and not parser.rejected:
        cursor.execute(f"RELEASE SAVEPOINT {_SAVEPOINT}")
        report.imported = len(rows)
        return report
    cursor.execute(f"ROLLBACK TO SAVEPOINT {_SAVEPOINT}")
    for line, first in parser.duplicates:
        report.reject(line, "id_number", f"same person as line {first}")
    _reject_registered(cursor, parser.seen, report)
    raise ImportRejected(report)


def _place(raw: dict[str, str], valid_grids: set[str],
           scope_prefix: str) -> tuple[str, str, str] | None:
    """(grid, address, unit) of a row whose household can be created, else None."""
    grid_code = (raw.get("grid_code") or "").strip()
    if grid_code not in valid_grids or not grid_code.startswith(scope_prefix):
        return None
    address, unit = (raw.get("address") or "").strip(), (raw.get("unit") or "").strip()
    return (grid_code, address, unit) if address and unit else None


class _Parser:
    """Checks and encrypts rows a chunk at a time, into the rows of the COPY.

    The checks and their messages are those of the row-at-a-time version, in the same
    order (grid, scope, required fields, ID number, phone, special groups), so a report
    lists the same rejections; encryption is batched per chunk (``encrypt_many``,
    ``blind_index_many``: one AAD and one urandom call per chunk and field).
    """

    def __init__(self, cipher: pii.PiiCipher, valid_grids: set[str], scope_prefix: str,
                 ids: identity.IdNumberChecker, report: ImportReport) -> None:
        self.cipher, self.valid_grids, self.scope_prefix = cipher, valid_grids, scope_prefix
        self.ids, self.report = ids, report
        self.seen: dict[bytes, int] = {}  # blind index → the last line that has it
        self.duplicates: list[tuple[int, int]] = []  # (line, the line it repeats)
        self.rejected = False  # a row of the file was rejected: nothing more is written
        self.groups = frozenset(SPECIAL_GROUPS)

    def chunk(self, rows: list[dict[str, str]], places_of: list, household_ids: dict,
              start: int, stop: int) -> list[tuple] | None:
        """The rows[start:stop] as tuples of ``COPY_COLUMNS``; None once a row of the file
        has been rejected (the rest are still checked, for the report)."""
        reject = self.report.reject
        check_id = self.ids.check
        valid_grids, scope_prefix, known_groups = self.valid_grids, self.scope_prefix, \
            self.groups
        lines: list[int] = []
        households: list[int] = []
        grid_codes: list[str] = []
        names: list[str] = []
        sexes: list[str] = []
        years: list[int] = []
        relationships: list[str] = []
        numbers: list[str] = []
        phones: list[str | None] = []
        groups_json: list[str | None] = []
        clean = True
        for line, raw in enumerate(rows[start:stop], start=start + 2):  # 1 is the header
            place = places_of[line - 2]
            if place is None:  # the reason, in the order of the checks
                grid_code = (raw.get("grid_code") or "").strip()
                if grid_code not in valid_grids:
                    reject(line, "grid_code", f"unknown grid code {grid_code!r}")
                elif not grid_code.startswith(scope_prefix):
                    reject(line, "grid_code", "outside your scope")
                else:
                    column = next(c for c in ("address", "unit")
                                  if not (raw.get(c) or "").strip())
                    reject(line, column, "required")
                clean = False
                continue
            name = (raw.get("name") or "").strip()
            if not name:
                reject(line, "name", "required")
                clean = False
                continue
            try:
                number, sex, year = check_id(raw["id_number"] or "")
            except identity.IdentityError as exc:
                reject(line, "id_number", str(exc))
                clean = False
                continue
            phone = raw.get("phone")
            if phone and phone.strip():
                try:
                    phone = identity.normalise_phone_fast(phone)
                except identity.IdentityError as exc:
                    reject(line, "phone", str(exc))
                    clean = False
                    continue
            else:
                phone = None
            groups = raw.get("special_groups")
            if groups:
                groups = {g.strip() for g in groups.split(";") if g.strip()}
                unknown = sorted(groups - known_groups)
                if unknown:
                    reject(line, "special_groups",
                           f"unknown special group(s) {', '.join(unknown)}")
                    clean = False
                    continue
                groups = json.dumps(sorted(groups)) if groups else None
            else:
                groups = None
            relationship = raw.get("relationship")
            lines.append(line)
            households.append(household_ids[place])
            grid_codes.append(place[0])
            names.append(name)
            sexes.append(sex)
            years.append(year)
            relationships.append(relationship.strip() if relationship else "member")
            numbers.append(number)
            phones.append(phone)
            groups_json.append(groups)
        cipher = self.cipher
        id_bidx = cipher.blind_index_many(numbers, people.ID_FIELD)
        seen, duplicates = self.seen, self.duplicates
        for line, bidx in zip(lines, id_bidx, strict=True):  # P3.1: once in the file
            if bidx in seen:
                duplicates.append((line, seen[bidx]))
                clean = False
            seen[bidx] = line
        if not clean:
            self.rejected = True
        if self.rejected:
            return None
        mask_phone = pii.mask_phone
        return list(zip(households, grid_codes, names, sexes, years, relationships,
                        cipher.encrypt_many(numbers, people.ID_FIELD), id_bidx,
                        [pii.mask_id_number(n) for n in numbers],
                        cipher.encrypt_many(phones, people.PHONE_FIELD),
                        cipher.blind_index_many(phones, people.PHONE_FIELD),
                        [p and mask_phone(p) for p in phones],
                        cipher.encrypt_many(groups_json, people.GROUPS_FIELD), strict=True))


def _reject_registered(cursor, seen: dict[bytes, int], report: ImportReport) -> None:
    """P3.1: one person, one registration — the people of the file already registered."""
    keys = list(seen)
    for start in range(0, len(keys), 50_000):
        cursor.execute("SELECT id_number_bidx FROM registry.residents "
                       "WHERE id_number_bidx = ANY(%b::bytea[]) AND status = 'active'",
                       [keys[start:start + 50_000]])
        taken = {bytes(b) for (b,) in cursor.fetchall()}
        for bidx in keys[start:start + 50_000]:
            if bidx in taken:
                report.reject(seen[bidx], "id_number", "already registered")


def _plan_households(session: Session, cursor, places_of: list) -> tuple[dict, list, list]:
    """The household id of every (grid, address, unit), with the buildings and households
    to create: the existing ones found in one query each, the new ones given ids from
    their sequences (one query each), so the rows can name them before they are written.
    Rows are read with the driver's cursor: tens of thousands of households."""
    wanted = dict.fromkeys(places_of)  # the file's order: usually street by street
    wanted.pop(None, None)
    grid_codes = sorted({g for g, _, _ in wanted})
    cursor.execute("SELECT grid_code, address, id FROM registry.buildings "
                   "WHERE grid_code = ANY(%b::text[])", [grid_codes])
    building_ids = {(g, a): i for g, a, i in cursor.fetchall()}
    existing: dict[tuple[int, str], int] = {}
    if building_ids:
        cursor.execute("SELECT building_id, unit, id FROM registry.households "
                       "WHERE building_id = ANY(%b::int8[])", [list(building_ids.values())])
        existing = {(b, u): i for b, u, i in cursor.fetchall()}
    missing_buildings = [k for k in dict.fromkeys((g, a) for g, a, _ in wanted)
                         if k not in building_ids]
    new_buildings = []
    if missing_buildings:
        centres = _grid_centres(session, {g for g, _ in missing_buildings})
        for (g, a), new_id in zip(missing_buildings, _next_ids(
                cursor, "buildings", len(missing_buildings)), strict=True):
            building_ids[(g, a)] = new_id
            new_buildings.append((new_id, g, a, *centres[g]))
    # new households get ids in the file's order, so the residents' FK checks and their
    # household index walk the households in order (as sorted, without the sort)
    household_ids: dict[tuple[str, str, str], int] = {}
    missing = []
    for key in wanted:
        building = building_ids[key[:2]]
        found = existing.get((building, key[2]))
        if found is None:
            missing.append(key)
        else:
            household_ids[key] = found
    new_households = []
    for key, new_id in zip(missing, _next_ids(cursor, "households", len(missing)),
                           strict=True):
        household_ids[key] = new_id
        new_households.append((new_id, building_ids[key[:2]], key[0], key[2]))
    return household_ids, new_buildings, new_households


def _next_ids(cursor, table: str, count: int) -> list[int]:
    """``count`` fresh ids of ``registry.<table>`` (its identity column's sequence, named
    once: looking it up per value costs 5× the values themselves)."""
    if not count:
        return []
    cursor.execute("WITH s AS MATERIALIZED (SELECT pg_get_serial_sequence(%s, 'id')::regclass "
                   "AS seq) SELECT nextval(seq) FROM s, generate_series(1, %s)",
                   [f"registry.{table}", count])
    return [i for (i,) in cursor.fetchall()]


def _grid_centres(session: Session, grid_codes: set[str]) -> dict[str, tuple[float, float]]:
    """Where a building of unknown position is drawn: a point inside its grid."""
    out = {}
    for code, geometry_ in session.execute(sa.select(grids.c.grid_code, grids.c.geometry)
                                           .where(grids.c.grid_code.in_(grid_codes))):
        point = shape(geometry_).representative_point()
        out[code] = (point.x, point.y)
    return out


def _insert_places(cursor, new_buildings: list[tuple], new_households: list[tuple]) -> None:
    if new_buildings:
        cursor.execute(
            "INSERT INTO registry.buildings (id, grid_code, address, lon, lat) "
            "OVERRIDING SYSTEM VALUE SELECT * FROM unnest(%b::int8[], %b::text[], "
            "%b::text[], %b::float8[], %b::float8[])",
            [list(c) for c in zip(*new_buildings, strict=True)])
    if new_households:
        cursor.execute(
            "INSERT INTO registry.households (id, building_id, grid_code, unit) "
            "OVERRIDING SYSTEM VALUE SELECT * FROM unnest(%b::int8[], %b::int8[], "
            "%b::text[], %b::text[])", [list(c) for c in zip(*new_households, strict=True)])


def copy_residents(session: Session, rows: Iterable[tuple], total: int,
                   progress: Progress = _noop) -> int:
    """COPY resident tuples (in ``COPY_COLUMNS`` order) in the caller's transaction, so
    they commit together with everything else or not at all."""
    cursor = session.connection().connection.cursor()
    sql = f"COPY registry.residents ({', '.join(COPY_COLUMNS)}) FROM STDIN"
    written = 0
    with cursor.copy(sql) as copy:
        for written, row in enumerate(rows, start=1):
            copy.write_row(row)
            if written % 10000 == 0:
                progress(written, total)
    progress(written, total)
    return written

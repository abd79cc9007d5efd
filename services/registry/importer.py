"""Import a real district: grids from GeoJSON, residents from CSV.

All or nothing: every row is validated first and the report lists each rejected row with
its field and reason; if any row is rejected nothing is written.  Residents go in with
PostgreSQL COPY after encryption, so a district's population loads in seconds.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import sqlalchemy as sa
from shapely.geometry import shape
from sqlalchemy.orm import Session

from gridgov_common.kernel import pii
from gridgov_common.kernel.errors import ApiError
from services.registry import people, places
from services.registry.domain import geometry, identity
from services.registry.models import buildings, communities, grids, households, residents
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

@dataclass
class _Row:
    line: int
    grid_code: str
    address: str
    unit: str
    name: str
    relationship: str
    columns: dict[str, Any]


def read_csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))


def import_residents(session: Session, cipher: pii.PiiCipher, rows: Iterable[dict[str, str]],
                     progress: Progress = _noop, scope_prefix: str = "") -> ImportReport:
    rows = list(rows)
    report = ImportReport(total=len(rows))
    if rows and (missing := [c for c in REQUIRED_RESIDENT_COLUMNS if c not in rows[0]]):
        report.reject(1, ",".join(missing), "missing CSV columns")
        raise ImportRejected(report)
    valid_grids = set(session.execute(sa.select(grids.c.grid_code).where(
        places.active_on(date.today()))).scalars())
    parsed = [_parse_row(n, raw, cipher, valid_grids, scope_prefix, report)
              for n, raw in enumerate(rows, start=2)]  # line 1 is the header
    parsed = [p for p in parsed if p is not None]
    _reject_duplicates(session, parsed, report)
    if report.rejected_count:
        raise ImportRejected(report)
    household_ids = _households(session, parsed)
    _copy_residents(session, parsed, household_ids, progress)
    report.imported = len(parsed)
    return report


def _parse_row(line: int, raw: dict[str, str], cipher: pii.PiiCipher, valid_grids: set[str],
               scope_prefix: str, report: ImportReport) -> _Row | None:
    grid_code = (raw.get("grid_code") or "").strip()
    if grid_code not in valid_grids:
        report.reject(line, "grid_code", f"unknown grid code {grid_code!r}")
        return None
    if not grid_code.startswith(scope_prefix):
        report.reject(line, "grid_code", "outside your scope")
        return None
    for column in ("address", "unit", "name"):
        if not (raw.get(column) or "").strip():
            report.reject(line, column, "required")
            return None
    try:
        id_number = identity.normalise_id_number(raw["id_number"] or "")
    except identity.IdentityError as exc:
        report.reject(line, "id_number", str(exc))
        return None
    phone = None
    if (raw.get("phone") or "").strip():
        try:
            phone = identity.normalise_phone(raw["phone"])
        except identity.IdentityError as exc:
            report.reject(line, "phone", str(exc))
            return None
    groups = [g.strip() for g in (raw.get("special_groups") or "").split(";") if g.strip()]
    unknown = sorted(set(groups) - set(SPECIAL_GROUPS))
    if unknown:
        report.reject(line, "special_groups", f"unknown special group(s) {', '.join(unknown)}")
        return None
    return _Row(line, grid_code, raw["address"].strip(), raw["unit"].strip(),
                raw["name"].strip(), (raw.get("relationship") or "member").strip(),
                people.encrypted_columns(cipher, id_number, phone, groups))


def _reject_duplicates(session: Session, parsed: list[_Row], report: ImportReport) -> None:
    """P3.1: one person, one registration — within the file and against the registry."""
    seen: dict[bytes, int] = {}
    for row in parsed:
        bidx = row.columns["id_number_bidx"]
        if bidx in seen:
            report.reject(row.line, "id_number", f"same person as line {seen[bidx]}")
        seen[bidx] = row.line
    keys = list(seen)
    for start in range(0, len(keys), 5000):
        chunk = keys[start:start + 5000]
        taken = set(session.execute(sa.select(residents.c.id_number_bidx).where(
            residents.c.id_number_bidx.in_(chunk), residents.c.status == "active")).scalars())
        for bidx in taken:
            report.reject(seen[bidx], "id_number", "already registered")


def _households(session: Session, parsed: list[_Row]) -> dict[tuple[str, str, str], int]:
    """Find or create the buildings and households the rows live in, set-based: one
    statement per kind, however many rows (one INSERT per household was 70 % of the time)."""
    wanted = {(r.grid_code, r.address, r.unit) for r in parsed}
    grid_codes = sorted({g for g, _, _ in wanted})
    building_ids = _building_ids(session, grid_codes, {(g, a) for g, a, _ in wanted})
    existing = {(b, u): i for b, u, i in session.execute(
        sa.select(households.c.building_id, households.c.unit, households.c.id)
        .where(households.c.building_id.in_(list(building_ids.values()))))}
    missing = sorted({(building_ids[(g, a)], g, u) for g, a, u in wanted
                      if (building_ids[(g, a)], u) not in existing})
    if missing:
        rows = session.execute(sa.text(
            "INSERT INTO registry.households (building_id, grid_code, unit) "
            "SELECT * FROM unnest(CAST(:b AS bigint[]), CAST(:g AS text[]), "
            "CAST(:u AS text[])) "
            "RETURNING building_id, unit, id"),
            {"b": [m[0] for m in missing], "g": [m[1] for m in missing],
             "u": [m[2] for m in missing]})
        existing.update({(b, u): i for b, u, i in rows})
    return {(g, a, u): existing[(building_ids[(g, a)], u)] for g, a, u in wanted}


def _building_ids(session: Session, grid_codes: list[str],
                  wanted: set[tuple[str, str]]) -> dict[tuple[str, str], int]:
    found = {(g, a): i for g, a, i in session.execute(
        sa.select(buildings.c.grid_code, buildings.c.address, buildings.c.id)
        .where(buildings.c.grid_code.in_(grid_codes)))}
    missing = sorted(wanted - set(found))
    if missing:
        centres = {g: _grid_centre(session, g) for g in {g for g, _ in missing}}
        rows = session.execute(sa.text(
            "INSERT INTO registry.buildings (grid_code, address, lon, lat) "
            "SELECT * FROM unnest(CAST(:g AS text[]), CAST(:a AS text[]), "
            "CAST(:x AS float8[]), CAST(:y AS float8[])) RETURNING grid_code, address, id"),
            {"g": [g for g, _ in missing], "a": [a for _, a in missing],
             "x": [centres[g][0] for g, _ in missing], "y": [centres[g][1] for g, _ in missing]})
        found.update({(g, a): i for g, a, i in rows})
    return found


def _grid_centre(session: Session, grid_code: str) -> tuple[float, float]:
    """Where a building of unknown position is drawn: a point inside its grid."""
    row = session.execute(sa.select(grids.c.geometry).where(
        grids.c.grid_code == grid_code)).scalar_one()
    point = shape(row).representative_point()
    return point.x, point.y


COPY_COLUMNS = ("household_id", "grid_code", "name", "sex", "birth_year", "relationship",
                "id_number_enc", "id_number_bidx", "id_number_masked", "phone_enc",
                "phone_bidx", "phone_masked", "special_groups_enc")


def _copy_residents(session: Session, parsed: list[_Row],
                    household_ids: dict[tuple[str, str, str], int], progress: Progress) -> None:
    rows = ((household_ids[(r.grid_code, r.address, r.unit)], r.grid_code, r.name,
             r.columns["sex"], r.columns["birth_year"], r.relationship,
             *(r.columns[c] for c in COPY_COLUMNS[6:])) for r in parsed)
    copy_residents(session, rows, len(parsed), progress)


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

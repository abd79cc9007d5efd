"""Residents imported per second, validation + encryption + writing included, against the
raw COPY ceiling of the same table measured in the same run.

Why: a district's population (millions of people) must load through the one import path
that validates every ID number (P2.3), encrypts personal fields (P5.4.4) and dedupes on
the blind index (P3.1).  Targets: ≥ 50,000 residents/s end to end (issue 2), and
(issue 16) at least 0.8 × what PostgreSQL itself takes in through a raw COPY of the same
rows into the same table, measured in the same run.

Runs, all on a fresh ``gridgov_bench_import`` database (dropped afterwards):

A. ``services.registry.importer.import_residents`` — the real path the CSV endpoint and
   the CLI use — with N residents (200,000; 50,000 with ``--quick``) of the synthetic
   district, into grids that have no buildings or households yet (a first import), in one
   transaction.  Stages are timed by wrapping the importer's functions in this process
   only (no change to the importer).
E. Right after each A: the rows A stored, COPYed back in as raw COPY text (no Python per
   row), with the table as it is, then without its FK and secondary indexes (both rolled
   back): the ceiling any import path has on this machine.  A and E alternate for
   ``--rounds`` rounds (3) on emptied tables; the ratio A ÷ E is taken per round.
B. After the last round, the same path with N other people into the households A created
   (a second import).
C. The pure Python part alone (50,000 rows, no database): the ID and phone checks one row
   at a time and compiled (``identity.IdNumberChecker``), ``people.encrypted_columns``
   and its parts, the batch ``encrypt_many``/``blind_index_many``, and the importer's
   own chunk function (checks + encryption into the rows of its COPY).

Exit status 1 if a run did not take every row or a stored ID number does not decrypt; a
missed target is a figure, not a failure.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import csv  # noqa: E402
import io  # noqa: E402
import os  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from collections import defaultdict  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from contextlib import contextmanager  # noqa: E402
from datetime import date  # noqa: E402

import sqlalchemy as sa  # noqa: E402

from bench import _common  # noqa: E402
from gridgov_common.kernel import pii  # noqa: E402
from gridgov_common.platform.db import make_engine, transaction  # noqa: E402
from services.registry import demo, importer, people  # noqa: E402
from services.registry.domain import generator, identity  # noqa: E402
from services.registry.models import residents  # noqa: E402
from services.registry.schemas import SPECIAL_GROUPS  # noqa: E402

SEED = 2026
# 2 towns × 5 communities × 32 grids of ~250 households: ~220,000 people to draw from
TOWNS, COMMUNITIES_PER_TOWN, GRIDS_PER_COMMUNITY = 2, 5, 32
# Run B's people come from a twin district with another address code, so their ID numbers
# can never collide with run A's (the generator derives IDs from code, grid and seed).
TWIN_DISTRICT_CODE = "320506"
TARGET_PER_S = 50_000
TARGET_RATIO = 0.8  # issue 16: the import at ≥ 0.8 × the raw COPY of the same table
# what run A times: (owner, attribute, label)
STAGES = ((importer, "_plan_households", "find buildings + households, draw new ids (DB)"),
          (importer._Parser, "chunk", "check + encrypt, chunk by chunk (Python)"))
SPECIAL_EVERY = 97  # about 1 % of rows carry a special-group tag (encrypted too)
MICRO_SAMPLE = 50_000


# -- input ---------------------------------------------------------------------------------

def make_rows(district: generator.District, n: int) -> list[dict[str, str]]:
    """The first ``n`` residents as CSV-shaped dicts (strings, '' for empty), grid by grid."""
    rows: list[dict[str, str]] = []
    for grid in district.iter_grids():
        homes = {h.key: h for h in generator.iter_households(grid)}
        for resident in generator.iter_residents(grid):
            home = homes[resident.household_key]
            k = len(rows)
            rows.append({
                "grid_code": resident.grid_code, "address": home.building.address,
                "unit": home.unit, "name": resident.name, "id_number": resident.id_number,
                "phone": resident.phone or "", "relationship": resident.relationship,
                "special_groups": (SPECIAL_GROUPS[k % len(SPECIAL_GROUPS)]
                                   if k % SPECIAL_EVERY == 0 else ""),
            })
            if len(rows) == n:
                return rows
    raise ValueError(f"the district has only {len(rows)} residents, {n} asked")


def other_people(rows: list[dict[str, str]], twin: generator.District) -> list[dict[str, str]]:
    """Same addresses as ``rows``, different people (names and ID numbers of the twin)."""
    out = []
    people_iter = twin.iter_residents()
    for row in rows:
        person = next(people_iter)
        out.append({**row, "name": person.name, "id_number": person.id_number})
    return out


def to_csv(rows: list[dict[str, str]]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=importer.RESIDENT_COLUMNS)
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


# -- the real path, with its stages timed ---------------------------------------------------

@contextmanager
def timed_stages(stages) -> Iterator[dict[str, float]]:
    """Wrap ``owner.<name>`` functions with timers for the duration of the block.

    The importer calls its helpers through module globals and its parser's class, so
    replacing them here times each stage without editing importer.py; the originals are
    restored afterwards.  The wrapper adds well under a microsecond per call.
    """
    seconds: dict[str, float] = defaultdict(float)
    originals = [(owner, name, getattr(owner, name)) for owner, name, _ in stages]

    def wrap(name, fn):
        def timed(*args, **kwargs):
            started = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                seconds[name] += time.perf_counter() - started
        return timed

    for owner, name, fn in originals:
        setattr(owner, name, wrap(name, fn))
    try:
        yield seconds
    finally:
        for owner, name, fn in originals:
            setattr(owner, name, fn)


def run_real_import(engine: sa.Engine, cipher: pii.PiiCipher,
                    rows: list[dict[str, str]]) -> dict[str, float]:
    """One ``import_residents`` in one transaction; total, commit and per-stage seconds."""
    with timed_stages(STAGES) as stages:
        started = time.perf_counter()
        with transaction(engine) as session:
            report = importer.import_residents(session, cipher, rows)
            committing = time.perf_counter()
        done = time.perf_counter()
    if report.imported != len(rows) or report.rejected_count:
        raise RuntimeError(f"import did not take every row: {report.as_dict()}")
    result = dict(stages)
    result["commit"] = done - committing
    result["total"] = done - started
    result["other"] = result["total"] - result["commit"] - sum(stages.values())
    return result


# -- the pure Python part -------------------------------------------------------------------

def time_python_part(cipher: pii.PiiCipher, rows: list[dict[str, str]]) -> dict[str, float]:
    """Seconds of validation and of encryption for ``rows``, and the parts of the latter."""
    ids = [r["id_number"] for r in rows]
    phones = [r["phone"] for r in rows]
    groups = [[g] if g else None for g in (r["special_groups"] for r in rows)]
    out: dict[str, float] = {}

    started = time.perf_counter()
    normal_ids = [identity.normalise_id_number(i) for i in ids]
    normal_phones = [identity.normalise_phone(p) if p else None for p in phones]
    out["validate"] = time.perf_counter() - started
    started = time.perf_counter()
    checker = identity.IdNumberChecker(date.today())
    for i in ids:
        checker.check(i)
    for p in phones:
        if p:
            identity.normalise_phone_fast(p)
    out["validate_compiled"] = time.perf_counter() - started

    started = time.perf_counter()
    for i, p, g in zip(normal_ids, normal_phones, groups, strict=True):
        people.encrypted_columns(cipher, i, p, g)
    out["encrypt"] = time.perf_counter() - started

    with_phone = [p for p in normal_phones if p]
    started = time.perf_counter()
    for i in normal_ids:
        cipher.encrypt(i, "id_number")
    for p in with_phone:
        cipher.encrypt(p, "phone")
    out["aes_gcm"] = time.perf_counter() - started
    started = time.perf_counter()
    for i in normal_ids:
        cipher.blind_index(i, "id_number")
    for p in with_phone:
        cipher.blind_index(p, "phone")
    out["hmac"] = time.perf_counter() - started
    started = time.perf_counter()
    cipher.encrypt_many(normal_ids, "id_number")
    cipher.encrypt_many(with_phone, "phone")
    cipher.blind_index_many(normal_ids, "id_number")
    cipher.blind_index_many(with_phone, "phone")
    out["batched_crypto"] = time.perf_counter() - started

    # the importer's own chunk function: checks + batched encryption into COPY rows
    grid_codes = {r["grid_code"] for r in rows}
    places_of = [importer._place(raw, grid_codes, "") for raw in rows]
    household_ids = dict.fromkeys(places_of, 1)
    parser = importer._Parser(cipher, grid_codes, "", identity.IdNumberChecker(date.today()),
                              importer.ImportReport())
    started = time.perf_counter()
    for start in range(0, len(rows), importer.CHUNK):
        if parser.chunk(rows, places_of, household_ids, start, start + importer.CHUNK) is None:
            raise RuntimeError("the parser rejected a bench row")
    out["chunk"] = time.perf_counter() - started
    return out


# -- helpers -------------------------------------------------------------------------------

def table_counts(engine: sa.Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {t: conn.execute(sa.text(f"SELECT count(*) FROM registry.{t}")).scalar()
                for t in ("buildings", "households", "residents")}


def check_decrypts(engine: sa.Engine, cipher: pii.PiiCipher, rows) -> int:
    """Decrypt a few stored ID numbers and compare: fast must still mean correct."""
    wanted = {r["id_number"] for r in rows[:: max(1, len(rows) // 200)]}
    bidx = [cipher.blind_index(i, people.ID_FIELD) for i in wanted]
    with engine.connect() as conn:
        found = conn.execute(sa.select(residents.c.id_number_enc).where(
            residents.c.id_number_bidx.in_(bidx))).scalars().all()
    got = {cipher.decrypt(blob, people.ID_FIELD) for blob in found}
    return len(wanted - got)


def time_server_copy(engine: sa.Engine) -> dict[str, float]:
    """Seconds PostgreSQL needs to COPY the stored residents back in, as raw COPY text (no
    Python per row): with the table as it is, and without its FK and secondary indexes.

    Also ("households" + "after_households"): the households the rows live in COPYed
    back in first, then the residents — what a first import has to write at the least.
    All run in transactions that are rolled back (TRUNCATE and DROP INDEX are
    transactional), on this script's own database; it shows how much of the COPY is the
    schema's index and FK maintenance, i.e. the ceiling of any import path here.
    """
    columns = ", ".join(importer.COPY_COLUMNS)
    out: dict[str, float] = {}
    with engine.connect() as conn:
        cursor = conn.connection.driver_connection.cursor()
        with cursor.copy(f"COPY registry.residents ({columns}) TO STDOUT") as copy:
            data = b"".join(bytes(chunk) for chunk in copy)
        with cursor.copy("COPY registry.households (id, building_id, grid_code, unit) "
                         "TO STDOUT") as copy:
            homes = b"".join(bytes(chunk) for chunk in copy)
        conn.rollback()
        cursor.execute("TRUNCATE registry.residents, registry.households")
        started = time.perf_counter()
        with cursor.copy("COPY registry.households (id, building_id, grid_code, unit) "
                         "FROM STDIN") as copy:
            copy.write(homes)
        out["households"] = time.perf_counter() - started
        with cursor.copy(f"COPY registry.residents ({columns}) FROM STDIN") as copy:
            for start in range(0, len(data), 1 << 20):
                copy.write(data[start:start + (1 << 20)])
        out["after_households"] = time.perf_counter() - started - out["households"]
        conn.rollback()
        indexes = [f'DROP INDEX registry."{name}"' for name in conn.execute(sa.text(
            "SELECT indexname FROM pg_indexes WHERE schemaname = 'registry' "
            "AND tablename = 'residents' AND indexname <> 'residents_pkey'")).scalars()]
        foreign_keys = [f'ALTER TABLE registry.residents DROP CONSTRAINT "{name}"'
                        for name in conn.execute(sa.text(
                            "SELECT conname FROM pg_constraint WHERE contype = 'f' "
                            "AND conrelid = 'registry.residents'::regclass")).scalars()]
        conn.rollback()
        out["indexes"], out["foreign_keys"] = len(indexes), len(foreign_keys)
        drops = indexes + foreign_keys
        for key, ddl in (("as_is", []), ("bare", drops)):
            cursor.execute("TRUNCATE registry.residents")
            for statement in ddl:
                cursor.execute(statement)
            started = time.perf_counter()
            with cursor.copy(f"COPY registry.residents ({columns}) FROM STDIN") as copy:
                for start in range(0, len(data), 1 << 20):
                    copy.write(data[start:start + (1 << 20)])
            out[key] = time.perf_counter() - started
            conn.rollback()
    return out


def empty_people(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text("TRUNCATE registry.residents, registry.households, "
                             "registry.buildings RESTART IDENTITY"))


# -- main ----------------------------------------------------------------------------------

def spread(values: list[float]) -> str:
    """min–max of the rounds."""
    if max(values) < 10:
        return f"{min(values):.2f}–{max(values):.2f}"
    return f"{min(values):,.0f}–{max(values):,.0f}"


def main(args) -> int:
    n = 50_000 if args.quick else 200_000
    rounds = args.rounds
    report = _common.Report(f"bench_02 resident import, {n:,} residents per run, {rounds} "
                            f"rounds ({'quick' if args.quick else 'full'})")
    cipher = pii.PiiCipher(os.urandom(32), os.urandom(32))

    _common.progress(f"generating {n:,} residents, and {n:,} others for run B")
    district = generator.generate_district(SEED, TOWNS, COMMUNITIES_PER_TOWN,
                                           GRIDS_PER_COMMUNITY)
    twin = generator.generate_district(SEED, TOWNS, COMMUNITIES_PER_TOWN, GRIDS_PER_COMMUNITY,
                                       district_code=TWIN_DISTRICT_CODE)
    rows_a = make_rows(district, n)
    csv_text = to_csv(rows_a)
    started = time.perf_counter()
    parsed_count = len(importer.read_csv(csv_text))
    csv_seconds = time.perf_counter() - started
    del csv_text  # during run A only its input rows are alive, as in the CSV endpoint
    assert parsed_count == n

    runs_a: list[dict[str, float]] = []
    runs_e: list[dict[str, float]] = []
    wrong = 0
    with _common.fresh_database("import") as url:
        engine = make_engine(url)
        try:
            with transaction(engine) as session:
                demo._places(session, district)  # towns, communities, grids only
            for round_ in range(1, rounds + 1):
                if round_ > 1:
                    empty_people(engine)
                _common.progress(f"round {round_} of {rounds}, run A: import_residents, "
                                 f"{n:,} rows, new households")
                runs_a.append(run_real_import(engine, cipher, rows_a))
                wrong += check_decrypts(engine, cipher, rows_a)
                _common.progress(f"round {round_} of {rounds}, run E: raw COPY of the "
                                 "stored rows, server side only")
                runs_e.append(time_server_copy(engine))
            counts_a = table_counts(engine)
            _common.progress(f"run B: import_residents, {n:,} rows, existing households")
            rows_b = other_people(rows_a, twin)
            b = run_real_import(engine, cipher, rows_b)
            wrong += check_decrypts(engine, cipher, rows_b)
            del rows_b
            _common.progress("run C: validation and encryption alone")
            c = time_python_part(cipher, rows_a[:MICRO_SAMPLE])
            c_rows = min(n, MICRO_SAMPLE)
        finally:
            engine.dispose()

    rates_a = [n / a["total"] for a in runs_a]
    rates_e = [n / e["as_is"] for e in runs_e]
    ratios = [ra / re for ra, re in zip(rates_a, rates_e, strict=True)]
    ratios_all = [ra * (e["households"] + e["after_households"]) / n
                  for ra, e in zip(rates_a, runs_e, strict=True)]
    mid = sorted(range(rounds), key=lambda i: ratios[i])[rounds // 2]  # the median round
    a, e = runs_a[mid], runs_e[mid]
    report.add("A ÷ E: import end to end ÷ raw COPY of the same rows, median round",
               statistics.median(ratios), "x", at_least=TARGET_RATIO)
    report.note(f"{rounds} rounds: A ÷ E {spread(ratios)}, A {spread(rates_a)}/s, "
                f"E {spread(rates_e)}/s (each A timed against the E right after it)")
    report.add("A. import_residents end to end (new households), median round", n / a["total"],
               "residents/s", at_least=TARGET_PER_S)
    report.add("   total", a["total"], "s")
    labels = {name: label for _, name, label in STAGES}
    labels.update({"other": "waiting for PostgreSQL past the Python work (DB)",
                   "commit": "commit (DB)"})
    for key, label in labels.items():
        report.add(f"   {label}", a[key], "s")
    report.add("   Python part alone as a rate", n / a["chunk"], "residents/s")
    report.add("E. raw COPY of the same rows into the same table (no Python per row)",
               n / e["as_is"], "residents/s")
    report.add(f"   same without {e['foreign_keys']} FK and {e['indexes']} secondary "
               "indexes (rolled back)", n / e["bare"], "residents/s")
    report.add(f"   raw COPY of A's {counts_a['households']:,} households, then the residents",
               n / (e["households"] + e["after_households"]), "residents/s")
    report.add("A ÷ that: the import ÷ raw COPY of all it writes, median round",
               statistics.median(ratios_all), "x")
    report.add("B. import_residents end to end (existing households)", n / b["total"],
               "residents/s", at_least=TARGET_PER_S)
    report.add("   ÷ E of the median round", n / b["total"] / (n / e["as_is"]), "x",
               at_least=TARGET_RATIO)
    for key in ("_plan_households", "chunk", "other", "commit"):
        report.add(f"   {labels[key]}", b[key], "s")
    per_row = {k: c[k] / c_rows * 1e6 for k in c}
    report.add(f"C. per row ({c_rows:,} rows): normalise_id_number + phone, one at a time",
               per_row["validate"], "µs")
    report.add("   same, compiled (IdNumberChecker + normalise_phone_fast)",
               per_row["validate_compiled"], "µs")
    report.add("   encrypted_columns (2 AES-GCM + 2 HMAC + masks), one at a time",
               per_row["encrypt"], "µs")
    report.add("     of which AES-GCM encrypt (id + phone)", per_row["aes_gcm"], "µs")
    report.add("     of which HMAC blind index (id + phone)", per_row["hmac"], "µs")
    report.add("   same crypto with encrypt_many/blind_index_many", per_row["batched_crypto"],
               "µs")
    report.add("   importer._Parser.chunk (every check + encryption + COPY rows)",
               per_row["chunk"], "µs")
    report.add("   read_csv of the same rows (CSV endpoint/CLI only)", n / csv_seconds,
               "rows/s")
    report.add("stored ID numbers that failed to decrypt (samples of A and B)", wrong, "rows",
               at_most=0)
    report.note(f"rows after the last A: {counts_a}; stages timed by wrapping the "
                "importer's functions in this process; Python and PostgreSQL overlap, so "
                "the stages do not add up to a critical path")
    report.note(f"the import checks and encrypts chunks of {importer.CHUNK:,} rows and "
                "streams each into one COPY: PostgreSQL writes one while Python checks the next")
    bounds = [e["as_is"] / (e["households"] + e["after_households"]) for e in runs_e]
    report.note(f"a first import writes the households too: PostgreSQL alone, COPYing A's "
                f"households and then its residents, reaches {spread(bounds)} of the "
                "residents-only COPY, so that is as far as run A's ratio can go here")
    if statistics.median(rates_a) < TARGET_PER_S:
        report.note(f"≥ {TARGET_PER_S:,}/s is out of reach of any one-session import here: "
                    f"PostgreSQL alone takes in a raw COPY of these rows at "
                    f"{statistics.median(rates_e):,.0f}/s ({n / e['bare']:,.0f}/s without "
                    "the FK and secondary indexes)")
    report.print()
    return 0 if not wrong else 1


def add_arguments(parser) -> None:
    parser.add_argument("--rounds", type=int, default=3,
                        help="rounds of (import, raw COPY), for the ratio's spread (3)")


if __name__ == "__main__":
    _common.run(main, __doc__.splitlines()[0], add_arguments=add_arguments)

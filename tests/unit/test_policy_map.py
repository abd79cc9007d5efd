"""docs/POLICY-MAP.md and the code's clause citations agree (issue 13): a reader who starts
from a clause finds its code and the tests that hold it, and a citation in the code is
never of a clause the map forgot."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MAP = ROOT / "docs" / "POLICY-MAP.md"
CODE_DIRS = ("services", "gridgov_common", "tools")
CLAUSE = re.compile(r"\bP[2-6](?:\.\d+)*\b")
CELL = r"((?:[^|\\]|\\.)+)"  # a table cell; a pipe inside one is escaped: \|
ROW = re.compile(rf"^\| (P[\d.]+) \| {CELL} \| {CELL} \| {CELL} \|$")
NOT_BUILT = "not built"


def map_rows() -> dict[str, tuple[str, str]]:
    rows: dict[str, tuple[str, str]] = {}
    for line in MAP.read_text(encoding="utf-8").splitlines():
        match = ROW.match(line)
        if match:
            clause, _, where, tests = (g.strip() for g in match.groups())
            assert clause not in rows, f"{clause} has two rows"
            rows[clause] = (where, tests)
    return rows


def code_citations() -> dict[str, list[str]]:
    """Clause → files of the code (not the tests) that cite it."""
    cited: dict[str, list[str]] = {}
    for top in CODE_DIRS:
        for path in (ROOT / top).rglob("*"):
            if path.suffix not in (".py", ".json", ".yaml") or "node_modules" in path.parts:
                continue
            for clause in set(CLAUSE.findall(path.read_text(encoding="utf-8"))):
                cited.setdefault(clause, []).append(str(path.relative_to(ROOT)))
    return cited


def test_the_map_has_a_row_per_clause_and_marks_what_is_not_built():
    rows = map_rows()
    assert len(rows) >= 30
    assert {"P3.3", "P6.3"} <= {c for c, (where, _) in rows.items()
                                if where.startswith(NOT_BUILT)}
    for clause in ("P2.1", "P2.3", "P5.1.1", "P5.2.7", "P5.3.1", "P5.3.2", "P5.3.4"):
        assert not rows[clause][0].startswith(NOT_BUILT), clause


def test_every_clause_the_code_cites_has_a_row():
    rows = map_rows()
    for clause, files in code_citations().items():
        # an umbrella citation (P5.3) is covered by the rows of its items (P5.3.1 …)
        covered = clause in rows or any(c.startswith(clause + ".") for c in rows)
        assert covered, f"{clause} is cited in {files[:3]} but has no row in the map"


def test_every_built_row_is_cited_in_the_code():
    cited = code_citations()
    for clause, (where, _) in map_rows().items():
        if where.startswith(NOT_BUILT):
            assert clause not in cited, f"{clause} is marked not built but {cited[clause][:3]}"
            continue
        assert clause in cited, f"{clause} has a row but no code cites it"


def test_every_built_row_names_tests_that_exist_and_name_the_clause():
    word = {}
    for clause, (where, tests) in map_rows().items():
        named = re.findall(r"`([^`]+)`", tests)
        if where.startswith(NOT_BUILT):
            assert not named, clause
            continue
        assert named, f"{clause} names no test"
        for test in named:
            assert (ROOT / test).is_file(), f"{clause}: {test} does not exist"
        word[clause] = re.compile(re.escape(clause) + r"(?![\d.]*\d)")
        assert any(word[clause].search((ROOT / t).read_text(encoding="utf-8"))
                   for t in named), f"{clause}: none of {named} names the clause"


def test_the_map_carries_no_stale_issue_remarks():
    text = MAP.read_text(encoding="utf-8")
    assert not re.search(r"\bissues? \d+\b|open issues", text), "remarks age: say where it is"

"""The dispatch case has one home (issue 13): no module but ``case_store`` locks a case for
a change, writes the case tables or appends to a case file, so a move is recorded one way
(state + case-file entry + change event) whichever use case makes it."""

from __future__ import annotations

import re
from pathlib import Path

from services.dispatch import case_store, filing

DISPATCH = Path(case_store.__file__).resolve().parent
OWNER = "case_store.py"
CASE_TABLES = ("cases", "assignments", "case_file")
WRITE = re.compile(
    rf"\b(?:update|insert|delete)\(\s*(?:{'|'.join(CASE_TABLES)})\b"
    rf"|\b(?:{'|'.join(CASE_TABLES)})\.(?:insert|update|delete)\(")
FILE_WRITE = re.compile(r"\bcasefile_store\.(?:append\w*|lock\w*)\(")
# FOR UPDATE outside the store: only on a table that is not the case's (a delay request)
OTHER_LOCKS = {"delays.py": 1}


def modules():
    for path in sorted(DISPATCH.rglob("*.py")):
        if path.name not in (OWNER, "casefile_store.py") and "migrations" not in path.parts:
            yield path, path.read_text(encoding="utf-8")


def test_only_the_case_store_writes_the_case_tables():
    writers = {p.name: WRITE.findall(text) for p, text in modules() if WRITE.search(text)}
    assert writers == {}


def test_only_the_case_store_appends_to_a_case_file():
    writers = {p.name: FILE_WRITE.findall(text) for p, text in modules()
               if FILE_WRITE.search(text)}
    assert writers == {}


def test_only_the_case_store_locks_a_case():
    locks = {p.name: text.count("with_for_update") for p, text in modules()
             if "with_for_update" in text}
    assert locks == OTHER_LOCKS


def test_filing_is_a_use_case_not_a_hub():
    for name in ("assign", "case_changed", "PRODUCER", "mark_unroutable", "announced_at"):
        assert not hasattr(filing, name), name
        assert hasattr(case_store, name), name

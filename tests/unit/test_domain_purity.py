"""Every service's ``domain/`` is plain Python (issue 13): no framework, no database, no
broker and no marshmallow, so its rules are read and tested without any of them (the
services validate input at their entrypoints, e.g. dispatch's ``config_schemas.py``)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN = {"marshmallow", "nameko", "sqlalchemy", "kombu", "pika", "eventlet", "psycopg",
             "werkzeug", "requests"}


def imported_roots(path: Path) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def test_domains_import_no_framework_database_broker_or_schema_library():
    domains = sorted(ROOT.glob("services/*/domain/*.py"))
    assert len(domains) > 20
    found = {str(p.relative_to(ROOT)): sorted(imported_roots(p) & FORBIDDEN)
             for p in domains if imported_roots(p) & FORBIDDEN}
    assert found == {}

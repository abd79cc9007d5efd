"""What ships never imports the tests (issue 13): services, the shared package, tools,
scripts and benchmarks run where ``tests/`` is not installed (the Docker image copies
only gridgov_common, services, tools and two scripts), so a helper they need lives beside
them and the tests import it from there."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ("services", "gridgov_common", "tools", "scripts", "bench")


def imports_tests(path: Path) -> bool:
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import) and any(
                a.name == "tests" or a.name.startswith("tests.") for a in node.names):
            return True
        if (isinstance(node, ast.ImportFrom) and node.level == 0 and node.module
                and (node.module == "tests" or node.module.startswith("tests."))):
            return True
    return False


def test_nothing_shipped_imports_the_tests():
    files = [p for top in SHIPPED for p in (ROOT / top).rglob("*.py")
             if "node_modules" not in p.parts]
    assert len(files) > 100
    assert [str(p.relative_to(ROOT)) for p in files if imports_tests(p)] == []

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


# The layers of gridgov_common (issue 13; README "Architecture"): each may import only the
# layers before it, none imports a service or tools/, and the kernel and the contract load
# no runtime (no nameko, eventlet, AMQP client, web server or database driver).
LAYERS = ("kernel", "contract", "platform")
RUNTIME = ("nameko", "eventlet", "kombu", "amqp", "pika", "werkzeug", "psycopg")


def imported_modules(path: Path) -> set[str]:
    """Every absolute module a file imports, at any depth (lazy imports included)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
    return found


def under(module: str, top: str) -> bool:
    return module == top or module.startswith(top + ".")


def layer_violations(layer: str) -> list[str]:
    later = LAYERS[LAYERS.index(layer) + 1:]
    banned = [f"gridgov_common.{name}" for name in later] + ["services", "tools"]
    if layer != "platform":
        banned += list(RUNTIME)
    bad = []
    for path in sorted((ROOT / "gridgov_common" / layer).rglob("*.py")):
        bad += [f"{path.relative_to(ROOT)}: {m}" for m in sorted(imported_modules(path))
                if any(under(m, top) for top in banned)]
    return bad


def test_kernel_is_pure():
    assert layer_violations("kernel") == []


def test_contract_uses_only_the_kernel():
    assert layer_violations("contract") == []


def test_platform_imports_no_service_and_no_tool():
    assert layer_violations("platform") == []


def test_nothing_flat_is_left_beside_the_layers():
    """A new shared module goes into a layer, where the rules above see it."""
    flat = sorted(p.name for p in (ROOT / "gridgov_common").glob("*.py"))
    assert flat == ["__init__.py"]


def test_no_service_runs_tools():
    """A service's runtime (what ``nameko run services.<svc>.service`` imports) loads
    nothing from tools/: the generators and CLIs there may import services, never the
    other way round at run time."""
    import subprocess
    import sys

    code = ("import sys; import services.{0}.service; "
            "print(sorted(m for m in sys.modules if m == 'tools' or m.startswith('tools.')))")
    for service in ("registry", "events", "dispatch", "assessment", "notify"):
        out = subprocess.run([sys.executable, "-c", code.format(service)], cwd=ROOT,
                             capture_output=True, text=True, timeout=120, check=True,
                             env={"GRIDGOV_NO_MONKEY_PATCH": "1", "PATH": "/usr/bin:/bin"})
        assert out.stdout.strip() == "[]", (service, out.stdout)

"""Typed settings (gridgov_common/platform/settings.py) and the rule that keeps them honest.

The rule, checked here without a broker or a database:

* every configuration key is read through a :class:`Setting` declared once, as a
  module-level constant: a key several services read in the shared module that reads it
  (``gridgov_common/platform/outbox.py``'s ``OUTBOX_POLL_SECONDS``…), a key of one service in
  ``services/<svc>/settings.py``, whose ``SETTINGS`` lists exactly the keys that service
  reads;
* ``services/<svc>/config.yaml`` holds exactly those keys (nameko's optional AMQP_SSL and
  LOGIN_METHOD only when used), and every default it gives parses;
* no code outside gridgov_common/platform/settings.py reads a key raw (``config.get(…)``,
  ``config[…]``, ``container.config.get(…)``);
* every Setting constant is in some service's ``SETTINGS`` and is read: its name is used in
  code other than its definition and the ``Settings(...)`` lists; and every Setting of a
  service's ``SETTINGS`` is read by code that service runs (its package or gridgov_common),
  except the keys only nameko itself reads (``by_nameko``: WEB_SERVER_ADDRESS, LOGGING,
  max_workers).
"""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

import pytest
import yaml
from nameko.cli.main import IMPLICIT_ENV_VAR_MATCHER, env_var_constructor

from gridgov_common.platform.migrate import SERVICES
from gridgov_common.platform.settings import (
    FLAG,
    INTEGER,
    JSON,
    NON_NEGATIVE,
    NUMBER,
    POSITIVE,
    POSITIVE_INTEGER,
    SECRET,
    TEXT,
    Setting,
    Settings,
)

ROOT = Path(__file__).resolve().parents[2]
CODE_DIRS = ("gridgov_common", "services")
SETTINGS_MODULE = ROOT / "gridgov_common" / "platform" / "settings.py"
TEST_SECRET = "s" * 48


# -- parsers and messages -------------------------------------------------------------------

@pytest.mark.parametrize(("kind", "raw", "value"), [
    (TEXT, "abc", "abc"), (TEXT, 5, "5"), (SECRET, "k", "k"),
    (NUMBER, "-1.5", -1.5), (POSITIVE, "0.2", 0.2), (NON_NEGATIVE, 0, 0.0),
    (INTEGER, "7", 7), (INTEGER, 7.0, 7), (INTEGER, "-3", -3), (POSITIVE_INTEGER, "10", 10),
    (FLAG, "TRUE", True), (FLAG, "off", False), (FLAG, "1", True), (FLAG, False, False),
    (JSON, '[{"card": "red"}]', [{"card": "red"}]), (JSON, [1], [1]),
])
def test_kinds_parse(kind, raw, value):
    assert Setting("K", kind).read({"K": raw}) == value


@pytest.mark.parametrize(("kind", "raw", "message"), [
    (NUMBER, "fast", "^config K must be a number, got 'fast'$"),
    (NUMBER, "nan", "^config K must be a number"),
    (POSITIVE, "0", "^config K must be positive$"),
    (NON_NEGATIVE, "-1", "^config K must be >= 0$"),
    (INTEGER, "2.5", "^config K must be a whole number, got '2.5'$"),
    (POSITIVE_INTEGER, "0", "^config K must be positive$"),
    (FLAG, "ture", "^config K must be true or false, got 'ture'$"),
    (JSON, "{", "^config K must be JSON"),
])
def test_a_bad_value_names_its_key(kind, raw, message):
    with pytest.raises(RuntimeError, match=message):
        Setting("K", kind).read({"K": raw})


def test_missing_or_empty_is_the_default_and_a_required_one_refuses():
    setting = Setting("K", POSITIVE, 3.0)
    assert setting.read({}) == setting.read({"K": ""}) == setting.read({"K": None}) == 3.0
    with pytest.raises(RuntimeError, match="^config S must be set"):
        Setting("S", SECRET, required=True).read({"S": " "})


def test_a_further_rule_runs_on_the_typed_value():
    def small(key, value):
        if value > 5:
            raise RuntimeError(f"config {key} at most 5")

    setting = Setting("K", INTEGER, 1, check=small)
    assert setting.read({"K": "5"}) == 5
    with pytest.raises(RuntimeError, match="K at most 5"):
        setting.read({"K": "6"})


def test_check_names_every_bad_and_every_unknown_key_at_once():
    declared = Settings(Setting("A", POSITIVE, 1.0), Setting("B", FLAG, False),
                        Setting("C", TEXT, "c"))
    assert declared.check({"A": "2", "username": "guest"}) == {"A": 2.0, "B": False, "C": "c"}
    with pytest.raises(RuntimeError) as failed:
        declared.check({"A": "-1", "B": "maybe", "C": "ok", "TYPO_KEY": 1, "OTHER": 2,
                        "vhost": "lower-case keys are nameko's or its fixtures'"})
    text = str(failed.value)
    for part in ("config A must be positive", "config B must be true or false",
                 "config OTHER is not a setting", "config TYPO_KEY is not a setting"):
        assert part in text
    assert "config C" not in text and "vhost" not in text


def test_a_key_is_declared_once():
    one = Setting("A", TEXT)
    assert Settings(one, Settings(one)).keys == ("A",)
    with pytest.raises(ValueError, match="A is declared twice"):
        Settings(one, Setting("A", TEXT))


# -- each service's config.yaml == its SETTINGS ---------------------------------------------

class EnvLoader(yaml.SafeLoader):
    """nameko's ``${VAR:default}`` expansion (nameko run --config), on a loader of our own
    (nameko's setup_yaml_parser changes yaml.SafeLoader for everyone)."""


EnvLoader.add_constructor("!env_var", env_var_constructor)
EnvLoader.add_implicit_resolver("!env_var", IMPLICIT_ENV_VAR_MATCHER, None)


def config_file(svc: str, monkeypatch) -> dict:
    """The service's config.yaml with every default (its variables unset)."""
    text = (ROOT / "services" / svc / "config.yaml").read_text(encoding="utf-8")
    for name in re.findall(r"\$\{([A-Z0-9_]+):", text):
        monkeypatch.delenv(name, raising=False)
    return yaml.load(text, Loader=EnvLoader)  # noqa: S506 (a SafeLoader)


def declared(svc: str) -> Settings:
    return importlib.import_module(f"services.{svc}.settings").SETTINGS


@pytest.mark.parametrize("svc", SERVICES)
def test_config_yaml_holds_exactly_the_keys_the_service_reads(svc, monkeypatch):
    config = config_file(svc, monkeypatch)
    in_file = {s.key for s in declared(svc) if s.in_config_file}
    assert set(config) - in_file == set(), "keys the service does not read"
    assert in_file - set(config) == set(), "keys the service reads, missing from the file"


@pytest.mark.parametrize("svc", SERVICES)
def test_every_default_of_config_yaml_parses(svc, monkeypatch):
    config = config_file(svc, monkeypatch)
    secrets = {s.key: TEST_SECRET for s in declared(svc) if s.required and not config.get(s.key)}
    values = declared(svc).check({**config, **secrets})  # secrets have no default: given
    assert set(values) == set(declared(svc).keys)


@pytest.mark.parametrize("svc", SERVICES)
def test_the_service_class_checks_its_declaration_at_start(svc):
    module = importlib.import_module(f"services.{svc}.service")
    service = next(value for value in vars(module).values()
                   if isinstance(value, type) and getattr(value, "name", None) == svc)
    assert service.declared_settings is declared(svc)


# -- the static rule ------------------------------------------------------------------------

def code_files() -> list[Path]:
    return [path for top in CODE_DIRS for path in sorted((ROOT / top).rglob("*.py"))
            if "migrations" not in path.parts]


def _module_name(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")


def _ends_in_config(node: ast.expr) -> bool:
    return (isinstance(node, ast.Name) and node.id == "config") or (
        isinstance(node, ast.Attribute) and node.attr == "config")


def raw_reads(tree: ast.AST) -> list[int]:
    """Lines of ``<…>config.get(…)`` and ``<…>config[…]`` reads."""
    lines = []
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr == "get" and _ends_in_config(node.func.value)):
            lines.append(node.lineno)
        elif (isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load)
              and _ends_in_config(node.value)):
            lines.append(node.lineno)
    return lines


def _declares_settings(value: ast.expr) -> bool:
    """``Setting(...)`` or a factory of them (``retention_setting(...)``,
    ``limit_settings(...)``)."""
    if not isinstance(value, ast.Call):
        return False
    func = value.func
    name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
    return name == "Setting" or name.endswith(("_setting", "_settings"))


def setting_constants() -> dict[int, tuple[str, str]]:
    """id(Setting) → (module, constant name), for every module-level Setting constant."""
    found: dict[int, tuple[str, str]] = {}
    for path in code_files():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in tree.body:
            if not (isinstance(node, ast.Assign) and _declares_settings(node.value)):
                continue
            names = [n.id for target in node.targets
                     for n in (target.elts if isinstance(target, ast.Tuple) else [target])
                     if isinstance(n, ast.Name)]
            module = importlib.import_module(_module_name(path))
            for name in names:
                value = getattr(module, name)
                if isinstance(value, Setting):
                    found[id(value)] = (_module_name(path), name)
    return found


def uses(path: Path) -> set[str]:
    """Names used in the file other than where a Setting is defined or listed in
    ``Settings(...)``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "Settings":
            # a declaration lists its settings positionally (a dataclass of values that
            # happens to be called Settings takes keywords)
            skipped.update(id(inner) for arg in node.args for inner in ast.walk(arg))
        if isinstance(node, ast.Assign) and _declares_settings(node.value):
            skipped.update(id(inner) for target in node.targets for inner in ast.walk(target))
    names = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Name):
            names.add(node.id)
        elif isinstance(node, ast.Attribute):
            names.add(node.attr)
    return names


def test_no_raw_config_read_remains():
    found = [f"{path.relative_to(ROOT)}:{line}" for path in code_files()
             if path != SETTINGS_MODULE
             for line in raw_reads(ast.parse(path.read_text(encoding="utf-8")))]
    assert found == [], "read through a Setting (gridgov_common/platform/settings.py)"


def test_every_setting_is_declared_by_a_service_and_read():
    constants = setting_constants()
    listed = {id(s) for svc in SERVICES for s in declared(svc)}
    unlisted = sorted(f"{module}.{name}" for key, (module, name) in constants.items()
                      if key not in listed)
    assert unlisted == [], "in no service's SETTINGS"
    used = set().union(*(uses(path) for path in code_files()))
    settings = {id(s): s for svc in SERVICES for s in declared(svc)}
    unread = sorted(f"{module}.{name}" for key, (module, name) in constants.items()
                    if name not in used and not settings[key].by_nameko)
    assert unread == [], "declared but never read"


@pytest.mark.parametrize("svc", SERVICES)
def test_every_setting_of_a_service_is_read_by_code_it_runs(svc):
    constants = setting_constants()
    anonymous = [s.key for s in declared(svc) if id(s) not in constants]
    assert anonymous == [], "declare each Setting as a module-level constant"
    runs = [path for path in code_files()
            if path.is_relative_to(ROOT / "gridgov_common")
            or path.is_relative_to(ROOT / "services" / svc)]
    used = set().union(*(uses(path) for path in runs))
    unread = [s.key for s in declared(svc)
              if constants[id(s)][1] not in used and not s.by_nameko]
    assert unread == [], f"{svc} declares keys no code of it reads"

"""Typed settings: every configuration key a service reads is declared once, as a
:class:`Setting`, and read only through it.

A key shared by several services is a module-level constant of the module that reads it
(``platform.outbox.OUTBOX_POLL_SECONDS``, ``platform.db.DB_URL``…); a key of one
service lives in ``services/<svc>/settings.py``, which also lists the exact keys of that
service in ``SETTINGS``. ``services/<svc>/config.yaml`` holds exactly those keys
(tests/unit/test_settings.py checks both ways).

Why: a bad value, a typo in config.yaml or another service's key stops the service at
start, every bad key named in one error (:class:`SettingsCheck`, on every
``PlatformService``), instead of failing later in a worker or being silently ignored.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from nameko.extensions import DependencyProvider

Parse = Callable[[str, Any], Any]
"""``parse(key, raw)``: the typed value of a non-empty raw value, or RuntimeError naming key."""


@dataclass(frozen=True)
class Kind:
    """How a raw config value (a string from ``${ENV:default}``, or a YAML scalar) becomes
    a typed one."""

    name: str
    parse: Parse
    secret: bool = False  # never echoed in an error


def _text(key: str, raw: Any) -> str:
    return str(raw)


def _number(key: str, raw: Any) -> float:
    try:
        number = float(raw)
    except (TypeError, ValueError):
        raise RuntimeError(f"config {key} must be a number, got {raw!r}") from None
    if math.isnan(number):
        raise RuntimeError(f"config {key} must be a number, got {raw!r}")
    return number


def _positive(key: str, raw: Any) -> float:
    number = _number(key, raw)
    if number <= 0:
        raise RuntimeError(f"config {key} must be positive")
    return number


def _non_negative(key: str, raw: Any) -> float:
    number = _number(key, raw)
    if number < 0:
        raise RuntimeError(f"config {key} must be >= 0")
    return number


def _integer(key: str, raw: Any) -> int:
    number = raw if isinstance(raw, int) and not isinstance(raw, bool) else None
    if number is None:
        try:
            as_float = float(str(raw).strip())
        except ValueError:
            as_float = math.nan
        if not as_float.is_integer():
            raise RuntimeError(f"config {key} must be a whole number, got {raw!r}")
        number = int(as_float)
    return number


def _positive_integer(key: str, raw: Any) -> int:
    number = _integer(key, raw)
    if number <= 0:
        raise RuntimeError(f"config {key} must be positive")
    return number


def _non_negative_integer(key: str, raw: Any) -> int:
    number = _integer(key, raw)
    if number < 0:
        raise RuntimeError(f"config {key} must be >= 0")
    return number


TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
FALSE_WORDS = frozenset({"0", "false", "no", "off"})


def _flag(key: str, raw: Any) -> bool:
    """true/false, yes/no, on/off, 1/0, any case; anything else is a configuration error."""
    if isinstance(raw, bool):
        return raw
    word = str(raw).strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise RuntimeError(f"config {key} must be true or false, got {raw!r}")


def _json(key: str, raw: Any) -> Any:
    if not isinstance(raw, str):
        return raw  # already structured YAML
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise RuntimeError(f"config {key} must be JSON: {exc}") from None


def _as_is(key: str, raw: Any) -> Any:
    return raw


TEXT = Kind("text", _text)
SECRET = Kind("secret", _text, secret=True)
NUMBER = Kind("number", _number)
POSITIVE = Kind("positive", _positive)
NON_NEGATIVE = Kind("non_negative", _non_negative)
INTEGER = Kind("integer", _integer)
POSITIVE_INTEGER = Kind("positive_integer", _positive_integer)
NON_NEGATIVE_INTEGER = Kind("non_negative_integer", _non_negative_integer)
FLAG = Kind("flag", _flag)
JSON = Kind("json", _json)
STRUCTURE = Kind("structure", _as_is)  # nameko's own YAML mappings (LOGGING, AMQP_SSL)


def missing(raw: Any) -> bool:
    """No value: absent, null, or an empty ``${ENV:}``."""
    return raw is None or (isinstance(raw, str) and not raw.strip())


@dataclass(frozen=True)
class Setting:
    """One configuration key: its parser, its default (the typed value when the key is
    missing or empty) and what it is for."""

    key: str
    kind: Kind
    default: Any = None
    doc: str = ""
    required: bool = False  # secrets without which the service must not start
    check: Callable[[str, Any], None] | None = None  # a further rule on the typed value
    by_nameko: bool = False  # read by nameko itself (also, or only)
    in_config_file: bool = True  # False: nameko's optional keys, set only when used

    def read(self, config: Mapping[str, Any]) -> Any:
        """The typed value in ``config``; a bad one raises RuntimeError naming the key."""
        raw = config.get(self.key)
        if missing(raw):
            if self.required:
                raise RuntimeError(f"config {self.key} must be set (from the environment)")
            return self.default
        value = self.kind.parse(self.key, raw)
        if self.check is not None:
            self.check(self.key, value)
        return value

    def given(self, config: Mapping[str, Any]) -> bool:
        """Whether ``config`` has a value for this key (a required one may be read)."""
        return not missing(config.get(self.key))

    def of(self, container: Any) -> Any:
        """The value for a dependency provider's ``setup``: the service's whole declaration
        is checked first (once per container), so whichever provider starts first, a bad
        config stops the service with every bad key named."""
        check_container(container)
        return self.read(container.config)


class Settings:
    """The ordered, de-duplicated settings a service reads (its config.yaml's keys)."""

    def __init__(self, *items: Setting | Settings) -> None:
        found: dict[str, Setting] = {}
        for item in items:
            for setting in (item if isinstance(item, Settings) else (item,)):
                earlier = found.setdefault(setting.key, setting)
                if earlier is not setting:
                    raise ValueError(f"setting {setting.key} is declared twice")
        self._settings = tuple(found.values())

    def __iter__(self) -> Iterator[Setting]:
        return iter(self._settings)

    def __len__(self) -> int:
        return len(self._settings)

    def __contains__(self, key: object) -> bool:
        return key in self.keys

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(setting.key for setting in self._settings)

    def check(self, config: Mapping[str, Any]) -> dict[str, Any]:
        """Every declared key's typed value; ONE RuntimeError listing every bad key, and
        every upper-case key of ``config`` this service does not declare (a typo, or a key
        of another service that would otherwise be silently ignored)."""
        values: dict[str, Any] = {}
        errors: list[str] = []
        for setting in self._settings:
            try:
                values[setting.key] = setting.read(config)
            except RuntimeError as exc:
                errors.append(str(exc))
        errors += [f"config {key} is not a setting of this service"
                   for key in unknown_keys(config, self.keys)]
        if errors:
            raise RuntimeError("bad configuration: " + "; ".join(errors))
        return values


def unknown_keys(config: Mapping[str, Any], declared: Iterable[str]) -> list[str]:
    """Upper-case keys of ``config`` not declared (lower-case ones are nameko's or its test
    fixtures', such as ``username`` and ``vhost``)."""
    known = set(declared)
    return sorted(key for key in config
                  if isinstance(key, str) and key.isupper() and key not in known)


# -- nameko's own keys: declared so that config.yaml == the declaration ---------------------

AMQP_URI = Setting("AMQP_URI", TEXT, "pyamqp://guest:guest@127.0.0.1:5672/",
                   "the broker; read by nameko and by gridgov's own connections",
                   by_nameko=True)
AMQP_SSL = Setting("AMQP_SSL", STRUCTURE, None, "nameko's TLS options for the broker",
                   by_nameko=True, in_config_file=False)
LOGIN_METHOD = Setting("LOGIN_METHOD", TEXT, None, "nameko's AMQP login method",
                       by_nameko=True, in_config_file=False)
WEB_SERVER_ADDRESS = Setting("WEB_SERVER_ADDRESS", TEXT, "0.0.0.0:8000",
                             "host:port of nameko's HTTP server", by_nameko=True)
LOGGING = Setting("LOGGING", STRUCTURE, None, "logging.config.dictConfig of nameko run",
                  by_nameko=True)
MAX_WORKERS = Setting("max_workers", POSITIVE_INTEGER, 10,
                      "nameko's concurrent workers per service", by_nameko=True)

NAMEKO = Settings(AMQP_URI, AMQP_SSL, LOGIN_METHOD, WEB_SERVER_ADDRESS, MAX_WORKERS, LOGGING)


# -- the start-up check ---------------------------------------------------------------------

CHECKED_ATTRIBUTE = "gridgov_checked_settings"  # on the container: the values, or the error

def declared_settings(container: Any) -> Settings | None:
    """The declaration of the container's service class (``declared_settings``), if any."""
    return getattr(getattr(container, "service_cls", None), "declared_settings", None)


def check_container(container: Any) -> dict[str, Any] | None:
    """Check the container's config against its service's declaration, once; the same
    error again for every later caller."""
    declared = declared_settings(container)
    if declared is None:
        return None
    outcome = getattr(container, CHECKED_ATTRIBUTE, None)
    if outcome is None:
        try:
            outcome = declared.check(container.config)
        except RuntimeError as exc:
            outcome = exc
        setattr(container, CHECKED_ATTRIBUTE, outcome)
    if isinstance(outcome, RuntimeError):
        raise RuntimeError(str(outcome))
    return outcome


class SettingsCheck(DependencyProvider):
    """Checks the whole config at start against the service class's
    ``declared_settings``; injects the typed values by key."""

    def setup(self) -> None:
        self.values = check_container(self.container) or {}

    def get_dependency(self, worker_ctx) -> dict[str, Any]:
        return self.values


class ConfigValue(DependencyProvider):
    """One setting as a dependency: checked when the container starts, then given to every
    worker as its typed value."""

    def __init__(self, setting: Setting) -> None:
        self.setting = setting
        self.value = setting.default

    def setup(self) -> None:
        self.value = self.setting.of(self.container)

    def get_dependency(self, worker_ctx) -> Any:
        return self.value

#!/usr/bin/env python3
"""Write the local ``.env`` with fresh secrets, once.

    python3 scripts/gen_env.py                 # writes ./.env if it is missing
    python3 scripts/gen_env.py --output PATH   # somewhere else (tests use a temp file)
    python3 scripts/gen_env.py --new GRIDGOV_PII_KEY   # print a fresh value, write nothing
                                                       # (key rotation, deploy/README.md)

An existing file is never overwritten: its values (above all the personal-data keys,
without which encrypted fields can no longer be read) are kept, and only keys it lacks
are appended. The file is created with mode 0600 and must never be committed
(``.gitignore`` lists it). Standard library only: it runs before ``.venv`` exists.

Values are written unquoted so that a POSIX shell (``set -a; . ./.env``) and
``docker compose`` (which reads ``.env`` for ``${VAR}`` interpolation) read them alike.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import secrets
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _b64_key(n: int) -> Callable[[], str]:
    return lambda: base64.b64encode(secrets.token_bytes(n)).decode("ascii")


# Each service connects to PostgreSQL as its own role with rights on its own schema only
# (gridgov_common/platform/db_roles.py); `make up` and docker compose create the roles with these
# passwords. Keep in step with gridgov_common.platform.db_roles.SERVICES (tests/test_tooling.py).
DB_SERVICES = ("registry", "events", "dispatch", "assessment", "notify")


# The demo district's departments: the register's first version, read as plain JSON (this
# script runs before .venv exists). In compose each logs in as its own broker user
# dept.<code> (issue 10), like a real department.
SEED = Path(__file__).resolve().parent.parent / "gridgov_common" / "kernel" / "departments.json"
DEMO_DEPARTMENTS = tuple(sorted(entry["code"] for entry in
                                json.loads(SEED.read_text(encoding="utf-8"))["departments"]))


def _service_url(service: str) -> Callable[[dict], str]:
    """The local URL of a service's role, with the password written just before it."""
    return lambda env: (f"postgresql+psycopg://gridgov_{service}:"
                        f"{env[f'GRIDGOV_{service.upper()}_DB_PASSWORD']}@127.0.0.1:5432/gridgov")


def _db_entries() -> list[tuple[str, Callable, str]]:
    out: list[tuple[str, Callable, str]] = []
    for service in DB_SERVICES:
        upper = service.upper()
        out.append((f"GRIDGOV_{upper}_DB_PASSWORD", lambda: secrets.token_urlsafe(24),
                    f"password of the PostgreSQL role gridgov_{service} (make up and compose)"))
        out.append((f"GRIDGOV_{upper}_DB_URL", _service_url(service),
                    f"{service} connects as gridgov_{service}: rights on schema {service} "
                    f"only (make up; docker-compose.yml sets its own)"))
    return out


# (name, value factory, comment); order is the order written. A factory takes no argument,
# or the values written so far (a URL built from a password above it).
ENTRIES: list[tuple[str, Callable, str]] = [
    ("GRIDGOV_DB_URL", lambda: "postgresql+psycopg://postgres@127.0.0.1:5432/gridgov",
     "PostgreSQL administrator of make up: migrations and roles only, no service gets it"),
    ("GRIDGOV_AMQP_URI", lambda: "pyamqp://guest:guest@127.0.0.1:5672/",
     "RabbitMQ of the local services (make up); docker-compose.yml sets its own"),
    ("GRIDGOV_JWT_SECRET", lambda: secrets.token_urlsafe(48),
     "signs bearer tokens (HS256): 48 random bytes, URL-safe base64"),
    ("GRIDGOV_PII_KEY", _b64_key(32),
     "AES-256-GCM key of personal data: 32 random bytes, base64. LOSING IT LOSES THE DATA"),
    ("GRIDGOV_PII_INDEX_KEY", _b64_key(32),
     "HMAC key of the blind index of personal data: 32 random bytes, base64"),
    ("GRIDGOV_OPEN311_API_KEYS", lambda: secrets.token_urlsafe(24),
     "API keys accepted by POST /open311/v2/requests (comma list), one per client system"),
    ("PSYCOPG_WAIT_FUNC", lambda: "wait_select",
     "psycopg 3 must wait with select() under eventlet (gridgov_common/platform/greening.py)"),
    ("GRIDGOV_DB_PASSWORD", lambda: secrets.token_urlsafe(24),
     "docker-compose.yml only: password of the PostgreSQL container's gridgov user"),
    ("GRIDGOV_AMQP_PASSWORD", lambda: secrets.token_urlsafe(24),
     "docker-compose.yml only: password of the RabbitMQ container's gridgov user"),
    *((f"GRIDGOV_AMQP_PASSWORD_{svc.upper()}", lambda: secrets.token_urlsafe(24),
       f"docker-compose.yml only: password of the broker user svc.{svc} (issue 10: one "
       f"user per service)")
      for svc in ("registry", "events", "dispatch", "assessment", "notify")),
    *((f"GRIDGOV_BUS_PASSWORD_{code.upper()}", lambda: secrets.token_urlsafe(24),
       f"docker-compose.yml only: password of the demo department's broker user dept.{code} "
       f"(the simulated departments log in with it)")
      for code in DEMO_DEPARTMENTS),
    ("GRIDGOV_GRAFANA_PASSWORD", lambda: secrets.token_urlsafe(18),
     "docker-compose.yml only: Grafana's admin password"),
    *_db_entries(),
]

HEADER = (
    "# gridgov local environment, generated by scripts/gen_env.py. NEVER COMMIT THIS FILE.\n"
    "# Keep a copy of GRIDGOV_PII_KEY and GRIDGOV_PII_INDEX_KEY somewhere safe: data\n"
    "# encrypted under them cannot be read without them.\n"
)


def existing_values(text: str) -> dict[str, str]:
    values = {}
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("export "):
            line = line[len("export "):].lstrip()
        if line and not line.startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            values[key.strip()] = value.strip()
    return values


def existing_keys(text: str) -> set[str]:
    return set(existing_values(text))


def _make(factory: Callable, env: dict) -> str:
    return factory(env) if factory.__code__.co_argcount else factory()


def render(names: list[str], env: dict | None = None) -> str:
    env = dict(env or {})
    out = []
    for name, factory, comment in ENTRIES:
        if name in names:
            env[name] = _make(factory, env)
            out.append(f"# {comment}\n{name}={env[name]}\n")
    return "".join(out)


def write_env(path: Path) -> list[str]:
    """Create ``path`` (0600) or append the keys it lacks; return the names written."""
    if path.exists():
        text = path.read_text(encoding="utf-8")
        missing = [name for name, _, _ in ENTRIES if name not in existing_keys(text)]
        if missing:
            with path.open("a", encoding="utf-8") as handle:
                if text and not text.endswith("\n"):
                    handle.write("\n")
                handle.write(render(missing, existing_values(text)))
        os.chmod(path, 0o600)
        return missing
    names = [name for name, _, _ in ENTRIES]
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(HEADER + render(names))
    os.chmod(path, 0o600)  # whatever the umask said
    return names


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", "-o", type=Path, default=ROOT / ".env",
                        help="file to write (default: .env at the repository root)")
    parser.add_argument("--new", metavar="NAME", choices=[name for name, _, _ in ENTRIES],
                        help="print a fresh value for NAME (a rotation) and write nothing")
    args = parser.parse_args(argv)
    if args.new:
        factory = dict((name, factory) for name, factory, _ in ENTRIES)[args.new]
        if factory.__code__.co_argcount:
            parser.error(f"{args.new} is built from other values: edit it by hand")
        print(factory())
        return 0
    existed = args.output.exists()
    written = write_env(args.output)
    if not existed:
        print(f"gen_env: wrote {args.output} (mode 0600) with fresh secrets")
    elif written:
        print(f"gen_env: {args.output} kept; appended missing {', '.join(written)}")
    else:
        print(f"gen_env: {args.output} already complete; left alone")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Database creation and per-service Alembic migrations.

Each service owns one PostgreSQL schema (``registry``, ``events``, …) and its own
Alembic history in ``services/<svc>/migrations`` with its version table inside that
schema, so services migrate and deploy independently.

The migrations run as the owner role and each service connects as its own role with rights
on its own schema only (gridgov_common/platform/db_roles.py, docs/SECURITY.md).

``python -m gridgov_common.platform.migrate upgrade``   create the database and roles if missing,
migrate all, grant each service's role its rights
``python -m gridgov_common.platform.migrate service-url registry``   the URL registry connects with
``python -m gridgov_common.platform.migrate revision registry -m "msg"``   autogenerate a revision
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Mapping
from pathlib import Path

import sqlalchemy as sa
from alembic import command, context
from alembic.config import Config

import gridgov_common.platform.greening  # noqa: F401
from gridgov_common.platform import db_roles

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("registry", "events", "dispatch", "assessment", "notify")
DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/gridgov"
log = logging.getLogger("gridgov.migrate")


def database_url() -> str:
    return os.environ.get("GRIDGOV_DB_URL", DEFAULT_URL)


def ensure_database(url: str) -> bool:
    """Create the database named in ``url`` if it does not exist; True if created."""
    target = sa.engine.make_url(url)
    admin = sa.create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            exists = conn.execute(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"),
                                  {"n": target.database}).scalar()
            if exists:
                return False
            conn.execute(sa.text(f'CREATE DATABASE "{target.database}"'))
            return True
    finally:
        admin.dispose()


def migrations_dir(service: str) -> Path:
    return ROOT / "services" / service / "migrations"


def alembic_config(service: str, url: str, role: str | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(migrations_dir(service)))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    cfg.attributes["service"] = service
    cfg.attributes["role"] = role
    return cfg


def upgrade(url: str, services: tuple[str, ...] = SERVICES,
            env: Mapping[str, str] | None = None) -> None:
    """Create the database if missing, the roles (gridgov_common.platform.db_roles), migrate as the
    owner role, then grant each service's role its rights. ``env``: where the services' URLs
    (``GRIDGOV_<SVC>_DB_URL``) and ``GRIDGOV_DB_OWNER`` are read (default os.environ)."""
    ensure_database(url)
    services = tuple(s for s in services if migrations_dir(s).is_dir())
    role = db_roles.prepare(url, services, env)
    for service in services:
        command.upgrade(alembic_config(service, url, role), "head")
    db_roles.grant(url, services, env)


def run_env(metadata: sa.MetaData) -> None:
    """Body of every service's ``migrations/env.py`` (online mode only)."""
    schema = metadata.schema
    url = context.config.get_main_option("sqlalchemy.url")
    role = context.config.attributes.get("role")
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        if role:  # everything the migration creates belongs to the owner role (db_roles)
            conn.execute(sa.text("SELECT set_config('role', :r, false)"), {"r": role})
        conn.execute(sa.text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
        conn.commit()
        context.configure(
            connection=conn, target_metadata=metadata, version_table_schema=schema,
            include_schemas=True,
            include_name=lambda name, type_, parent: (
                type_ != "schema" or name == schema),
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    parser = argparse.ArgumentParser(prog="python -m gridgov_common.platform.migrate")
    sub = parser.add_subparsers(dest="cmd", required=True)
    up = sub.add_parser("upgrade", help="create the database if needed and migrate services")
    up.add_argument("services", nargs="*", default=list(SERVICES))
    rev = sub.add_parser("revision", help="autogenerate a revision for one service")
    rev.add_argument("service", choices=SERVICES)
    rev.add_argument("-m", "--message", required=True)
    svc_url = sub.add_parser("service-url", help="the database URL of a service's own role")
    svc_url.add_argument("service", choices=SERVICES)
    args = parser.parse_args(argv)
    url = database_url()
    if args.cmd == "service-url":
        print(db_roles.service_url(url, args.service))
        return 0
    if args.cmd == "upgrade":
        try:
            upgrade(url, tuple(args.services))
        except db_roles.RoleError as exc:
            print(f"migrate: {exc}", file=sys.stderr)
            return 1
        print(f"migrated {', '.join(args.services)}")
        return 0
    ensure_database(url)
    command.revision(alembic_config(args.service, url), message=args.message, autogenerate=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Database creation and per-service Alembic migrations.

Each service owns one PostgreSQL schema (``registry``, ``events``, …) and its own
Alembic history in ``services/<svc>/migrations`` with its version table inside that
schema, so services migrate and deploy independently.

``python -m gridgov_common.migrate upgrade``   create the database if missing, migrate all
``python -m gridgov_common.migrate revision registry -m "msg"``   autogenerate a revision
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

import sqlalchemy as sa
from alembic import command, context
from alembic.config import Config

import gridgov_common.greening  # noqa: F401

ROOT = Path(__file__).resolve().parent.parent
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


def alembic_config(service: str, url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(migrations_dir(service)))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    cfg.attributes["service"] = service
    return cfg


def upgrade(url: str, services: tuple[str, ...] = SERVICES) -> None:
    ensure_database(url)
    for service in services:
        if migrations_dir(service).is_dir():
            command.upgrade(alembic_config(service, url), "head")


def run_env(metadata: sa.MetaData) -> None:
    """Body of every service's ``migrations/env.py`` (online mode only)."""
    schema = metadata.schema
    url = context.config.get_main_option("sqlalchemy.url")
    engine = sa.create_engine(url)
    with engine.connect() as conn:
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
    parser = argparse.ArgumentParser(prog="python -m gridgov_common.migrate")
    sub = parser.add_subparsers(dest="cmd", required=True)
    up = sub.add_parser("upgrade", help="create the database if needed and migrate services")
    up.add_argument("services", nargs="*", default=list(SERVICES))
    rev = sub.add_parser("revision", help="autogenerate a revision for one service")
    rev.add_argument("service", choices=SERVICES)
    rev.add_argument("-m", "--message", required=True)
    args = parser.parse_args(argv)
    url = database_url()
    if args.cmd == "upgrade":
        upgrade(url, tuple(args.services))
        print(f"migrated {', '.join(args.services)}")
        return 0
    ensure_database(url)
    command.revision(alembic_config(args.service, url), message=args.message, autogenerate=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Wait until every service's schema is at the Alembic head this image carries.

    python scripts/wait_migrated.py [--timeout SECONDS] [service ...]

Kubernetes runs it as the init container of each service (deploy/k8s/base): a pod of a new
image starts only once the migration Job of that image has brought the database to the
same revisions, whatever order the Job and the Deployments were applied in. It reads
``<schema>.alembic_version`` (gridgov_common.platform.migrate keeps each version table in the
service's own schema) and compares it with the heads of services/<svc>/migrations.
Exit 0 when all match, 1 on timeout (the kubelet then restarts it with back-off).
Database URL: ``GRIDGOV_DB_URL``; in Kubernetes the service's own role, which can read only
its own schema, so each init container names its service. Migrations are never run here:
one Job runs them.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402
from alembic.script import ScriptDirectory  # noqa: E402

from gridgov_common.platform.migrate import SERVICES, alembic_config, database_url  # noqa: E402


def expected_heads(service: str) -> set[str]:
    """The head revisions of the migrations shipped with this code."""
    return set(ScriptDirectory.from_config(alembic_config(service, "")).get_heads())


def current_versions(engine: sa.Engine, service: str) -> set[str]:
    """What the database says, or an empty set when the version table is not there yet."""
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text(f'SELECT version_num FROM "{service}".alembic_version'))
            return {row[0] for row in rows}
    except sa.exc.DBAPIError:
        return set()


def pending(engine: sa.Engine, services: list[str]) -> dict[str, tuple[set[str], set[str]]]:
    """service -> (in the database, expected) for every service not at its heads."""
    out = {}
    for service in services:
        want, have = expected_heads(service), current_versions(engine, service)
        if have != want:
            out[service] = (have, want)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="wait_migrated.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("services", nargs="*", default=list(SERVICES))
    parser.add_argument("--timeout", type=float, default=300.0,
                        help="seconds to wait (0: check once)")
    parser.add_argument("--interval", type=float, default=2.0)
    args = parser.parse_args(argv)
    engine = sa.create_engine(database_url(), pool_pre_ping=True)
    deadline = time.monotonic() + args.timeout
    try:
        while True:
            missing = pending(engine, args.services)
            if not missing:
                print(f"wait_migrated: {', '.join(args.services)} at head")
                return 0
            if time.monotonic() >= deadline:
                for service, (have, want) in missing.items():
                    print(f"wait_migrated: {service} at {sorted(have) or 'nothing'}, "
                          f"image wants {sorted(want)}", file=sys.stderr)
                return 1
            time.sleep(args.interval)
    finally:
        engine.dispose()


if __name__ == "__main__":
    sys.exit(main())

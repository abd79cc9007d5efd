"""Alembic environment of the registry schema (see gridgov_common.migrate)."""

from gridgov_common.migrate import run_env
from services.registry.models import metadata

run_env(metadata)

"""Alembic environment of the registry schema (see gridgov_common.platform.migrate)."""

from gridgov_common.platform.migrate import run_env
from services.registry.models import metadata

run_env(metadata)

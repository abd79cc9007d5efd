"""Alembic environment of the events schema (see gridgov_common.platform.migrate)."""

from gridgov_common.platform.migrate import run_env
from services.events.models import metadata

run_env(metadata)

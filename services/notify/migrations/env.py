"""Alembic environment of the notify schema (see gridgov_common.migrate)."""

from gridgov_common.migrate import run_env
from services.notify.models import metadata

run_env(metadata)

"""Alembic environment of the notify schema (see gridgov_common.platform.migrate)."""

from gridgov_common.platform.migrate import run_env
from services.notify.models import metadata

run_env(metadata)

"""Alembic environment of the dispatch schema (see gridgov_common.platform.migrate)."""

from gridgov_common.platform.migrate import run_env
from services.dispatch.models import metadata

run_env(metadata)

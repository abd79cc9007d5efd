"""Alembic environment of the assessment schema (see gridgov_common.platform.migrate)."""

from gridgov_common.platform.migrate import run_env
from services.assessment.models import metadata

run_env(metadata)

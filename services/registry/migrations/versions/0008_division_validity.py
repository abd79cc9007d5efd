"""division codes as data (issue 11, M1): districts, towns and communities get a validity
(valid_from / valid_to, the reason of a retirement) like grids, and their names a version
history (``division_names``)

Revision ID: 0008
Revises: 0007

Existing rows are backfilled with ``valid_from`` = the day they were created (Asia/Shanghai,
the district's calendar) and one name version each, valid from the same day.
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

NOW = sa.text("now()")
LEVELS = (("districts", "district"), ("towns", "town"), ("communities", "community"))
CREATED_DAY = "(created_at AT TIME ZONE 'Asia/Shanghai')::date"


def upgrade() -> None:
    for table, _level in LEVELS:
        op.add_column(table, sa.Column("valid_from", sa.Date(), nullable=True),
                      schema="registry")
        op.add_column(table, sa.Column("valid_to", sa.Date(), nullable=True),
                      schema="registry")
        op.add_column(table, sa.Column("retired_reason", sa.Text(), nullable=True),
                      schema="registry")
        op.add_column(table, sa.Column("changed_at", sa.DateTime(timezone=True),
                                       server_default=NOW, nullable=False),
                      schema="registry")
        op.execute(f"UPDATE registry.{table} SET valid_from = {CREATED_DAY}")
        op.alter_column(table, "valid_from", nullable=False,
                        server_default=sa.text("CURRENT_DATE"), schema="registry")
    op.create_table(
        "division_names",
        sa.Column("code", sa.String(12), primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("level", sa.Text, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("valid_from", sa.Date, nullable=False),
        sa.Column("valid_to", sa.Date, nullable=True),
        sa.Column("reason", sa.Text, nullable=False, server_default=""),
        sa.Column("recorded_by", sa.Text, nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False,
                  server_default=NOW),
        sa.CheckConstraint("level IN ('district', 'town', 'community')",
                           name="division_level"),
        sa.CheckConstraint("valid_to IS NULL OR valid_to > valid_from",
                           name="division_name_validity"),
        schema="registry",
    )
    for table, level in LEVELS:
        op.execute(
            "INSERT INTO registry.division_names (code, version, level, name, valid_from, "
            f"reason) SELECT code, 1, '{level}', name, valid_from, 'existing before the "
            f"division-code table (migration 0008)' FROM registry.{table}")


def downgrade() -> None:
    op.drop_table("division_names", schema="registry")
    for table, _level in LEVELS:
        for name in ("changed_at", "retired_reason", "valid_to", "valid_from"):
            op.drop_column(table, name, schema="registry")

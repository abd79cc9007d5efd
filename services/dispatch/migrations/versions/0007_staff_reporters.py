"""per-grid-worker figures: who of the grid staff reported a case, and grid workers' grids

Revision ID: 0007_staff_reporters
Revises: 0006_daily_digests

``cases.reporter_sub`` comes from ``events.case.reported`` v2; ``grid_workers`` and
``grid_worker_grids`` follow ``registry.staff.changed`` v1 (whole state per message,
``registry_at`` keeps the newest applied). docs/KPIS.md ``by=grid_worker``.
"""

import sqlalchemy as sa
from alembic import op

revision = '0007_staff_reporters'
down_revision = '0006_daily_digests'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("cases", sa.Column("reporter_sub", sa.Text, nullable=True), schema="dispatch")
    op.create_index("ix_cases_reporter_sub", "cases", ["reporter_sub"], schema="dispatch",
                    postgresql_where=sa.text("reporter_sub IS NOT NULL"))
    op.create_table(
        "grid_workers",
        sa.Column("staff_id", sa.BigInteger, primary_key=True),
        sa.Column("subject", sa.Text, nullable=True),
        sa.Column("role", sa.Text, nullable=False),
        sa.Column("scope_code", sa.Text, nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("registry_at", sa.DateTime(timezone=True), nullable=False),
        schema="dispatch",
    )
    op.create_index("ix_grid_workers_subject", "grid_workers", ["subject"], schema="dispatch")
    op.create_table(
        "grid_worker_grids",
        sa.Column("staff_id", sa.BigInteger,
                  sa.ForeignKey("dispatch.grid_workers.staff_id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("grid_code", sa.String(15), primary_key=True),
        schema="dispatch",
    )
    op.create_index("ix_grid_worker_grids_grid", "grid_worker_grids", ["grid_code"],
                    schema="dispatch")


def downgrade() -> None:
    op.drop_table("grid_worker_grids", schema="dispatch")
    op.drop_table("grid_workers", schema="dispatch")
    op.drop_index("ix_cases_reporter_sub", "cases", schema="dispatch")
    op.drop_column("cases", "reporter_sub", schema="dispatch")

"""years whose State Council holiday notice an operator entered (M12: a year without it
errs late, and the district admin is warned from November)

Revision ID: 0012_calendar_years
Revises: 0011_master_data
"""

import sqlalchemy as sa
from alembic import op

revision = "0012_calendar_years"
down_revision = "0011_master_data"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "calendar_years",
        sa.Column("year", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("notice", sa.Text(), nullable=False),
        sa.Column("entered_by", sa.Text(), nullable=False),
        sa.Column("entered_at", sa.DateTime(timezone=True), server_default=sa.text("now()"),
                  nullable=False),
        sa.PrimaryKeyConstraint("year"),
        schema="dispatch")
    op.create_table(
        "calendar_reminders",
        sa.Column("district", sa.Text(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("district", "day"),
        schema="dispatch")


def downgrade() -> None:
    op.drop_table("calendar_reminders", schema="dispatch")
    op.drop_table("calendar_years", schema="dispatch")

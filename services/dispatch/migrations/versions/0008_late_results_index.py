"""late results: a partial index for the KPIs' "closed on time" test

Revision ID: 0008_late_results
Revises: 0007_staff_reporters

``statistics.late_results`` (cases with a result reported late) walked the whole
``assignments`` case-id index and fetched every row to test ``handle_on_time``: 40 s of
the 79 s a year's KPIs by town took over 10 M cases (bench_10). This index holds only the
late ones (about 5 %), read without touching the table.
"""

import sqlalchemy as sa
from alembic import op

revision = '0008_late_results'
down_revision = '0007_staff_reporters'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_assignments_late", "assignments", ["case_id"], schema="dispatch",
                    postgresql_where=sa.text("handle_on_time IS FALSE"))


def downgrade() -> None:
    op.drop_index("ix_assignments_late", "assignments", schema="dispatch")

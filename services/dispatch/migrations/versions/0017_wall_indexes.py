"""indexes for the operations wall's queries (issue 14): the latest changes sort the
scope's cases by updated_at (statistics.recent_cases, every second per watched scope), and
the major events of the last days (statistics.major_cases) are a handful of rows

Revision ID: 0017_wall_indexes
Revises: 0016_hand_issued_cards
"""

import sqlalchemy as sa
from alembic import op

revision = "0017_wall_indexes"
down_revision = "0016_hand_issued_cards"
branch_labels = None
depends_on = None

MAJOR = "work_category = 'major_event' OR severity = 'critical'"


def upgrade() -> None:
    op.create_index("ix_cases_updated_at", "cases", ["updated_at"], schema="dispatch")
    op.create_index("ix_cases_major_reported", "cases", ["reported_at"], schema="dispatch",
                    postgresql_where=sa.text(MAJOR))


def downgrade() -> None:
    op.drop_index("ix_cases_major_reported", table_name="cases", schema="dispatch")
    op.drop_index("ix_cases_updated_at", table_name="cases", schema="dispatch")

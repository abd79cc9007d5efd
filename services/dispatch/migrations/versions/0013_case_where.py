"""the case's building and photos, from events.case.reported, so that the case file page
can say where (the address) and show what was seen (issue 11: names, not codes)

Revision ID: 0013_case_where
Revises: 0012_calendar_years
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0013_case_where"
down_revision = "0012_calendar_years"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("cases", sa.Column("building_id", sa.BigInteger(), nullable=True),
                  schema="dispatch")
    op.add_column("cases", sa.Column("photos", postgresql.ARRAY(sa.Text()), nullable=False,
                                     server_default="{}"), schema="dispatch")


def downgrade() -> None:
    op.drop_column("cases", "photos", schema="dispatch")
    op.drop_column("cases", "building_id", schema="dispatch")

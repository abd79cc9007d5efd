"""confirmed duplicates merged into their original's flow (P5.3.1, P5.3.3, issue 11 M9):
the original a case is merged into, since when, the state it left, and the last duplicate
decision applied (decisions apply in the order they were made)

Revision ID: 0014_merged_duplicates
Revises: 0013_case_where
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

revision = "0014_merged_duplicates"
down_revision = "0013_case_where"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("cases", sa.Column("merged_into", UUID(as_uuid=False), nullable=True),
                  schema="dispatch")
    op.add_column("cases", sa.Column("merged_at", sa.DateTime(timezone=True), nullable=True),
                  schema="dispatch")
    op.add_column("cases", sa.Column("merged_from_state", sa.Text(), nullable=True),
                  schema="dispatch")
    op.add_column("cases", sa.Column("duplicate_decided_at", sa.DateTime(timezone=True),
                                     nullable=True), schema="dispatch")
    op.create_index("ix_cases_merged_into", "cases", ["merged_into"], schema="dispatch",
                    postgresql_where=sa.text("merged_into IS NOT NULL"))


def downgrade() -> None:
    op.drop_index("ix_cases_merged_into", table_name="cases", schema="dispatch")
    for column in ("duplicate_decided_at", "merged_from_state", "merged_at", "merged_into"):
        op.drop_column("cases", column, schema="dispatch")

"""major events acknowledged on the operations wall (P5.2.7, P6.2; issue 14): once per
case, who and when, shared by every wall instead of kept in one browser

Revision ID: 0008_major_acknowledgements
Revises: 0007_circular_number
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0008_major_acknowledgements"
down_revision = "0007_circular_number"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "major_acknowledgements",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column("case_id", postgresql.UUID(as_uuid=False), nullable=False),
        sa.Column("case_number", sa.Text(), nullable=False),
        sa.Column("grid_code", sa.String(15), nullable=False),
        sa.Column("acknowledged_by", sa.Text(), nullable=False),
        sa.Column("acknowledged_name", sa.Text(), server_default="", nullable=False),
        sa.Column("acknowledged_role", sa.Text(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True),
                  server_default=sa.text("now()"), nullable=False),
        sa.UniqueConstraint("case_id", name="major_acknowledgements_case_id_key"),
        schema="assessment",
    )


def downgrade() -> None:
    op.drop_table("major_acknowledgements", schema="assessment")

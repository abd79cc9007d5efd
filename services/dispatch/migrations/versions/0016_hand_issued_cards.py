"""supervision cards issued by hand (督办, P6.2; issue 14): who issued a card of kind
``manual`` (the timer's cards have none)

Revision ID: 0016_hand_issued_cards
Revises: 0015_case_catalogue_version
"""

import sqlalchemy as sa
from alembic import op

revision = "0016_hand_issued_cards"
down_revision = "0015_case_catalogue_version"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("escalations", sa.Column("issued_by", sa.Text(), nullable=True),
                  schema="dispatch")
    op.add_column("escalations", sa.Column("issued_role", sa.Text(), nullable=True),
                  schema="dispatch")


def downgrade() -> None:
    op.drop_column("escalations", "issued_role", schema="dispatch")
    op.drop_column("escalations", "issued_by", schema="dispatch")

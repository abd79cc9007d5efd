"""the catalogue version a case was filed under: a running case keeps its subcategory's
handling defaults as it keeps its rules (issue 11: the catalogue as data)

Revision ID: 0015_case_catalogue_version
Revises: 0014_merged_duplicates
"""

import sqlalchemy as sa
from alembic import op

revision = "0015_case_catalogue_version"
down_revision = "0014_merged_duplicates"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("cases", sa.Column("catalogue_version", sa.Integer(), nullable=True),
                  schema="dispatch")


def downgrade() -> None:
    op.drop_column("cases", "catalogue_version", schema="dispatch")

"""circulars are documents people file: the issuing body and the document number (文号),
姑网格通〔2026〕12号, numbered in sequence within a calendar year (issue 11)

Revision ID: 0007_circular_number
Revises: 0006_purge_definer
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_circular_number"
down_revision = "0006_purge_definer"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("circulars", sa.Column("issuer", sa.Text(), server_default="",
                                         nullable=False), schema="assessment")
    op.add_column("circulars", sa.Column("document_number", sa.Text(), nullable=True),
                  schema="assessment")
    op.create_unique_constraint("circulars_document_number_key", "circulars",
                                ["document_number"], schema="assessment")


def downgrade() -> None:
    op.drop_constraint("circulars_document_number_key", "circulars", schema="assessment")
    op.drop_column("circulars", "document_number", schema="assessment")
    op.drop_column("circulars", "issuer", schema="assessment")

"""the subcategory catalogue as data: versions a district admin publishes over the API
(services/events/catalogue_store.py); version 1 is the packaged catalogue

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06 03:00:00
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'catalogue_versions',
        sa.Column('version', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('catalogue', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column('created_by', sa.Text(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'),
                  nullable=False),
        sa.Column('note', sa.Text(), server_default='', nullable=False),
        sa.CheckConstraint('version >= 1', name='catalogue_version_positive'),
        sa.PrimaryKeyConstraint('version'),
        schema='events')


def downgrade() -> None:
    op.drop_table('catalogue_versions', schema='events')

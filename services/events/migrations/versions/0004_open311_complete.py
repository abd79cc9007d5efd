"""Open311 completed (issue 11): the resident's own media_url and address kept and shown,
the deadline dispatch expects the case done by (dispatch.case.changed v2 ``due_at``), and
the department register's names (registry.department.changed) for agency_responsible

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06 03:00:00
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('cases', sa.Column('media_url', sa.Text(), nullable=True), schema='events')
    op.add_column('cases', sa.Column('address', sa.Text(), nullable=True), schema='events')
    op.add_column('cases', sa.Column('expected_at', sa.DateTime(timezone=True), nullable=True),
                  schema='events')
    op.create_table(
        'departments',
        sa.Column('code', sa.Text(), nullable=False),
        sa.Column('name_zh', sa.Text(), nullable=False),
        sa.Column('name_en', sa.Text(), nullable=False),
        sa.Column('work_categories', postgresql.JSONB(astext_type=sa.Text()),
                  server_default=sa.text("'[]'::jsonb"), nullable=False),
        sa.Column('active', sa.Boolean(), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('code'),
        schema='events')


def downgrade() -> None:
    op.drop_table('departments', schema='events')
    for name in ('expected_at', 'address', 'media_url'):
        op.drop_column('cases', name, schema='events')

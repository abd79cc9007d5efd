"""the residents' report page (issue 12): proof-of-work challenges already spent

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'spent_challenges',
        sa.Column('nonce', sa.String(32), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('spent_at', sa.DateTime(timezone=True), nullable=False,
                  server_default=sa.text('now()')),
        sa.PrimaryKeyConstraint('nonce'),
        schema='events')
    op.create_index('ix_events_spent_challenges_expires_at', 'spent_challenges',
                    ['expires_at'], schema='events')


def downgrade() -> None:
    op.drop_table('spent_challenges', schema='events')

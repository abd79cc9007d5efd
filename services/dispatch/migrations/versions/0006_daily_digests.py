"""daily digests of open cases: once per recipient scope and local day

Revision ID: 0006_daily_digests
Revises: 0005_reminders
Create Date: 2026-11-29 10:00:00

The primary key makes each digest once, whichever replica's timer claims it.
"""

import sqlalchemy as sa
from alembic import op

revision = '0006_daily_digests'
down_revision = '0005_reminders'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'daily_digests',
        sa.Column('scope', sa.Text, nullable=False),
        sa.Column('day', sa.Date, nullable=False),
        sa.Column('sent_at', sa.DateTime(timezone=True), nullable=False,
                  server_default=sa.text('now()')),
        sa.PrimaryKeyConstraint('scope', 'day'),
        schema='dispatch')


def downgrade() -> None:
    op.drop_table('daily_digests', schema='dispatch')

"""deadline reminders: at 50 % and 80 % of a department's handling time (P5.3.3)

Revision ID: 0005_reminders
Revises: 0004_esc_per_due
Create Date: 2026-11-29 01:25:00

One row per reminder sent, per (assignment, share of the time, due time): a delay that
moves the due time re-arms the reminders; the primary key makes each one once, whichever
replica's timer finds it.
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

revision = '0005_reminders'
down_revision = '0004_esc_per_due'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'deadline_reminders',
        sa.Column('assignment_id', UUID(as_uuid=False), nullable=False),
        sa.Column('percent', sa.Integer, nullable=False),
        sa.Column('due_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('case_id', UUID(as_uuid=False), nullable=False),
        sa.Column('sent_at', sa.DateTime(timezone=True), nullable=False,
                  server_default=sa.text('now()')),
        sa.PrimaryKeyConstraint('assignment_id', 'percent', 'due_at'),
        schema='dispatch')


def downgrade() -> None:
    op.drop_table('deadline_reminders', schema='dispatch')

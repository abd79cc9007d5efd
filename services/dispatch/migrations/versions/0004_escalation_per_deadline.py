"""escalations once per deadline: an approved delay re-arms the supervision ladder

Revision ID: 0004_esc_per_due
Revises: 0003_esc_timer
Create Date: 2026-11-29 01:10:00

The same (case, assignment, kind, level) may be raised again when its deadline moved (a
delay approved, P5.3.3): the ladder runs against the new due time (P6.2). An unroutable
assignment has no deadline (``due_at`` NULL) and is still escalated once.
"""

import sqlalchemy as sa
from alembic import op

revision = '0004_esc_per_due'
down_revision = '0003_esc_timer'
branch_labels = None
depends_on = None

ONCE_PER_DUE = [
    'case_id', sa.text("coalesce(assignment_id::text, '')"), 'kind', 'level',
    sa.text("coalesce(due_at, '-infinity'::timestamptz)"),
]


def upgrade() -> None:
    op.execute("UPDATE dispatch.escalations SET due_at = NULL WHERE kind = 'unroutable'")
    op.drop_index('ux_escalation_once', table_name='escalations', schema='dispatch')
    op.create_index('ux_escalation_once_per_due', 'escalations', ONCE_PER_DUE, unique=True,
                    schema='dispatch')


def downgrade() -> None:
    op.drop_index('ux_escalation_once_per_due', table_name='escalations', schema='dispatch')
    op.create_index('ux_escalation_once', 'escalations',
                    ['case_id', sa.text("coalesce(assignment_id::text, '')"), 'kind', 'level'],
                    unique=True, schema='dispatch')

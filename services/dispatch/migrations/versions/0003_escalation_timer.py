"""escalation timer: next step per case, and the indexes that find due cases

Revision ID: 0003_esc_timer
Revises: 0002
Create Date: 2026-11-28 18:50:00

``next_escalation_at``: the earliest ladder step still ahead (P6.2), NULL when nothing is;
``escalation_basis_at``: the case's ``updated_at`` it was computed from.  Both indexes are
partial so that they hold only what the timer looks for.
"""

import sqlalchemy as sa
from alembic import op

revision = '0003_esc_timer'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('cases', sa.Column('next_escalation_at', sa.DateTime(timezone=True),
                                     nullable=True), schema='dispatch')
    op.add_column('cases', sa.Column('escalation_basis_at', sa.DateTime(timezone=True),
                                     nullable=True), schema='dispatch')
    op.create_index('ix_cases_next_escalation', 'cases', ['next_escalation_at'],
                    schema='dispatch', postgresql_where=sa.text('next_escalation_at IS NOT NULL'))
    op.create_index('ix_cases_escalation_unseen', 'cases', ['case_id'], schema='dispatch',
                    postgresql_where=sa.text('escalation_basis_at IS DISTINCT FROM updated_at'))
    op.create_index('ix_assignments_unroutable', 'assignments', ['case_id'], schema='dispatch',
                    postgresql_where=sa.text('unroutable'))


def downgrade() -> None:
    op.drop_index('ix_assignments_unroutable', table_name='assignments', schema='dispatch')
    op.drop_index('ix_cases_escalation_unseen', table_name='cases', schema='dispatch')
    op.drop_index('ix_cases_next_escalation', table_name='cases', schema='dispatch')
    op.drop_column('cases', 'escalation_basis_at', schema='dispatch')
    op.drop_column('cases', 'next_escalation_at', schema='dispatch')

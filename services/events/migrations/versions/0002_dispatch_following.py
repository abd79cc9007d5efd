"""follow the case as dispatch moves it: dispatch state and time, departments, and a major
event's CAP follow-up (update / cancel) — see services/events/following.py

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 18:24:00
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('cases', sa.Column('dispatch_state', sa.Text(), nullable=True),
                  schema='events')
    op.add_column('cases', sa.Column('dispatch_state_at', sa.DateTime(timezone=True),
                                     nullable=True), schema='events')
    op.add_column('cases', sa.Column('departments', postgresql.JSONB(astext_type=sa.Text()),
                                     server_default=sa.text("'[]'::jsonb"), nullable=False),
                  schema='events')
    op.add_column('cases', sa.Column('alert_msg_type', sa.Text(), nullable=True),
                  schema='events')
    op.add_column('cases', sa.Column('alert_sent_at', sa.DateTime(timezone=True),
                                     nullable=True), schema='events')
    op.create_check_constraint('case_alert_msg_type', 'cases',
                               "alert_msg_type IN ('update', 'cancel')", schema='events')
    op.create_check_constraint('case_dispatch_state_pair', 'cases',
                               '(dispatch_state IS NULL) = (dispatch_state_at IS NULL)',
                               schema='events')
    op.create_check_constraint('case_alert_pair', 'cases',
                               '(alert_msg_type IS NULL) = (alert_sent_at IS NULL)',
                               schema='events')


def downgrade() -> None:
    for name in ('case_alert_pair', 'case_dispatch_state_pair', 'case_alert_msg_type'):
        op.drop_constraint(name, 'cases', type_='check', schema='events')
    for column in ('alert_sent_at', 'alert_msg_type', 'departments', 'dispatch_state_at',
                   'dispatch_state'):
        op.drop_column('cases', column, schema='events')

"""case-file entries waiting for their case to be filed

Revision ID: 0009_waiting_file_entries
Revises: 0008_late_results

A major event's page can reach dispatch before the case it is about (alerts go first by
design): its ``notification_sent`` entry waits here and is appended when the case is filed,
instead of racing the filing through retries (issue 17 soak: 12 ms early).
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB, UUID

revision = '0009_waiting_file_entries'
down_revision = '0008_late_results'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'waiting_file_entries',
        sa.Column('id', sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column('case_id', UUID(as_uuid=False), nullable=False),
        sa.Column('action', sa.Text, nullable=False),
        sa.Column('actor_sub', sa.Text, nullable=False),
        sa.Column('actor_role', sa.Text, nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('data', JSONB, nullable=False),
        sa.Column('waiting_since', sa.DateTime(timezone=True), nullable=False,
                  server_default=sa.text('now()')),
        schema='dispatch')
    op.create_index('ix_dispatch_waiting_file_entries_case_id', 'waiting_file_entries',
                    ['case_id'], schema='dispatch')


def downgrade() -> None:
    op.drop_table('waiting_file_entries', schema='dispatch')

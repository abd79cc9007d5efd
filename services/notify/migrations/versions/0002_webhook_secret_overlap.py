"""webhook secret rotation: the previous secret and until when it still signs

Revision ID: 0002_notify
Revises: 0001_notify
Create Date: 2026-11-30 10:00:00

A rotated subscription signs with both secrets until ``previous_secret_until``, so the
receiver can switch to the new secret at its own pace (deploy/README.md "Rotating keys").
The previous secret is encrypted like the current one (P5.4.4).
"""

import sqlalchemy as sa
from alembic import op

revision = '0002_notify'
down_revision = '0001_notify'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('subscriptions', sa.Column('previous_secret_enc', sa.LargeBinary(),
                                             nullable=True), schema='notify')
    op.add_column('subscriptions', sa.Column('previous_secret_until',
                                             sa.DateTime(timezone=True), nullable=True),
                  schema='notify')


def downgrade() -> None:
    op.drop_column('subscriptions', 'previous_secret_until', schema='notify')
    op.drop_column('subscriptions', 'previous_secret_enc', schema='notify')

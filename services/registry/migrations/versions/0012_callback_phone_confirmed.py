"""call-back phones wait for their case (issue 12): confirmed_at

Revision ID: 0012
Revises: 0011

Events hands a resident's call-back phone to the registry BEFORE its own transaction
commits the case; when that commit fails, the phone would be kept for a case that does not
exist. ``confirmed_at`` is set when events' ``events.callback_phone.kept`` (published from
its outbox, so only for a committed case) arrives; a phone still unconfirmed after
``CALLBACK_PHONE_CONFIRM_MINUTES`` is deleted (services/registry/callback_phones.py, P5.4.4:
no personal data without a purpose). Rows kept before this revision count as confirmed.
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("callback_phones", sa.Column("confirmed_at", sa.DateTime(timezone=True),
                                               nullable=True), schema="registry")
    op.execute("UPDATE registry.callback_phones SET confirmed_at = created_at")
    op.create_index("ix_callback_phones_unconfirmed", "callback_phones", ["created_at"],
                    schema="registry", postgresql_where=sa.text("confirmed_at IS NULL"))


def downgrade() -> None:
    op.drop_index("ix_callback_phones_unconfirmed", "callback_phones", schema="registry")
    op.drop_column("callback_phones", "confirmed_at", schema="registry")

"""the SMS second factor of administrators' sign-in (issue 12): sign-in phone, pending code

Revision ID: 0011
Revises: 0010

``accounts`` gains the sign-in phone (AES-GCM ciphertext under the registry's PII keys,
field ``sign_in_phone``, and its masked form for display; no blind index: nobody looks an
account up by phone) and the pending one-time code: the SHA-256 of the sign-in ticket,
the HMAC of the code keyed by that ticket, its expiry, its wrong attempts and when it was
sent (the resend throttle). services/registry/domain/second_factor.py.
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

COLUMNS = (
    ("sign_in_phone_enc", sa.LargeBinary),
    ("sign_in_phone_masked", sa.Text),
    ("code_ticket_hash", sa.String(64)),
    ("code_hash", sa.String(64)),
    ("code_expires_at", sa.DateTime(timezone=True)),
    ("code_sent_at", sa.DateTime(timezone=True)),
)


def upgrade() -> None:
    for name, type_ in COLUMNS:
        op.add_column("accounts", sa.Column(name, type_, nullable=True), schema="registry")
    op.add_column("accounts", sa.Column("code_attempts", sa.Integer, nullable=False,
                                        server_default="0"), schema="registry")
    op.create_index("ux_accounts_code_ticket_hash", "accounts", ["code_ticket_hash"],
                    unique=True, schema="registry",
                    postgresql_where=sa.text("code_ticket_hash IS NOT NULL"))


def downgrade() -> None:
    op.drop_index("ux_accounts_code_ticket_hash", table_name="accounts", schema="registry")
    op.drop_column("accounts", "code_attempts", schema="registry")
    for name, _type in reversed(COLUMNS):
        op.drop_column("accounts", name, schema="registry")

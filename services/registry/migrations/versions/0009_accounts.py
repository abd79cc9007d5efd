"""accounts and sign-in sessions (issue 12): a password per staff record, refresh sessions

Revision ID: 0009
Revises: 0008

``accounts`` is keyed by the staff record (department officers are staff rows with a
``department:<code>`` scope, so they have accounts the same way); it holds the argon2id
hash, the lock-out state and "must change at next sign-in", never a role or a scope (those
are read from the staff record at every sign-in and refresh). ``account_sessions`` holds
the refresh sessions of browsers: only the SHA-256 of the random session id, its idle and
absolute expiry, and the role and scope it was opened under (a change ends it).
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

NOW = sa.text("now()")


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("staff_id", sa.BigInteger, sa.ForeignKey("registry.staff.id"),
                  primary_key=True),
        sa.Column("password_hash", sa.Text, nullable=False),
        sa.Column("must_change", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("failed_count", sa.Integer, nullable=False, server_default="0"),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("password_changed_at", sa.DateTime(timezone=True), nullable=False,
                  server_default=NOW),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False,
                  server_default=NOW),
        schema="registry",
    )
    op.create_table(
        "account_sessions",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("staff_id", sa.BigInteger, sa.ForeignKey("registry.staff.id"),
                  nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("role", sa.Text, nullable=False),
        sa.Column("scope_code", sa.Text, nullable=False),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_reason", sa.Text, nullable=True),
        schema="registry",
    )
    op.create_index("ux_account_sessions_token_hash", "account_sessions", ["token_hash"],
                    unique=True, schema="registry")
    op.create_index("ix_account_sessions_open", "account_sessions", ["staff_id"],
                    schema="registry", postgresql_where=sa.text("revoked_at IS NULL"))


def downgrade() -> None:
    op.drop_table("account_sessions", schema="registry")
    op.drop_table("accounts", schema="registry")

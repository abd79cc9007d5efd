"""call-back phones residents leave on the public report page (issue 12), encrypted

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "callback_phones",
        sa.Column("case_number", sa.String(32), primary_key=True),
        sa.Column("grid_code", sa.String(15), nullable=False),
        sa.Column("phone_enc", sa.LargeBinary, nullable=False),
        sa.Column("phone_masked", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False,
                  server_default=sa.text("now()")),
        schema="registry",
    )
    op.create_index("ix_callback_phones_grid_code", "callback_phones", ["grid_code"],
                    schema="registry")


def downgrade() -> None:
    op.drop_table("callback_phones", schema="registry")

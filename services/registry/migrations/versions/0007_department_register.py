"""the department register owned by the registry: P4.2 unit, duty contacts, active
(announced as registry.department.changed)

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for column in (sa.Column("unit", sa.Text(), nullable=True),
                   sa.Column("contact_phone", sa.Text(), nullable=True),
                   sa.Column("contact_email", sa.Text(), nullable=True),
                   sa.Column("active", sa.Boolean(), server_default=sa.true(), nullable=False),
                   sa.Column("updated_at", sa.DateTime(timezone=True),
                             server_default=sa.text("now()"), nullable=False)):
        op.add_column("departments", column, schema="registry")
    # the ten seeded by 0001 are the P4.2 units themselves
    op.execute("UPDATE registry.departments SET unit = code")


def downgrade() -> None:
    for name in ("updated_at", "active", "contact_email", "contact_phone",
                 "unit"):
        op.drop_column("departments", name, schema="registry")

"""field staff and grid validity from the registry (registry.staff.changed, .grid.changed)

Revision ID: 0004_staff_registry
Revises: 0003_appraisal

``registry.staff.changed`` fills ``field_staff`` for every staff member tied to a token
subject, so compliance judges people who never opened the app and stops judging dismissed
ones; ``registry_at`` keeps the newest message applied (messages carry the whole state).
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = '0004_staff_registry'
down_revision = '0003_appraisal'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("field_staff", sa.Column("staff_id", sa.BigInteger, nullable=True),
                  schema="assessment")
    op.add_column("field_staff", sa.Column("active", sa.Boolean, nullable=False,
                                           server_default=sa.true()), schema="assessment")
    op.add_column("field_staff", sa.Column("grid_codes", JSONB, nullable=False,
                                           server_default=sa.text("'[]'::jsonb")),
                  schema="assessment")
    op.add_column("field_staff", sa.Column("registry_at", sa.DateTime(timezone=True),
                                           nullable=True), schema="assessment")
    op.create_index("ix_field_staff_staff_id", "field_staff", ["staff_id"],
                    schema="assessment")
    # a grid counts for patrols on the days it is valid (P4.1 redivision keeps history)
    op.add_column("grid_rings", sa.Column("valid_from", sa.Date, nullable=True),
                  schema="assessment")
    op.add_column("grid_rings", sa.Column("valid_to", sa.Date, nullable=True),
                  schema="assessment")


def downgrade() -> None:
    op.drop_column("grid_rings", "valid_to", schema="assessment")
    op.drop_column("grid_rings", "valid_from", schema="assessment")
    op.drop_index("ix_field_staff_staff_id", "field_staff", schema="assessment")
    for column in ("registry_at", "grid_codes", "active", "staff_id"):
        op.drop_column("field_staff", column, schema="assessment")

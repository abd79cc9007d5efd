"""staff adjustments: P5.4.1 "those failing assessment are adjusted (community proposes,
town approves)"

Revision ID: 0005
Revises: 0004

``staff_adjustments`` holds one row per flagged token subject and half-year, opened by
``assessment.staff.flagged`` (P5.4.6) and updated by a later report version;
``staff_adjustment_steps`` records every step (flag, proposal, decision, application) with
who and when.
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

NOW = sa.text("now()")


def upgrade() -> None:
    op.create_table(
        "staff_adjustments",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("staff_sub", sa.Text, nullable=False),
        sa.Column("staff_id", sa.BigInteger, sa.ForeignKey("registry.staff.id"),
                  nullable=True),
        sa.Column("half_year", sa.String(6), nullable=False),
        sa.Column("report_id", sa.Uuid(as_uuid=False), nullable=False),
        sa.Column("report_version", sa.Integer, nullable=False),
        sa.Column("grade", sa.Text, nullable=False),
        sa.Column("score", sa.Float, nullable=False),
        sa.Column("flag_grades", JSONB, nullable=False),
        sa.Column("role", sa.Text, nullable=False),
        sa.Column("scope_code", sa.Text, nullable=False),
        sa.Column("town_code", sa.String(9), nullable=False),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("measure", sa.Text, nullable=True),
        sa.Column("grid_codes", JSONB, nullable=True),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("decision_reason", sa.Text, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False,
                  server_default=NOW),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False,
                  server_default=NOW),
        sa.UniqueConstraint("staff_sub", "half_year", name="ux_staff_adjustment_half_year"),
        sa.CheckConstraint("state IN ('unmatched', 'flagged', 'proposed', 'approved', "
                           "'rejected', 'applied')", name="staff_adjustment_state"),
        sa.CheckConstraint("measure IS NULL OR measure IN ('keep_with_training', 'reassign', "
                           "'dismiss')", name="staff_adjustment_measure"),
        schema="registry",
    )
    op.create_index("ix_registry_staff_adjustments_staff_id", "staff_adjustments",
                    ["staff_id"], schema="registry")
    op.create_index("ix_registry_staff_adjustments_scope_code", "staff_adjustments",
                    ["scope_code"], schema="registry")
    op.create_table(
        "staff_adjustment_steps",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("adjustment_id", sa.BigInteger,
                  sa.ForeignKey("registry.staff_adjustments.id"), nullable=False),
        sa.Column("action", sa.Text, nullable=False),
        sa.Column("from_state", sa.Text, nullable=True),
        sa.Column("to_state", sa.Text, nullable=False),
        sa.Column("actor_sub", sa.Text, nullable=False),
        sa.Column("actor_role", sa.Text, nullable=False),
        sa.Column("measure", sa.Text, nullable=True),
        sa.Column("reason", sa.Text, nullable=False, server_default=""),
        sa.Column("detail", JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
        schema="registry",
    )
    op.create_index("ix_registry_staff_adjustment_steps_adjustment_id",
                    "staff_adjustment_steps", ["adjustment_id"], schema="registry")


def downgrade() -> None:
    op.drop_table("staff_adjustment_steps", schema="registry")
    op.drop_table("staff_adjustments", schema="registry")

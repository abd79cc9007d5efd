"""staff identity: the token subject of a staff member, and their grids

Revision ID: 0003
Revises: 0002

``staff.subject`` is the ``sub`` claim of the person's tokens, unique among active staff
(a dismissed person's subject may be given to someone else). ``staff_grids`` says which
grids a person is answerable for (P5.1.4 a community grid worker leads the workers of a
few grids; P5.1.5 a neighbourhood grid worker serves one).
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("staff", sa.Column("subject", sa.Text, nullable=True), schema="registry")
    op.add_column("staff", sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False,
                                     server_default=sa.text("now()")), schema="registry")
    op.create_index("ux_staff_active_subject", "staff", ["subject"], unique=True,
                    schema="registry",
                    postgresql_where=sa.text("active AND subject IS NOT NULL"))
    op.create_table(
        "staff_grids",
        sa.Column("staff_id", sa.BigInteger, sa.ForeignKey("registry.staff.id"),
                  primary_key=True),
        sa.Column("grid_code", sa.String(15), sa.ForeignKey("registry.grids.grid_code"),
                  primary_key=True),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=False,
                  server_default=sa.text("now()")),
        schema="registry",
    )
    op.create_index("ix_staff_grids_grid", "staff_grids", ["grid_code"], schema="registry")
    # grid-level staff already on file answer for their own grid
    op.execute("""INSERT INTO registry.staff_grids (staff_id, grid_code)
                  SELECT s.id, s.scope_code FROM registry.staff s
                    JOIN registry.grids g ON g.grid_code = s.scope_code""")


def downgrade() -> None:
    op.drop_table("staff_grids", schema="registry")
    op.drop_index("ux_staff_active_subject", "staff", schema="registry")
    op.drop_column("staff", "changed_at", schema="registry")
    op.drop_column("staff", "subject", schema="registry")

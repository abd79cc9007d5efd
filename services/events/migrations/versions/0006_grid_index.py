"""events' own copy of the grid index (issue 15.5): a report is placed without the registry

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


class _Polygon(sa.types.UserDefinedType):
    cache_ok = True

    def get_col_spec(self, **kw) -> str:
        return "polygon"


def upgrade() -> None:
    op.create_table(
        'grid_rings',
        sa.Column('grid_code', sa.String(15), nullable=False),
        sa.Column('part', sa.Integer(), nullable=False),
        sa.Column('ring', sa.Integer(), nullable=False),  # 0 = outer, > 0 = hole
        sa.Column('area', _Polygon(), nullable=False),
        sa.Column('valid_from', sa.Date(), nullable=True),
        sa.Column('valid_to', sa.Date(), nullable=True),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False,
                  server_default=sa.text('now()')),
        sa.PrimaryKeyConstraint('grid_code', 'part', 'ring'),
        schema='events')


def downgrade() -> None:
    op.drop_table('grid_rings', schema='events')

"""the open cases by place (issue 16): the duplicate search reads the few open cases in a
report's box from a GiST index on point(lon, lat), not every open case of its subcategory
in the last two days (bench_14: 20,000 open cases made a batch's search 0.4 s, now 4 ms)

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # built into PostgreSQL (point, box, GiST): no extension. Only open cases are indexed,
    # so the index stays the size of the open backlog, not of the years of closed cases.
    op.create_index('ix_cases_open_place', 'cases', [sa.text('point(lon, lat)')],
                    schema='events', postgresql_using='gist',
                    postgresql_where=sa.text("status = 'open'"))


def downgrade() -> None:
    op.drop_index('ix_cases_open_place', table_name='cases', schema='events')

"""circulars (P5.3.5 通报): immutable, versioned, once per scheduled period

Revision ID: 0002_circulars
Revises: 0001_assessment
Create Date: 2026-11-29 10:00:00
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0002_circulars'
down_revision = '0001_assessment'
branch_labels = None
depends_on = None

IMMUTABLE = """
CREATE FUNCTION assessment.circulars_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'assessment.circulars are immutable (% refused); publish a new version',
    TG_OP;
END $$;
CREATE TRIGGER circulars_immutable BEFORE UPDATE OR DELETE ON assessment.circulars
  FOR EACH ROW EXECUTE FUNCTION assessment.circulars_immutable();
"""


def upgrade() -> None:
    op.create_table(
        'circulars',
        sa.Column('circular_id', postgresql.UUID(as_uuid=False), nullable=False),
        sa.Column('kind', sa.Text(), nullable=False),
        sa.Column('period', sa.Text(), nullable=False),
        sa.Column('scope', sa.Text(), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('origin', sa.Text(), nullable=False),
        sa.Column('period_start', sa.Date(), nullable=False),
        sa.Column('period_end', sa.Date(), nullable=False),
        sa.Column('generated_by', sa.Text(), nullable=False),
        sa.Column('content', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'),
                  nullable=False),
        sa.PrimaryKeyConstraint('circular_id'),
        sa.UniqueConstraint('kind', 'period', 'scope', 'version', name='uq_circulars_version'),
        schema='assessment')
    op.create_index('uq_circulars_scheduled', 'circulars', ['kind', 'period', 'scope'],
                    unique=True, schema='assessment',
                    postgresql_where=sa.text("origin = 'schedule'"))
    op.create_index('ix_circulars_created', 'circulars', ['created_at'], schema='assessment')
    op.execute(IMMUTABLE)


def downgrade() -> None:
    op.execute("DROP TRIGGER circulars_immutable ON assessment.circulars")
    op.execute("DROP FUNCTION assessment.circulars_immutable()")
    op.drop_table('circulars', schema='assessment')

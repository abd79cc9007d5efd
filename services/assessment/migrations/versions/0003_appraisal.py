"""half-year assessment (P5.4.6): base-data spot checks, versioned schemes, hand-entered
inputs, reports (immutable once published)

Revision ID: 0003_appraisal
Revises: 0002_circulars
Create Date: 2026-11-29 13:00:00
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0003_appraisal'
down_revision = '0002_circulars'
branch_labels = None
depends_on = None

TRIGGERS = """
CREATE FUNCTION assessment.appraisal_schemes_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'assessment.appraisal_schemes are immutable (% refused); add a version',
    TG_OP;
END $$;
CREATE TRIGGER appraisal_schemes_immutable BEFORE UPDATE OR DELETE
  ON assessment.appraisal_schemes
  FOR EACH ROW EXECUTE FUNCTION assessment.appraisal_schemes_immutable();

-- a report is never deleted; its only change is draft -> published, content untouched
CREATE FUNCTION assessment.appraisal_reports_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    RAISE EXCEPTION 'assessment.appraisal_reports are never deleted';
  END IF;
  IF OLD.state <> 'draft' OR NEW.state <> 'published'
     OR NEW.content IS DISTINCT FROM OLD.content OR NEW.version <> OLD.version
     OR NEW.half_year <> OLD.half_year OR NEW.scope <> OLD.scope
     OR NEW.scheme_version <> OLD.scheme_version THEN
    RAISE EXCEPTION 'assessment.appraisal_reports: a published report is immutable; run a new version';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER appraisal_reports_guard BEFORE UPDATE OR DELETE ON assessment.appraisal_reports
  FOR EACH ROW EXECUTE FUNCTION assessment.appraisal_reports_guard();
"""


def _ts(name: str, nullable: bool = True, **kw) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable, **kw)


def upgrade() -> None:
    op.create_table(
        'spot_checks',
        sa.Column('check_id', postgresql.UUID(as_uuid=False), nullable=False),
        sa.Column('grid_code', sa.String(15), nullable=False),
        sa.Column('record_kind', sa.Text(), nullable=False),
        sa.Column('record_id', sa.Text(), nullable=False),
        sa.Column('field_class', sa.Text(), nullable=False),
        sa.Column('method', sa.Text(), nullable=False),
        sa.Column('correct', sa.Boolean(), nullable=False),
        sa.Column('note', sa.Text(), nullable=False, server_default=''),
        sa.Column('checked_by', sa.Text(), nullable=False),
        sa.Column('checker_role', sa.Text(), nullable=False),
        _ts('checked_at', False),
        _ts('created_at', False, server_default=sa.text('now()')),
        sa.PrimaryKeyConstraint('check_id'),
        schema='assessment')
    op.create_index('ix_spot_checks_grid_checked', 'spot_checks', ['grid_code', 'checked_at'],
                    schema='assessment')
    op.create_table(
        'appraisal_schemes',
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('body', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column('note', sa.Text(), nullable=False, server_default=''),
        sa.Column('created_by', sa.Text(), nullable=False),
        _ts('created_at', False, server_default=sa.text('now()')),
        sa.PrimaryKeyConstraint('version'),
        schema='assessment')
    op.create_table(
        'appraisal_inputs',
        sa.Column('half_year', sa.String(6), nullable=False),
        sa.Column('subject_kind', sa.Text(), nullable=False),
        sa.Column('subject_code', sa.Text(), nullable=False),
        sa.Column('town_code', sa.String(9), nullable=True),
        sa.Column('democratic_appraisal', sa.Numeric(6, 2), nullable=True),
        sa.Column('quantified_points', sa.Numeric(8, 2), nullable=True),
        sa.Column('entered_by', sa.Text(), nullable=False),
        _ts('entered_at', False, server_default=sa.text('now()')),
        sa.PrimaryKeyConstraint('half_year', 'subject_kind', 'subject_code'),
        schema='assessment')
    op.create_table(
        'appraisal_reports',
        sa.Column('report_id', postgresql.UUID(as_uuid=False), nullable=False),
        sa.Column('half_year', sa.String(6), nullable=False),
        sa.Column('scope', sa.Text(), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('scheme_version', sa.Integer(), nullable=False),
        sa.Column('state', sa.Text(), nullable=False, server_default='draft'),
        sa.Column('period_start', sa.Date(), nullable=False),
        sa.Column('period_end', sa.Date(), nullable=False),
        sa.Column('created_by', sa.Text(), nullable=False),
        _ts('created_at', False, server_default=sa.text('now()')),
        sa.Column('published_by', sa.Text(), nullable=True),
        _ts('published_at'),
        sa.Column('content', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.PrimaryKeyConstraint('report_id'),
        sa.UniqueConstraint('half_year', 'scope', 'version', name='uq_appraisal_reports_version'),
        schema='assessment')
    op.execute(TRIGGERS)


def downgrade() -> None:
    op.execute("DROP TRIGGER appraisal_reports_guard ON assessment.appraisal_reports")
    op.execute("DROP FUNCTION assessment.appraisal_reports_guard()")
    op.execute("DROP TRIGGER appraisal_schemes_immutable ON assessment.appraisal_schemes")
    op.execute("DROP FUNCTION assessment.appraisal_schemes_immutable()")
    op.drop_table('appraisal_reports', schema='assessment')
    op.drop_table('appraisal_inputs', schema='assessment')
    op.drop_table('appraisal_schemes', schema='assessment')
    op.drop_index('ix_spot_checks_grid_checked', 'spot_checks', schema='assessment')
    op.drop_table('spot_checks', schema='assessment')

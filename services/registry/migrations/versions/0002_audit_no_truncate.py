"""audit log: refuse TRUNCATE as well (P5.4.4 append-only)

Revision ID: 0002
Revises: 0001
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
CREATE FUNCTION registry.audit_log_no_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'registry.audit_log is append-only (TRUNCATE refused)';
END $$;
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON registry.audit_log
  FOR EACH STATEMENT EXECUTE FUNCTION registry.audit_log_no_truncate();
""")


def downgrade() -> None:
    op.execute("DROP TRIGGER audit_log_no_truncate ON registry.audit_log")
    op.execute("DROP FUNCTION registry.audit_log_no_truncate()")

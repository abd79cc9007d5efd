"""track audit: server time, no TRUNCATE, retention purge through one function (≥ 183 days)

P5.4.4 and the Cybersecurity Law Art. 21 (logs kept for at least six months): who read
whose location track is kept like the registry's audit log (registry migration 0004):

* ``at`` is the server's clock (BEFORE INSERT), so no row can be back-dated;
* a DELETE passes only inside ``assessment.purge_track_audit(retention_days)``, which
  refuses fewer than 183 days and deletes only rows older than its argument; the row
  trigger re-checks every row against those days and the 183-day floor;
* UPDATE stays refused (0001) and TRUNCATE is refused from now on.

Revision ID: 0005_track_audit
Revises: 0004_staff_registry
"""

from alembic import op

revision = "0005_track_audit"
down_revision = "0004_staff_registry"
branch_labels = None
depends_on = None

MIN_RETENTION_DAYS = 183  # keep in step with services/assessment/patrols.py

UPGRADE = f"""
CREATE OR REPLACE FUNCTION assessment.track_audit_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  days integer := nullif(current_setting('gridgov.track_audit_purge_days', true), '')::integer;
BEGIN
  IF TG_OP = 'DELETE' AND days >= {MIN_RETENTION_DAYS}
     AND OLD.at < now() - make_interval(days => days) THEN
    RETURN OLD;
  END IF;
  RAISE EXCEPTION 'assessment.track_audit is append-only (% refused)', TG_OP;
END $$;

CREATE TRIGGER track_audit_no_truncate BEFORE TRUNCATE ON assessment.track_audit
  FOR EACH STATEMENT EXECUTE FUNCTION assessment.track_audit_append_only();

CREATE FUNCTION assessment.track_audit_server_time() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.at := now();
  RETURN NEW;
END $$;
CREATE TRIGGER track_audit_server_time BEFORE INSERT ON assessment.track_audit
  FOR EACH ROW EXECUTE FUNCTION assessment.track_audit_server_time();

CREATE FUNCTION assessment.purge_track_audit(retention_days integer) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
  deleted bigint;
BEGIN
  IF retention_days IS NULL OR retention_days < {MIN_RETENTION_DAYS} THEN
    RAISE EXCEPTION 'track audit retention must be at least {MIN_RETENTION_DAYS} days, not %',
      retention_days;
  END IF;
  PERFORM set_config('gridgov.track_audit_purge_days', retention_days::text, true);
  DELETE FROM assessment.track_audit WHERE at < now() - make_interval(days => retention_days);
  GET DIAGNOSTICS deleted = ROW_COUNT;
  PERFORM set_config('gridgov.track_audit_purge_days', '', true);
  RETURN deleted;
END $$;
"""

DOWNGRADE = """
DROP FUNCTION assessment.purge_track_audit(integer);
DROP TRIGGER track_audit_server_time ON assessment.track_audit;
DROP FUNCTION assessment.track_audit_server_time();
DROP TRIGGER track_audit_no_truncate ON assessment.track_audit;
CREATE OR REPLACE FUNCTION assessment.track_audit_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'assessment.track_audit is append-only (% refused)', TG_OP;
END $$;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)

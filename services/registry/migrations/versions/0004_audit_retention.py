"""audit log: retention purge through one function, never rows younger than 183 days

P5.4.4 ("personal privacy must never leak") and the Cybersecurity Law Art. 21 (logs kept
for at least six months).  Until now the trigger let any DELETE through once a session set
``gridgov.audit_purge = 'on'``; anyone could set it and delete yesterday's rows.  Now:

* ``at`` is the server's clock (a BEFORE INSERT trigger), so no row can be back-dated into
  deletability;
* a DELETE passes the trigger only inside ``registry.purge_audit_log(retention_days)``,
  which refuses fewer than 183 days and deletes only rows older than its argument; the
  trigger re-checks each row's age against the days the function set for its transaction
  and against the 183-day floor;
* UPDATE and TRUNCATE stay refused (0001, 0002).

Revision ID: 0004
Revises: 0003
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

MIN_RETENTION_DAYS = 183  # keep in step with services/registry/audit.py

UPGRADE = f"""
CREATE OR REPLACE FUNCTION registry.audit_log_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  days integer := nullif(current_setting('gridgov.audit_purge_days', true), '')::integer;
BEGIN
  IF TG_OP = 'DELETE' AND days >= {MIN_RETENTION_DAYS}
     AND OLD.at < now() - make_interval(days => days) THEN
    RETURN OLD;
  END IF;
  RAISE EXCEPTION 'registry.audit_log is append-only (% refused)', TG_OP;
END $$;

CREATE FUNCTION registry.audit_log_server_time() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.at := now();
  RETURN NEW;
END $$;
CREATE TRIGGER audit_log_server_time BEFORE INSERT ON registry.audit_log
  FOR EACH ROW EXECUTE FUNCTION registry.audit_log_server_time();

CREATE FUNCTION registry.purge_audit_log(retention_days integer) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
  deleted bigint;
BEGIN
  IF retention_days IS NULL OR retention_days < {MIN_RETENTION_DAYS} THEN
    RAISE EXCEPTION 'audit log retention must be at least {MIN_RETENTION_DAYS} days, not %',
      retention_days;
  END IF;
  PERFORM set_config('gridgov.audit_purge_days', retention_days::text, true);
  DELETE FROM registry.audit_log WHERE at < now() - make_interval(days => retention_days);
  GET DIAGNOSTICS deleted = ROW_COUNT;
  PERFORM set_config('gridgov.audit_purge_days', '', true);
  RETURN deleted;
END $$;
"""

DOWNGRADE = """
DROP FUNCTION registry.purge_audit_log(integer);
DROP TRIGGER audit_log_server_time ON registry.audit_log;
DROP FUNCTION registry.audit_log_server_time();
CREATE OR REPLACE FUNCTION registry.audit_log_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' AND current_setting('gridgov.audit_purge', true) = 'on' THEN
    RETURN OLD;
  END IF;
  RAISE EXCEPTION 'registry.audit_log is append-only (% refused)', TG_OP;
END $$;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)

"""audit log purge: the owner's SECURITY DEFINER function, the services' role cannot delete

Issue 10 item 2 (P5.4.4, Cybersecurity Law Art. 21): the registry now connects as its own
role ``gridgov_registry`` (gridgov_common/platform/db_roles.py), which may SELECT and INSERT on
``registry.audit_log`` and nothing more. The one way to delete is
``registry.purge_audit_log(days)`` (0004: refuses fewer than 183 days), which now runs with
its owner's rights (the migration role) and a fixed ``search_path``, so a caller's objects
cannot stand in for anything it uses; EXECUTE is the registry role's only (granted by
db_roles), not everyone's.

Revision ID: 0006
Revises: 0005
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER FUNCTION registry.purge_audit_log(integer) SECURITY DEFINER "
               "SET search_path = pg_catalog, pg_temp")
    op.execute("REVOKE ALL ON FUNCTION registry.purge_audit_log(integer) FROM PUBLIC")


def downgrade() -> None:
    op.execute("ALTER FUNCTION registry.purge_audit_log(integer) SECURITY INVOKER "
               "RESET search_path")
    op.execute("GRANT EXECUTE ON FUNCTION registry.purge_audit_log(integer) TO PUBLIC")

"""track audit purge: the owner's SECURITY DEFINER function, the service's role cannot delete

Issue 10 item 2 (P5.4.4, Cybersecurity Law Art. 21): assessment now connects as its own
role ``gridgov_assessment`` (gridgov_common/platform/db_roles.py), which may SELECT and INSERT on
``assessment.track_audit`` and nothing more. The one way to delete is
``assessment.purge_track_audit(days)`` (0005: refuses fewer than 183 days), which now runs
with its owner's rights (the migration role) and a fixed ``search_path``; EXECUTE is the
assessment role's only (granted by db_roles), not everyone's.

Revision ID: 0006_purge_definer
Revises: 0005_track_audit
"""

from alembic import op

revision = "0006_purge_definer"
down_revision = "0005_track_audit"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER FUNCTION assessment.purge_track_audit(integer) SECURITY DEFINER "
               "SET search_path = pg_catalog, pg_temp")
    op.execute("REVOKE ALL ON FUNCTION assessment.purge_track_audit(integer) FROM PUBLIC")


def downgrade() -> None:
    op.execute("ALTER FUNCTION assessment.purge_track_audit(integer) SECURITY INVOKER "
               "RESET search_path")
    op.execute("GRANT EXECUTE ON FUNCTION assessment.purge_track_audit(integer) TO PUBLIC")

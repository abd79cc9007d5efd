"""The registry's sensitive-data audit log (P5.4.4) on the real PostgreSQL: append-only for
the application's role, kept at least six months, purged only through
``registry.purge_audit_log`` and only of rows older than the retention; reads of the log are
themselves audited; a retention under 183 days stops the service at start.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

from gridgov_common.kernel import auth
from services.registry import audit
from services.registry.service import RegistryService

# A plain role given MORE than a service's role (gridgov_common/platform/db_roles.py gives
# gridgov_registry only SELECT and INSERT on the log; tests/authz/test_db_roles.py): the
# triggers must hold even if the grants were wrong (defence in depth).
APP_ROLE = "gridgov_app_authz"


@pytest.fixture
def audit_rows(db_engine):
    """Empty log, then rows 10, 200 and 400 days old (back-dated with triggers off: only a
    superuser can, which is the point of the server-time trigger)."""
    with db_engine.begin() as conn:
        conn.execute(sa.text("SET LOCAL session_replication_role = replica"))
        conn.execute(sa.text("DELETE FROM registry.audit_log"))
        for age in (10, 200, 400):
            conn.execute(sa.text(
                "INSERT INTO registry.audit_log (at, actor_sub, actor_role, actor_scope, action,"
                " subject_type, subject_id, fields, reason) VALUES (now() - make_interval("
                "days => :age), 'a', 'district_admin', 'district:320505', 'unmask', 'resident',"
                " :age, '[]', 'test')"), {"age": age})
    return db_engine


@pytest.fixture
def app_role(db_engine):
    with db_engine.begin() as conn:
        conn.execute(sa.text(f"DROP ROLE IF EXISTS {APP_ROLE}"))
        conn.execute(sa.text(f"CREATE ROLE {APP_ROLE} NOSUPERUSER"))
        conn.execute(sa.text(f"GRANT USAGE ON SCHEMA registry TO {APP_ROLE}"))
        conn.execute(sa.text(f"GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON "
                             f"registry.audit_log TO {APP_ROLE}"))
        conn.execute(sa.text(f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA registry TO {APP_ROLE}"))
        conn.execute(sa.text(f"GRANT EXECUTE ON FUNCTION registry.purge_audit_log(integer) "
                             f"TO {APP_ROLE}"))
    yield APP_ROLE
    with db_engine.begin() as conn:
        conn.execute(sa.text(f"REVOKE ALL ON ALL TABLES IN SCHEMA registry FROM {APP_ROLE}"))
        conn.execute(sa.text(f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA registry FROM {APP_ROLE}"))
        conn.execute(sa.text(f"REVOKE ALL ON SCHEMA registry FROM {APP_ROLE}"))
        conn.execute(sa.text(f"REVOKE ALL ON FUNCTION registry.purge_audit_log(integer) "
                             f"FROM {APP_ROLE}"))
        conn.execute(sa.text(f"DROP ROLE {APP_ROLE}"))


def ages(engine) -> list[int]:
    with engine.connect() as conn:
        return sorted(int(a) for a in conn.execute(sa.text(
            "SELECT subject_id FROM registry.audit_log WHERE reason = 'test'")).scalars())


def refused(engine, role: str, *statements: str) -> None:
    """Each statement, run as ``role``, fails and changes nothing."""
    for statement in statements:
        with engine.connect() as conn:
            conn.execute(sa.text(f"SET ROLE {role}"))
            with pytest.raises(DBAPIError, match="append-only|at least 183"):
                conn.execute(sa.text(statement))
            conn.rollback()


def test_app_role_cannot_update_delete_truncate_or_cheat(audit_rows, app_role):
    refused(audit_rows, app_role,
            "UPDATE registry.audit_log SET reason = 'edited'",
            "DELETE FROM registry.audit_log",
            "TRUNCATE registry.audit_log",
            # the old per-session switch no longer opens the table
            "SET LOCAL gridgov.audit_purge = 'on'; DELETE FROM registry.audit_log",
            # a forged purge setting cannot reach rows younger than 183 days
            "SELECT set_config('gridgov.audit_purge_days', '1', true); "
            "DELETE FROM registry.audit_log WHERE subject_id = '10'",
            "SELECT set_config('gridgov.audit_purge_days', '183', true); "
            "DELETE FROM registry.audit_log WHERE subject_id = '10'",
            "SELECT registry.purge_audit_log(30)")
    assert ages(audit_rows) == [10, 200, 400]
    with audit_rows.begin() as conn:  # a back-dated insert gets the server's time anyway
        conn.execute(sa.text(f"SET LOCAL ROLE {app_role}"))
        conn.execute(sa.text(
            "INSERT INTO registry.audit_log (at, actor_sub, actor_role, actor_scope, action, "
            "subject_type, subject_id, fields, reason) VALUES ('2000-01-01', 'x', 'r', 's', "
            "'unmask', 'resident', '1', '[]', 'backdated')"))
    with audit_rows.connect() as conn:
        at = conn.execute(sa.text("SELECT at > now() - interval '1 minute' FROM "
                                  "registry.audit_log WHERE reason = 'backdated'")).scalar_one()
    assert at is True


def test_purge_removes_only_rows_older_than_the_retention(audit_rows, app_role):
    with audit_rows.begin() as conn:
        conn.execute(sa.text(f"SET LOCAL ROLE {app_role}"))
        assert audit.purge(conn, 365) == 1           # the 400-day-old row
    assert ages(audit_rows) == [10, 200]
    with audit_rows.begin() as conn:
        conn.execute(sa.text(f"SET LOCAL ROLE {app_role}"))
        assert audit.purge(conn, 183) == 1           # the 200-day-old row, at the floor
    assert ages(audit_rows) == [10]


def test_retention_under_six_months_is_refused_at_start(container_factory, service_config):
    assert audit.retention_days({}) == audit.DEFAULT_RETENTION_DAYS
    assert audit.retention_days({"AUDIT_RETENTION_DAYS": "183"}) == 183
    for bad in ("182", "0", "-1", "half a year"):
        with pytest.raises(RuntimeError, match="AUDIT_RETENTION_DAYS"):
            audit.retention_days({"AUDIT_RETENTION_DAYS": bad})
    container = container_factory(RegistryService,
                                  service_config("registry", AUDIT_RETENTION_DAYS=90))
    with pytest.raises(RuntimeError, match="AUDIT_RETENTION_DAYS"):
        container.start()


def test_service_without_jwt_secret_refuses_to_start(container_factory, service_config):
    container = container_factory(RegistryService, service_config("registry", JWT_SECRET=""))
    with pytest.raises(RuntimeError, match="JWT_SECRET"):
        container.start()


def test_reading_the_audit_log_is_audited(audit_rows, start_service, web_session,
                                          platform_secrets):
    start_service("registry", AUDIT_PURGE_SECONDS=3600)
    token = auth.mint(platform_secrets["JWT_SECRET"], "auditor-7", "district_admin",
                      "district:320505")
    headers = {"Authorization": f"Bearer {token}"}
    response = web_session.get("/audit", params={"subject_type": "resident", "limit": 5},
                               headers=headers)
    assert response.status_code == 200, response.text
    assert {r["subject_id"] for r in response.json()} >= {"10", "200", "400"}
    with audit_rows.connect() as conn:
        row = conn.execute(sa.text(
            "SELECT actor_sub, actor_role, action, fields, reason, at > now() - interval "
            "'1 minute' AS fresh FROM registry.audit_log WHERE action = 'read_audit_log'")
        ).mappings().one()
    assert row["actor_sub"] == "auditor-7" and row["actor_role"] == "district_admin"
    assert row["fields"] == ["subject_type"] and row["fresh"]
    assert '"subject_type": "resident"' in row["reason"] and '"limit": 5' in row["reason"]

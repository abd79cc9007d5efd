"""Least privilege in PostgreSQL (issue 10 item 2, P5.4.4): each service connects as its own
role (gridgov_common/platform/db_roles.py) and, on the real database, that role cannot read another
service's schema, change any table, trigger or function, edit or delete an audit row, or
purge an audit log below its 183-day floor. The migrations run as the owner role; the PII
keys go only to registry and notify. That the roles' rights are *enough* is proved by the
whole suite: tests/conftest.py ``service_config`` connects every service as its role.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

from gridgov_common.platform import db_roles, migrate
from services.assessment.service import AssessmentService
from services.dispatch.service import DispatchService
from services.events.service import EventsService
from tests.conftest import service_db_url

ROOT = Path(__file__).resolve().parents[2]
SERVICES = db_roles.SERVICES
# one table of each schema, for reads across schemas
A_TABLE = {"registry": "residents", "events": "cases", "dispatch": "cases",
           "assessment": "patrols", "notify": "deliveries"}
DENIED = r"permission denied|must be owner|must be superuser"


@pytest.fixture(scope="module")
def as_role(db_url):
    """service -> an engine logged in as that service's role."""
    engines = {svc: sa.create_engine(service_db_url(db_url, svc)) for svc in SERVICES}
    yield engines
    for engine in engines.values():
        engine.dispose()


def refused(engine, statement: str, match: str = DENIED) -> None:
    with engine.connect() as conn:
        with pytest.raises(DBAPIError, match=match):
            conn.execute(sa.text(statement))
        conn.rollback()


@pytest.mark.parametrize("service", SERVICES)
def test_a_service_role_reads_and_writes_its_own_schema_and_no_other(as_role, service):
    engine = as_role[service]
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT current_user")).scalar_one() == \
            f"gridgov_{service}"
        conn.execute(sa.text(f"SELECT count(*) FROM {service}.{A_TABLE[service]}"))
        conn.execute(sa.text(f"SELECT count(*) FROM {service}.outbox"))
        conn.rollback()
    for other in SERVICES:
        if other != service:
            refused(engine, f"SELECT count(*) FROM {other}.{A_TABLE[other]}")
            refused(engine, f"SELECT count(*) FROM {other}.alembic_version")


@pytest.mark.parametrize("service", SERVICES)
def test_a_service_role_cannot_change_tables_triggers_or_functions(as_role, service):
    engine, table = as_role[service], f"{service}.{A_TABLE[service]}"
    for statement in (
            f"ALTER TABLE {table} ADD COLUMN evil text",
            f"ALTER TABLE {table} DISABLE TRIGGER ALL",
            f"DROP TABLE {table}",
            f"TRUNCATE {table}",
            f"CREATE TABLE {service}.evil (x int)",
            f"CREATE FUNCTION {service}.evil() RETURNS int LANGUAGE sql AS 'SELECT 1'",
            "CREATE FUNCTION public.evil() RETURNS int LANGUAGE sql AS 'SELECT 1'",
            "CREATE FUNCTION pg_temp.evil() RETURNS int LANGUAGE sql AS 'SELECT 1'",
            "CREATE TEMPORARY TABLE evil (x int)",
            f"CREATE SCHEMA evil_{service}",
            "SET session_replication_role = replica",  # would switch every trigger off
            f"UPDATE {service}.alembic_version SET version_num = 'x'",
    ):
        refused(engine, statement)


def test_the_audit_triggers_cannot_be_dropped_or_disabled_by_their_service(as_role):
    registry, assessment = as_role["registry"], as_role["assessment"]
    for statement in ("ALTER TABLE registry.audit_log DISABLE TRIGGER audit_log_append_only",
                      "DROP TRIGGER audit_log_server_time ON registry.audit_log",
                      "CREATE OR REPLACE FUNCTION registry.audit_log_append_only() RETURNS "
                      "trigger LANGUAGE plpgsql AS 'BEGIN RETURN OLD; END'",
                      "ALTER FUNCTION registry.purge_audit_log(integer) SECURITY INVOKER"):
        refused(registry, statement)
    for statement in ("ALTER TABLE assessment.track_audit DISABLE TRIGGER USER",
                      "DROP FUNCTION assessment.purge_track_audit(integer) CASCADE"):
        refused(assessment, statement)


@pytest.fixture
def aged_audit_rows(db_engine):
    """Rows 10, 200 and 400 days old in both audit logs (back-dated by the superuser with the
    triggers off, which no service role can do)."""
    with db_engine.begin() as conn:
        conn.execute(sa.text("SET LOCAL session_replication_role = replica"))
        conn.execute(sa.text("DELETE FROM registry.audit_log"))
        conn.execute(sa.text("DELETE FROM assessment.track_audit"))
        for age in (10, 200, 400):
            conn.execute(sa.text(
                "INSERT INTO registry.audit_log (at, actor_sub, actor_role, actor_scope, action,"
                " subject_type, subject_id, fields, reason) VALUES (now() - make_interval("
                "days => :age), 'a', 'district_admin', 'district:320505', 'unmask', 'resident',"
                " :age, '[]', 'roles-test')"), {"age": age})
            conn.execute(sa.text(
                "INSERT INTO assessment.track_audit (actor_sub, actor_role, action, subject, at)"
                " VALUES ('a', 'district_admin', 'roles-test', :subject, now() - make_interval("
                "days => :age))"), {"age": age, "subject": str(age)})
    yield db_engine


def registry_ages(engine) -> list[int]:
    with engine.connect() as conn:
        return sorted(int(a) for a in conn.execute(sa.text(
            "SELECT subject_id FROM registry.audit_log WHERE reason = 'roles-test'")).scalars())


def track_ages(engine) -> list[int]:
    with engine.connect() as conn:
        return sorted(int(a) for a in conn.execute(sa.text(
            "SELECT subject FROM assessment.track_audit WHERE action = 'roles-test'")).scalars())


def test_audit_logs_are_append_only_for_the_service_roles(as_role, aged_audit_rows):
    registry, assessment = as_role["registry"], as_role["assessment"]
    for statement in ("UPDATE registry.audit_log SET at = now() - interval '1000 days'",
                      "UPDATE registry.audit_log SET reason = 'edited'",
                      "DELETE FROM registry.audit_log WHERE subject_id = '10'",
                      "TRUNCATE registry.audit_log",
                      # the per-transaction switch the purge function sets opens nothing
                      "SELECT set_config('gridgov.audit_purge_days', '183', true); "
                      "DELETE FROM registry.audit_log WHERE subject_id = '400'"):
        refused(registry, statement)
    for statement in ("UPDATE assessment.track_audit SET at = now() - interval '1000 days'",
                      "DELETE FROM assessment.track_audit",
                      "TRUNCATE assessment.track_audit"):
        refused(assessment, statement)
    assert registry_ages(aged_audit_rows) == [10, 200, 400]
    assert track_ages(aged_audit_rows) == [10, 200, 400]
    with registry.begin() as conn:  # appending still works, at the server's time
        conn.execute(sa.text(
            "INSERT INTO registry.audit_log (at, actor_sub, actor_role, actor_scope, action, "
            "subject_type, subject_id, fields, reason) VALUES ('2000-01-01', 'x', 'r', 's', "
            "'unmask', 'resident', '1', '[]', 'roles-backdated')"))
        fresh = conn.execute(sa.text("SELECT at > now() - interval '1 minute' FROM "
                                     "registry.audit_log WHERE reason = 'roles-backdated'"))
        assert fresh.scalar_one() is True


def test_purging_goes_only_through_the_definer_function_and_its_floor(as_role, aged_audit_rows):
    registry, assessment = as_role["registry"], as_role["assessment"]
    refused(registry, "SELECT registry.purge_audit_log(30)", "at least 183")
    refused(registry, "SELECT registry.purge_audit_log(182)", "at least 183")
    refused(assessment, "SELECT assessment.purge_track_audit(100)", "at least 183")
    # no other service may call them at all
    refused(as_role["events"], "SELECT registry.purge_audit_log(365)")
    refused(as_role["registry"], "SELECT assessment.purge_track_audit(365)")
    with registry.begin() as conn:
        assert conn.execute(sa.text("SELECT registry.purge_audit_log(365)")).scalar_one() == 1
    with assessment.begin() as conn:
        assert conn.execute(sa.text(
            "SELECT assessment.purge_track_audit(183)")).scalar_one() == 2
    assert registry_ages(aged_audit_rows) == [10, 200]
    assert track_ages(aged_audit_rows) == [10]


def test_the_purge_functions_are_the_owners_with_a_fixed_search_path(db_engine):
    with db_engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT p.oid::regprocedure::text AS name, pg_get_userbyid(p.proowner) AS owner, "
            "p.prosecdef, p.proconfig, has_function_privilege('public', p.oid, 'EXECUTE') "
            "AS public_may FROM pg_proc p WHERE p.proname IN ('purge_audit_log', "
            "'purge_track_audit') ORDER BY 1")).mappings().all()
    assert [r["name"] for r in rows] == ["assessment.purge_track_audit(integer)",
                                         "registry.purge_audit_log(integer)"]
    for row in rows:
        assert row["owner"] == db_roles.DEFAULT_OWNER
        assert row["prosecdef"] is True
        assert row["proconfig"] == ["search_path=pg_catalog, pg_temp"]
        assert row["public_may"] is False


def test_everything_in_the_service_schemas_belongs_to_the_owner_role(db_engine):
    with db_engine.connect() as conn:
        owners = conn.execute(sa.text(
            "SELECT DISTINCT pg_get_userbyid(c.relowner) FROM pg_class c JOIN pg_namespace n "
            "ON n.oid = c.relnamespace WHERE n.nspname = ANY(:s) UNION "
            "SELECT DISTINCT pg_get_userbyid(p.proowner) FROM pg_proc p JOIN pg_namespace n "
            "ON n.oid = p.pronamespace WHERE n.nspname = ANY(:s) UNION "
            "SELECT pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname = ANY(:s)"),
            {"s": list(SERVICES)}).scalars().all()
        flags = conn.execute(sa.text(
            "SELECT bool_or(rolsuper OR rolcreaterole OR rolcreatedb OR rolbypassrls) "
            "FROM pg_roles WHERE rolname = ANY(:r)"),
            {"r": [db_roles.role_name(s) for s in SERVICES]}).scalar_one()
    assert owners == [db_roles.DEFAULT_OWNER]
    assert flags is False


def _fresh_database(db_url: str, suffix: str) -> sa.engine.URL:
    url = sa.engine.make_url(db_url)
    url = url.set(database=f"{url.database}_{suffix}")
    admin = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{url.database}"'))
    admin.dispose()
    return url


def _drop_database(url: sa.engine.URL) -> None:
    admin = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
    admin.dispose()


def test_an_old_database_moves_to_the_owner_and_a_second_run_changes_nothing(db_url):
    """A database migrated before the roles (everything the administrator's) is handed to the
    owner role; running again (every `make up`, every deployment) is harmless."""
    url = _fresh_database(db_url, "roles")
    text_url = url.render_as_string(hide_password=False)
    try:
        engine = sa.create_engine(url)
        with engine.begin() as conn:  # what the old migrations left: the admin's objects
            conn.execute(sa.text("CREATE SCHEMA notify"))
            conn.execute(sa.text("CREATE TABLE notify.legacy (id serial PRIMARY KEY)"))
            conn.execute(sa.text("CREATE FUNCTION notify.legacy_f() RETURNS int "
                                 "LANGUAGE sql AS 'SELECT 1'"))
        for _ in range(2):
            migrate.upgrade(text_url, ("notify",), env={})
        with engine.connect() as conn:
            owners = conn.execute(sa.text(
                "SELECT DISTINCT pg_get_userbyid(c.relowner) FROM pg_class c JOIN pg_namespace"
                " n ON n.oid = c.relnamespace WHERE n.nspname = 'notify' UNION SELECT "
                "pg_get_userbyid(proowner) FROM pg_proc WHERE proname = 'legacy_f'")
            ).scalars().all()
        engine.dispose()
        assert owners == [db_roles.DEFAULT_OWNER]
        notify = sa.create_engine(service_db_url(text_url, "notify"))
        with notify.begin() as conn:  # older tables and the new ones: the role's
            conn.execute(sa.text("INSERT INTO notify.legacy DEFAULT VALUES"))
            conn.execute(sa.text("SELECT count(*) FROM notify.deliveries"))
        notify.dispose()
    finally:
        _drop_database(url)


def test_kubernetes_the_database_owner_migrates_and_grants_without_creating_roles(db_url):
    """As in deploy/k8s: the migration logs in as the database's owner (CNPG's `gridgov`, no
    superuser, no CREATEROLE, GRIDGOV_DB_OWNER names it) and the service roles exist already
    (CNPG managed roles). It migrates as itself, grants, and refuses to go on while a
    service's role is missing."""
    url = _fresh_database(db_url, "k8s")
    owner = f"{url.database}_owner"[:63].replace("-", "_")
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP ROLE IF EXISTS "{owner}"'))
            conn.execute(sa.text(f'CREATE ROLE "{owner}" LOGIN'))
            conn.execute(sa.text(f'ALTER DATABASE "{url.database}" OWNER TO "{owner}"'))
        as_owner = url.set(username=owner).render_as_string(hide_password=False)
        env = {"GRIDGOV_DB_OWNER": owner}
        missing = {**env, "GRIDGOV_EVENTS_DB_URL": f"postgresql+psycopg://gridgov_no_such_"
                                                    f"role@127.0.0.1/{url.database}"}
        with pytest.raises(db_roles.RoleError, match="gridgov_no_such_role does not exist"):
            migrate.upgrade(as_owner, ("events",), missing)
        migrate.upgrade(as_owner, ("events",), env)
        with admin.connect() as conn:
            owners = conn.execute(sa.text(
                "SELECT DISTINCT pg_get_userbyid(relowner) FROM pg_class c JOIN pg_namespace n"
                " ON n.oid = c.relnamespace WHERE n.nspname = 'events'")).scalars().all()
        assert owners == [owner]
        events = sa.create_engine(service_db_url(as_owner, "events"))
        with events.begin() as conn:
            conn.execute(sa.text("SELECT count(*) FROM events.cases"))
        with events.connect() as conn:
            with pytest.raises(DBAPIError, match=DENIED):
                conn.execute(sa.text("ALTER TABLE events.cases ADD COLUMN evil text"))
        events.dispose()
    finally:
        admin.dispose()
        _drop_database(url)
        cleanup = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with cleanup.connect() as conn:
            conn.execute(sa.text(f'DROP ROLE IF EXISTS "{owner}"'))
        cleanup.dispose()


def test_a_service_given_an_administrators_login_is_refused(db_url):
    env = {"GRIDGOV_REGISTRY_DB_URL": db_url}  # postgres: a superuser
    with pytest.raises(db_roles.RoleError, match="registry would connect as postgres"):
        db_roles.prepare(db_url, ("registry",), env)
    owner = service_db_url(db_url, "registry").replace("gridgov_registry", "gridgov_owner")
    with pytest.raises(db_roles.RoleError, match="own plain role"):
        db_roles.prepare(db_url, ("registry",), {"GRIDGOV_REGISTRY_DB_URL": owner})


def test_the_cli_prints_a_services_url():
    env = {**os.environ, "GRIDGOV_DB_URL": "postgresql+psycopg://postgres@db:5432/gridgov"}
    env.pop("GRIDGOV_EVENTS_DB_URL", None)
    result = subprocess.run([sys.executable, "-m", "gridgov_common.platform.migrate", "service-url",
                             "events"], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=60, check=True)
    assert result.stdout.strip() == "postgresql+psycopg://gridgov_events@db:5432/gridgov"
    env["GRIDGOV_EVENTS_DB_URL"] = "postgresql+psycopg://gridgov_events:pw@db:5432/gridgov"
    result = subprocess.run(
        [sys.executable, "-m", "gridgov_common.platform.db_roles", "url", "events"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=True)
    assert result.stdout.strip() == env["GRIDGOV_EVENTS_DB_URL"]


# --- the personal-data keys ---------------------------------------------------------------

@pytest.mark.parametrize("service", SERVICES)
def test_only_registry_and_notify_read_the_pii_keys(service):
    text = (ROOT / "services" / service / "config.yaml").read_text(encoding="utf-8")
    reads = set(re.findall(r"\$\{(GRIDGOV_PII_[A-Z_]+):", text))
    if service in db_roles.PII_SERVICES:
        assert {"GRIDGOV_PII_KEY", "GRIDGOV_PII_INDEX_KEY"} <= reads
    else:
        assert reads == set(), f"{service} reads {reads}"
    assert f"${{GRIDGOV_{service.upper()}_DB_URL:" in text


@pytest.mark.parametrize("cls", [EventsService, DispatchService, AssessmentService],
                         ids=["events", "dispatch", "assessment"])
def test_services_that_do_not_decrypt_start_without_the_keys(container_factory,
                                                             service_config, cls):
    config = service_config(cls.name)
    assert not {k for k in config if k.startswith("PII_")}
    container = container_factory(cls, config)
    container.start()
    engine = sa.create_engine(config["DB_URL"])
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT current_user")).scalar_one() == \
            f"gridgov_{cls.name}"
    engine.dispose()

"""PostgreSQL roles: one login role per service, one owner role for the migrations.

P5.4.4 (personal privacy must never leak) and issue 10 item 2: a service connects as
``gridgov_<service>``, which may read and write the rows of its own schema and nothing
else. It cannot create, alter or drop anything (no ``CREATE`` on any schema, no ``TEMPORARY``
on the database, owns nothing, so it cannot disable or drop a trigger either), cannot see
another service's schema, and on the append-only tables (:data:`APPEND_ONLY`: the audit logs
among them) may only ``SELECT`` and ``INSERT``. Purging an audit log goes through the
owner's ``SECURITY DEFINER`` function (:data:`DEFINER_FUNCTIONS`), which keeps its 183-day
floor. Tables, functions and triggers belong to the owner role (``gridgov_owner``, or
``GRIDGOV_DB_OWNER``); migrations run as that role (``SET ROLE`` when the migration URL
is an administrator's).

Where the roles and their passwords come from: ``GRIDGOV_<SERVICE>_DB_URL`` (the URL the
service connects with, e.g. ``GRIDGOV_REGISTRY_DB_URL``); unset, the migration URL with
user ``gridgov_<service>`` and no password. ``python -m gridgov_common.platform.migrate upgrade``
creates missing roles when its URL may (a superuser, as locally and in docker compose);
where it may not (Kubernetes, where CloudNativePG's managed roles create them), the roles
must exist and only the grants are made.

    python -m gridgov_common.platform.db_roles url registry     # the URL registry connects with
    python -m gridgov_common.platform.db_roles ensure           # create roles and grants now
    python -m gridgov_common.platform.db_roles show  # what each role may do, from the catalog
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Iterable, Mapping

import sqlalchemy as sa
from sqlalchemy.engine import URL

import gridgov_common.platform.greening  # noqa: F401

SERVICES = ("registry", "events", "dispatch", "assessment", "notify")
DEFAULT_OWNER = "gridgov_owner"
# The services that decrypt personal data and alone get the PII keys (P5.4.4).
PII_SERVICES = ("registry", "notify")
# Tables a service may only read and append to (P5.4.4 audit logs; case files, circulars and
# appraisal schemes are immutable records): no UPDATE, DELETE or TRUNCATE for the service.
APPEND_ONLY = {
    "registry": ("audit_log",),
    "dispatch": ("case_file",),
    "assessment": ("track_audit", "circulars", "appraisal_schemes"),
}
# The owner's SECURITY DEFINER functions a service may call (the only way to purge its log).
DEFINER_FUNCTIONS = {
    "registry": ("purge_audit_log(integer)",),
    "assessment": ("purge_track_audit(integer)",),
}
log = logging.getLogger("gridgov.db_roles")


class RoleError(RuntimeError):
    """The roles cannot be made as configured (named, with what to do)."""


def role_name(service: str) -> str:
    return f"gridgov_{service}"


def url_variable(service: str) -> str:
    return f"GRIDGOV_{service.upper()}_DB_URL"


def owner_role(env: Mapping[str, str] | None = None) -> str:
    env = os.environ if env is None else env
    return env.get("GRIDGOV_DB_OWNER") or DEFAULT_OWNER


def service_url(migration_url: str | URL, service: str,
                env: Mapping[str, str] | None = None) -> str:
    """The URL ``service`` connects with: ``GRIDGOV_<SVC>_DB_URL``, or the migration URL with
    the service's role and no password (local trust authentication, the tests)."""
    env = os.environ if env is None else env
    if env.get(url_variable(service)):
        return env[url_variable(service)]
    url = sa.engine.make_url(migration_url).set(username=role_name(service), password=None)
    return url.render_as_string(hide_password=False)


def service_logins(migration_url: str, services: Iterable[str],
                   env: Mapping[str, str] | None = None) -> dict[str, tuple[str, str | None]]:
    """service -> (role, password or None), from the URLs the services will use."""
    out = {}
    for service in services:
        url = sa.engine.make_url(service_url(migration_url, service, env))
        if not url.username:
            raise RoleError(f"{url_variable(service)} names no user")
        out[service] = (url.username, url.password)
    return out


def _quote(conn, name: str) -> str:
    return conn.execute(sa.text("SELECT quote_ident(CAST(:n AS text))"),
                        {"n": name}).scalar_one()


def _quote_literal(conn, value: str) -> str:
    return conn.execute(sa.text("SELECT quote_literal(CAST(:v AS text))"),
                        {"v": value}).scalar_one()


def _me(conn) -> dict:
    return dict(conn.execute(sa.text(
        "SELECT current_user AS name, rolsuper AS super, rolcreaterole AS createrole "
        "FROM pg_roles WHERE rolname = current_user")).mappings().one())


def _role(conn, name: str) -> dict | None:
    row = conn.execute(sa.text(
        "SELECT rolsuper, rolcreaterole, rolcreatedb, rolbypassrls, rolcanlogin "
        "FROM pg_roles WHERE rolname = :n"), {"n": name}).mappings().first()
    return dict(row) if row else None


def _create_role(conn, name: str, login: bool, password: str | None) -> None:
    """CREATE ROLE, tolerating a concurrent creator (roles are cluster-wide: parallel test
    databases on one server create the same roles)."""
    attrs = "LOGIN" if login else "NOLOGIN"
    statement = (f"CREATE ROLE {_quote(conn, name)} {attrs} NOSUPERUSER NOCREATEDB "
                 f"NOCREATEROLE NOBYPASSRLS")
    if password is not None:
        statement += f" PASSWORD {_quote_literal(conn, password)}"
    try:
        conn.execute(sa.text(statement))
        log.info("created role %s", name)
    except sa.exc.DBAPIError as exc:
        if _role(conn, name) is None:  # not "already exists" after all
            raise RoleError(f"could not create role {name}: {exc.orig}") from exc


def _set_password(conn, name: str, password: str) -> None:
    conn.execute(sa.text(f"ALTER ROLE {_quote(conn, name)} "
                         f"PASSWORD {_quote_literal(conn, password)}"))


def prepare(migration_url: str, services: Iterable[str] = SERVICES,
            env: Mapping[str, str] | None = None) -> str | None:
    """Before the migrations: make the owner and service roles (where this URL may), give the
    owner the database and the services' schemas. Returns the role to ``SET ROLE`` to for
    the migrations (None when the URL's user is the owner)."""
    services = tuple(services)
    owner = owner_role(env)
    logins = service_logins(migration_url, services, env)
    engine = sa.create_engine(migration_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            me = _me(conn)
            can_create = me["super"] or me["createrole"]
            wanted = [(owner, False, None)] + [(r, True, pw) for r, pw in logins.values()]
            for name, login, password in wanted:
                role = _role(conn, name)
                if role is None:
                    if not can_create:
                        raise RoleError(
                            f"role {name} does not exist and {me['name']} may not create it:"
                            f" create it (Kubernetes: the Cluster's spec.managed.roles,"
                            f" deploy/k8s/base/postgres.yaml) or migrate as a superuser")
                    _create_role(conn, name, login, password)
                elif password is not None and can_create and name != me["name"]:
                    _set_password(conn, name, password)
            for service, (name, _) in logins.items():
                role = _role(conn, name)
                if name in (owner, me["name"]) or role["rolsuper"] or role["rolcreaterole"] \
                        or role["rolcreatedb"] or role["rolbypassrls"]:
                    raise RoleError(
                        f"{service} would connect as {name}, which owns the schemas or has "
                        f"administrator rights: give it its own plain role ({role_name(service)})")
            db = _quote(conn, conn.execute(sa.text("SELECT current_database()")).scalar_one())
            qowner = _quote(conn, owner)
            if me["name"] != owner:
                if not me["super"]:
                    raise RoleError(f"{me['name']} cannot migrate as {owner}: migrate as "
                                    f"{owner} or as a superuser")
                conn.execute(sa.text(f"GRANT CONNECT, CREATE, TEMPORARY ON DATABASE {db} "
                                     f"TO {qowner}"))
                for service in services:
                    _give_schema_to_owner(conn, service, owner)
            # no role but the owner creates temporary objects (pg_temp functions included)
            conn.execute(sa.text(f"REVOKE TEMPORARY ON DATABASE {db} FROM PUBLIC"))
            if conn.execute(sa.text(
                    "SELECT pg_has_role(nspowner, 'USAGE') FROM pg_namespace "
                    "WHERE nspname = 'public'")).scalar():
                # PostgreSQL < 15 let every role create objects in public
                conn.execute(sa.text("REVOKE CREATE ON SCHEMA public FROM PUBLIC"))
            return None if me["name"] == owner else owner
    finally:
        engine.dispose()


def _give_schema_to_owner(conn, schema: str, owner: str) -> None:
    """The schema and everything in it owned by ``owner`` (databases made before the roles
    had everything owned by the administrator)."""
    conn.execute(sa.text("""
DO $$
DECLARE
  s text := :schema;
  o text := :owner;
  r record;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = s) THEN
    EXECUTE format('CREATE SCHEMA %I AUTHORIZATION %I', s, o);
    RETURN;
  END IF;
  IF (SELECT nspowner::regrole::text FROM pg_namespace WHERE nspname = s) <> quote_ident(o) THEN
    EXECUTE format('ALTER SCHEMA %I OWNER TO %I', s, o);
  END IF;
  FOR r IN SELECT c.relname, c.relkind FROM pg_class c JOIN pg_namespace n
             ON n.oid = c.relnamespace
           WHERE n.nspname = s AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
             AND c.relowner <> o::regrole
             AND NOT (c.relkind = 'S' AND EXISTS (  -- owned sequences follow their table
               SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype IN ('a', 'i')))
  LOOP
    EXECUTE format('ALTER %s %I.%I OWNER TO %I',
                   CASE r.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW'
                     WHEN 'S' THEN 'SEQUENCE' WHEN 'f' THEN 'FOREIGN TABLE' ELSE 'TABLE' END,
                   s, r.relname, o);
  END LOOP;
  FOR r IN SELECT p.oid::regprocedure AS sig FROM pg_proc p JOIN pg_namespace n
             ON n.oid = p.pronamespace
           WHERE n.nspname = s AND p.proowner <> o::regrole
  LOOP
    EXECUTE format('ALTER ROUTINE %s OWNER TO %I', r.sig, o);
  END LOOP;
  FOR r IN SELECT t.typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
           WHERE n.nspname = s AND t.typtype IN ('e', 'd', 'r')
             AND t.typowner <> o::regrole
  LOOP
    EXECUTE format('ALTER TYPE %I.%I OWNER TO %I', s, r.typname, o);
  END LOOP;
END $$""".replace(":schema", _literal(schema)).replace(":owner", _literal(owner))))


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def grant(migration_url: str, services: Iterable[str] = SERVICES,
          env: Mapping[str, str] | None = None) -> None:
    """After the migrations: each service's role gets DML on its own schema's tables (and on
    the tables later migrations add: default privileges), SELECT and INSERT only on its
    append-only tables, EXECUTE on its purge functions; nothing else."""
    owner = owner_role(env)
    logins = service_logins(migration_url, services, env)
    engine = sa.create_engine(migration_url)
    try:
        with engine.begin() as conn:
            qowner = _quote(conn, owner)
            db = _quote(conn, conn.execute(sa.text("SELECT current_database()")).scalar_one())
            for service, (name, _) in logins.items():
                role, schema = _quote(conn, name), _quote(conn, service)
                statements = [
                    f"GRANT CONNECT ON DATABASE {db} TO {role}",
                    f"GRANT USAGE ON SCHEMA {schema} TO {role}",
                    f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema} "
                    f"TO {role}",
                    f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {schema} TO {role}",
                    f"ALTER DEFAULT PRIVILEGES FOR ROLE {qowner} IN SCHEMA {schema} "
                    f"GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {role}",
                    f"ALTER DEFAULT PRIVILEGES FOR ROLE {qowner} IN SCHEMA {schema} "
                    f"GRANT USAGE, SELECT ON SEQUENCES TO {role}",
                    # functions are executable by PUBLIC by default; definer ones are not
                    f"ALTER DEFAULT PRIVILEGES FOR ROLE {qowner} IN SCHEMA {schema} "
                    f"REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC",
                    # migrations are the owner's: the service reads its version, no more
                    f"REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON {schema}.alembic_version "
                    f"FROM {role}",
                ]
                for table in APPEND_ONLY.get(service, ()):
                    statements.append(f"REVOKE UPDATE, DELETE, TRUNCATE ON {schema}."
                                      f"{_quote(conn, table)} FROM {role}")
                for function in DEFINER_FUNCTIONS.get(service, ()):
                    statements.append(f"GRANT EXECUTE ON FUNCTION {schema}.{function} "
                                      f"TO {role}")
                for statement in statements:
                    conn.execute(sa.text(statement))
                log.info("granted %s its rights on schema %s", name, service)
    finally:
        engine.dispose()


def show(migration_url: str, services: Iterable[str] = SERVICES,
         env: Mapping[str, str] | None = None) -> list[str]:
    """One line per (role, table): the privileges the catalog gives."""
    logins = service_logins(migration_url, services, env)
    engine = sa.create_engine(migration_url)
    lines = []
    try:
        with engine.connect() as conn:
            for name, _ in logins.values():
                rows = conn.execute(sa.text(
                    "SELECT table_schema || '.' || table_name, string_agg(privilege_type, ',' "
                    "ORDER BY privilege_type) FROM information_schema.role_table_grants "
                    "WHERE grantee = :r GROUP BY 1 ORDER BY 1"), {"r": name}).all()
                lines += [f"{name}\t{table}\t{privileges}" for table, privileges in rows]
    finally:
        engine.dispose()
    return lines


def main(argv: list[str] | None = None) -> int:
    from gridgov_common.platform import migrate

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    parser = argparse.ArgumentParser(prog="python -m gridgov_common.platform.db_roles",
                                     description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    url_cmd = sub.add_parser("url", help="print the database URL a service connects with")
    url_cmd.add_argument("service", choices=SERVICES)
    ensure_cmd = sub.add_parser("ensure", help="create the roles and grants (no migrations)")
    ensure_cmd.add_argument("services", nargs="*", default=list(SERVICES))
    show_cmd = sub.add_parser("show", help="the table privileges of each service's role")
    show_cmd.add_argument("services", nargs="*", default=list(SERVICES))
    args = parser.parse_args(argv)
    url = migrate.database_url()
    try:
        if args.cmd == "url":
            print(service_url(url, args.service))
        elif args.cmd == "ensure":
            prepare(url, args.services)
            grant(url, args.services)
        else:
            print("\n".join(show(url, args.services)))
    except RoleError as exc:
        print(f"db_roles: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

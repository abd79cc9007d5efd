"""bench/_common.service_env: a bench service never reaches the real database, although
``make bench`` exports ``.env`` and each service reads its own GRIDGOV_<SVC>_DB_URL (its
database role, issue 10 item 2)."""

from bench import _common
from gridgov_common.platform import db_roles


def test_every_service_url_points_at_the_bench_database_as_its_own_role(monkeypatch):
    for svc in db_roles.SERVICES:  # what an exported .env sets
        monkeypatch.setenv(db_roles.url_variable(svc),
                           f"postgresql+psycopg://gridgov_{svc}:pw@127.0.0.1:5432/gridgov")
    bench_db = "postgresql+psycopg://postgres@127.0.0.1:5432/gridgov_bench_x"
    env = _common.service_env(bench_db, "pyamqp://guest:guest@127.0.0.1:5672/v", {})
    assert env["GRIDGOV_DB_URL"] == bench_db
    for svc in db_roles.SERVICES:
        assert env[db_roles.url_variable(svc)] == (
            f"postgresql+psycopg://gridgov_{svc}@127.0.0.1:5432/gridgov_bench_x")

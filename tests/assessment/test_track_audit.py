"""The track-read audit (P5.4.4, Cybersecurity Law Art. 21) on the real PostgreSQL: reading
the audit is itself audited; rows carry the server's time; UPDATE, TRUNCATE and any DELETE
but the purge's are refused; the purge keeps at least 183 days; a shorter retention stops
the service at start (gridgov_common/platform/audit_retention.py, migration 0005)."""

from __future__ import annotations

from datetime import time

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

from tests.amqp import wait_until
from tests.assessment.conftest import ADMIN, IN_A
from tests.assessment.test_patrols import CHIEF, WORKER, start_patrol, upload
from tests.assessment.tracks import recent_workday, walk


def audit_ages(engine) -> list[int]:
    with engine.connect() as conn:
        return sorted(int(s) for s in conn.execute(sa.text(
            "SELECT subject FROM assessment.track_audit WHERE action = 'aged'")).scalars())


@pytest.fixture
def aged_rows(db_engine):
    """Rows 10, 200 and 400 days old, back-dated with triggers off (only a superuser can:
    the server-time trigger is what stops anyone else)."""
    with db_engine.begin() as conn:
        conn.execute(sa.text("SET LOCAL session_replication_role = replica"))
        for age in (10, 200, 400):
            conn.execute(sa.text(
                "INSERT INTO assessment.track_audit (actor_sub, actor_role, action, subject, at)"
                " VALUES ('x', 'district_admin', 'aged', :age, now() - make_interval(days =>"
                " :age))"), {"age": age})
    return db_engine


def test_reading_the_audit_is_audited(assessment, web_session, token):
    worker = token(*WORKER, sub="w1")
    patrol_id = start_patrol(web_session, worker)
    upload(web_session, worker, patrol_id, walk(recent_workday(), time(9), time(9, 10), IN_A))
    assert web_session.get(f"/patrols/{patrol_id}/track",
                           headers=token(*CHIEF, sub="c1")).status_code == 200
    admin = token(*ADMIN, sub="auditor")

    first = web_session.get("/patrols/audit", headers=admin, params={"limit": 10})
    second = web_session.get("/patrols/audit", headers=admin, params={"limit": 10})

    assert first.status_code == 200 and second.status_code == 200
    assert [a["action"] for a in first.json()] == ["read_track"]
    newest = second.json()[0]
    assert (newest["actor_sub"], newest["action"], newest["subject"]) == (
        "auditor", "read_audit", "track_audit")
    assert newest["detail"] == {"limit": 10, "actor_scope": ADMIN[1]}


def test_rows_are_append_only_and_carry_the_server_time(assessment, aged_rows):
    with aged_rows.begin() as conn:  # a client-sent time is replaced by now()
        conn.execute(sa.text(
            "INSERT INTO assessment.track_audit (actor_sub, actor_role, action, subject, at)"
            " VALUES ('y', 'district_admin', 'forged', 's', now() - interval '900 days')"))
        assert conn.execute(sa.text(
            "SELECT at > now() - interval '1 minute' FROM assessment.track_audit "
            "WHERE action = 'forged'")).scalar_one()
    for statement in ("UPDATE assessment.track_audit SET actor_sub = 'z'",
                      "DELETE FROM assessment.track_audit",
                      "TRUNCATE assessment.track_audit",
                      # a forged purge setting cannot reach rows younger than 183 days
                      "SELECT set_config('gridgov.track_audit_purge_days', '100', true); "
                      "DELETE FROM assessment.track_audit"):
        with aged_rows.connect() as conn:
            with pytest.raises(DBAPIError, match="append-only"):
                conn.execute(sa.text(statement))
            conn.rollback()
    assert audit_ages(aged_rows) == [10, 200, 400]


def test_purge_keeps_at_least_six_months(assessment, aged_rows):
    with aged_rows.connect() as conn:
        with pytest.raises(DBAPIError, match="at least 183"):
            conn.execute(sa.text("SELECT assessment.purge_track_audit(100)"))
        conn.rollback()
    with aged_rows.begin() as conn:
        assert conn.execute(sa.text("SELECT assessment.purge_track_audit(365)")).scalar() == 1
    assert audit_ages(aged_rows) == [10, 200]


def test_the_timer_purges_with_the_configured_retention(start_assessment, aged_rows):
    start_assessment(TRACK_AUDIT_RETENTION_DAYS=183, TRACK_PURGE_SECONDS=0.2)
    assert wait_until(lambda: audit_ages(aged_rows) == [10])


def test_retention_under_six_months_stops_the_start(start_assessment):
    with pytest.raises(RuntimeError, match="TRACK_AUDIT_RETENTION_DAYS"):
        start_assessment(TRACK_AUDIT_RETENTION_DAYS=90)

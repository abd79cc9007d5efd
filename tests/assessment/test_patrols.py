"""Patrols and tracks on the real service (P5.4.3): late, out-of-order and duplicate
uploads, scoped and audited reads, compliance from track data, retention."""

from __future__ import annotations

import random
from datetime import UTC, datetime, time, timedelta

import sqlalchemy as sa

from tests.amqp import wait_until
from tests.assessment.conftest import (
    ADMIN,
    COMMUNITY,
    GRID_A,
    IN_A,
    IN_B,
    IN_HOLE,
    OTHER_COMMUNITY,
)
from tests.assessment.tracks import recent_workday, walk

WORKER = ("neighbourhood_grid_worker", f"grid:{GRID_A}")
CHIEF = ("community_grid_chief", f"community:{COMMUNITY}")


def start_patrol(web_session, headers, started_at: datetime | None = None) -> str:
    body = {"started_at": started_at.isoformat()} if started_at else {}
    response = web_session.post("/patrols", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()["patrol_id"]


def upload(web_session, headers, patrol_id: str, points: list[dict]) -> dict:
    response = web_session.post(f"/patrols/{patrol_id}/points", json={"points": points},
                                headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def test_upload_takes_late_out_of_order_and_repeated_points_once(assessment, web_session,
                                                                  token):
    worker = token(*WORKER, sub="w1")
    patrol_id = start_patrol(web_session, worker)
    points = walk(recent_workday(), time(9), time(10), IN_A)  # 13 fixes
    shuffled = random.Random(7).sample(points, len(points))
    too_old = {"id": "old", "recorded_at": (datetime.now(UTC) - timedelta(days=30)).isoformat(),
               "lon": IN_A[0], "lat": IN_A[1]}

    first = upload(web_session, worker, patrol_id, shuffled[:8] + [too_old])
    again = upload(web_session, worker, patrol_id, shuffled)  # offline batch re-sent whole

    assert first == {"received": 9, "stored": 8, "duplicates": 0, "refused_out_of_window": 1}
    assert again == {"received": 13, "stored": 5, "duplicates": 8, "refused_out_of_window": 0}
    track = web_session.get(f"/patrols/{patrol_id}/track", headers=worker).json()
    assert [p["id"] for p in track["points"]] == [p["id"] for p in points]  # device order


def test_tracks_are_scoped_and_every_read_is_audited(assessment, web_session, token, db_engine):
    worker = token(*WORKER, sub="w1")
    patrol_id = start_patrol(web_session, worker)
    upload(web_session, worker, patrol_id, walk(recent_workday(), time(9), time(9, 10), IN_A))

    other_worker = web_session.get(f"/patrols/{patrol_id}/track",
                                   headers=token(*WORKER, sub="w2"))
    other_chief = web_session.get(f"/patrols/{patrol_id}/track", headers=token(
        "community_grid_chief", f"community:{OTHER_COMMUNITY}", sub="c2"))
    chief = web_session.get(f"/patrols/{patrol_id}/track", headers=token(*CHIEF, sub="c1"))

    assert other_worker.status_code == 403 and other_chief.status_code == 403
    assert chief.status_code == 200 and len(chief.json()["points"]) == 3
    audit = web_session.get("/patrols/audit", headers=token(*ADMIN, sub="admin")).json()
    assert [(a["actor_sub"], a["actor_role"], a["subject"]) for a in audit] == [
        ("c1", "community_grid_chief", patrol_id)]
    with db_engine.connect() as conn, conn.begin():
        try:
            conn.execute(sa.text("DELETE FROM assessment.track_audit"))
            raise AssertionError("the audit accepted a DELETE")
        except sa.exc.DBAPIError as refused:
            assert "append-only" in str(refused)


def test_stop_is_own_and_once(assessment, web_session, token):
    worker = token(*WORKER, sub="w1")
    patrol_id = start_patrol(web_session, worker)

    by_other = web_session.post(f"/patrols/{patrol_id}/stop", json={},
                                headers=token(*WORKER, sub="w2"))
    stopped = web_session.post(f"/patrols/{patrol_id}/stop", json={}, headers=worker)
    twice = web_session.post(f"/patrols/{patrol_id}/stop", json={}, headers=worker)
    bad_id = web_session.post("/patrols/not-a-uuid/stop", json={}, headers=worker)
    bad_body = web_session.post(f"/patrols/{patrol_id}/points", json={"points": [{"id": "x"}]},
                                headers=worker)

    assert by_other.status_code == 404 and bad_id.status_code == 404
    assert stopped.status_code == 200 and stopped.json()["stopped_at"]
    assert twice.status_code == 409
    assert bad_body.status_code == 422 and "recorded_at" in bad_body.text


def test_patrol_compliance_from_tracks(assessment, web_session, token):
    """A: 3.5 h inside grid A (12,600 s of 32,400 working s → 0.389, met); B: patrols but
    in grid B and in grid A's hole (not own ground → 0); C: known, no patrol today."""
    day = recent_workday()
    a, b, c = (token(*WORKER, sub=s) for s in ("wa", "wb", "wc"))
    instructor = token("grid_instructor", f"community:{COMMUNITY}", sub="gi")
    early = walk(day, time(8), time(8), IN_A, prefix="e")  # before work: counts nothing
    upload(web_session, a, start_patrol(web_session, a),
           early + walk(day, time(9), time(12, 30), IN_A))
    upload(web_session, b, start_patrol(web_session, b),
           walk(day, time(9), time(12), IN_B) + walk(day, time(13), time(14), IN_HOLE, 300,
                                                     "h", 0.0))
    start_patrol(web_session, c)  # known to the service, no fix recorded
    upload(web_session, instructor, start_patrol(web_session, instructor),
           walk(day, time(15), time(15, 10), IN_B))

    response = web_session.get(f"/compliance/patrols?date={day}",
                               headers=token(*CHIEF, sub="c1"))

    assert response.status_code == 200, response.text
    people = {p["staff_sub"]: p for p in response.json()["people"]}
    assert people["wa"]["inside_seconds"] == 12600 and people["wa"]["working_seconds"] == 32400
    assert round(people["wa"]["inside_share"], 3) == 0.389 and people["wa"]["compliant"]
    assert people["wb"]["patrolled"] and people["wb"]["inside_share"] == 0
    assert not people["wb"]["inside_rule_met"] and not people["wb"]["compliant"]
    assert not people["wc"]["patrolled"] and not people["wc"]["compliant"]
    assert people["gi"]["instructor_month_patrolled"] is True  # P5.1.2: grid B is his
    assert people["wa"]["instructor_month_patrolled"] is None


def test_compliance_refuses_a_scope_outside_the_callers(assessment, web_session, token):
    response = web_session.get(f"/compliance/patrols?date={recent_workday()}"
                               f"&scope={OTHER_COMMUNITY}", headers=token(*CHIEF, sub="c1"))
    as_worker = web_session.get(f"/compliance/patrols?date={recent_workday()}",
                                headers=token(*WORKER, sub="w1"))

    assert response.status_code == 403 and as_worker.status_code == 403


def test_retention_timer_purges_old_points(start_assessment, web_session, token, db_engine):
    start_assessment(TRACK_RETENTION_DAYS=2, TRACK_PURGE_SECONDS=0.2)
    worker = token(*WORKER, sub="w1")
    patrol_id = start_patrol(web_session, worker)
    old_day = (datetime.now(UTC) - timedelta(days=4)).date()
    fresh = {"id": "fresh", "recorded_at": datetime.now(UTC).isoformat(),
             "lon": IN_A[0], "lat": IN_A[1]}
    upload(web_session, worker, patrol_id, walk(old_day, time(9), time(9, 20), IN_A) + [fresh])

    def left() -> list[str]:
        with db_engine.connect() as conn:
            return [r[0] for r in conn.execute(sa.text(
                "SELECT client_point_id FROM assessment.track_points"))]

    assert wait_until(lambda: left() == ["fresh"])


def test_field_work_counts_the_working_days_the_deadlines_count(
        assessment, web_session, token, container_factory, service_config, db_engine):
    """Issue 11: an operator's calendar override in dispatch (a weekday off) is a day off
    for the daily-patrol rule too (P5.4.3): assessment reads dispatch's calendar."""
    from services.dispatch.service import DispatchService
    from tests.assessment.circular_cases import start_on_free_port

    with db_engine.begin() as conn:
        conn.execute(sa.text("TRUNCATE dispatch.calendar_overrides, dispatch.calendar_years"))
    _, dispatch_http = start_on_free_port(container_factory, service_config, DispatchService,
                                          "dispatch", ESCALATION_POLL_SECONDS=86400,
                                          DIGEST_POLL_SECONDS=86400)
    from services.assessment import dispatch_client
    dispatch_client.forget()
    day = recent_workday()
    start_patrol(web_session, token(*WORKER, sub="wc"))  # known, no patrol that day

    def wc() -> dict:
        response = web_session.get(f"/compliance/patrols?date={day}",
                                   headers=token(*CHIEF, sub="c1"))
        assert response.status_code == 200, response.text
        return {p["staff_sub"]: p for p in response.json()["people"]}["wc"]

    assert wc()["patrol_rule_met"] is False and wc()["working_seconds"] > 0
    admin = token("district_admin", "district:320505")
    put = dispatch_http.put(f"/config/calendar-overrides/{day}", headers=admin,
                            json={"is_workday": False, "note": "调休放假"})
    assert put.status_code == 201, put.text
    dispatch_client.forget()  # read again now, not in five minutes
    off = wc()
    assert off["patrol_rule_met"] is True and off["working_seconds"] == 0
    with db_engine.begin() as conn:
        conn.execute(sa.text("TRUNCATE dispatch.calendar_overrides"))

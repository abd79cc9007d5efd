"""The operations wall's stream (issue 14; services/assessment/dashboard/wall.py) against
the REAL registry, dispatch and broker: server-sent events, scope-checked like
/dashboard/data, the grids once, then only what changed; a major event at once; other
requests answered while streams stay open (eventlet, nameko's werkzeug)."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from gridgov_common import platform
from services.assessment import dispatch_client
from services.assessment import settings as assessment_settings
from services.assessment.dashboard.sources import DashboardSources
from services.assessment.dashboard.wall import WallHub
from services.assessment.dashboard.wall_routes import WallRoutes
from services.dispatch.models import cases
from tests.assessment_dashboard.cases import _case

WAIT = 20.0  # seconds: a bound, not a timing assertion


class WallTestService(platform.PlatformService, WallRoutes):
    name = "assessment"
    declared_settings = assessment_settings.SETTINGS  # the assessment config it is given
    dashboard_sources = DashboardSources()
    dispatch = dispatch_client.Dispatch()
    wall = WallHub()


@pytest.fixture
def wall(container_factory, dashboard_config, registry, dispatch):
    container = container_factory(WallTestService, dashboard_config())
    container.start()
    return container


class Stream:
    """One open ``GET /dashboard/events``, read event by event (with a deadline)."""

    def __init__(self, web_session, headers, query="") -> None:
        self.response = web_session.get(f"/dashboard/events{query}", headers=headers,
                                        stream=True, timeout=WAIT)
        self.lines = self.response.iter_lines(decode_unicode=True)

    def next(self, name: str, deadline: float) -> dict:
        event, data = None, None
        while time.monotonic() < deadline:
            line = next(self.lines)
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: "):
                data = json.loads(line[6:])
            elif line == "":
                if event == name:
                    return data
                event, data = None, None
        raise AssertionError(f"no {name} event in time")

    def close(self) -> None:
        self.response.close()


def _major(db_engine, grid: str) -> dict:
    row = _case(datetime.now(UTC), "K1", grid, "dispatched", work_category="major_event",
                severity="critical", subcategory="fire_hazard_corridor")
    row.update(case_id=str(uuid.uuid4()), case_number="GS-MAJOR", updated_at=datetime.now(UTC))
    with db_engine.begin() as conn:
        conn.execute(sa.insert(cases).values(**row))
    return row


def test_the_stream_sends_the_grids_once_then_changes_and_a_major_event_at_once(
        wall, web_session, viewer, seeded_cases, demo_district, db_engine):
    stream = Stream(web_session, viewer)
    try:
        assert stream.response.status_code == 200
        assert stream.response.headers["Content-Type"].startswith("text/event-stream")
        assert stream.response.headers["X-Accel-Buffering"] == "no"
        snapshot = stream.next("snapshot", time.monotonic() + WAIT)
        assert len(snapshot["grids"]["features"]) == len(demo_district["grid_codes"])
        assert [r["case_number"] for r in snapshot["cases"]["recent"]] == \
            seeded_cases["expected"]["recent"]
        [escalation] = snapshot["cases"]["escalations"]
        assert escalation["case_id"]  # the wall opens the case
        assert snapshot["majors"] == [] and snapshot["expires_at"] > time.time()
        days = snapshot["trend"]["days"]  # dispatch's kpis, one local day each
        assert len(days) == 8 and days == sorted(days, key=lambda d: d["day"])
        assert sum(d["reported"] for d in days) == 5  # the seeded cases, filed 5 days ago
        assert sum(d["closed"] for d in days) == 2

        # while the stream is open, the service answers other requests at once
        started = time.monotonic()
        session = web_session.get("/dashboard/session", headers=viewer, timeout=5)
        assert session.status_code == 200 and time.monotonic() - started < 2
        assert session.json()["scope"] == f"district:{demo_district['code']}"

        major = _major(db_engine, seeded_cases["g1"])
        deadline = time.monotonic() + WAIT
        alert = stream.next("major", deadline)
        assert alert["case_id"] == major["case_id"] and alert["severity"] == "critical"
        change = stream.next("change", deadline)
        assert {g["grid_code"]: g["open"] for g in change["grids"]} == {seeded_cases["g1"]: 2}
        assert [r["case_number"] for r in change["recent"]] == ["GS-MAJOR"]
        assert "grids_cleared" not in change and "escalations" not in change
    finally:
        stream.close()

    # a wall that reconnects keeps its geometry and still pins the major event
    again = Stream(web_session, viewer, "?geometry=false")
    try:
        snapshot = again.next("snapshot", time.monotonic() + WAIT)
        assert "grids" not in snapshot
        assert [m["case_number"] for m in snapshot["majors"]] == ["GS-MAJOR"]
    finally:
        again.close()


def test_a_town_grid_chief_streams_the_town_only(wall, web_session, token, seeded_cases,
                                                 demo_district):
    town = seeded_cases["town_a"]
    chief = token("town_grid_chief", f"town:{town}", sub="chief-1")
    stream = Stream(web_session, chief)
    try:
        snapshot = stream.next("snapshot", time.monotonic() + WAIT)
        codes = {f["properties"]["grid_code"] for f in snapshot["grids"]["features"]}
        assert codes and all(code.startswith(town) for code in codes)
        assert {r["town_code"] for r in snapshot["cases"]["recent"]} == {town}
    finally:
        stream.close()


def test_the_stream_is_refused_to_others_and_without_a_session(wall, web_session, token,
                                                               seeded_cases):
    officer = token("department_officer", "department:fire", sub="fire-1")
    assert web_session.get("/dashboard/events", headers=officer).status_code == 403
    assert web_session.get("/dashboard/events").status_code == 401
    assert web_session.get("/dashboard/events", params={"geometry": "maybe"},
                           headers=officer).status_code == 403


def test_the_stream_ends_with_the_session(wall, web_session, token, seeded_cases,
                                          demo_district):
    """The stream never outlives the access token that opened it: ``expired``, then the
    end (the page renews its session through api.js and reconnects)."""
    short = token("ops_viewer", f"district:{demo_district['code']}", sub="ops-1", ttl=3)
    stream = Stream(web_session, short)
    try:
        stream.next("snapshot", time.monotonic() + WAIT)
        assert stream.next("expired", time.monotonic() + WAIT) == {"reason": "token_expired"}
        assert list(stream.lines) == []  # the server closed it
    finally:
        stream.close()

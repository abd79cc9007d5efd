"""The operations wall's stream (issue 14; services/assessment/dashboard/wall.py) against
the REAL registry, dispatch and broker: server-sent events, scope-checked like
/dashboard/data, the grids once, then only what changed; a major event at once; other
requests answered while streams stay open (eventlet, nameko's werkzeug). A major event is
pinned from dispatch's own list (not only the 20 latest changes) and acknowledged on the
server: stored once with who and when, told to every open wall of its area."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from gridgov_common.platform import service as platform
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
    now = datetime.now(UTC)  # reported now: today's figures on the wall count it at once
    row.update(case_id=str(uuid.uuid4()), case_number="GS-MAJOR", updated_at=now,
               reported_at=now, filed_at=now)
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
        filed = next(d for d in days if d["reported"])  # the day the five were filed
        assert 0 <= filed["on_time_rate"] <= 0.4  # at most the two closed, on time
        assert all(d["on_time_rate"] is None for d in days if not d["reported"])

        # while the stream is open, the service answers other requests at once
        started = time.monotonic()
        session = web_session.get("/dashboard/session", headers=viewer, timeout=5)
        assert session.status_code == 200 and time.monotonic() - started < 2
        assert session.json()["scope"] == f"district:{demo_district['code']}"

        major = _major(db_engine, seeded_cases["g1"])
        deadline = time.monotonic() + WAIT
        alert = stream.next("major", deadline)
        assert alert["case_id"] == major["case_id"] and alert["severity"] == "critical"
        change: dict = {}  # the grids and today's figures may come in one change or two
        while "grids" not in change or change.get("trend", {}).get("days", [{}])[-1].get(
                "reported", 0) < 1:
            change.update(stream.next("change", deadline))
        assert change["trend"]["days"][-1]["reported"] == 1  # within a tick, not a minute
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


def _bury(db_engine, grid: str, count: int) -> None:
    """``count`` ordinary cases changed after everything else (more than the 20 latest)."""
    rows = []
    for n in range(count):
        row = _case(datetime.now(UTC), "K1", grid, "filed")
        row.update(case_number=f"GS-B{n}", description=f"B{n}", updated_at=datetime.now(UTC))
        rows.append(row)
    with db_engine.begin() as conn:
        conn.execute(sa.insert(cases), rows)


def _acknowledged(db_engine, case_id: str) -> dict | None:
    with db_engine.connect() as conn:
        row = conn.execute(sa.text(
            "SELECT acknowledged_by, acknowledged_name, acknowledged_role, note FROM "
            "assessment.major_acknowledgements WHERE case_id = :id"), {"id": case_id}).first()
    return None if row is None else dict(row._mapping)


def test_a_major_event_is_acknowledged_once_for_every_wall_of_its_area(
        wall, web_session, token, viewer, seeded_cases, demo_district, db_engine):
    major = _major(db_engine, seeded_cases["g1"])
    _bury(db_engine, seeded_cases["g1"], 25)  # the major event is not among the latest 20
    chief = token("town_grid_chief", f"town:{seeded_cases['g1'][:9]}", sub="chief-1",
                  name="张镇长")
    district, town = Stream(web_session, viewer), Stream(web_session, chief)
    try:
        for stream in (district, town):
            snapshot = stream.next("snapshot", time.monotonic() + WAIT)
            assert "GS-MAJOR" not in [r["case_number"] for r in snapshot["cases"]["recent"]]
            [pinned] = snapshot["majors"]  # dispatch's own list of major events
            assert pinned["case_id"] == major["case_id"] and pinned["acknowledged"] is None

        url = f"/dashboard/major-events/{major['case_id']}/acknowledge"
        bad = web_session.post(url, json={"note": "x" * 501}, headers=chief)
        assert bad.status_code == 422
        assert set(bad.json()["error"]["fields"]) == {"note", "case_number"}
        wrong = web_session.post(url, json={"case_number": "GS-OTHER"}, headers=chief)
        assert wrong.status_code == 422 and "case_number" in wrong.json()["error"]["fields"]
        done = web_session.post(url, json={"case_number": "GS-MAJOR", "note": "已派员到场"},
                                headers=chief)
        assert done.status_code == 201, done.text
        assert (done.json()["acknowledged_name"], done.json()["acknowledged_by"]) == (
            "张镇长", "chief-1")
        assert _acknowledged(db_engine, major["case_id"]) == {
            "acknowledged_by": "chief-1", "acknowledged_name": "张镇长",
            "acknowledged_role": "town_grid_chief", "note": "已派员到场"}
        for stream in (district, town):  # every open wall learns it
            told = stream.next("acknowledged", time.monotonic() + WAIT)
            assert (told["case_id"], told["acknowledged_name"]) == (major["case_id"], "张镇长")
        again = web_session.post(url, json={"case_number": "GS-MAJOR"}, headers=viewer)
        assert again.status_code == 409
        assert again.json()["error"]["code"] == "already_acknowledged"
    finally:
        district.close()
        town.close()

    # a wall opened later lists it as acknowledged, by whom and when
    later = Stream(web_session, viewer, "?geometry=false")
    try:
        [shown] = later.next("snapshot", time.monotonic() + WAIT)["majors"]
        assert shown["acknowledged"]["acknowledged_name"] == "张镇长"
        assert shown["acknowledged"]["acknowledged_at"]
    finally:
        later.close()


def test_only_a_major_event_of_the_callers_area_is_acknowledged(
        wall, web_session, token, viewer, seeded_cases, db_engine):
    major = _major(db_engine, seeded_cases["g1"])
    other_town = "320505002" if not seeded_cases["g1"].startswith("320505002") else "320505001"
    elsewhere = token("town_grid_chief", f"town:{other_town}", sub="chief-2")
    url = f"/dashboard/major-events/{major['case_id']}/acknowledge"
    body = {"case_number": "GS-MAJOR"}
    assert web_session.post(url, json=body, headers=elsewhere).status_code == 404
    officer = token("department_officer", "department:fire", sub="fire-1")
    assert web_session.post(url, json=body, headers=officer).status_code == 403
    ordinary = _case(datetime.now(UTC), "K1", seeded_cases["g1"], "filed")
    ordinary["case_number"] = "GS-ORDINARY"
    with db_engine.begin() as conn:
        conn.execute(sa.insert(cases).values(**ordinary))
    refused = web_session.post(f"/dashboard/major-events/{ordinary['case_id']}/acknowledge",
                               json={"case_number": "GS-ORDINARY"}, headers=viewer)
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "not_major"
    unknown = web_session.post(f"/dashboard/major-events/{uuid.uuid4()}/acknowledge",
                               json=body, headers=viewer)
    assert unknown.status_code == 404
    not_an_id = web_session.post("/dashboard/major-events/0/acknowledge", json=body,
                                 headers=viewer)
    assert not_an_id.status_code == 404 and not_an_id.json()["error"]["code"] == "unknown_case"
    assert _acknowledged(db_engine, major["case_id"]) is None

"""The grid worker's app (issue 12) in a real browser, through the real reverse proxy and
the real services: sign in with a password (cookies + CSRF), report a case with a photo
while offline, see it queued (and still queued after an offline reload from the service
worker), go online, and the case is filed exactly once with its photo. axe-core finds no
serious violation on any screen; zh-CN first, then en."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from eventlet.green import subprocess

from tests.adapters import FAST, Lines, amqp_url, running
from tests.app.playwright_app import DESCRIPTION
from tools.department_adapter.adapter import AdapterConfig

ROOT = Path(__file__).resolve().parents[2]
RUN_TIMEOUT = 300  # seconds: a safety net for a slow machine
SERIOUS = {"serious", "critical"}
APP = "tests.app.playwright_app"


def drive(module: str, run: dict, *args: str) -> dict:
    """Run the browser driver ``module`` (``tests.app.playwright_app`` or ``_desk``) in a
    process of its own, the run's settings in ``GRIDGOV_APP_RUN``; what it saw."""
    process = subprocess.Popen(
        [sys.executable, "-m", module, *args], cwd=ROOT,
        env={**os.environ, "GRIDGOV_APP_RUN": json.dumps(run)},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        out, err = process.communicate(timeout=RUN_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        raise AssertionError(f"{module} {args} did not finish") from None
    assert process.returncode == 0, err.decode()[-4000:]
    return json.loads(out)


def steps_of(seen: dict) -> dict[str, dict]:
    """The run's steps by label, once it is clear it ran to its end (else what the page
    said: its error, console, failed requests and last screen) and no screen has a
    serious accessibility violation."""
    context = json.dumps({"error": seen["error"], "console": seen["console"][-30:],
                          "failed": seen["failed"][-30:],
                          "last": seen["steps"][-1] if seen["steps"] else None},
                         ensure_ascii=False, indent=1)
    assert seen["error"] is None, context
    for step in seen["steps"]:
        assert serious(step) == [], (step["label"], step["axe"])
    return {s["label"]: s for s in seen["steps"]}


def point_in(registry_grid: dict) -> tuple[float, float]:
    ring = registry_grid["geometry"]["coordinates"][0]
    if registry_grid["geometry"]["type"] == "MultiPolygon":
        ring = ring[0]
    lons, lats = [p[0] for p in ring], [p[1] for p in ring]
    return (min(lons) + max(lons)) / 2, (min(lats) + max(lats)) / 2


def serious(step: dict) -> list:
    return [v for v in step["axe"] if v["impact"] in SERIOUS]


def run_for(proxy, worker, token) -> dict:
    import requests
    admin = token("district_admin", f"district:{worker['grid'][:6]}", sub="admin-1")
    grid = requests.get(f"{proxy['base']}/api/registry/grids/{worker['grid']}", headers=admin,
                        timeout=10)
    assert grid.status_code == 200, grid.text
    lon, lat = point_in(grid.json())
    return {"base": proxy["base"], "login": worker["login"], "password": worker["password"],
            "lon": lon, "lat": lat}


def test_a_report_made_offline_is_filed_once_with_its_photo(proxy, worker, token, db_engine):
    steps = steps_of(drive(APP, run_for(proxy, worker, token), "offline_report"))

    assert steps["signin"]["lang"] == "zh-CN" and "登录" in steps["signin"]["text"]
    assert steps["home"]["screen"] == "home" and "今日待办" in steps["home"]["text"]
    assert steps["queued"]["queued"] == "1" and "已存入待发送队列" in steps["queued"]["text"]
    reloaded = steps["reloaded_offline"]
    assert reloaded["online"] is False and reloaded["screen"] == "report"
    assert steps["sent"]["queued"] == "0" and DESCRIPTION in steps["sent"]["text"]
    assert steps["english_report"]["lang"] == "en" and "Send report" in \
        steps["english_report"]["text"]

    with db_engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT case_number, photos, reporter_sub, grid_code FROM events.cases "
            "WHERE description = :d"), {"d": DESCRIPTION}).all()
        assert len(rows) == 1, rows  # exactly once
        [case] = rows
        assert case.reporter_sub == worker["login"] and case.grid_code == worker["grid"]
        assert len(case.photos) == 1
        photo = conn.execute(sa.text(
            "SELECT content_type, size FROM events.photos WHERE sha256 = :h"),
            {"h": case.photos[0]}).one()
    assert photo.content_type == "image/jpeg"
    assert photo.size < steps["queued"]["photo_bytes"]  # compressed on the phone


def test_timeline_patrol_work_log_and_residents(proxy, worker, token, db_engine):
    reason = "核实独居老人联系方式"
    steps = steps_of(drive(APP, {**run_for(proxy, worker, token), "unmask_reason": reason},
                           "screens"))
    assert steps["reported"]["number"].startswith("GS")
    assert steps["timeline"]["steps"] >= 1 and steps["reported"]["number"] in \
        steps["timeline"]["text"]
    assert "已上报，镇（街道）已收到预警" in steps["major_event"]["text"]
    assert "已巡查" in steps["patrolling"]["text"]
    assert "已保存" in steps["me"]["text"] and "*" in steps["me"]["text"]  # masked
    with db_engine.connect() as conn:
        points = conn.execute(sa.text("SELECT count(*) FROM assessment.track_points")).scalar()
        logs = conn.execute(sa.text(
            "SELECT count(*) FROM assessment.work_logs WHERE author_sub = :s"),
            {"s": worker["login"]}).scalar()
        patrols = conn.execute(sa.text(
            "SELECT count(*) FROM assessment.patrols WHERE stopped_at IS NOT NULL")).scalar()
        major = conn.execute(sa.text(
            "SELECT count(*) FROM events.cases WHERE work_category = 'major_event' "
            "AND reporter_sub = :s"), {"s": worker["login"]}).scalar()
    # the points taken offline reached assessment exactly once (each has its own id)
    assert points == steps["patrol_stopped"]["points_sent"] >= 1
    assert logs == 1 and patrols == 1 and major == 1
    # P5.4.4: no unmasking without a reason; with one, in full, and the registry audited it
    assert "查看理由: 必填" in steps["unmask_refused"]["text"]
    assert "*" not in steps["unmasked"]["resident"]
    with db_engine.connect() as conn:
        audited = conn.execute(sa.text(
            "SELECT fields FROM registry.audit_log WHERE actor_sub = :s AND reason = :r"),
            {"s": worker["login"], "r": reason}).scalars().all()
    assert audited and set(audited[0]) >= {"id_number"}


@pytest.fixture
def departments(rabbit_config):
    """The departments' own systems (the reference adapter): report in at once and send
    their result 0.3 s later, as in tests/flow."""
    url = amqp_url(rabbit_config)
    with running(AdapterConfig(department="fire", amqp_url=url, auto_ack=True,
                               auto_result_after=0.3, **FAST), Lines()), \
            running(AdapterConfig(department="emergency_management", amqp_url=url,
                                  auto_ack=True, auto_result_after=0.3, **FAST), Lines()):
        yield


def test_a_case_reaches_the_departments_and_the_return_visit_closes_it(
        departments, proxy, worker, token, db_engine):
    """Issue 12's walk: reported on the phone, handled by the departments, back to the
    grid worker for the return visit (P5.3.3), closed; the timeline reads in words."""
    description = "楼道堆物（回访结案）"
    run = {**run_for(proxy, worker, token), "description": description}
    steps = steps_of(drive(APP, run, "return_visit"))
    todo = steps["todo"]["text"]  # the home screen's to-do, opened by a tap
    assert f"回访请求：{steps['reported']['number']}" in todo and "回访提醒" in todo
    assert "回访" in steps["visit_form"]["text"]
    closed = steps["closed"]["text"]
    assert "部门签收" in closed and "部门办结" in closed and "回访满意，结案" in closed
    assert "department_result" not in closed and "return_visit" not in closed  # names
    with db_engine.connect() as conn:
        state = conn.execute(sa.text(
            "SELECT state FROM dispatch.cases WHERE case_number = :n"),
            {"n": steps["closed"]["number"]}).scalar()
    assert state == "closed"

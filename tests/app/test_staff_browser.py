"""The staff page of the desk (issue 14; P5.1.5 recruited by the community, reviewed and
hired by the town; issue 12: a password reset by the level above) in a real browser,
through the real reverse proxy and services: people and places by name, only the steps
the registry allows offered, the temporary password shown once and good for signing in.
axe-core finds no serious violation on any screen; zh-CN, then en."""

from __future__ import annotations

import requests
import sqlalchemy as sa

from gridgov_common.platform.db import make_engine, transaction
from services.registry import accounts
from tests.app.conftest import PASSWORD
from tests.app.test_app_browser import drive, steps_of

NEW_LOGIN = "ngw-zhao-xinmin"
NEW_NAME = "赵新民"


def _with_password(db_url: str, role: str, scope_code: str) -> dict:
    """The demo staff member holding ``role`` over ``scope_code``, with a password."""
    engine = make_engine(db_url)
    try:
        with transaction(engine) as session:
            subject = session.execute(sa.text(
                "SELECT subject FROM registry.staff WHERE role = :r AND scope_code = :s "
                "AND active ORDER BY id LIMIT 1"), {"r": role, "s": scope_code}).scalar_one()
            accounts.set_password(session, subject, PASSWORD, operator="test")
    finally:
        engine.dispose()
    return {"login": subject, "password": PASSWORD}


def test_the_community_recruits_the_town_hires_and_gives_a_temporary_password(
        proxy, worker, db_engine, db_url):
    grid = worker["grid"]
    with db_engine.connect() as conn:
        grid_name = conn.execute(sa.text("SELECT name FROM registry.grids WHERE grid_code = :g"),
                                 {"g": grid}).scalar_one()
    run = {"base": proxy["base"], "name": NEW_NAME, "login": NEW_LOGIN, "grid_name": grid_name,
           "chief": _with_password(db_url, "community_grid_chief", grid[:12]),
           "town": _with_password(db_url, "town_grid_chief", grid[:9])}
    steps = steps_of(drive("tests.app.playwright_staff", run))

    listed = steps["community_list"]["text"]
    assert "人员管理" in listed and "网格员" in listed and grid_name in listed
    row = steps["recruited"]["row"]  # the new person's row: names, not codes
    assert NEW_NAME in row and grid_name in row and "已招录，待审核" in row and NEW_LOGIN in row
    assert grid not in row and "neighbourhood_grid_worker" not in row and "recruited" not in row
    assert "已聘用，待备案" in steps["hired"]["text"]
    assert "Hired, awaiting filing" in steps["english"]["text"]
    assert steps["english"]["lang"] == "en"

    with db_engine.connect() as conn:
        made = conn.execute(sa.text(
            "SELECT role, scope_code, lifecycle_state FROM registry.staff "
            "WHERE subject = :s"), {"s": NEW_LOGIN}).one()
        steps_taken = conn.execute(sa.text(
            "SELECT t.action, t.actor_role FROM registry.staff_transitions t "
            "JOIN registry.staff s ON s.id = t.staff_id WHERE s.subject = :s ORDER BY t.id"),
            {"s": NEW_LOGIN}).all()
    assert tuple(made) == ("neighbourhood_grid_worker", grid, "hired")
    assert [tuple(s) for s in steps_taken] == [("review", "town_grid_chief"),
                                               ("hire", "town_grid_chief")]

    # the temporary password is good only to choose one's own, which then signs in
    temporary = steps["temporary"]["password"]
    assert len(temporary) >= 12 and temporary not in steps["english"]["text"]
    base = f"{proxy['base']}/api/registry/auth"
    refused = requests.post(f"{base}/sign-in", timeout=10,
                            json={"login": NEW_LOGIN, "password": temporary})
    assert refused.status_code == 403, refused.text
    assert refused.json()["error"]["code"] == "password_change_required"
    own = "Zhao-Xinmin-2026"
    changed = requests.post(f"{base}/password", timeout=10, json={
        "login": NEW_LOGIN, "password": temporary, "new_password": own})
    assert changed.status_code in (200, 204), changed.text
    signed = requests.post(f"{base}/sign-in", timeout=10,
                           json={"login": NEW_LOGIN, "password": own})
    assert signed.status_code == 200, signed.text

"""The supervision cards' list (督办, P6.2; issue 14) on a real broker and database: the
timer raises escalations for a department that did not sign for in time, and the town grid
chief of the case's town reads them with names and what happened since; another town's
chief reads none, a grid worker may not ask, the query is validated.  Cards issued by hand
(issue 14): stored with their issuer, in the case file under the issuer, announced as the
timer's are (``dispatch.escalation``), numbered per case; scoped, validated and refused on
a case no longer open."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from services.dispatch.models import case_file, cases, departments, escalations
from services.dispatch.service import DispatchService
from tests.amqp import wait_until
from tests.dispatch.conftest import received
from tests.dispatch.test_escalation import (  # noqa: F401 (a fixture)
    ESC_SINK,
    FAR_PAST,
    _dispatch_case,
    _move_due,
    esc_sink,
)

TOWN = "320505001"


@pytest.fixture
def timer_dispatch(container_factory, service_config, clean_db, esc_sink):  # noqa: F811
    container = container_factory(DispatchService,
                                  service_config("dispatch", ESCALATION_POLL_SECONDS=0.2))
    container.start()
    return container


def _raised(db_engine, case_id: str) -> list[dict]:
    with db_engine.connect() as conn:
        return [dict(r) for r in conn.execute(sa.select(escalations).where(
            escalations.c.case_id == case_id, escalations.c.department == "fire"))
            .mappings()]


def test_the_town_reads_the_cards_of_its_cases_with_names(
        timer_dispatch, esc_sink, db_engine, web_session, token):  # noqa: F811
    with db_engine.begin() as conn:  # the register as dispatch follows it
        conn.execute(sa.insert(departments).values(
            code="fire", name_zh="消防", name_en="Fire and Rescue", active=True,
            updated_at=datetime.now(UTC)))
    case_id, fire, _ = _dispatch_case(esc_sink)
    _move_due(db_engine, case_id, fire["assignment_id"], ack_due_at=FAR_PAST)
    raised = wait_until(lambda: _raised(db_engine, case_id), 20.0)
    assert {r["kind"] for r in raised} == {"ack_timeout"}

    chief = token("town_grid_chief", f"town:{TOWN}", sub="chief-1")
    listed = web_session.get("/supervision-cards", headers=chief)
    assert listed.status_code == 200, listed.text
    mine = [c for c in listed.json() if c["case_id"] == case_id and c["department"] == "fire"]
    assert len(mine) == len(raised) and mine[0]["level"] == max(r["level"] for r in raised)
    card = mine[-1]
    assert (card["kind"], card["assignment_id"], card["assignment_state"]) == (
        "ack_timeout", fire["assignment_id"], "sent")  # nobody signed for it since
    assert card["department_name"] == {"zh-CN": "消防", "en": "Fire and Rescue"}
    assert card["case_number"] == fire["case_number"] and card["case_state"] == "dispatched"
    assert card["card"] == raised[0]["card"] and "消防" in card["reason"]
    ats = [c["at"] for c in listed.json()]
    assert ats == sorted(ats, reverse=True)  # newest first

    only = web_session.get("/supervision-cards?kind=overdue", headers=chief)
    assert only.status_code == 200 and only.json() == []
    other = token("town_grid_chief", "town:320505002", sub="chief-2")
    assert web_session.get("/supervision-cards", headers=other).json() == []
    bad = web_session.get("/supervision-cards?card=purple", headers=chief)
    assert bad.status_code == 422 and "card" in bad.json()["error"]["fields"]
    worker = token("neighbourhood_grid_worker", f"grid:{TOWN}001001", sub="w-1")
    assert web_session.get("/supervision-cards", headers=worker).status_code == 403


def _entries(db_engine, case_id: str) -> list[dict]:
    with db_engine.connect() as conn:
        return [row.entry for row in conn.execute(
            sa.select(case_file.c.entry).where(case_file.c.case_id == case_id)
            .order_by(case_file.c.seq))]


def test_a_card_issued_by_hand_is_stored_filed_and_announced(
        dispatch, esc_sink, db_engine, web_session, token):  # noqa: F811
    case_id, fire, _ = _dispatch_case(esc_sink)
    admin = token("district_admin", "district:320505", sub="admin-1")
    chief = token("town_grid_chief", f"town:{TOWN}", sub="chief-1")
    actions = web_session.get(f"/cases/{case_id}/actions", headers=chief).json()
    assert actions["supervise"] is True
    community = token("community_grid_chief", f"community:{TOWN}001", sub="cgc-1")
    assert web_session.get(f"/cases/{case_id}/actions",
                           headers=community).json()["supervise"] is False

    body = {"reason": "请消防当日内处置并反馈", "card": "red"}
    issued = web_session.post(f"/cases/{case_id}/supervision-cards", json=body,
                              headers=admin)
    assert issued.status_code == 201, issued.text
    card = issued.json()
    assert (card["kind"], card["card"], card["level"], card["issued_by"],
            card["issued_role"]) == ("manual", "red", 1, "admin-1", "district_admin")
    assert (card["department"], card["assignment_id"]) == ("fire", fire["assignment_id"])
    assert card["reason"] == body["reason"] and card["case_number"] == fire["case_number"]

    [(key, message)] = received(esc_sink, ESC_SINK)  # the timer's path: outbox → notify
    assert key == "dispatch.escalation" and message["type"] == "dispatch.escalation"
    p = message["payload"]
    assert (p["kind"], p["card"], p["level"], p["department"], p["reason"]) == (
        "manual", "red", 1, "fire", body["reason"])
    assert p["target_role"] in {"town_grid_chief", "district_admin", "community_grid_chief"}

    [entry] = [e for e in _entries(db_engine, case_id) if e["action"] == "escalation"]
    assert (entry["actor_sub"], entry["actor_role"]) == ("admin-1", "district_admin")
    assert entry["data"]["kind"] == "manual" and entry["data"]["card"] == "red"
    assert entry["reason"] == body["reason"]

    again = web_session.post(f"/cases/{case_id}/supervision-cards",
                             json={"reason": "再次督办", "card": "yellow"}, headers=chief)
    assert again.status_code == 201 and again.json()["level"] == 2
    listed = web_session.get("/supervision-cards?kind=manual", headers=chief).json()
    assert [(c["level"], c["issued_by"]) for c in listed] == [(2, "chief-1"), (1, "admin-1")]


def test_issuing_a_card_is_scoped_validated_and_only_on_open_cases(
        dispatch, esc_sink, db_engine, web_session, token):  # noqa: F811
    case_id, _, _ = _dispatch_case(esc_sink)
    url = f"/cases/{case_id}/supervision-cards"
    body = {"reason": "限期办结", "card": "yellow"}
    other = token("town_grid_chief", "town:320505002", sub="chief-2")
    assert web_session.post(url, json=body, headers=other).status_code == 404
    community = token("community_grid_chief", f"community:{TOWN}001", sub="cgc-1")
    assert web_session.post(url, json=body, headers=community).status_code == 403
    chief = token("town_grid_chief", f"town:{TOWN}", sub="chief-1")
    blank = web_session.post(url, json={"reason": "  ", "card": "purple"}, headers=chief)
    assert blank.status_code == 422
    assert set(blank.json()["error"]["fields"]) == {"reason", "card"}
    nobody = web_session.post(url, json={**body, "department": "water"}, headers=chief)
    assert nobody.status_code == 422
    assert nobody.json()["error"]["fields"] == {
        "department": ["no active assignment on this case"]}
    with db_engine.begin() as conn:
        conn.execute(sa.update(cases).where(cases.c.case_id == case_id)
                     .values(state="closed"))
    closed = web_session.post(url, json=body, headers=chief)
    assert closed.status_code == 409 and closed.json()["error"]["code"] == "case_not_open"
    with db_engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(escalations).where(
            escalations.c.case_id == case_id)).scalar_one() == 0

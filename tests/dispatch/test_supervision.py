"""The supervision cards' list (督办, P6.2; issue 14) on a real broker and database: the
timer raises escalations for a department that did not sign for in time, and the town grid
chief of the case's town reads them with names and what happened since; another town's
chief reads none, a grid worker may not ask, the query is validated."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from services.dispatch.models import departments, escalations
from services.dispatch.service import DispatchService
from tests.amqp import wait_until
from tests.dispatch.test_escalation import (  # noqa: F401 (a fixture)
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

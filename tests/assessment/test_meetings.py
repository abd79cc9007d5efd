"""Meetings on the real service and broker (P5.4.5): who convenes which meeting, the
frequency rules per period, and reminders published through the outbox once."""

from __future__ import annotations

import json
from datetime import date, datetime

import sqlalchemy as sa

from services.assessment.compliance import TZ
from services.assessment.domain.meeting_rules import RULE_BY_KIND, period_of
from tests.amqp import bind_queue, drain, wait_until
from tests.assessment.conftest import COMMUNITY

WORKER = ("community_grid_worker", f"community:{COMMUNITY}")
CHIEF = ("community_grid_chief", f"community:{COMMUNITY}")
INSTRUCTOR = ("grid_instructor", f"community:{COMMUNITY}")


def meeting(kind: str, held_on: date | str, attendees=("n1", "n2")) -> dict:
    return {"kind": kind, "held_on": str(held_on), "attendees": list(attendees),
            "minutes": "Reviewed the week's disputes and the fire-lane hazards."}


def test_periods_follow_the_rules():
    assert period_of(RULE_BY_KIND["instructor"], date(2026, 11, 29)) == (date(2026, 10, 1),
                                                                         date(2026, 12, 31))
    assert period_of(RULE_BY_KIND["community_chief"], date(2026, 12, 5)) == (
        date(2026, 12, 1), date(2026, 12, 31))
    assert period_of(RULE_BY_KIND["community_worker"], date(2027, 2, 10)) == (
        date(2027, 2, 1), date(2027, 2, 28))


def test_meeting_rules_per_period(assessment, web_session, token):
    worker, chief = token(*WORKER, sub="cw"), token(*CHIEF, sub="cc")
    posts = [web_session.post("/meetings", json=body, headers=headers) for body, headers in (
        (meeting("community_worker", "2026-11-03"), worker),
        (meeting("emergency", "2026-11-04"), worker),  # any time, counts towards no rule
        (meeting("community_chief", "2026-11-05"), chief),
        (meeting("instructor", "2026-11-06"), chief),  # not the chief's meeting
        (meeting("community_worker", "2026-10-30"), worker))]  # last month
    assert [p.status_code for p in posts] == [201, 201, 201, 403, 201]
    web_session.post("/meetings", json=meeting("emergency", "2026-11-07"),
                     headers=token(*INSTRUCTOR, sub="gi"))

    first = web_session.get("/compliance/meetings?period=2026-11", headers=chief).json()
    web_session.post("/meetings", json=meeting("community_worker", "2026-11-20"), headers=worker)
    second = web_session.get("/compliance/meetings?period=2026-11", headers=chief).json()

    standing = {(p["staff_sub"], p["rule"]): (p["held"], p["required"], p["met"])
                for p in first["people"]}
    assert standing == {("cw", "community_worker"): (1, 2, False),
                        ("cc", "community_chief"): (1, 1, True),
                        ("gi", "instructor"): (0, 1, False)}
    assert {(p["staff_sub"], p["met"]) for p in second["people"]} >= {("cw", True)}
    listed = web_session.get("/meetings?since=2026-11-01", headers=chief).json()
    assert sorted(m["kind"] for m in listed) == ["community_chief", "community_worker",
                                                 "community_worker", "emergency", "emergency"]


def test_meeting_body_is_validated(assessment, web_session, token):
    response = web_session.post("/meetings", json={"kind": "party", "held_on": "2026-13-01"},
                                headers=token(*WORKER, sub="cw"))

    assert response.status_code == 422
    assert {"kind", "held_on", "attendees", "minutes"} <= set(response.json()["error"]["fields"])


def test_reminder_published_once_through_the_outbox(start_assessment, web_session, token,
                                                    rabbit_config, db_engine):
    uri = rabbit_config["AMQP_URI"]
    bind_queue(uri, "reminders", "gridgov.events", ["assessment.#"])
    start_assessment(MEETING_REMINDER_SECONDS=0.2, MEETING_REMINDER_DAYS=400)
    today = datetime.now(TZ).date()
    web_session.post("/meetings", json=meeting("community_worker", today),
                     headers=token(*WORKER, sub="cw"))
    web_session.post("/meetings", json=meeting("community_chief", today),
                     headers=token(*CHIEF, sub="cc"))  # rule met: no reminder

    (routing_key, body), = [(m.routing_key, json.loads(b))
                            for m, _p, b in drain(uri, "reminders", expect=1)]

    assert routing_key == "assessment.meeting.reminder"
    assert body["payload"] | {"period_start": None, "period_end": None} == {
        "staff_sub": "cw", "role": "community_grid_worker", "scope": f"community:{COMMUNITY}",
        "rule": "community_worker", "clause": "P5.4.5", "required": 2, "held": 1,
        "period_start": None, "period_end": None}

    def sent() -> list:
        with db_engine.connect() as conn:
            return conn.execute(sa.text(
                "SELECT convener_sub, kind FROM assessment.meeting_reminders")).all()

    assert wait_until(lambda: len(sent()) == 1) and sent() == [("cw", "community_worker")]

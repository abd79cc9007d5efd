"""The department workbench over HTTP (issue 14; P2.2, P5.3.2–P5.3.3) on the real broker and
database: an officer signs for (ack), reports a result with photos and asks for more time
through the same path as a department's system on the bus; both channels mix on one case
without acting twice, a retried action is applied once, and the case file says who acted
and how. Refusals are the bus's own rules, answered at once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.dispatch import place_names
from tests.amqp import wait_until
from tests.dispatch.conftest import report_envelope, send_report
from tests.dispatch.test_actions import (
    FIRE_CASE,
    assignment_rows,
    entries,
    file_case,
    people,
    row,
)

PHOTO = "ab" * 32


def workbench(web_session, headers, expect=200, **query):
    response = web_session.get("/assignments", headers=headers, params=query)
    assert response.status_code == expect, response.text
    return response.json()


def act(web_session, headers, assignment_id, expect=200, **body):
    response = web_session.post(f"/assignments/{assignment_id}/reports", headers=headers,
                                json=body)
    assert response.status_code == expect, response.text
    return response.json()


def test_an_officer_signs_for_and_reports_beside_a_department_on_the_bus(
        dispatch, sinks, db_engine, web_session, token):
    who = people(token)
    em = token("department_officer", "department:emergency_management", sub="em-officer")
    case_id = file_case(sinks, db_engine, "dispatched", **FIRE_CASE)
    fire_assignment, em_assignment = assignment_rows(db_engine, case_id)
    assert (fire_assignment["department"], em_assignment["department"]) == (
        "fire", "emergency_management")

    place_names.forget()  # names an earlier test cached in this process (no registry here)
    todo = workbench(web_session, who["fire"])
    assert [a["assignment_id"] for a in todo] == [str(fire_assignment["assignment_id"])]
    first = todo[0]
    assert first["case_id"] == case_id and first["state"] == "sent"
    assert first["next_due_at"] is not None and first["seconds_left"] > 0
    assert first["overdue"] is False and first["subcategory"] == "fire_hazard_corridor"
    # no registry runs here and no catalogue was published: the codes stay, nothing fails
    assert first["subcategory_name"] is None
    assert first["place"] == {"town": None, "community": None, "grid": None}

    fire_id = str(fire_assignment["assignment_id"])
    signed = act(web_session, who["fire"], fire_id, kind="ack", client_ref="sign-1",
                 department_ref="XF-2026-0042")
    assert (signed["state"], signed["case_state"], signed["replayed"]) == (
        "acked", "in_progress", False)
    again = act(web_session, who["fire"], fire_id, kind="ack", client_ref="sign-1")
    assert again["replayed"] is True and again["state"] == "acked"

    # the assisting department answers from its own system, on the bus
    em_row = {**em_assignment, "assignment_id": str(em_assignment["assignment_id"]),
              "case_id": case_id}
    send_report(sinks, report_envelope(em_row, "ack"))
    assert wait_until(lambda: assignment_rows(db_engine, case_id)[1]["state"] == "acked")

    act(web_session, who["fire"], fire_id, kind="progress", note="通道杂物已清理一半")
    done = act(web_session, who["fire"], fire_id, kind="result", resolved=True,
               note="通道已清空，已复查", photos=[PHOTO])
    assert done["state"] == "reported" and done["case_state"] == "in_progress"
    send_report(sinks, report_envelope(em_row, "result", resolved=True, note="已复核"))
    assert wait_until(lambda: row(db_engine, case_id)["state"] == "resolved")

    file = entries(db_engine, case_id)
    by_action = [(e["action"], e["data"].get("channel"), e["data"].get("officer"))
                 for e in file if e["action"] in ("ack", "progress", "department_result")]
    assert by_action == [
        ("ack", "workbench", "fire-officer"), ("ack", "amqp", None),
        ("progress", "workbench", "fire-officer"),
        ("department_result", "workbench", "fire-officer"),
        ("department_result", "amqp", None)]
    result = next(e for e in file if e["action"] == "department_result"
                  and e["data"]["channel"] == "workbench")
    assert result["data"]["photos"] == [PHOTO]
    assert [e["actor_sub"] for e in file if e["action"] == "ack"] == [
        "fire", "emergency_management"]
    assert workbench(web_session, em, state="reported")[0]["assignment_id"] == str(
        em_assignment["assignment_id"])


def test_refusals_are_the_bus_rules_answered_at_once(dispatch, sinks, db_engine, web_session,
                                                     token):
    who = people(token)
    case_id = file_case(sinks, db_engine, "dispatched", **FIRE_CASE)
    fire_assignment, em_assignment = assignment_rows(db_engine, case_id)
    fire_id, em_id = str(fire_assignment["assignment_id"]), str(em_assignment["assignment_id"])

    # the lead's result before it signed for the case: refused now (no waiting for an ack
    # that the bus might still deliver: a person acts in order)
    early = act(web_session, who["fire"], fire_id, expect=409, kind="result", resolved=True,
                note="done")
    assert early["error"]["code"] == "wrong_state"
    # a result must say whether it resolved the case: the contract's rule
    vague = act(web_session, who["fire"], fire_id, expect=422, kind="result", note="done")
    assert "resolved" in vague["error"]["fields"]
    # another department's assignment is not there at all; a grid worker has no workbench
    act(web_session, who["fire"], em_id, expect=404, kind="ack")
    act(web_session, who["worker"], fire_id, expect=403, kind="ack")
    workbench(web_session, who["worker"], expect=403)

    act(web_session, who["fire"], fire_id, kind="ack")
    sooner = fire_assignment["handle_due_at"] - timedelta(hours=1)
    refused = act(web_session, who["fire"], fire_id, expect=409, kind="delay_request",
                  reason="需要协调物业", requested_due_at=sooner.isoformat())
    assert refused["error"]["code"] == "due_not_later"
    later = fire_assignment["handle_due_at"] + timedelta(days=2)
    act(web_session, who["fire"], fire_id, kind="delay_request", reason="需要协调物业",
        requested_due_at=later.isoformat())
    pending = web_session.get("/delay-requests", headers=who["tchief"]).json()
    assert [(r["assignment_id"], r["state"]) for r in pending] == [(fire_id, "pending")]

    # refused actions left nothing in the case file; the accepted ones did
    actions = [e["action"] for e in entries(db_engine, case_id)
               if e["data"].get("channel") == "workbench"]
    assert actions == ["ack", "delay_requested"]
    assert row(db_engine, case_id)["state"] == "in_progress"


def test_the_lead_returns_the_case_from_the_workbench(dispatch, sinks, db_engine, web_session,
                                                      token):
    who = people(token)
    case_id = file_case(sinks, db_engine, "dispatched", **FIRE_CASE)
    fire_id = str(assignment_rows(db_engine, case_id)[0]["assignment_id"])
    back = act(web_session, who["fire"], fire_id, kind="return",
               reason="不属消防职责：系物业管理问题")
    assert (back["state"], back["case_state"]) == ("returned", "filed")
    assert [a["state"] for a in assignment_rows(db_engine, case_id)] == ["returned",
                                                                         "withdrawn"]
    returned = next(e for e in entries(db_engine, case_id)
                    if e["action"] == "department_return")
    assert returned["reason"].startswith("不属消防职责")
    assert returned["data"]["channel"] == "workbench"
    assert datetime.fromisoformat(returned["at"]) <= datetime.now(UTC)

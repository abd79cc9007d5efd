"""People acting on cases over HTTP (P5.3.1–P5.3.3, P5.2.1, P2.2) on a real broker and
database: manual triage (local, dispatch by hand, report up, assign down), re-triage of a
returned case, the result of local handling, the return visit closing a case or ordering
its rework (new assignments with ``rework`` = 1), suspension and resumption, cancellation,
and the state machine's refusals as 409s; a case outside the caller's scope is a 404."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa

from services.dispatch.models import assignments, case_file, cases
from tests.amqp import bind_queue, publish, wait_until
from tests.dispatch.conftest import (
    DISTRICT,
    EM_SINK,
    EVENTS_SINK,
    FIRE_SINK,
    received,
    report_envelope,
    reported_envelope,
    send_report,
)

TOWN = "320505001"
COMMUNITY = TOWN + "001"
GRID = COMMUNITY + "003"  # the sample case's grid
FIRE_CASE = {"work_category": "public_security_prevention",
             "subcategory": "fire_hazard_corridor"}  # fire leads, emergency management assists
COMMUNITY_CASE = {"work_category": "other", "subcategory": "lost_property"}  # own level
GRID_CASE = {"work_category": "public_opinion", "subcategory": "residents_views"}  # grid


# --- helpers (also used by test_case_queries) ----------------------------------------------

def row(db_engine, case_id):
    with db_engine.connect() as conn:
        return conn.execute(sa.select(cases).where(cases.c.case_id == case_id)) \
            .mappings().first()


def assignment_rows(db_engine, case_id):
    with db_engine.connect() as conn:
        return [dict(r) for r in conn.execute(
            sa.select(assignments).where(assignments.c.case_id == case_id)
            .order_by(assignments.c.sent_at, assignments.c.role.desc())).mappings()]


def entries(db_engine, case_id):
    with db_engine.connect() as conn:
        return [r.entry for r in conn.execute(sa.select(case_file.c.entry).where(
            case_file.c.case_id == case_id).order_by(case_file.c.seq))]


def file_case(uri, db_engine, state, **payload) -> str:
    """Report a case (as the events service does) and wait until dispatch triaged it."""
    envelope = reported_envelope(**payload)
    publish(uri, "gridgov.events", "events.case.reported", envelope)
    case_id = envelope["payload"]["case_id"]
    assert wait_until(lambda: (row(db_engine, case_id) or {}).get("state") == state)
    return case_id


def people(token):
    return {
        "worker": token("neighbourhood_grid_worker", f"grid:{GRID}", sub="worker-1"),
        "cworker": token("community_grid_worker", f"community:{COMMUNITY}", sub="cw-1"),
        "cchief": token("community_grid_chief", f"community:{COMMUNITY}", sub="cchief-1"),
        "tchief": token("town_grid_chief", f"town:{TOWN}", sub="tchief-1"),
        "admin": token("district_admin", f"district:{DISTRICT}", sub="admin-1"),
        "fire": token("department_officer", "department:fire", sub="fire-officer"),
        "stranger": token("community_grid_chief", f"community:{TOWN}002", sub="other-chief"),
    }


def act(web_session, headers, case_id, action, expect=200, **body):
    response = web_session.post(f"/cases/{case_id}/{action}", headers=headers, json=body)
    assert response.status_code == expect, response.text
    return response.json()


def filed_again(web_session, who, case_id):
    """Suspend (挂账) and resume a case: it is ``filed`` again, waiting for a person."""
    act(web_session, who["tchief"], case_id, "suspend", reason="等待业主委员会改选")
    return act(web_session, who["tchief"], case_id, "resume", reason="业委会已改选")


def assignments_sent(uri, queue, expect):
    return [body["payload"] for _, body in received(uri, queue, expect=expect)]


def result_from(uri, assignment, **extra):
    send_report(uri, report_envelope(assignment, "result", resolved=True, **extra))


# --- triage by a person (P5.3.2) -----------------------------------------------------------

def test_local_triage_local_result_and_return_visit_close_the_case(
        dispatch, sinks, db_engine, web_session, token):
    who = people(token)
    case_id = file_case(sinks, db_engine, "handling_local", **COMMUNITY_CASE)
    assert filed_again(web_session, who, case_id)["state"] == "filed"
    case = act(web_session, who["cchief"], case_id, "triage", outcome="local",
               reason="社区自行调解")
    assert (case["state"], case["handled_locally"]) == ("handling_local", True)
    assert datetime.fromisoformat(case["handle_due_at"]) > datetime.now(UTC)
    last = entries(db_engine, case_id)[-1]
    assert (last["action"], last["actor_sub"], last["actor_role"]) == (
        "triage_local", "cchief-1", "community_grid_chief")
    assert (last["from_state"], last["to_state"]) == ("filed", "handling_local")
    assert last["deadline"] is not None and last["reason"] == "社区自行调解"

    case = act(web_session, who["worker"], case_id, "local-result", note="已找回失物",
               resolved=True)
    assert case["state"] == "resolved" and case["resolved_at"]
    assert entries(db_engine, case_id)[-1]["on_time"] is True
    case = act(web_session, who["worker"], case_id, "return-visit", satisfied=True,
               satisfaction=5, method="visit")
    assert (case["state"], case["satisfaction"]) == ("closed", 5)
    assert row(db_engine, case_id)["closed_at"] is not None
    changes = [body["payload"] for _, body in received(sinks, EVENTS_SINK, expect=7)]
    assert [c["to_state"] for c in changes][-4:] == [
        "filed", "handling_local", "resolved", "closed"]
    assert changes[-1]["actor_role"] == "neighbourhood_grid_worker"


def test_dispatch_by_hand_to_a_lead_and_an_assist(dispatch, sinks, db_engine, web_session,
                                                  token):
    who = people(token)
    case_id = file_case(sinks, db_engine, "handling_local", **COMMUNITY_CASE)
    filed_again(web_session, who, case_id)
    refused = web_session.post(f"/cases/{case_id}/triage", headers=who["tchief"],
                               json={"outcome": "dispatch"})  # the local rule names nobody
    assert refused.status_code == 422 and "lead" in refused.json()["error"]["fields"]
    unknown = web_session.post(f"/cases/{case_id}/triage", headers=who["tchief"],
                               json={"outcome": "dispatch", "lead": "no_such_bureau"})
    assert unknown.status_code == 422
    assert unknown.json()["error"]["code"] == "unknown_department"
    case = act(web_session, who["tchief"], case_id, "triage", outcome="dispatch",
               lead="emergency_management", assist=["fire"], reason="楼道堆物涉及消防")
    assert case["state"] == "dispatched" and case["handled_locally"] is False
    assert [(a["department"], a["role"]) for a in case["assignments"]] == [
        ("emergency_management", "lead"), ("fire", "assist")]
    [em] = assignments_sent(sinks, EM_SINK, 1)
    [fire] = assignments_sent(sinks, FIRE_SINK, 1)
    assert (em["role"], fire["role"], em["rework"]) == ("lead", "assist", 0)
    assert em["case_id"] == case_id and em["handle_due_at"] == fire["handle_due_at"]
    last = entries(db_engine, case_id)[-1]
    assert last["action"] == "dispatch" and last["data"]["chosen_by"] == "person"
    assert {n["department"] for n in last["notifications"]} == {"emergency_management", "fire"}


def test_report_up_level_by_level_and_assign_down(dispatch, sinks, db_engine, web_session,
                                                  token):
    who = people(token)
    case_id = file_case(sinks, db_engine, "handling_local", **GRID_CASE)
    assert row(db_engine, case_id)["handling_level"] == "grid"
    filed_again(web_session, who, case_id)
    no_reason = web_session.post(f"/cases/{case_id}/triage", headers=who["cworker"],
                                 json={"outcome": "report_up"})
    assert no_reason.status_code == 422 and "reason" in no_reason.json()["error"]["fields"]
    case = act(web_session, who["cworker"], case_id, "triage", outcome="report_up",
               reason="网格内无法协调")
    assert (case["state"], case["handling_level"]) == ("filed", "community")
    case = act(web_session, who["cchief"], case_id, "triage", outcome="report_up",
               reason="需街道协调多个小区")
    assert case["handling_level"] == "town"
    below = web_session.post(f"/cases/{case_id}/triage", headers=who["cchief"],
                             json={"outcome": "local", "reason": "社区自行处理"})
    assert below.status_code == 409  # P5.3.2: out of the community's hands now
    assert below.json()["error"]["fields"]["code"] == "below_handling_level"
    buttons = web_session.get(f"/cases/{case_id}/actions", headers=who["tchief"]).json()
    assert {"dispatch", "report_up", "assign_down", "cancel"} <= set(buttons["transitions"])
    case = act(web_session, who["tchief"], case_id, "triage", outcome="assign_down",
               reason="交社区办理")
    assert case["handling_level"] == "community"
    moves = [(e["action"], e["data"].get("from_level"), e["data"].get("to_level"))
             for e in entries(db_engine, case_id)[-3:]]
    assert moves == [("report_up", "grid", "community"), ("report_up", "community", "town"),
                     ("assign_down", "town", "community")]


def test_returned_case_is_retriaged_to_another_department(dispatch, sinks, db_engine,
                                                          web_session, token):
    who = people(token)
    case_id = file_case(sinks, db_engine, "dispatched", **FIRE_CASE)
    [fire] = assignments_sent(sinks, FIRE_SINK, 1)
    assignments_sent(sinks, EM_SINK, 1)
    send_report(sinks, report_envelope(fire, "return", reason="不属于消防职责"))
    assert wait_until(lambda: row(db_engine, case_id)["state"] == "filed")
    assert row(db_engine, case_id)["return_count"] == 1
    officer = web_session.post(f"/cases/{case_id}/triage", headers=who["fire"],
                               json={"outcome": "dispatch", "lead": "emergency_management"})
    assert officer.status_code == 409, officer.text  # a department does not triage
    error = officer.json()["error"]
    assert error["code"] == "illegal_transition"
    assert error["fields"]["code"] == "actor_not_allowed" and "department" in error["message"]

    act(web_session, who["tchief"], case_id, "triage", outcome="dispatch",
        lead="emergency_management", reason="安全隐患由应急管理牵头")
    [em] = assignments_sent(sinks, EM_SINK, 1)
    assert received(sinks, FIRE_SINK, timeout=0.5) == []
    send_report(sinks, report_envelope(em, "ack"))
    assert wait_until(lambda: row(db_engine, case_id)["state"] == "in_progress")
    result_from(sinks, em)
    assert wait_until(lambda: row(db_engine, case_id)["state"] == "resolved")


# --- return visit and rework (P5.2.1, P5.3.3) ----------------------------------------------

def _resolve(uri, db_engine, case_id, lead, assist):
    for assignment in (lead, assist):
        send_report(uri, report_envelope(assignment, "ack"))
    assert wait_until(lambda: row(db_engine, case_id)["state"] == "in_progress")
    for assignment in (lead, assist):
        result_from(uri, assignment)
    assert wait_until(lambda: row(db_engine, case_id)["state"] == "resolved")


def test_unsatisfied_return_visit_sends_the_case_back_to_its_departments(
        dispatch, sinks, db_engine, web_session, token):
    who = people(token)
    case_id = file_case(sinks, db_engine, "dispatched", **FIRE_CASE)
    [fire], [em] = assignments_sent(sinks, FIRE_SINK, 1), assignments_sent(sinks, EM_SINK, 1)
    _resolve(sinks, db_engine, case_id, fire, em)

    no_note = web_session.post(f"/cases/{case_id}/return-visit", headers=who["worker"],
                               json={"satisfied": False, "satisfaction": 2, "method": "phone"})
    assert no_note.status_code == 422 and "note" in no_note.json()["error"]["fields"]
    case = act(web_session, who["worker"], case_id, "return-visit", satisfied=False,
               satisfaction=2, method="phone", note="杂物又堆回楼道")
    assert (case["state"], case["rework_count"]) == ("dispatched", 1)
    [fire2], [em2] = assignments_sent(sinks, FIRE_SINK, 1), assignments_sent(sinks, EM_SINK, 1)
    assert (fire2["role"], em2["role"]) == ("lead", "assist")
    assert fire2["rework"] == em2["rework"] == 1
    assert fire2["assignment_id"] != fire["assignment_id"]
    rows = assignment_rows(db_engine, case_id)
    assert [(r["department"], r["state"], r["rework"]) for r in rows] == [
        ("fire", "reported", 0), ("emergency_management", "reported", 0),
        ("fire", "sent", 1), ("emergency_management", "sent", 1)]
    last = entries(db_engine, case_id)[-1]
    assert (last["action"], last["reason"]) == ("return_visit_unsatisfied", "杂物又堆回楼道")

    _resolve(sinks, db_engine, case_id, fire2, em2)
    case = act(web_session, who["cchief"], case_id, "return-visit", satisfied=True,
               satisfaction=4, method="visit")
    assert (case["state"], case["rework_count"], case["satisfaction"]) == ("closed", 1, 4)


def test_unsatisfied_return_visit_of_a_local_case_reopens_local_handling(
        dispatch, sinks, db_engine, web_session, token):
    who = people(token)
    case_id = file_case(sinks, db_engine, "handling_local", **COMMUNITY_CASE)
    first_due = row(db_engine, case_id)["handle_due_at"]
    act(web_session, who["worker"], case_id, "local-result", note="已调解", resolved=True)
    case = act(web_session, who["worker"], case_id, "return-visit", satisfied=False,
               satisfaction=1, method="visit", note="双方仍有争议")
    assert (case["state"], case["rework_count"]) == ("handling_local", 1)
    # counted again from now (equal to the first when both fall outside working hours)
    assert datetime.fromisoformat(case["handle_due_at"]) >= first_due
    deadline = entries(db_engine, case_id)[-1]["deadline"].replace("Z", "+00:00")
    assert datetime.fromisoformat(deadline) == datetime.fromisoformat(case["handle_due_at"])
    assert case["assignments"] == []


# --- suspend, resume, cancel ---------------------------------------------------------------

def test_suspend_withdraws_assignments_and_resume_lets_it_be_triaged_again(
        dispatch, sinks, db_engine, web_session, token):
    who = people(token)
    case_id = file_case(sinks, db_engine, "dispatched", **FIRE_CASE)
    assignments_sent(sinks, FIRE_SINK, 1)
    assignments_sent(sinks, EM_SINK, 1)
    chief = web_session.post(f"/cases/{case_id}/suspend", headers=who["cchief"],
                             json={"reason": "暂无法解决"})
    assert chief.status_code == 409  # 挂账 needs the town's approval
    assert chief.json()["error"]["fields"]["code"] == "actor_not_allowed"
    case = act(web_session, who["tchief"], case_id, "suspend", reason="产权纠纷待法院判决")
    assert case["state"] == "suspended" and case["suspended_at"]
    assert {a["state"] for a in case["assignments"]} == {"withdrawn"}
    case = act(web_session, who["admin"], case_id, "resume")
    assert case["state"] == "filed" and case["suspended_at"] is None
    case = act(web_session, who["tchief"], case_id, "triage", outcome="dispatch")  # by rule
    assert case["state"] == "dispatched"
    assert [a["state"] for a in case["assignments"]] == ["withdrawn", "withdrawn",
                                                         "sent", "sent"]
    assert len(assignments_sent(sinks, FIRE_SINK, 1)) == 1
    assert entries(db_engine, case_id)[-1]["data"]["chosen_by"] == "rule"


def test_cancel_needs_a_reason_and_ends_the_case(dispatch, sinks, db_engine, web_session,
                                                 token):
    who = people(token)
    case_id = file_case(sinks, db_engine, "handling_local", **COMMUNITY_CASE)
    filed_again(web_session, who, case_id)
    blank = web_session.post(f"/cases/{case_id}/cancel", headers=who["cchief"],
                             json={"reason": "  "})
    assert blank.status_code == 422
    case = act(web_session, who["cchief"], case_id, "cancel", reason="重复上报，不符合立案条件")
    assert case["state"] == "cancelled" and case["cancelled_at"]
    again = web_session.post(f"/cases/{case_id}/triage", headers=who["cchief"],
                             json={"outcome": "local"})
    assert again.status_code == 409
    assert again.json()["error"]["fields"] == {
        "code": "wrong_state", "transition": "triage_local", "state": "cancelled"}


# --- refusals ------------------------------------------------------------------------------

def test_illegal_transition_is_a_409_with_the_state_machines_reason(
        dispatch, sinks, db_engine, web_session, token):
    who = people(token)
    case_id = file_case(sinks, db_engine, "handling_local", **COMMUNITY_CASE)
    filed_again(web_session, who, case_id)
    visit = web_session.post(f"/cases/{case_id}/return-visit", headers=who["worker"],
                             json={"satisfied": True, "satisfaction": 5, "method": "phone"})
    assert visit.status_code == 409, visit.text
    error = visit.json()["error"]
    assert error["code"] == "illegal_transition"
    assert error["fields"]["code"] == "wrong_state"
    assert "return_visit_satisfied" in error["message"] and "resolved" in error["message"]
    worker = web_session.post(f"/cases/{case_id}/triage", headers=who["worker"],
                              json={"outcome": "local"})
    assert worker.status_code == 409
    assert worker.json()["error"]["fields"]["code"] == "actor_not_allowed"
    admin = web_session.post(f"/cases/{case_id}/triage", headers=who["admin"],
                             json={"outcome": "assign_down"})
    assert admin.status_code == 200  # community → grid
    bottom = web_session.post(f"/cases/{case_id}/triage", headers=who["admin"],
                              json={"outcome": "assign_down"})
    assert bottom.status_code == 409
    assert bottom.json()["error"]["fields"]["code"] == "no_level_below"
    assert row(db_engine, case_id)["state"] == "filed"


def test_a_case_outside_the_callers_scope_is_not_found(dispatch, sinks, db_engine,
                                                       web_session, token):
    who = people(token)
    case_id = file_case(sinks, db_engine, "dispatched", **FIRE_CASE)
    police = token("department_officer", "department:police")
    for headers in (who["stranger"], police):
        response = web_session.post(f"/cases/{case_id}/suspend", headers=headers,
                                    json={"reason": "x"})
        assert response.status_code == 404, response.text
        assert response.json()["error"]["code"] == "unknown_case"
        assert web_session.get(f"/cases/{case_id}/actions",
                               headers=headers).status_code == 404
    assert web_session.post("/cases/not-a-uuid/cancel", headers=who["admin"],
                            json={"reason": "x"}).status_code == 404
    assert row(db_engine, case_id)["state"] == "dispatched"
    ops = token("ops_viewer", f"district:{DISTRICT}")
    assert web_session.post(f"/cases/{case_id}/suspend", headers=ops,
                            json={"reason": "x"}).status_code == 403  # reads only


def test_departments_with_an_extra_queue_get_hand_dispatched_cases(
        dispatch, sinks, db_engine, web_session, token):
    """A department named only by the rules (no default sink) gets its assignment too."""
    bind_queue(sinks, "civil-sink", "gridgov.dispatch", ["civil_affairs.#"])
    who = people(token)
    case_id = file_case(sinks, db_engine, "handling_local", **COMMUNITY_CASE)
    filed_again(web_session, who, case_id)
    act(web_session, who["tchief"], case_id, "triage", outcome="dispatch", lead="civil_affairs")
    [(key, body)] = received(sinks, "civil-sink")
    assert key == f"civil_affairs.{TOWN}.other.normal"
    assert body["payload"]["role"] == "lead"

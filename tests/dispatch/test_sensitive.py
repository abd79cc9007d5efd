"""Special-group cases (P5.2.5) in dispatch, on a real broker and database: the
``sensitive`` flag of ``events.case.reported`` v3 is stored (a v2 special-group case is
taken as sensitive); such a case is unknown (404) on every read route to the roles that may
not see special groups, and visible to the readers in scope and the departments assigned;
statistics, circular figures and digests show it only as a count."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from nameko.exceptions import RemoteError
from nameko.standalone.rpc import ServiceRpcProxy
from sqlalchemy.orm import Session

from gridgov_common.contract import load_sample
from gridgov_common.kernel.work_calendar import WorkCalendar
from services.dispatch import digests, handling
from services.dispatch.models import assignments, cases, escalations
from services.dispatch.service import DispatchService
from tests.amqp import bind_queue, drain, publish, wait_until
from tests.dispatch.conftest import DISTRICT, report_envelope, send_report
from tests.dispatch.test_actions import COMMUNITY, FIRE_CASE, GRID, TOWN, file_case, row

POLICE = "public_security"  # the default rules' lead for drug_user cases
POLICE_QUEUE, NOTIFY_QUEUE = "public-security-sink", "notify-sink"
DRUG_USER = {"work_category": "special_group_assistance", "subcategory": "drug_user",
             "description": "社区戒毒人员本月未按时报到"}
NON_READERS = {
    "neighbourhood_grid_worker": f"grid:{GRID}",
    "community_grid_worker": f"community:{COMMUNITY}",
    "town_grid_chief": f"town:{TOWN}",
    "ops_viewer": f"district:{DISTRICT}",
    "department_officer": "department:fire",
}
READERS = {
    "community_grid_chief": f"community:{COMMUNITY}",
    "grid_instructor": f"community:{COMMUNITY}",
    "district_admin": f"district:{DISTRICT}",
    "department_officer": f"department:{POLICE}",
}
READ_ROUTES = ("", "/file", "/file.html", "/file.json", "/actions")


@pytest.fixture
def police(sinks):
    bind_queue(sinks, POLICE_QUEUE, "gridgov.dispatch", [f"{POLICE}.#"])
    bind_queue(sinks, NOTIFY_QUEUE, "gridgov.events", ["notify.request"])
    return sinks


def next_of_kind(uri, queue, kind, timeout=10.0):
    """The next notify.request of ``kind`` on ``queue`` (others are dropped)."""
    def found():
        for _, _, body in drain(uri, queue, expect=1, timeout=0.5):
            payload = json.loads(body)["payload"]
            if payload["kind"] == kind:
                return payload
        return None
    return wait_until(found, timeout=timeout)


def file_v3(uri, db_engine, state, sensitive, **payload) -> str:
    """Report a case as the events service does now (v3) and wait for its triage."""
    envelope = load_sample("events.case.reported", 3)
    envelope["message_id"] = str(uuid.uuid4())
    envelope["payload"].update({"case_id": str(uuid.uuid4()), "sensitive": sensitive,
                                **payload})
    publish(uri, "gridgov.events", "events.case.reported", envelope)
    case_id = envelope["payload"]["case_id"]
    assert wait_until(lambda: (row(db_engine, case_id) or {}).get("state") == state)
    return case_id


def test_sensitive_case_only_for_readers_in_scope_and_assigned_departments(
        dispatch, police, web_session, token, db_engine, rabbit_config):
    secret = file_v3(police, db_engine, "dispatched", True, case_number="GS20261128-000201",
                     **DRUG_USER)
    ordinary = file_v3(police, db_engine, "dispatched", False,
                       case_number="GS20261128-000202", **FIRE_CASE)
    assert row(db_engine, secret)["sensitive"] is True
    assert row(db_engine, ordinary)["sensitive"] is False

    for role, scope in NON_READERS.items():
        who = token(role, scope, sub=f"{role}-1")
        for route in READ_ROUTES:
            got = web_session.get(f"/cases/{secret}{route}", headers=who)
            assert got.status_code == 404, (role, route, got.text)
            assert got.json()["error"]["code"] == "unknown_case"
        listed = web_session.get("/cases", headers=who).json()
        assert secret not in {item["case_id"] for item in listed["items"]}, role
        assert web_session.get("/cases", headers=who, params={
            "work_category": "special_group_assistance"}).json()["total"] == 0, role
    chief = token("town_grid_chief", f"town:{TOWN}")
    assert web_session.post(f"/cases/{secret}/suspend", headers=chief,
                            json={"reason": "等待上级协调"}).status_code == 404
    with ServiceRpcProxy("dispatch", rabbit_config) as rpc:
        with pytest.raises(RemoteError) as refused:
            rpc.get_case(secret, "town_grid_chief", f"town:{TOWN}")
        assert refused.value.exc_type == "NotFound"
        assert rpc.get_case(secret, "grid_instructor", f"community:{COMMUNITY}")[
            "subcategory"] == "drug_user"

    for role, scope in READERS.items():
        who = token(role, scope, sub=f"{role}-1")
        for route in READ_ROUTES:
            got = web_session.get(f"/cases/{secret}{route}", headers=who)
            assert got.status_code == 200, (role, route, got.text)
        listed = web_session.get("/cases", headers=who).json()
        assert secret in {item["case_id"] for item in listed["items"]}, role
    # a reader of another community is held by the scope as for any case
    other = token("community_grid_chief", f"community:{TOWN}002", sub="other-chief")
    assert web_session.get(f"/cases/{secret}", headers=other).status_code == 404

    # its return visit is asked of the community grid chief, not of the grid workers
    [(_, _, body)] = drain(police, POLICE_QUEUE, expect=1)
    assignment = json.loads(body)["payload"]
    send_report(police, report_envelope(assignment, "ack"))
    send_report(police, report_envelope(assignment, "result", resolved=True))
    assert wait_until(lambda: row(db_engine, secret)["state"] == "resolved")
    request = next_of_kind(police, NOTIFY_QUEUE, "return_visit")
    assert request["case_id"] == secret
    assert request["recipients"] == [{"role": "community_grid_chief",
                                      "scope": f"community:{COMMUNITY}"}]


def test_a_v2_special_group_case_is_taken_as_sensitive(dispatch, police, db_engine):
    """A v2 producer (still accepted) says nothing of sensitivity: fail closed."""
    envelope = load_sample("events.case.reported", 2)
    envelope["message_id"] = str(uuid.uuid4())
    envelope["payload"].update({"case_id": str(uuid.uuid4()),
                                "case_number": "GS20261128-000401", **DRUG_USER})
    publish(police, "gridgov.events", "events.case.reported", envelope)
    case_id = envelope["payload"]["case_id"]
    assert wait_until(lambda: (row(db_engine, case_id) or {}).get("state") == "dispatched")
    assert row(db_engine, case_id)["sensitive"] is True
    ordinary = file_case(police, db_engine, "dispatched", case_number="GS20261128-000402",
                         **FIRE_CASE)  # v1
    assert row(db_engine, ordinary)["sensitive"] is False


def test_figures_show_sensitive_cases_only_as_counts(container_factory, service_config,
                                                     clean_db, police, web_session, token,
                                                     db_engine):
    container_factory(DispatchService, service_config(
        "dispatch", ESCALATION_POLL_SECONDS=0.2)).start()
    secret = file_v3(police, db_engine, "dispatched", True, case_number="GS20261128-000301",
                     **DRUG_USER)
    ordinary = file_v3(police, db_engine, "dispatched", False,
                       case_number="GS20261128-000302", **FIRE_CASE)
    past = datetime.now(UTC) - timedelta(days=3)
    with db_engine.begin() as conn:  # both overdue: escalated, on the circular's list
        conn.execute(sa.update(assignments).values(handle_due_at=past, ack_due_at=past))
        conn.execute(sa.update(cases).values(updated_at=sa.func.now()))  # look again

    def escalated():
        with db_engine.connect() as conn:
            return set(conn.execute(sa.select(escalations.c.case_id).distinct()).scalars()
                       ) == {secret, ordinary}
    assert wait_until(escalated)

    for role, scope in (("district_admin", f"district:{DISTRICT}"),
                        ("ops_viewer", f"district:{DISTRICT}"),
                        ("town_grid_chief", f"town:{TOWN}")):
        stats = web_session.get("/statistics", headers=token(role, scope)).json()
        assert [c["case_id"] for c in stats["recent"]] == [ordinary], role
        assert {e["case_number"] for e in stats["escalations"]} == {"GS20261128-000302"}
        assert [t["total"] for t in stats["by_town"]] == [2], role  # counted
        assert sum(g["open"] for g in stats["by_grid"]) == 2, role
        assert sum(d["overdue"] for d in stats["by_department"]) == 3, role  # 2 fire + 1

    with Session(db_engine) as session:
        figures = handling.handling_figures(session, [DISTRICT], past - timedelta(days=1),
                                            datetime.now(UTC) + timedelta(days=1))
        assert {i["case_number"] for i in figures["overdue"]} == {"GS20261128-000302"}
        assert sum(t["overdue_open"] for t in figures["towns"]) == 3  # counted
        calendar = WorkCalendar()
        items = digests.ordered(digests.town_items(session, TOWN, calendar,
                                                   datetime.now(UTC)))
        text, listed = digests.lines(items, calendar)
    assert len(items) == 2 and listed == 1  # counted in the digest's "open", not listed
    assert "GS20261128-000302" in text and "GS20261128-000301" not in text

"""Dispatch → notify → dispatch over the real broker: a case the departments resolve asks
the grid's workers for the return visit (P5.2.1); the neighbourhood grid worker finds it in
the app inbox, and the delivery is an entry of the case file (P5.3.4)."""

from __future__ import annotations

import sqlalchemy as sa
from nameko.testing.services import entrypoint_hook

from tests.amqp import wait_until
from tests.events.conftest import file
from tests.flow.conftest import DEPARTMENTS
from tests.flow.test_case_flow import FLOW_WAIT, wait_state

NAMES = {"fire": "消防", "emergency_management": "应急管理"}  # the register's (P4.2)


def test_resolved_case_asks_the_grid_for_the_return_visit(services, web_session, worker_a,
                                                          dispatch_http, notify_http):
    case = file(web_session, worker_a)
    wait_state(dispatch_http, worker_a, case["case_id"], "resolved")

    def visits():
        found = notify_http.get("/inbox", headers=worker_a)
        assert found.status_code == 200, found.text
        return [m for m in found.json()["items"] if m["kind"] == "return_visit"]

    [message] = wait_until(visits, FLOW_WAIT)
    assert case["case_number"] in message["title"]
    assert message["case_id"] == case["case_id"]

    def delivered():
        entries = dispatch_http.get(f"/cases/{case['case_id']}/file",
                                    headers=worker_a).json()["entries"]
        return [e for e in entries if e["action"] == "notification_sent"]

    recorded = wait_until(lambda: [e for e in delivered()
                                   if e["data"]["kind"] == "return_visit"], FLOW_WAIT)
    assert {e["data"]["channel"] for e in recorded} == {"inbox"}
    # the only other deliveries of this case: its two assignments (next test)
    assert {e["data"]["kind"] for e in delivered()} <= {"assignment", "return_visit"}


def test_each_assigned_department_sees_its_assignment_in_the_inbox(
        services, web_session, worker_a, dispatch_http, notify_http, token, registry,
        db_engine):
    """P2.2: next to the work order on its routing key, the department's officers are told
    in the app, once per assignment, by the department's name (issue 11); the delivery is
    an entry of the case file."""
    with entrypoint_hook(registry, "announce_departments") as announce:
        announce()  # notify started after the registry: its hourly announcement, now
    with db_engine.connect() as conn:
        assert wait_until(lambda: conn.execute(sa.text(
            "SELECT count(*) FROM notify.departments")).scalar() == 10, FLOW_WAIT)
    case = file(web_session, worker_a)
    wait_state(dispatch_http, worker_a, case["case_id"], "resolved")

    for department in DEPARTMENTS:
        officer = token("department_officer", f"department:{department}", sub=f"o-{department}")

        def assignments(officer=officer):
            found = notify_http.get("/inbox", headers=officer)
            assert found.status_code == 200, found.text
            return [m for m in found.json()["items"] if m["kind"] == "assignment"]

        [message] = wait_until(assignments, FLOW_WAIT)
        assert case["case_number"] in message["title"]
        assert f"已交办给{NAMES[department]}" in message["body"], message["body"]
        assert message["case_id"] == case["case_id"]

    def recorded():
        entries = dispatch_http.get(f"/cases/{case['case_id']}/file",
                                    headers=worker_a).json()["entries"]
        return [e for e in entries if e["action"] == "notification_sent"
                and e["data"]["kind"] == "assignment"]

    assert len(wait_until(lambda: len(recorded()) >= 2 and recorded(), FLOW_WAIT)) == 2

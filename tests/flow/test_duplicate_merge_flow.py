"""Issue 11 M9, done when: two grid workers' reports of the same problem at the same spot
become one problem — the second is confirmed a duplicate, merged into the first's flow,
not escalated, closed together with it when the departments' result is confirmed by the
return visit, told to its reporter in words, and counted once in the KPIs (P5.3.1,
P5.3.3). Real registry, events and dispatch, the reference department adapters, the
broker and the database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from tests.amqp import wait_until
from tests.events.conftest import IN_A, file
from tests.flow.test_case_flow import FLOW_WAIT, actions_of, case_state, wait_state


def _beside(point: dict, metres_east: float) -> dict:
    """A point a few metres east (≈ 95.3 km a degree of longitude at 31° N)."""
    return {"lon": point["lon"] + metres_east / 95_300, "lat": point["lat"]}


def _escalations(db_engine, case_id: str) -> int:
    with db_engine.connect() as conn:
        return conn.execute(sa.text("SELECT count(*) FROM dispatch.escalations "
                                    "WHERE case_id = :c"), {"c": case_id}).scalar()


def test_a_confirmed_duplicate_closes_with_its_original_and_counts_once(
        services, web_session, dispatch_http, worker_a, admin, db_engine):
    original = file(web_session, worker_a)
    duplicate = file(web_session, worker_a, location=_beside(IN_A, 30))
    assert duplicate["duplicate_of"] == original["case_id"]  # suggested by events
    assert wait_until(lambda: case_state(dispatch_http, worker_a, duplicate["case_id"])
                      is not None, FLOW_WAIT)

    # the grid worker confirms it: dispatch merges it into the original's flow
    confirmed = web_session.post(f"/cases/{duplicate['case_number']}/duplicate",
                                 json={"action": "confirm"}, headers=worker_a)
    assert confirmed.status_code == 200, confirmed.text
    wait_state(dispatch_http, worker_a, duplicate["case_id"], "merged")

    # the reporter of the duplicate reads, in words, where their request went
    def public_note(lang: str) -> str:
        found = web_session.get(f"/cases/{duplicate['case_number']}", headers=worker_a)
        return found.json()["status_notes"] if lang == "zh-CN" else web_session.get(
            f"/open311/v2/requests/{duplicate['case_number']}.json",
            headers={"Accept-Language": "en"}).json()[0]["status_notes"]

    assert wait_until(lambda: public_note("zh-CN") == (
        f"已并入诉求 {original['case_number']}，与其一并办理"), FLOW_WAIT), public_note("zh-CN")
    assert public_note("en") == (f"Merged into request {original['case_number']} about the "
                                 "same problem; handled together with it")

    # the departments' adapters report in and resolve the original; the return visit
    # closes it, and the duplicate with it
    wait_state(dispatch_http, worker_a, original["case_id"], "resolved")
    visit = dispatch_http.post(f"/cases/{original['case_id']}/return-visit",
                               headers=worker_a,
                               json={"satisfied": True, "satisfaction": 5, "method": "visit"})
    assert visit.status_code == 200, visit.text
    wait_state(dispatch_http, worker_a, duplicate["case_id"], "closed")

    case_file = dispatch_http.get(f"/cases/{duplicate['case_id']}/file",
                                  headers=worker_a).json()
    assert case_file["verification"]["valid"] is True
    actions = actions_of(case_file)
    # (a department's report on a work order the merge withdrew is refused, and kept)
    assert actions[-1] == "closed_with_original" and actions.count("merged_into") == 1
    merge = case_file["entries"][actions.index("merged_into")]
    assert merge["data"]["original_case_number"] == original["case_number"]
    assert merge["data"]["decided_by_sub"] == "worker-a"
    assert "escalation" not in actions and _escalations(db_engine, duplicate["case_id"]) == 0
    original_file = dispatch_http.get(f"/cases/{original['case_id']}/file",
                                      headers=worker_a).json()
    assert "duplicate_merged" in actions_of(original_file)

    # the result went back to the duplicate's reporter too
    assert wait_until(lambda: public_note("zh-CN") == (
        f"已随诉求 {original['case_number']} 一并办结归档"), FLOW_WAIT), public_note("zh-CN")
    shown = web_session.get(f"/open311/v2/requests/{duplicate['case_number']}.json").json()[0]
    assert shown["status"] == "closed"

    # KPIs: one problem, one closure (docs/KPIS.md)
    today = datetime.now(UTC).astimezone().date()
    found = dispatch_http.get("/kpis", headers=admin, params={
        "from": (today - timedelta(days=1)).isoformat(),
        "to": (today + timedelta(days=1)).isoformat(), "by": "town"})
    assert found.status_code == 200, found.text
    [town] = found.json()["rows"]
    assert (town["due"], town["closed"], town["closure_rate"]) == (1, 1, 1.0)

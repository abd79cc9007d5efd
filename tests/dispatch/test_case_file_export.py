"""Case file export (P5.3.4) on a real broker and database: a printable HTML page with every
action and the chain's verdict (text escaped), and the JSON file as a download, both under
the same visibility rules as ``/cases/<id>/file``."""

from __future__ import annotations

import sqlalchemy as sa

from services.dispatch.models import assignments
from tests.amqp import publish, wait_until
from tests.dispatch.conftest import (
    DISTRICT,
    FIRE_SINK,
    received,
    report_envelope,
    reported_envelope,
    send_report,
)
from tests.html_headers import assert_html_security_headers

SCRIPT = '<script>alert("x")</script> 3幢楼道堆放杂物 & 纸箱'


def _case_with_ack(uri: str, db_engine) -> dict:
    envelope = reported_envelope(description=SCRIPT)
    publish(uri, "gridgov.events", "events.case.reported", envelope)
    [(_, fire)] = received(uri, FIRE_SINK)
    send_report(uri, report_envelope(fire["payload"], "ack", note="<b>收到</b>"))

    def acked():
        with db_engine.connect() as conn:
            return conn.execute(sa.select(assignments.c.state).where(
                assignments.c.assignment_id == fire["payload"]["assignment_id"])
            ).scalar() == "acked"
    assert wait_until(acked)
    return envelope["payload"]


def test_printable_case_file_lists_every_action_escaped(dispatch, sinks, db_engine,
                                                          web_session, token):
    case = _case_with_ack(sinks, db_engine)
    admin = token("district_admin", f"district:{DISTRICT}")
    response = web_session.get(f"/cases/{case['case_id']}/file.html", headers=admin)
    assert response.status_code == 200, response.text
    assert_html_security_headers(response)  # issue 10: CSP and nosniff on every HTML answer
    assert response.headers["Content-Type"].startswith("text/html")
    page = response.text
    assert case["case_number"] in page
    for label in ("立案", "派遣（吹哨）", "部门签收（报到）"):  # filed, dispatch, ack
        assert label in page
    assert "案卷完整性校验通过" in page  # the hash chain's verdict
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "&amp; 纸箱" in page
    assert "<b>收到</b>" not in page

    english = web_session.get(f"/cases/{case['case_id']}/file.html?lang=en", headers=admin)
    assert english.status_code == 200
    for label in ("Filed", "Dispatched to departments", "Department reported in",
                  "Hash chain verified"):
        assert label in english.text
    wrong = web_session.get(f"/cases/{case['case_id']}/file.html?lang=fr", headers=admin)
    assert wrong.status_code == 422


def test_json_download_is_the_case_file(dispatch, sinks, db_engine, web_session, token):
    case = _case_with_ack(sinks, db_engine)
    officer = token("department_officer", "department:fire")
    download = web_session.get(f"/cases/{case['case_id']}/file.json", headers=officer)
    assert download.status_code == 200, download.text
    disposition = download.headers["Content-Disposition"]
    assert disposition == f'attachment; filename="case-file-{case["case_number"]}.json"'
    assert download.headers["Content-Type"].startswith("application/json")
    shown = web_session.get(f"/cases/{case['case_id']}/file", headers=officer)
    assert download.json() == shown.json()
    assert download.json()["verification"] == {"valid": True, "broken_at": None, "count": 3}
    assert [e["action"] for e in download.json()["entries"]] == ["filed", "dispatch", "ack"]


def test_exports_follow_the_case_visibility(dispatch, sinks, db_engine, web_session, token):
    case = _case_with_ack(sinks, db_engine)
    grid = case["grid_code"]
    hidden = [token("department_officer", "department:police"),
              token("neighbourhood_grid_worker", f"grid:{grid[:-1]}9")]
    for headers in hidden:
        for suffix in ("file.html", "file.json"):
            response = web_session.get(f"/cases/{case['case_id']}/{suffix}", headers=headers)
            assert response.status_code == 404, (suffix, response.text)
    worker = token("neighbourhood_grid_worker", f"grid:{grid}")
    assert web_session.get(f"/cases/{case['case_id']}/file.html",
                           headers=worker).status_code == 200
    assert web_session.get("/cases/not-a-uuid/file.html", headers=worker).status_code == 404

"""Issue 14 across the real services: a department without IT signs for its assignment and
reports the result with a photo on the workbench. The photo, uploaded to events by the
officer, reaches the case through ``dispatch.case.photos_attached``: the grid's worker and
the department's other officers read it, another department does not, and it is kept as
the case's own (the purge of unattached uploads leaves it alone)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from services.events import photos as events_photos
from tests.adapters import FAST, Lines, amqp_url, running
from tests.amqp import wait_until
from tests.events.conftest import file
from tests.events.test_cases import upload
from tests.flow.conftest import DEPARTMENTS
from tests.flow.test_case_flow import FLOW_WAIT
from tools.department_adapter.adapter import AdapterConfig


@pytest.fixture
def departments(rabbit_config):
    """The departments' queues exist (their adapters hold them) but nobody reports in on
    the bus: these departments work on the workbench."""
    url = amqp_url(rabbit_config)
    outputs = {code: Lines() for code in DEPARTMENTS}
    with running(AdapterConfig(department=DEPARTMENTS[0], amqp_url=url, **FAST),
                 outputs[DEPARTMENTS[0]]), \
            running(AdapterConfig(department=DEPARTMENTS[1], amqp_url=url, **FAST),
                    outputs[DEPARTMENTS[1]]):
        yield outputs


def _assignment(dispatch_http, headers, case_id):
    listed = dispatch_http.get("/assignments", headers=headers)
    assert listed.status_code == 200, listed.text
    return next((a for a in listed.json() if a["case_id"] == case_id), None)


def _case_photos(db_engine, case_id) -> list[str]:
    with db_engine.connect() as conn:
        return conn.execute(sa.text("SELECT photos FROM events.cases WHERE case_id = :id"),
                            {"id": case_id}).scalar()


def test_a_result_photo_from_the_workbench_is_shown_and_kept_with_the_case(
        services, web_session, dispatch_http, worker_a, token, db_engine):
    fire = token("department_officer", "department:fire", sub="fire-officer")
    case = file(web_session, worker_a)
    assert wait_until(lambda: _assignment(dispatch_http, fire, case["case_id"]), FLOW_WAIT)
    todo = _assignment(dispatch_http, fire, case["case_id"])

    photo = upload(web_session, fire)
    assert photo.status_code == 201, photo.text  # a department's officer may upload
    sha = photo.json()["sha256"]
    url = f"/assignments/{todo['assignment_id']}/reports"
    for body in ({"kind": "ack"},
                 {"kind": "result", "resolved": True, "note": "通道已清空", "photos": [sha]}):
        acted = dispatch_http.post(url, headers=fire, json=body)
        assert acted.status_code == 200, acted.text

    assert wait_until(lambda: sha in _case_photos(db_engine, case["case_id"]), FLOW_WAIT)
    assert _case_photos(db_engine, case["case_id"]).count(sha) == 1
    assert web_session.get(f"/photos/{sha}", headers=worker_a).status_code == 200
    colleague = token("department_officer", "department:fire", sub="fire-officer-2")
    assert wait_until(lambda: web_session.get(f"/photos/{sha}", headers=colleague)
                      .status_code == 200, FLOW_WAIT)  # once events knows fire handles it
    police = token("department_officer", "department:police", sub="police-officer")
    assert web_session.get(f"/photos/{sha}", headers=police).status_code == 404

    with db_engine.begin() as conn:  # long after upload: still shown, so still kept
        events_photos.purge_unattached(conn, timedelta(0), datetime.now(UTC) + timedelta(days=9))
    assert web_session.get(f"/photos/{sha}", headers=worker_a).status_code == 200

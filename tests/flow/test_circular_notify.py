"""Assessment → notify and dispatch → notify over the real broker (P5.3.5): a circular
reaches the inbox of the towns' grid chiefs and the departments' officers it names, with
its link, once per circular however often the event is replayed; the daily digest of open
cases reaches each department and town once a day, overdue cases first."""

from __future__ import annotations

import time
import uuid
from datetime import date

import pytest
import sqlalchemy as sa

from gridgov_common.contract import make_envelope
from services.assessment import circulars
from services.dispatch import place_names
from services.dispatch.service import DispatchService
from services.notify.models import metadata as notify_metadata
from services.notify.service import NotifyService
from services.registry.models import metadata as registry_metadata
from services.registry.service import RegistryService
from tests.amqp import publish, wait_until
from tests.assessment.circular_cases import (  # noqa: F401  (fixtures, used by name)
    T1,
    T2,
    circular_services,
    custom_period,
    seeded,
    start_on_free_port,
)
from tests.events.conftest import _truncate

WAIT = 30


@pytest.fixture
def notify_http(container_factory, service_config, db_engine):
    _truncate(db_engine, "notify", notify_metadata, {"alembic_version"})
    _, http = start_on_free_port(container_factory, service_config, NotifyService, "notify",
                                 SEND_POLL_SECONDS=0.05)
    yield http
    http.close()


def _inbox(http, headers, kind):
    found = http.get("/inbox", headers=headers)
    assert found.status_code == 200, found.text
    return [m for m in found.json()["items"] if m["kind"] == kind]


def test_a_circular_reaches_towns_and_departments_once(circular_services, notify_http,  # noqa: F811
                                                       seeded, token, db_engine,  # noqa: F811
                                                       rabbit_config):  # noqa: F811
    made = circular_services.post(
        "/circulars", json={"kind": "custom", "period": custom_period(seeded)},
        headers=token("district_admin", "district:320505"))
    assert made.status_code == 201, made.text
    cid = made.json()["circular_id"]
    chief = token("town_grid_chief", f"town:{T2}")
    [message] = wait_until(lambda: _inbox(notify_http, chief, "circular"), WAIT)
    assert f"http://gridgov.test:8004/circulars/{cid}.html" in message["body"]
    assert "交办 7 件" in message["body"] and "红牌 1 个" in message["body"]
    for headers in (token("department_officer", "department:water"),
                    token("town_grid_chief", f"town:{T1}"),
                    token("district_admin", "district:320505")):
        assert len(wait_until(lambda h=headers: _inbox(notify_http, h, "circular"), WAIT)) == 1
    # the same circular's event again (a replay, a new message id): nothing new
    envelope = _published_envelope(made.json())
    publish(rabbit_config["AMQP_URI"], "gridgov.events", "assessment.circular.published",
            {**envelope, "message_id": str(uuid.uuid4())})
    time.sleep(1.0)
    assert len(_inbox(notify_http, chief, "circular")) == 1
    with db_engine.connect() as conn:
        causes = conn.execute(sa.text(
            "SELECT count(*) FROM notify.notifications WHERE cause_id = :c"),
            {"c": f"assessment.circular.published:{cid}"}).scalar()
    assert causes == 1


def _published_envelope(row: dict) -> dict:
    """The event as assessment published it (the outbox row is gone once relayed)."""
    stored = {**row, "period_start": date.fromisoformat(row["period_start"]),
              "period_end": date.fromisoformat(row["period_end"])}
    return make_envelope(circulars.EVENT_TYPE, circulars.event_payload(
        stored, "http://gridgov.test:8004/circulars/{circular_id}.html"), "assessment")


def test_daily_digests_reach_departments_and_towns_once_a_day(container_factory,
                                                              service_config, seeded,  # noqa: F811
                                                              notify_http, token,
                                                              db_engine):  # noqa: F811
    # the registry names the towns the digests go to (T1 only: T2 stays a code)
    _truncate(db_engine, "registry", registry_metadata,
              {"departments", "alembic_version", "audit_log"})
    _, registry_http = start_on_free_port(container_factory, service_config, RegistryService,
                                          "registry")
    admin = token("district_admin", "district:320505")
    for path, body in (("/districts", {"code": "320505", "name": "姑苏区"}),
                       ("/towns", {"code": T1, "name": "金阊街道"})):
        assert registry_http.post(path, json=body, headers=admin).status_code == 201
    place_names.forget()
    for _ in range(2):  # two replicas, each ticking fast; DIGEST_HOUR 0: due at once
        start_on_free_port(container_factory, service_config, DispatchService, "dispatch",
                           DIGEST_POLL_SECONDS=0.2, DIGEST_HOUR=0,
                           ESCALATION_POLL_SECONDS=86400)
    police = token("department_officer", "department:police")
    [digest] = wait_until(lambda: _inbox(notify_http, police, "daily_digest"), WAIT)
    lines = digest["body"].splitlines()
    listed = [line for line in lines if "N-C" in line]
    # C5 overdue first (due −3.5 d, ! and over 100 %), then C4 within its time
    assert [line.split()[1] for line in listed] == ["N-C5", "N-C4"]
    assert listed[0].startswith("!") and listed[1].startswith("·")
    assert int(listed[0].split()[2].rstrip("%")) > 100
    assert "2 件未办结，1 件超期" in digest["title"]
    chief = token("town_grid_chief", f"town:{T2}")
    [town] = wait_until(lambda: _inbox(notify_http, chief, "daily_digest"), WAIT)
    assert town["body"].startswith(f"{T2}的未办结案件")  # no name: the code
    t1_chief = token("town_grid_chief", f"town:{T1}")
    [named] = wait_until(lambda: _inbox(notify_http, t1_chief, "daily_digest"), WAIT)
    assert named["body"].startswith("金阊街道的未办结案件"), named["body"]
    town_cases = [line.split()[1] for line in town["body"].splitlines() if "N-C" in line]
    assert town_cases[:2] == ["N-C7", "N-C5"]  # longest overdue first
    assert set(town_cases) == {"N-C7", "N-C5", "N-C4"}  # C6 is closed
    time.sleep(1.0)  # more ticks of both replicas
    assert len(_inbox(notify_http, police, "daily_digest")) == 1
    with db_engine.connect() as conn:
        scopes = conn.execute(sa.text("SELECT scope FROM dispatch.daily_digests "
                                      "ORDER BY scope")).scalars().all()
    assert scopes == ["department:fire", "department:police", "department:water",
                      f"town:{T1}", f"town:{T2}"]

"""A report while the broker is down (issue 15.5): during a broker outage POST /cases
blocked up to 18 s and then answered 500, because placing a report was an RPC to the
registry. Now events places it from its own copy of the grids (services/events/grid_index.py,
kept current from registry.grid.changed), stores it, and its outbox publishes when the
broker is back. What really needs the broker (a point outside every copied grid: only the
registry can say) answers at once with 503 and Retry-After, which the app's outbox acts on.

Events reaches the broker through a relay the test cuts (tests/tcp_relay.py); the registry
and the test itself keep the real broker."""

from __future__ import annotations

import json
import time
from urllib.parse import urlsplit, urlunsplit

import sqlalchemy as sa

from services.events.service import EventsService
from tests.amqp import drain, wait_until
from tests.events.conftest import GRID_A, GRID_B, IN_B, OBSERVER, OUTSIDE, case_body
from tests.tcp_relay import relaying

BACK_SECONDS = 90.0  # a bound for the service to reconnect, not a timing assertion


def _copied(db_engine) -> set[str]:
    with db_engine.connect() as conn:
        return set(conn.execute(sa.text("SELECT grid_code FROM events.grid_rings")).scalars())


def _reported(uri: str, case_number: str) -> bool:
    """Whether events.case.reported of ``case_number`` reached the observer (others are
    consumed on the way)."""
    for _method, _props, body in drain(uri, OBSERVER, expect=50, timeout=0.5):
        envelope = json.loads(body)
        if envelope["type"] == "events.case.reported" and \
                envelope["payload"]["case_number"] == case_number:
            return True
    return False


def test_a_report_during_a_broker_outage_is_stored_and_announced_when_it_is_back(
        container_factory, service_config, rabbit_config, district, observer, web_session,
        worker_a, admin, db_engine):
    broker = urlsplit(rabbit_config["AMQP_URI"])
    with relaying((broker.hostname, broker.port)) as relay:
        through = broker._replace(netloc=f"guest:guest@127.0.0.1:{relay.port}")
        config = service_config("events", REGISTRY_RPC_TIMEOUT=3, AMQP_URI=urlunsplit(through))
        container = container_factory(EventsService, config)
        container.start()
        assert wait_until(lambda: {GRID_A, GRID_B} <= _copied(db_engine), timeout=30), \
            "events did not copy the registry's grids"

        relay.cut()
        during = web_session.post("/cases", json=case_body(), headers=worker_a, timeout=60)
        assert during.status_code == 201, during.text  # placed from the copy, stored
        assert during.json()["grid_code"] == GRID_A
        by_admin = web_session.post("/cases", json=case_body(location=IN_B), headers=admin,
                                    timeout=60)
        assert by_admin.status_code == 201 and by_admin.json()["grid_code"] == GRID_B
        outside = web_session.post("/cases", json=case_body(location=OUTSIDE),
                                   headers=admin, timeout=60)
        assert outside.status_code == 503, outside.text  # only the registry could say
        assert int(outside.headers["Retry-After"]) > 0
        assert outside.json()["error"]["code"] in {"broker_unavailable",
                                                   "registry_unavailable"}

        relay.restore()  # the outbox publishes what was stored meanwhile
        number = during.json()["case_number"]
        deadline = time.monotonic() + BACK_SECONDS
        while not _reported(rabbit_config["AMQP_URI"], number):
            assert time.monotonic() < deadline, f"{number} was never announced"
        while True:  # and the registry is reachable again, with no restart
            after = web_session.post("/cases", json=case_body(location=OUTSIDE),
                                     headers=admin, timeout=60)
            if after.status_code != 503:
                break
            assert time.monotonic() < deadline, "the registry stayed out of reach"
        assert after.status_code == 422, after.text
        assert after.json()["error"]["code"] == "outside_grids"
        container.stop()  # while its broker is reachable: its workers finish

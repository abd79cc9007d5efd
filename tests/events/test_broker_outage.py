"""A report while the broker is down (issue 15.5): during a broker outage POST /cases
blocked up to 18 s and then answered 500. It must answer at once with what a phone can act
on: 503 with Retry-After (the app's outbox then waits and resends), never a 500, and work
again when the broker is back, with no restart.

Events reaches the broker through a relay the test cuts (tests/tcp_relay.py); the registry
and the test itself keep the real broker."""

from __future__ import annotations

import time
from urllib.parse import urlsplit, urlunsplit

from services.events.service import EventsService
from tests.events.conftest import case_body
from tests.tcp_relay import relaying

BACK_SECONDS = 90.0  # a bound for the service to reconnect, not a timing assertion


def test_a_report_during_a_broker_outage_is_told_when_to_retry(
        container_factory, service_config, rabbit_config, district, web_session, worker_a):
    broker = urlsplit(rabbit_config["AMQP_URI"])
    with relaying((broker.hostname, broker.port)) as relay:
        through = broker._replace(netloc=f"guest:guest@127.0.0.1:{relay.port}")
        config = service_config("events", REGISTRY_RPC_TIMEOUT=3, AMQP_URI=urlunsplit(through))
        container_factory(EventsService, config).start()
        before = web_session.post("/cases", json=case_body(), headers=worker_a)
        assert before.status_code == 201, before.text

        relay.cut()
        during = web_session.post("/cases", json=case_body(), headers=worker_a,
                                  timeout=60)
        assert during.status_code == 503, during.text
        assert int(during.headers["Retry-After"]) > 0
        assert during.json()["error"]["code"] in {"broker_unavailable",
                                                  "registry_unavailable"}

        relay.restore()
        deadline = time.monotonic() + BACK_SECONDS
        while True:  # until the service has its broker again (bounded)
            after = web_session.post("/cases", json=case_body(), headers=worker_a,
                                     timeout=60)
            if after.status_code == 201:
                break
            assert after.status_code == 503, after.text  # never anything else meanwhile
            assert time.monotonic() < deadline, "events did not recover from the outage"
            time.sleep(0.5)
        assert after.json()["case_number"]

"""AMQP fuzzing of every consumer of the five running services (tests/fuzz/conftest.py).

For each consumer queue (discovered from the containers' ``ReliableConsumer`` entrypoints;
a consumer missing from ``CONSUMERS`` fails the test), plain pika publishes, on the
consumer's own exchange and routing key, the bad and edge messages of
``tests/fuzz/amqp_cases.py`` (hand-written ones, then hypothesis mutations of the message's
marshmallow schema) and finally a valid sample. Then, for every message sent:

- a bad one is in ``<queue>.dlq`` with the ``x-gridgov-error-code`` reason header (and the
  body unchanged), refused at once: never by the broker's delivery limit;
- an edge one is processed (its id claimed in ``processed_messages``) or dead-lettered with
  a reason, never left to crash-loop;
- nothing is dropped: every message id is dead-lettered or processed;
- the valid sample, sent last, still reaches the handler (claimed, or refused with a
  domain reason rather than a contract one);
- the service's container is still alive and the queue is empty.

``FUZZ_EXAMPLES`` sets the number of hypothesis mutations per consumer (default 6).
"""

from __future__ import annotations

import time

import pika
import pytest
import sqlalchemy as sa

from gridgov_common.contract import (
    ALERTS_EXCHANGE,
    EVENTS_EXCHANGE,
    INTAKE_EXCHANGE,
    INVALID_ENVELOPE,
    INVALID_JSON,
    INVALID_PAYLOAD,
    MESSAGE_TOO_LARGE,
    REPORTS_EXCHANGE,
    UNKNOWN_TYPE,
    alert_key,
    dlq_name,
    encode,
    report_key,
)
from gridgov_common.platform.messaging import (
    CONSUMER_HEADER,
    DELIVERY_LIMIT,
    ERROR_CODE_HEADER,
    ERROR_MESSAGE_HEADER,
    ReliableConsumer,
)
from tests._messaging_conftest_helpers import pika_connection
from tests.fuzz import amqp_cases
from tests.fuzz.conftest import FUZZ_EXAMPLES

MUTATIONS = FUZZ_EXAMPLES or 6
SETTLE_SECONDS = 60.0  # generous: a loaded machine; the loop ends as soon as all are settled
CONTRACT_CODES = {INVALID_JSON, INVALID_ENVELOPE, INVALID_PAYLOAD, UNKNOWN_TYPE,
                  MESSAGE_TOO_LARGE, "unexpected_type", "undecodable",
                  "unsupported_compression"}


def _key_of(sample: dict) -> str:
    return sample["type"]


# queue -> (service, exchange, message type, routing key of a sample envelope)
CONSUMERS = {
    "registry.intake": ("registry", INTAKE_EXCHANGE, "intake.resident.moved_out",
                        lambda s: f"{s['payload']['department']}.resident.moved_out"),
    "registry.staff_flagged": ("registry", EVENTS_EXCHANGE, "assessment.staff.flagged",
                               _key_of),
    "registry.callback_phones": ("registry", EVENTS_EXCHANGE, "events.callback_phone.kept",
                                 _key_of),
    "events.intake": ("events", INTAKE_EXCHANGE, "intake.case.report",
                      lambda s: f"{s['producer']}.case.report"),
    "events.case_changes": ("events", EVENTS_EXCHANGE, "dispatch.case.changed", _key_of),
    "events.departments": ("events", EVENTS_EXCHANGE, "registry.department.changed",
                           _key_of),
    "notify.departments": ("notify", EVENTS_EXCHANGE, "registry.department.changed",
                           _key_of),
    "dispatch.cases": ("dispatch", EVENTS_EXCHANGE, "events.case.reported", _key_of),
    "dispatch.reports": ("dispatch", REPORTS_EXCHANGE, "department.report",
                         lambda s: report_key(s["payload"]["department"],
                                              s["payload"]["kind"])),
    "dispatch.notifications": ("dispatch", EVENTS_EXCHANGE, "notify.sent", _key_of),
    "dispatch.duplicates": ("dispatch", EVENTS_EXCHANGE, "events.case.duplicate_decided",
                            _key_of),
    "dispatch.registry_staff": ("dispatch", EVENTS_EXCHANGE, "registry.staff.changed",
                                _key_of),
    # two message types on one queue: fuzzed with the department register's (the
    # catalogue's shape is checked by the same envelope and payload code)
    "dispatch.master_data": ("dispatch", EVENTS_EXCHANGE, "registry.department.changed",
                             _key_of),
    "notify.alerts": ("notify", ALERTS_EXCHANGE, "alert.major_event",
                      lambda s: alert_key(s["payload"]["town_code"], s["payload"]["severity"],
                                          s["payload"]["category"])),
    "notify.escalations": ("notify", EVENTS_EXCHANGE, "dispatch.escalation", _key_of),
    "notify.meeting_reminders": ("notify", EVENTS_EXCHANGE, "assessment.meeting.reminder",
                                 _key_of),
    "notify.requests": ("notify", EVENTS_EXCHANGE, "notify.request", _key_of),
    "notify.circulars": ("notify", EVENTS_EXCHANGE, "assessment.circular.published", _key_of),
    "assessment.registry_grids": ("assessment", EVENTS_EXCHANGE, "registry.grid.changed",
                                  _key_of),
    "events.registry_grids": ("events", EVENTS_EXCHANGE, "registry.grid.changed", _key_of),
    "assessment.registry_staff": ("assessment", EVENTS_EXCHANGE, "registry.staff.changed",
                                  _key_of),
}


def _filed_case(stack, channel) -> tuple[str, str]:
    """(case_id, case_number) of a case events has filed: the hotline sample is sent in
    first when there is none, so a case change has a case to apply to."""
    query = sa.text("SELECT case_id::text, case_number FROM events.cases "
                    "ORDER BY case_number LIMIT 1")
    intake = amqp_cases.fresh("intake.case.report")
    sent = False
    deadline = time.monotonic() + SETTLE_SECONDS
    while time.monotonic() < deadline:
        with stack.db_engine.connect() as conn:
            row = conn.execute(query).first()
        if row is not None:
            return row[0], row[1]
        if not sent:
            channel.basic_publish(INTAKE_EXCHANGE, f"{intake['producer']}.case.report",
                                  encode(intake), pika.BasicProperties(
                                      content_type="application/json", delivery_mode=2,
                                      message_id=intake["message_id"]), mandatory=True)
            sent = True
        time.sleep(0.1)
    raise AssertionError("events filed no case from the hotline sample")


def _prepare(stack, channel, queue: str, sample: dict) -> None:
    """A valid sample that can apply: the case change names a case events has."""
    if queue == "events.case_changes":
        case_id, case_number = _filed_case(stack, channel)
        sample["payload"].update(case_id=case_id, case_number=case_number)


def running_consumers(stack) -> dict[str, tuple[str, str]]:
    """queue -> (service, exchange) of every consumer entrypoint of the running stack."""
    return {ep.queue_name: (service, ep.exchange)
            for service, container in stack.containers.items()
            for ep in container.entrypoints if isinstance(ep, ReliableConsumer)}


def test_every_consumer_is_fuzzed(stack):
    running = running_consumers(stack)
    assert running, "no consumer found"
    assert {q: v for q, v in running.items()} == {
        q: (service, exchange) for q, (service, exchange, _t, _k) in CONSUMERS.items()}, (
        "a consumer was added, moved or removed: update CONSUMERS")


def _publish_all(channel, exchange: str, routing_key: str, messages) -> None:
    for fuzz in messages:
        channel.basic_publish(exchange, routing_key, fuzz.body, pika.BasicProperties(
            content_type=fuzz.content_type, content_encoding=fuzz.content_encoding,
            delivery_mode=2, message_id=fuzz.message_id, headers=fuzz.headers or None),
            mandatory=True)


def _processed(engine: sa.Engine, schema: str, ids: list[str]) -> set[str]:
    with engine.connect() as conn:
        rows = conn.execute(sa.text(
            f"SELECT message_id::text FROM {schema}.processed_messages "
            "WHERE message_id = ANY(CAST(:ids AS uuid[]))"), {"ids": ids}).scalars()
        return set(rows)


def _drain_dlq(channel, queue: str, into: dict[str, tuple]) -> None:
    while True:
        method, properties, body = channel.basic_get(dlq_name(queue), auto_ack=True)
        if method is None:
            return
        into[properties.message_id] = (properties, body)


def _settle(stack, channel, queue: str, schema: str, messages) -> tuple[dict, set]:
    """Wait until every message is dead-lettered or processed (or the time is up)."""
    ids = [m.message_id for m in messages]
    dead: dict[str, tuple] = {}
    processed: set[str] = set()
    deadline = time.monotonic() + SETTLE_SECONDS
    while True:
        _drain_dlq(channel, queue, dead)
        processed = _processed(stack.db_engine, schema, ids)
        if all(i in dead or i in processed for i in ids) or time.monotonic() > deadline:
            time.sleep(0.3)  # a late second copy (a claim that also dead-letters)
            _drain_dlq(channel, queue, dead)
            return dead, _processed(stack.db_engine, schema, ids)
        time.sleep(0.1)


@pytest.mark.parametrize("queue", list(CONSUMERS))
def test_consumer_fuzz(stack, queue):
    service, exchange, type_name, key_of = CONSUMERS[queue]
    sample = amqp_cases.fresh(type_name)
    routing_key = key_of(sample)
    connection = pika_connection(stack.amqp_uri)
    try:
        channel = connection.channel()
        channel.confirm_delivery()
        _prepare(stack, channel, queue, sample)
        valid = amqp_cases.Fuzz("valid_sample", encode(sample), bad=False,
                                message_id=sample["message_id"])
        messages = (amqp_cases.handwritten(type_name)
                    + amqp_cases.mutations(type_name, MUTATIONS) + [valid])
        assert len({m.message_id for m in messages}) == len(messages)
        _drain_dlq(channel, queue, {})  # what earlier tests left
        started = time.monotonic()
        _publish_all(channel, exchange, routing_key, messages)
        dead, processed = _settle(stack, channel, queue, service, messages)
        elapsed = time.monotonic() - started
        left = channel.queue_declare(queue, passive=True).method.message_count
    finally:
        connection.close()

    problems = []
    for fuzz in messages:
        mid = fuzz.message_id
        if mid not in dead and mid not in processed:
            problems.append(f"{fuzz.name}: dropped (neither dead-lettered nor processed)")
            continue
        if mid in dead:
            properties, body = dead[mid]
            headers = properties.headers or {}
            code = headers.get(ERROR_CODE_HEADER)
            if not code:
                problems.append(f"{fuzz.name}: dead-lettered without a reason: {headers}")
            elif code == DELIVERY_LIMIT:
                problems.append(f"{fuzz.name}: crash-looped to the delivery limit: "
                                f"{headers.get(ERROR_MESSAGE_HEADER)}")
            elif headers.get(CONSUMER_HEADER) != queue and fuzz.name != "valid_sample":
                problems.append(f"{fuzz.name}: consumer header {headers.get(CONSUMER_HEADER)}")
            if fuzz.bad and not fuzz.headers and body != fuzz.body:
                problems.append(f"{fuzz.name}: the dead letter's body was changed")
            if fuzz is valid and code in CONTRACT_CODES:
                problems.append(f"valid sample refused by the contract: {code}: "
                                f"{headers.get(ERROR_MESSAGE_HEADER)}")
        elif fuzz.bad:
            problems.append(f"{fuzz.name}: processed, but it breaks the contract")
    print(f"\nfuzz {queue}: {len(messages)} messages ({MUTATIONS} hypothesis), "
          f"{len([m for m in messages if m.message_id in dead])} dead-lettered, "
          f"{len([m for m in messages if m.message_id in processed])} processed, "
          f"{elapsed:.1f} s")
    assert not problems, f"{queue}:\n" + "\n".join(problems)
    assert left == 0, f"{queue}: {left} messages still waiting"
    assert stack.alive()[service], f"{service} died"

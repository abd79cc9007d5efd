"""The intake side follows the case as dispatch moves it (P5.3.3 "the result goes back to
the grid worker, unit or resident"): ``dispatch.case.changed`` on ``gridgov.events`` is
applied to the events case, so Open311 clients and CAP readers see where it stands.

What a change does, in the consumer's one transaction (claim, case row, outbox):

- stores the dispatch state, the time it was reached and the departments responsible
  (Open311 ``agency_responsible``);
- sets the Open311 ``status``: ``closed`` once dispatch closed or cancelled the case,
  ``open`` otherwise (a suspended or merged case stays open, with a note); ``status_notes``
  is a public sentence per state that names no person (P5.4.4) — a confirmed duplicate's
  names the request it was merged into (P5.3.1, P5.3.3); ``updated_datetime`` advances;
- for a major event (P5.2.7), whose filing sent a CAP ``alert`` on ``gridgov.alerts``,
  puts a follow-up ``alert.major_event`` in the outbox: ``update`` while the case is open,
  ``cancel`` once it is closed or cancelled (CAP 1.2 msgType, then nothing more).

Order: RabbitMQ may deliver changes out of order (redeliveries, several consumers), so a
change is applied only if it is newer than the stored one (``at`` later than
``dispatch_state_at``); a case never moves backwards.  Dispatch announces a filing as one
change (v3: ``from_state`` null, ``to_state`` where triage left the case).  Before v3 it sent
two changes of one transaction with the same instant (filed, then dispatched): at an equal
``at`` a change applies only if it continues from the stored state (its ``from_state`` is
the stored ``dispatch_state``), so such a pair, still queued at an upgrade, lands whichever
way round it arrives.

Unknown case: the change may overtake the case's own commit (or a restored database), so
:class:`CaseNotFiledYet` is a *transient* error: ``consume_contract`` rolls the transaction
back (claim included), requeues the message with a doubling back-off (0.5 s … 5 s) and, once
the delivery limit (``MAX_REDELIVERIES`` redeliveries, about 12 s in all) is spent,
dead-letters it to ``events.case_changes.dlq`` with code ``delivery_limit``: never lost, and
replayable from there.  A change that breaks a rule (another producer, an unknown state, a
case number that does not match) is refused for good (PermanentError → the DLQ at once).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from gridgov_common.contract import ALERTS_EXCHANGE, alert_key, make_envelope
from gridgov_common.contract.envelope import Envelope
from gridgov_common.platform import bulk
from gridgov_common.platform.messaging import DEFAULT_MAX_REDELIVERIES, PermanentError
from gridgov_common.platform.outbox import add_to_outbox
from services.events import catalogue_store
from services.events.cases import (
    MAJOR_EVENT_ALERT,
    PRODUCER,
    alert_content,
    case_query,
    view,
)
from services.events.domain import status_notes
from services.events.domain.numbers import now_utc
from services.events.domain.open311 import merged_into
from services.events.models import cases

QUEUE = "events.case_changes"
CONSUMER = QUEUE
MESSAGE_TYPE = "dispatch.case.changed"
PHOTOS_ATTACHED = "dispatch.case.photos_attached"
MESSAGE_TYPES = [MESSAGE_TYPE, PHOTOS_ATTACHED]
ROUTING_KEYS = MESSAGE_TYPES
SENDER = "dispatch"  # the only producer of case changes
MAX_REDELIVERIES = DEFAULT_MAX_REDELIVERIES

# Dispatch's states (services/dispatch/domain/states.py, CaseState), each with the public
# note Open311 shows: what happens to the request now, never who is involved (P5.4.4).
KNOWN_STATES = frozenset(status_notes.NOTES)
FINAL_STATES = frozenset({"closed", "cancelled"})
ENTRY_STATE = "filed"


class CaseNotFiledYet(Exception):
    """Transient on purpose (not a PermanentError): the message is retried, then
    dead-lettered after the delivery limit (see the module docstring)."""


# the columns a change or an attachment may set: a batch writes them all back, one row per
# case, from the case as its last message left it (services.events.models.cases)
FOLLOWED = ("dispatch_state", "dispatch_state_at", "departments", "status", "status_notes",
            "updated_at", "expected_at", "alert_msg_type", "alert_sent_at", "photos")


def apply(session: Session, envelope: Envelope) -> str:
    """Apply one message of the queue: a change of state or photos a department attached."""
    return apply_many(session, [envelope])[0]


def apply_change(session: Session, envelope: Envelope) -> str:
    """Apply one ``dispatch.case.changed``; returns what happened ("applied", "stale").

    The caller claims the message id in the same transaction (exactly-once effect).
    """
    return apply_many(session, [envelope])[0]


def apply_many(session: Session, envelopes: list[Envelope]) -> list[str]:
    """Apply messages of the queue in their order, in a fixed number of statements
    (issue 16): every case named locked in one query, each message applied in memory to
    its case as the previous one left it, the cases written back in one UPDATE. What
    happened to each message ("applied", "stale"), as applying them one after the other
    would give; the first that breaks a rule or names a case not filed raises, and the
    batch is handled again one message at a time (gridgov_common.platform.batching)."""
    for envelope in envelopes:
        _check(envelope)
    locked = _locked_cases(session, {str(e.payload["case_id"]) for e in envelopes})
    outcomes, touched = [], {}
    for envelope in envelopes:
        case = _known_case(locked, envelope)
        if envelope.type == PHOTOS_ATTACHED:
            values = _attached(case, envelope)
        else:
            values = _changed(session, case, envelope)
        if values is None:
            outcomes.append("stale")
            continue
        case.update(values)
        touched[case["case_id"]] = case
        outcomes.append("applied")
    if touched:
        bulk.update_rows(session, cases, "case_id", [
            {"case_id": case_id, **{name: case[name] for name in FOLLOWED}}
            for case_id, case in touched.items()])
    return outcomes


def _known_case(locked: dict[str, dict[str, Any]], envelope: Envelope) -> dict[str, Any]:
    message = envelope.payload
    case = locked.get(str(message["case_id"]))
    if case is None:
        raise CaseNotFiledYet(f"case {message['case_id']} ({message['case_number']}) is not "
                              "filed here (yet)")
    if case["case_number"] != message["case_number"]:
        raise PermanentError("case_mismatch", "case_id and case_number name different cases",
                             {"case_number": [message["case_number"]]})
    return case


def _attached(case: dict[str, Any], envelope: Envelope) -> dict[str, Any] | None:
    """Add the photos of a department's workbench report to the case's photos (P5.3.3):
    they are then read under the case's own rules (a sensitive case's only by those who
    may see it, P5.2.5) and kept as long as the case, not purged as unattached. A photo
    already there is not added twice, so a redelivery changes nothing."""
    new = [p for p in dict.fromkeys(envelope.payload["photos"]) if p not in case["photos"]]
    if not new:
        return None
    return {"photos": [*case["photos"], *new]}


def _changed(session: Session, case: dict[str, Any],
             envelope: Envelope) -> dict[str, Any] | None:
    """The case's new values after one ``dispatch.case.changed``, None if it is stale; a
    major event's follow-up alert goes to the outbox (P5.2.7)."""
    change = envelope.payload
    if not is_newer(case, change):
        return None
    status, note = public_status(change["to_state"], case["handled_on_spot"],
                                 merged_into(case))
    values: dict[str, Any] = {
        "dispatch_state": change["to_state"], "dispatch_state_at": change["at"],
        "departments": list(change["departments"]), "status": status, "status_notes": note,
        # Open311 updated_datetime: when it changed, never earlier than before
        "updated_at": max(case["updated_at"], change["at"]),
    }
    if "due_at" in change:  # v2: Open311 expected_datetime (null once resolved)
        values["expected_at"] = change["due_at"]
    msg_type = follow_up(case, change)
    if msg_type is not None:
        values.update(alert_msg_type=msg_type, alert_sent_at=now_utc())
        _send_follow_up(session, case, msg_type, envelope.message_id)
    return values


def _check(envelope: Envelope) -> None:
    message = envelope.payload
    if envelope.producer != SENDER:
        kind = "case photos" if envelope.type == PHOTOS_ATTACHED else "case changes"
        raise PermanentError("unexpected_producer", f"{kind} come from {SENDER}",
                             {"producer": [envelope.producer]})
    if envelope.type == PHOTOS_ATTACHED:
        return
    if message["to_state"] not in KNOWN_STATES:
        raise PermanentError("unknown_state", f"unknown dispatch state {message['to_state']!r}",
                             {"to_state": [message["to_state"]]})


def _locked_cases(session: Session, case_ids: set[str]) -> dict[str, dict[str, Any]]:
    """The cases, locked in case id order (two consumers' batches never wait on each other
    in a cycle): concurrent changes of one case apply one after the other, each comparing
    against what the previous one stored."""
    ids = sa.literal(sorted(case_ids), ARRAY(sa.Uuid(as_uuid=False)))
    rows = session.execute(case_query().where(cases.c.case_id == sa.any_(ids))
                           .order_by(cases.c.case_id).with_for_update(of=cases))
    return {case["case_id"]: case for case in map(view, rows)}


def is_newer(case: dict[str, Any], change: dict[str, Any]) -> bool:
    """Later than the stored change, or at the same instant continuing from it."""
    stored_at: datetime | None = case["dispatch_state_at"]
    if stored_at is None:
        return True
    if change["at"] != stored_at:
        return change["at"] > stored_at
    return (change["from_state"] == case["dispatch_state"]
            and change["to_state"] != case["dispatch_state"])


def public_status(state: str, handled_on_spot: bool,
                  merged_into_number: str | None = None) -> tuple[str, str | None]:
    """(Open311 status, status note in the district's language) of a dispatch state; the
    note is stored for CAP, and Open311 renders it again in its reader's language.

    A case handled on the spot (P5.1.5) was filed closed; dispatch files it, then closes
    it at once: it stays closed with the on-the-spot note rather than blinking open.
    A confirmed duplicate's note names the request it was merged into (P5.3.1).
    """
    text = status_notes.note(state, handled_on_spot, merged_into=merged_into_number)
    if handled_on_spot and state in status_notes.ON_SPOT_STATES:
        return "closed", text
    return ("closed" if state in FINAL_STATES else "open"), text


def follow_up(case: dict[str, Any], change: dict[str, Any]) -> str | None:
    """The CAP msgType to send after this change, or None.

    Only a major event was alerted (P5.2.7); its first change (entering dispatch as filed)
    is what the alert already said; a change that stays in the same state says nothing new;
    after a cancel nothing more is sent.  A confirmed duplicate's alert is cancelled (the
    other case's alert stands), as its CAP rendering says.
    """
    if not case["major"] or case["alert_msg_type"] == "cancel":
        return None
    if change["from_state"] is None and change["to_state"] == ENTRY_STATE:
        return None
    if change["to_state"] == case["dispatch_state"]:
        return None
    final = change["to_state"] in FINAL_STATES or case["duplicate_status"] == "confirmed"
    return "cancel" if final else "update"


def _send_follow_up(session: Session, case: dict[str, Any], msg_type: str,
                    correlation_id: str) -> None:
    """Outbox: an ``alert.major_event`` like the first (same key, same fields), with the
    new msg_type: subscribers bound for the alert receive its follow-ups too."""
    sub = catalogue_store.current(session).by_code[case["subcategory"]]  # never removed
    envelope = make_envelope(MAJOR_EVENT_ALERT, {
        "case_id": case["case_id"], "case_number": case["case_number"],
        "msg_type": msg_type, "town_code": case["town_code"],
        "grid_code": case["grid_code"], "severity": case["severity"],
        "category": sub.alert_category, **alert_content(case, sub),
        "reported_at": case["reported_at"],
    }, PRODUCER, correlation_id=correlation_id)
    add_to_outbox(session, ALERTS_EXCHANGE,
                  alert_key(case["town_code"], case["severity"], sub.alert_category), envelope)

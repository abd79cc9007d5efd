"""Registry change events, written to the outbox in the caller's transaction.

Other services and departments subscribe to them on ``gridgov.events`` (P3.2: new and
changed facts reported promptly; P6.2 "mutual push": collect once, share many times).
Events carry codes and ids, never personal data.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from gridgov_common.contract import EVENTS_EXCHANGE, make_envelope
from gridgov_common.platform.outbox import add_to_outbox

PRODUCER = "registry"


def emit(session: Session, message_type: str, payload: dict[str, Any],
         correlation_id: str | None = None) -> dict[str, Any]:
    envelope = make_envelope(message_type, payload, PRODUCER, correlation_id=correlation_id)
    add_to_outbox(session, EVENTS_EXCHANGE, message_type, envelope)
    return envelope

"""Notifications sent for a case go into its electronic case file (P5.3.4: every step of the
case's flow is kept, and the policy's supervision relies on knowing who was told what and
when, P6.2).

The notify service announces each delivery that went out as ``notify.sent`` on
``gridgov.events``; dispatch appends one ``notification_sent`` entry per delivery to the
case it names. A delivery for a case dispatch does not know is refused (dead-lettered with
the reason), so a wrong case id is visible instead of silently lost.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from gridgov_common.contract.envelope import Envelope
from gridgov_common.messaging import PermanentError
from services.dispatch import casefile_store
from services.dispatch.models import cases

CONSUMER = "dispatch.notifications"
QUEUE = "dispatch.notifications"
MESSAGE_TYPE = "notify.sent"
ROUTING_KEYS = ["notify.sent"]
ACTOR = "notify"


def record_sent(session, envelope: Envelope) -> bool:
    """Append the delivery to its case's file; False when it concerns no case."""
    p = envelope.payload
    if p["case_id"] is None:
        return False  # a meeting reminder, a circular: not about one case
    case_id = str(p["case_id"])
    known = session.execute(sa.select(cases.c.case_id).where(cases.c.case_id == case_id)
                            ).first()
    if known is None:
        raise PermanentError("unknown_case", f"no case {case_id} in dispatch",
                             {"case_id": [case_id]})
    casefile_store.append(session, case_id, action="notification_sent", actor_sub=ACTOR,
                          actor_role=ACTOR, at=p["sent_at"], data=_entry_data(p))
    return True


def _entry_data(p: dict[str, Any]) -> dict[str, Any]:
    return {"kind": str(p["kind"]), "channel": str(p["channel"]), "recipient": p["recipient"],
            "cause_id": p["cause_id"], "attempts": p["attempts"],
            "delivery_id": p["delivery_id"], "notification_id": str(p["notification_id"])}

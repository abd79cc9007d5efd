"""Notifications sent for a case go into its electronic case file (P5.3.4: every step of the
case's flow is kept, and the policy's supervision relies on knowing who was told what and
when, P6.2).

The notify service announces each delivery that went out as ``notify.sent`` on
``gridgov.events``; dispatch appends one ``notification_sent`` entry per delivery to the
case it names. A delivery can arrive before its case is filed (a major event's page goes
out first, by design): its entry waits in ``waiting_file_entries`` and is appended when the
case is filed; entries that wait long are counted in the metrics
(``gridgov_case_file_entries_waiting``), so a wrong case id is visible, not lost.
"""

from __future__ import annotations

from typing import Any

from gridgov_common.contract.envelope import Envelope
from services.dispatch import case_store

CONSUMER = "dispatch.notifications"
QUEUE = "dispatch.notifications"
MESSAGE_TYPE = "notify.sent"
ROUTING_KEYS = ["notify.sent"]
ACTOR = "notify"


def record_sent(session, envelope: Envelope) -> bool:
    """Append the delivery to its case's file (or keep it until the case is filed);
    False when it concerns no case."""
    p = envelope.payload
    if p["case_id"] is None:
        return False  # a meeting reminder, a circular: not about one case
    case_store.record_delivery(session, str(p["case_id"]), action="notification_sent",
                               actor_sub=ACTOR, actor_role=ACTOR, at=p["sent_at"],
                               data=_entry_data(p))
    return True


def _entry_data(p: dict[str, Any]) -> dict[str, Any]:
    return {"kind": str(p["kind"]), "channel": str(p["channel"]), "recipient": p["recipient"],
            "cause_id": p["cause_id"], "attempts": p["attempts"],
            "delivery_id": p["delivery_id"], "notification_id": str(p["notification_id"])}

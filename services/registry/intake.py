"""Department data push (P6.2 "mutual push and fusion"): a department reports a change
about a resident on ``gridgov.intake``; the registry applies it once, or rejects it with
a reason that ends in the dead-letter queue and on ``<department>.rejections``.

The department is the one the routing key and the payload name, and the broker user that
published it must be its own (``gridgov_common.contract.senders``; issue 10).
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from gridgov_common.contract import senders
from gridgov_common.kernel import pii
from gridgov_common.platform.messaging import PermanentError, claim_message
from services.registry import people
from services.registry.domain import identity

CONSUMER = "registry.intake"
# REQUIRE_INTAKE_USER_ID (gridgov_common/platform/messaging.py), true in production (one broker user
# per department): pushes only from dept.<department>


def apply(session: Session, cipher: pii.PiiCipher, envelope, require_user: bool = False,
          ) -> bool:
    """Apply one pushed change; False if this message was already applied (idempotent)."""
    if not claim_message(session, envelope.message_id, CONSUMER):
        return False
    payload = envelope.payload
    _same_department(envelope.routing_key, payload["department"])
    # P6.2: a department pushes its own data only — the broker user must be its own
    senders.check_publisher(envelope.user_id, payload["department"], require_user=require_user)
    id_number = _id_number(payload["id_number"])
    row = people.find_active_by_id_number(session, cipher, id_number)
    if row is None:
        raise PermanentError("unknown_resident", "no active resident with that ID number",
                             {"id_number": ["not registered"]})
    if envelope.type == "intake.resident.moved_out":
        people.mark_moved_out(session, row, payload["moved_out_on"], payload["department"],
                              envelope.message_id)
    elif envelope.type == "intake.resident.updated":
        phone = _phone(payload.get("phone"))
        people.update_contact(session, cipher, row, phone, payload.get("household_id"),
                              envelope.message_id)
    else:
        raise PermanentError("unsupported_type", f"registry does not apply {envelope.type}", {})
    return True


def _same_department(routing_key: str | None, department: str) -> None:
    """A department speaks for itself only: the key ``<department>.<entity>.<action>`` (which
    the broker's topic permissions tie to the publishing user) must name the payload's."""
    if not routing_key or routing_key.split(".", 1)[0] != department:
        raise PermanentError("department_mismatch",
                             f"routing key {routing_key!r} is not {department}'s",
                             {"department": ["does not match the routing key"]})


def _id_number(value: str) -> str:
    try:
        return identity.normalise_id_number(value)
    except identity.IdentityError as exc:
        raise PermanentError("invalid_id_number", str(exc), {"id_number": [str(exc)]}) from None


def _phone(value: str | None) -> str | None:
    if not value:
        return None
    try:
        return identity.normalise_phone(value)
    except identity.IdentityError as exc:
        raise PermanentError("invalid_phone", str(exc), {"phone": [str(exc)]}) from None

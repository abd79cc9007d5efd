"""Call-back phones residents leave on the public report page (issue 12; docs/RESIDENT-REPORTS.md).

Events takes the report but holds no personal-data keys (docs/SECURITY.md), so it hands the
phone here at once (RPC ``keep_callback_phone``) and keeps none of it. Stored like every
phone (P5.4.4): AES-256-GCM under the registry's keys with the field name bound, shown
masked; unmasked only for the staff who may unmask residents' contact data
(``privacy.UNMASK_CONTACT``) within the case's grid, with a reason; every unmasked read and
every refused attempt is written to the audit log in the same transaction, as for residents.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.orm import Session

from gridgov_common.kernel import pii
from gridgov_common.kernel.auth import Principal
from gridgov_common.kernel.errors import Forbidden, NotFound
from gridgov_common.platform.messaging import claim_message
from services.registry import audit, people, privacy
from services.registry.models import callback_phones

FIELD = "callback_phone"  # bound as associated data: a blob of another field never decrypts
SUBJECT = "callback_phone"


def keep(session: Session, cipher: pii.PiiCipher, case_number: str, phone: str,
         grid_code: str) -> dict[str, Any]:
    """Store (or replace) the case's call-back phone, encrypted, unconfirmed until events
    says the case was committed (``confirm``); the masked form back."""
    normal = people.normalise_contact_phone(phone)  # 422 invalid_phone
    masked = pii.mask_phone(normal)
    # confirmed_at NULL: a phone kept again waits for its own case's confirmation
    values = {"case_number": case_number, "grid_code": grid_code,
              "phone_enc": cipher.encrypt(normal, FIELD), "phone_masked": masked,
              "confirmed_at": None}
    session.execute(pg.insert(callback_phones).values(**values).on_conflict_do_update(
        index_elements=[callback_phones.c.case_number],
        set_={k: v for k, v in values.items() if k != "case_number"}))
    return {"case_number": case_number, "phone_masked": masked}


def read(session: Session, cipher: pii.PiiCipher, principal: Principal, case_number: str,
         unmask: bool, reason: str | None) -> dict[str, Any]:
    """The case's call-back phone, masked; unmasked with a reason for the contact roles in
    the case's grid (audited; a refusal is audited too)."""
    principal.require_role(*privacy.VIEW_RESIDENTS)
    row = session.execute(sa.select(callback_phones).where(
        callback_phones.c.case_number == case_number,
        callback_phones.c.confirmed_at.is_not(None))).first()  # its case exists
    if row is None:
        raise NotFound(f"no call-back phone for case {case_number}")
    fields = {"phone"} if unmask else set()
    try:
        privacy.check_unmask(principal, fields, reason)
        principal.require_covers(row.grid_code, f"case {case_number}")
    except Forbidden as exc:  # P5.4.4: a refused unmask is recorded too
        audit.record_refusal(session, principal, "unmask" if unmask else "read", SUBJECT,
                             case_number, fields, reason, exc)
        raise
    view = {"case_number": row.case_number, "grid_code": row.grid_code,
            "phone": row.phone_masked, "masked": True, "created_at": row.created_at}
    if unmask:
        view.update(phone=cipher.decrypt(row.phone_enc, FIELD), masked=False)
        audit.record(session, principal, "unmask", SUBJECT, case_number, fields, reason or "")
    return view


# --- the case was committed, or never will be ------------------------------------------
# Events keeps the phone here BEFORE it commits the case (it holds no keys to keep it
# itself); its outbox then says ``events.callback_phone.kept`` for a committed case only.
# A phone no such message confirms within CALLBACK_PHONE_CONFIRM_MINUTES belongs to a case
# that was never stored and is deleted (P5.4.4: no personal data without a purpose).

CONSUMER = "registry.callback_phones"


def confirm(session: Session, envelope, now: datetime) -> bool:
    """Mark the case's phone confirmed (a duplicate delivery changes nothing); False when
    there is no such phone (deleted already, or the registry's own commit failed)."""
    if not claim_message(session, envelope.message_id, CONSUMER):
        return False
    case_number = envelope.payload["case_number"]
    found = session.execute(sa.update(callback_phones).where(
        callback_phones.c.case_number == case_number).values(
        confirmed_at=sa.func.coalesce(callback_phones.c.confirmed_at, now))).rowcount
    return bool(found)


def purge_unconfirmed(session: Session, now: datetime, minutes: int, limit: int = 500) -> int:
    """Delete up to ``limit`` phones still unconfirmed ``minutes`` after they were kept."""
    doomed = (sa.select(callback_phones.c.case_number)
              .where(callback_phones.c.confirmed_at.is_(None),
                     callback_phones.c.created_at < now - timedelta(minutes=minutes))
              .limit(limit).with_for_update(skip_locked=True))
    return session.execute(sa.delete(callback_phones).where(
        callback_phones.c.case_number.in_(doomed.scalar_subquery()))).rowcount

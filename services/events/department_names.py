"""The department register's names, as the registry announces them
(``registry.department.changed``), for what people read: Open311's ``agency_responsible``
says 消防 / Fire and Rescue, not ``fire``.  A department events has not heard of yet is
shown by its code (better a code than nothing).  The table and the rules are shared by
every follower (gridgov_common.platform.department_register)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from gridgov_common.platform import department_register
from services.events.models import departments

QUEUE = "events.departments"
CONSUMER = QUEUE
MESSAGE_TYPE = department_register.MESSAGE_TYPE


def apply(session: Session, envelope) -> bool:
    return department_register.apply(session, departments, envelope, CONSUMER)


def name_map(session: Session, lang: str) -> dict[str, str]:
    return department_register.name_map(session, departments, lang)

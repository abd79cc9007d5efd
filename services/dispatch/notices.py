"""Asking the notify service to tell people (``notify.request``, through the outbox).

A resolved case asks the grid's workers for the return visit (回访, P5.2.1/P5.3.3): the
grid's neighbourhood and community grid workers see it in their app inbox (and on any
channel their role is subscribed to over the grid), with a due time in working time.
The ``cause_id`` makes it once per resolution, however often the request is replayed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from gridgov_common.contract import EVENTS_EXCHANGE, make_envelope
from gridgov_common.kernel.roles import Role
from gridgov_common.kernel.work_calendar import DEFAULT_TZ
from gridgov_common.platform.outbox import add_to_outbox
from services.dispatch import config_store

PRODUCER = "dispatch"
RETURN_VISIT_WORKING_HOURS = 16  # two working days to call or visit the resident
# P5.0: neighbourhood grid workers work in one grid, community grid workers for a community
VISITORS = ((Role.NEIGHBOURHOOD_GRID_WORKER, "grid", 15),
            (Role.COMMUNITY_GRID_WORKER, "community", 12))
# P5.2.5: a sensitive case's visitor is the community grid chief, the one visitor who may
# see special groups (gridgov_common.kernel.roles.SPECIAL_GROUP_READERS)
SENSITIVE_VISITORS = ((Role.COMMUNITY_GRID_CHIEF, "community", 12),)
LOCALE = "zh-CN"
DISTRICT_TZ = ZoneInfo(DEFAULT_TZ)


def request_return_visit(session, case: dict[str, Any], resolved_at: datetime) -> None:
    """``notify.request`` (kind ``return_visit``) to the visitors of the case's grid."""
    calendar = config_store.work_calendar(session)
    due = calendar.add_working_time(resolved_at, RETURN_VISIT_WORKING_HOURS, "working_hours")
    request_notification(
        session, cause_id=f"dispatch:return_visit:{case['case_id']}:{resolved_at.isoformat()}",
        case_id=case["case_id"], kind="return_visit",
        recipients=[{"role": role.value, "scope": f"{level}:{case['grid_code'][:digits]}"}
                    for role, level, digits in (SENSITIVE_VISITORS if case.get("sensitive")
                                                else VISITORS)],
        params={"case_number": case["case_number"],
                "due_at": due.astimezone(calendar.tz).strftime("%Y-%m-%d %H:%M")})


def request_assignment_notice(session, case: dict[str, Any], assignment_id: str,
                              department: str, ack_due: datetime) -> None:
    """P2.2: the department's officers see a new assignment in their app inbox (and on any
    channel subscribed for the department), next to the work order its system receives on
    its own routing key. Once per assignment."""
    request_notification(
        session, cause_id=f"dispatch:assignment:{assignment_id}", case_id=case["case_id"],
        kind="assignment",
        recipients=[{"role": Role.DEPARTMENT_OFFICER.value, "scope": f"department:{department}"}],
        params={"case_number": case["case_number"], "department": department,
                "ack_due_at": ack_due.astimezone(DISTRICT_TZ).strftime("%Y-%m-%d %H:%M")})


def request_notification(session, *, cause_id: str, case_id: str | None, kind: str,
                         recipients: list[dict[str, Any]], params: dict[str, Any],
                         template: str | None = None) -> None:
    """A ``notify.request`` (template named as its kind unless given) in the caller's
    outbox."""
    envelope = make_envelope("notify.request", {
        "cause_id": cause_id, "case_id": case_id, "kind": kind, "template": template or kind,
        "locale": LOCALE, "recipients": recipients, "params": params}, PRODUCER)
    add_to_outbox(session, EVENTS_EXCHANGE, "notify.request", envelope)

"""What each incoming message means as a notification request (who, which template).

- ``notify.request``: as sent; ``cause_id`` is the sender's.
- ``dispatch.escalation`` (P6.2 督办): the escalation's target (``target_role`` over
  ``target_scope``), and the department's officers when a department is late; cause
  ``dispatch.escalation:<case>:<assignment>:<kind>:<level>`` — dispatch's own once-key, so a
  re-published escalation is not notified twice.
- ``alert.major_event`` (P5.2.7): the grid's neighbourhood grid workers, the community's
  grid chief and instructor, the town grid chief and the district admins; one cause per
  alert message (an ``update`` or ``cancel`` is a new message, a new notification).  People
  are paged (SMS, e-mail) once per event, by the first ``alert``; its follow-ups go to the
  inbox and to systems' webhooks only (M17: a busy event re-paged the same people four
  times in five seconds).
- ``assessment.meeting.reminder`` (P5.4.5): the role over the scope it names, before the
  period ends without enough meetings; cause once per (person, rule, period).
- ``assessment.circular.published`` (P5.3.5): the town grid chiefs of the towns and the
  officers of the departments it names, and the district admins, with the link to its
  page; cause ``assessment.circular.published:<circular_id>`` — once per circular version.
"""

from __future__ import annotations

from typing import Any

from gridgov_common.contract import Envelope
from gridgov_common.kernel.area import community_of, district_of, town_of
from gridgov_common.kernel.roles import Role
from services.notify.domain.requests import ALERT_PRIORITY, Request

FIRST_ALERT = "alert"  # CAP msgType of the first message of an event (then update, cancel)
FOLLOW_UP_CHANNELS = frozenset({"webhook"})  # systems keep every update; people are not re-paged


def _plain(value: Any) -> Any:
    return str(value) if value is not None and not isinstance(value, str | int | float | bool) \
        else value


def from_request(envelope: Envelope) -> Request:
    p = envelope.payload
    return Request(
        cause_id=p["cause_id"], case_id=_plain(p["case_id"]), kind=p["kind"],
        template=p["template"], locale=p["locale"], recipients=list(p["recipients"]),
        params={k: _plain(v) for k, v in p["params"].items()}, producer=envelope.producer)


def from_escalation(envelope: Envelope, locale: str) -> Request:
    p = envelope.payload
    recipients = [{"role": p["target_role"], "scope": p["target_scope"]}]
    if p["department"]:
        recipients.append({"role": Role.DEPARTMENT_OFFICER.value,
                           "scope": f"department:{p['department']}"})
    cause = ":".join(("dispatch.escalation", str(p["case_id"]),
                      str(p["assignment_id"] or ""), p["kind"], str(p["level"])))
    manual = p["kind"] == "manual"  # issued by hand: an instruction, not a ladder step
    return Request(
        cause_id=cause, case_id=str(p["case_id"]), kind="escalation",
        template="escalation_manual" if manual else "escalation",
        locale=locale, recipients=recipients, producer=envelope.producer,
        params={"case_number": p["case_number"], "kind": p["kind"], "card": p["card"] or "",
                "level": p["level"], "reason": p["reason"],
                "department": p["department"] or "", "at": _plain(p["at"])})


def from_alert(envelope: Envelope, locale: str) -> Request:
    p = envelope.payload
    grid = p["grid_code"]
    recipients = [
        {"role": Role.NEIGHBOURHOOD_GRID_WORKER.value, "scope": f"grid:{grid}"},
        {"role": Role.COMMUNITY_GRID_CHIEF.value, "scope": f"community:{community_of(grid)}"},
        {"role": Role.GRID_INSTRUCTOR.value, "scope": f"community:{community_of(grid)}"},
        {"role": Role.TOWN_GRID_CHIEF.value, "scope": f"town:{town_of(grid)}"},
        {"role": Role.DISTRICT_ADMIN.value, "scope": f"district:{district_of(grid)}"},
    ]
    return Request(
        cause_id=f"alert.major_event:{envelope.message_id}", case_id=str(p["case_id"]),
        kind="major_event", template="major_event", locale=locale, recipients=recipients,
        producer=envelope.producer, priority=ALERT_PRIORITY,
        channels=None if p["msg_type"] == FIRST_ALERT else FOLLOW_UP_CHANNELS,  # P5.2.7, M17
        params={"case_number": p["case_number"], "headline": p["headline"],
                "description": p["description"], "severity": p["severity"],
                "category": p["category"], "msg_type": p["msg_type"], "grid_code": grid})


def from_meeting_reminder(envelope: Envelope, locale: str) -> Request:
    p = envelope.payload
    cause = ":".join(("assessment.meeting.reminder", p["staff_sub"], p["rule"],
                      _plain(p["period_start"])))
    return Request(
        cause_id=cause, case_id=None, kind="meeting_reminder", template="meeting_due",
        locale=locale, recipients=[{"role": p["role"], "scope": p["scope"]}],
        producer=envelope.producer,
        params={"rule": p["rule"], "required": p["required"], "held": p["held"],
                "period_end": _plain(p["period_end"]), "clause": p["clause"]})


def from_circular(envelope: Envelope, locale: str) -> Request:
    p = envelope.payload
    district = district_of(p["scope"].partition(":")[2])
    recipients = [{"role": Role.DISTRICT_ADMIN.value, "scope": f"district:{district}"}]
    recipients += [{"role": Role.TOWN_GRID_CHIEF.value, "scope": f"town:{code}"}
                   for code in p["towns"]]
    recipients += [{"role": Role.DEPARTMENT_OFFICER.value, "scope": f"department:{code}"}
                   for code in p["departments"]]
    summary = p["summary"]
    return Request(
        cause_id=f"assessment.circular.published:{p['circular_id']}", case_id=None,
        kind="circular", template="circular_published", locale=locale,
        recipients=recipients, producer=envelope.producer,
        params={"circular_kind": p["kind"], "period": p["period"], "version": p["version"],
                "period_start": _plain(p["period_start"]),
                "period_end": _plain(p["period_end"]), "url": p["html_url"],
                **{k: summary[k] for k in ("dispatched", "closed", "overdue_open",
                                           "red_cards", "yellow_cards")}})

"""CAP 1.2 (OASIS Common Alerting Protocol, ITU-T X.1303) rendering of a major event (P5.2.7).

Why CAP: alerting systems of the emergency and fire services already read it, so a major
event reported by a grid worker reaches them in a format they know, with "on-site control
first" as the instruction.  It is an alert format, not a case workflow: one message per
state of the alert — ``Alert`` when filed, ``Update`` as dispatch moves the open case,
``Cancel`` once dispatch closed or cancelled it, or when it was confirmed to be a duplicate
of another case (whose alert stands).  The follow-ups go on ``gridgov.alerts`` too
(services/events/following.py); a follow-up ``references`` the first alert (CAP 1.2 §3.2.1).

The audience is restricted (``scope`` Restricted): it carries the description a grid worker
wrote, which may name places and people.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import datetime
from typing import Any

from gridgov_common.contract import Severity
from services.events.domain.catalogue import Subcategory
from services.events.domain.numbers import DISTRICT_TZ
from services.events.domain.xmltext import clean, sub, to_string

CAP_NS = "urn:oasis:names:tc:emergency:cap:1.2"
RESTRICTION = ("Restricted to gridgov staff: town grid chiefs, the district administration, "
               "the operations centre and the departments concerned. Do not forward.")
INSTRUCTION = ("现场管控优先：先控制现场、疏散人员、保护证据，并立即报告。 "
               "On-site control first (P5.2.7): secure the scene, evacuate if needed, "
               "preserve evidence and report at once.")
SENDER_NAME = "gridgov 网格化服务管理平台"
CIRCLE_RADIUS_KM = 0.5
HEADLINE_MAX = 160  # CAP 1.2 asks for "less than 160 characters"
CAP_SEVERITY = {Severity.CRITICAL: "Extreme", Severity.MAJOR: "Severe",
                Severity.MINOR: "Minor"}


def cap_time(moment: datetime) -> str:
    """CAP dateTime: seconds, explicit offset, no "Z" (CAP 1.2 §3.3.2)."""
    return moment.astimezone(DISTRICT_TZ).isoformat(timespec="seconds")


def alert_headline(sub_: Subcategory, description: str) -> str:
    """Headline of the alert message on the bus and in CAP: what, then the first words."""
    first_line = " ".join(description.split())
    text = f"{sub_.name_zh}：{first_line}"
    return text if len(text) <= HEADLINE_MAX else text[: HEADLINE_MAX - 1] + "…"


def message_kind(case: dict[str, Any]) -> str:
    """Alert / Update / Cancel, from the case's state: the last follow-up sent on the bus
    (``alert_msg_type``) once dispatch has moved the case."""
    if case.get("duplicate_status") == "confirmed":
        return "Cancel"
    if case.get("alert_msg_type"):
        return case["alert_msg_type"].capitalize()
    if case.get("status") == "closed":
        return "Update"
    return "Alert"


def _note(case: dict[str, Any], kind: str) -> str:
    if kind == "Cancel" and case.get("duplicate_status") == "confirmed":
        return f"duplicate of case {case.get('duplicate_of_number') or ''}".strip()
    return case.get("status_notes") or "case closed"


def _response_type(case: dict[str, Any]) -> str:
    if case.get("alert_msg_type") == "cancel":
        return "AllClear"  # closed or cancelled by dispatch: the event is over
    return "Monitor" if case.get("status") == "closed" else "Execute"


def render(case: dict[str, Any], sub_: Subcategory, sender: str) -> str:
    """The CAP 1.2 document of a major-event case (a case as ``cases.view`` shows it)."""
    kind = message_kind(case)
    alert_sent = case["created_at"]
    number = case["case_number"]
    root = ET.Element("alert", {"xmlns": CAP_NS})
    if kind == "Alert":
        sub(root, "identifier", number)
        sent = alert_sent
    else:
        sent = case.get("alert_sent_at") or case.get("updated_at") or alert_sent
        stamp = f"{sent.astimezone(DISTRICT_TZ):%Y%m%d%H%M%S%f}"[:-3]  # unique per follow-up
        sub(root, "identifier", f"{number}-{kind.lower()}-{stamp}")
    sub(root, "sender", sender)
    sub(root, "sent", cap_time(sent))
    sub(root, "status", "Actual")
    sub(root, "msgType", kind)
    sub(root, "source", case["source"])
    sub(root, "scope", "Restricted")
    sub(root, "restriction", RESTRICTION)
    if kind != "Alert":
        sub(root, "note", _note(case, kind))
        sub(root, "references", f"{sender},{number},{cap_time(alert_sent)}")
    sub(root, "incidents", number)
    _info(root, case, sub_)
    return to_string(root)


def _info(root: ET.Element, case: dict[str, Any], sub_: Subcategory) -> None:
    severity = Severity(case["severity"])
    info = sub(root, "info")
    sub(info, "language", "zh-CN")
    sub(info, "category", sub_.cap_category)
    sub(info, "event", sub_.name)
    sub(info, "responseType", _response_type(case))
    sub(info, "urgency", "Expected" if severity == Severity.MINOR else "Immediate")
    sub(info, "severity", CAP_SEVERITY[severity])
    # a grid worker on the spot saw it; a hotline caller's account is likely, not observed
    sub(info, "certainty", "Observed" if case["source"] == "app" else "Likely")
    sub(info, "senderName", SENDER_NAME)
    sub(info, "headline", alert_headline(sub_, case["description"]))
    sub(info, "description", case["description"])
    sub(info, "instruction", INSTRUCTION)
    for name, value in (("gridgov:case_number", case["case_number"]),
                        ("gridgov:work_category", case["work_category"]),
                        ("gridgov:subcategory", case["subcategory"])):
        parameter = sub(info, "parameter")
        sub(parameter, "valueName", name)
        sub(parameter, "value", value)
    area = sub(info, "area")
    sub(area, "areaDesc", clean(f"网格 grid {case['grid_code']}, 镇街 town {case['town_code']}"))
    location = case.get("location")
    if location:
        # CAP circle: "lat,lon radius-km" in WGS84
        sub(area, "circle", f"{location['lat']:.6f},{location['lon']:.6f} {CIRCLE_RADIUS_KM}")
    for name, value in (("gridgov:grid_code", case["grid_code"]),
                        ("gridgov:town_code", case["town_code"])):
        geocode = sub(area, "geocode")
        sub(geocode, "valueName", name)
        sub(geocode, "value", value)

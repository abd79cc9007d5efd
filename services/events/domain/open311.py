"""Open311 GeoReport v2 documents, in JSON and XML (http://wiki.open311.org/GeoReport_v2).

Why speak Open311: it is the one civic-issue interface many apps and city systems already
implement (DOMAIN-REFERENCES §5), so a third-party app can file public cases and follow
their status without a gridgov client.  Only what GeoReport v2 defines is rendered; the
public never sees private cases or personal fields (P5.4.4): the functions here take a case
already selected as public and render only its public columns.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from gridgov_common.kernel.languages import DEFAULT
from services.events.domain import status_notes
from services.events.domain.catalogue import Subcategory
from services.events.domain.numbers import DISTRICT_TZ
from services.events.domain.xmltext import sub, to_string

SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
FORMATS = ("text/xml", "application/json")
CHANGESET = "2026-11-28T00:00:00+08:00"  # bump when the service list changes
JSON_TYPE = "application/json; charset=utf-8"
XML_TYPE = "text/xml; charset=utf-8"
DEFAULT_DAYS = 90  # GeoReport v2: GET requests defaults to the last 90 days
MAX_REQUESTS = 1000  # ... and at most 1,000 requests


def w3c_time(moment: datetime | None) -> str | None:
    """W3C datetime with the district's offset, as GeoReport v2 shows it."""
    if moment is None:
        return None
    return moment.astimezone(DISTRICT_TZ).isoformat(timespec="seconds")


# --- documents (JSON-able) ---------------------------------------------------------------

def discovery(endpoint_url: str, contact: str) -> dict[str, Any]:
    return {
        "changeset": CHANGESET,
        "contact": contact,
        "key_service": "API keys are issued by the district operations centre.",
        "endpoints": [{
            "specification": SPECIFICATION,
            "url": endpoint_url,
            "changeset": CHANGESET,
            "type": "production",
            "formats": list(FORMATS),
        }],
    }


def service(sub_: Subcategory) -> dict[str, Any]:
    return {
        "service_code": sub_.code,
        "service_name": sub_.name,
        "description": sub_.description or sub_.name_en,
        "metadata": bool(sub_.attributes),
        "type": "realtime",
        "keywords": sub_.work_category.value,
        "group": sub_.work_category.value,
    }


def services(public: Iterable[Subcategory]) -> list[dict[str, Any]]:
    """The Open311 service list: the public subcategories of the current catalogue."""
    return [service(sub_) for sub_ in public]


def service_definition(sub_: Subcategory) -> dict[str, Any]:
    return {"service_code": sub_.code,
            "attributes": [attr.as_open311() for attr in sub_.attributes]}


def merged_into(case: dict[str, Any]) -> str | None:
    """The number of the request a confirmed duplicate was merged into (P5.3.1), else
    None; a suggested or undone link is not the public's business."""
    if case.get("duplicate_status") != "confirmed":
        return None
    return case.get("duplicate_of_number")


def service_request(case: dict[str, Any], sub_: Subcategory, agencies: list[str],
                    media_base: str | None, lang: str = DEFAULT) -> dict[str, Any]:
    """A public case as a GeoReport v2 request: no reporter, no resident, no attributes
    beyond the public ones.  ``status_notes`` in the reader's language (``lang``);
    ``agencies`` the names of the departments responsible, lead first."""
    photos = case.get("photos") or []
    expected = case.get("expected_at") if case["status"] == "open" else None
    own_media = f"{media_base}{photos[0]}" if photos and media_base else None
    return {
        "service_request_id": case["case_number"],
        "status": case["status"],
        "status_notes": status_notes.note(case.get("dispatch_state"),
                                          bool(case.get("handled_on_spot")), lang,
                                          merged_into=merged_into(case)),
        "service_name": sub_.name,
        "service_code": sub_.code,
        "description": case["description"],
        # the departments dispatch sent it to, by name (department_names.py); no person
        "agency_responsible": (", " if lang == "en" else "、").join(agencies) or None,
        "service_notice": None,
        "requested_datetime": w3c_time(case["reported_at"]),
        "updated_datetime": w3c_time(case.get("updated_at") or case["reported_at"]),
        "expected_datetime": w3c_time(expected) if expected else None,  # dispatch's deadline
        "address": case.get("address"),
        "address_id": None,
        "zipcode": None,
        "lat": case.get("lat"),
        "long": case.get("lon"),
        "media_url": own_media or case.get("media_url"),  # a photo, else the reporter's link
    }


def created(case_number: str, notice: str) -> list[dict[str, Any]]:
    """Answer to POST requests: the id at once (no token needed, filing is synchronous)."""
    return [{"service_request_id": case_number, "service_notice": notice, "account_id": None}]


def errors(status: int, description: str) -> list[dict[str, Any]]:
    return [{"code": status, "description": description}]


# --- XML ---------------------------------------------------------------------------------

def _dict_into(parent: ET.Element, data: dict[str, Any]) -> None:
    for key, value in data.items():
        sub(parent, key, value)


def discovery_xml(doc: dict[str, Any]) -> str:
    root = ET.Element("discovery")
    for key in ("changeset", "contact", "key_service"):
        sub(root, key, doc[key])
    endpoints = sub(root, "endpoints")
    for endpoint in doc["endpoints"]:
        element = sub(endpoints, "endpoint")
        for key in ("specification", "url", "changeset", "type"):
            sub(element, key, endpoint[key])
        formats = sub(element, "formats")
        for fmt in endpoint["formats"]:
            sub(formats, "format", fmt)
    return to_string(root)


def services_xml(items: list[dict[str, Any]]) -> str:
    root = ET.Element("services")
    for item in items:
        _dict_into(sub(root, "service"), item)
    return to_string(root)


def service_definition_xml(doc: dict[str, Any]) -> str:
    root = ET.Element("service_definition")
    sub(root, "service_code", doc["service_code"])
    attributes = sub(root, "attributes")
    for attr in doc["attributes"]:
        element = sub(attributes, "attribute")
        _dict_into(element, {k: v for k, v in attr.items() if k != "values"})
        values = sub(element, "values")
        for value in attr["values"]:
            _dict_into(sub(values, "value"), value)
    return to_string(root)


def requests_xml(items: list[dict[str, Any]]) -> str:
    root = ET.Element("service_requests")
    for item in items:
        _dict_into(sub(root, "request"), item)
    return to_string(root)


def errors_xml(items: list[dict[str, Any]]) -> str:
    root = ET.Element("errors")
    for item in items:
        _dict_into(sub(root, "error"), item)
    return to_string(root)

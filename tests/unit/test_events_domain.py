"""The events service's pure domain code (no broker, no database): catalogue, case numbers,
distances, image sniffing, settings, and the CAP / Open311 XML renderings."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, date, datetime

import pytest

from gridgov_common.contract import WorkCategory, alert_key
from gridgov_common.contract.cases import CASE_NUMBER_RE
from services.events.dependencies import settings_from_config
from services.events.domain import cap as cap_xml
from services.events.domain import catalogue, geo, media, numbers
from services.events.domain import open311 as doc
from services.events.domain.catalogue_version import DEFAULT
from services.events.georeport import _w3c

CAP = "{urn:oasis:names:tc:emergency:cap:1.2}"


# --- catalogue --------------------------------------------------------------------------

def test_every_work_category_has_subcategories_and_every_alert_key_is_valid():
    assert {sub.work_category for sub in catalogue.CATALOGUE} == set(WorkCategory)
    for sub in catalogue.CATALOGUE:
        alert_key("320505001", "critical", sub.alert_category)  # raises if malformed


def test_subcategory_must_belong_to_its_work_category():
    assert DEFAULT.subcategory("fire_incident", "major_event").code == "fire_incident"
    with pytest.raises(catalogue.CatalogueError) as info:
        DEFAULT.subcategory("fire_incident", "other")
    assert info.value.field == "subcategory"
    with pytest.raises(catalogue.CatalogueError):
        DEFAULT.subcategory("nope")


def test_sensitive_categories_are_never_public():
    public = {sub.work_category for sub in DEFAULT.public}
    assert public and not public & catalogue.NEVER_PUBLIC
    with pytest.raises(catalogue.CatalogueError):
        DEFAULT.public_subcategory("mental_illness_risk")


def test_major_means_major_event_or_critical():  # P5.2.7
    assert catalogue.is_major("major_event", "minor")
    assert catalogue.is_major("public_security_prevention", "critical")
    assert not catalogue.is_major("public_security_prevention", "major")


def test_typed_attributes_are_checked():
    sub = catalogue.BY_CODE["public_facility_damage"]
    assert catalogue.check_attributes(sub, {"facility_type": ["street_light"]}) == {
        "facility_type": "street_light"}
    for bad in ({}, {"facility_type": "rocket"}, {"facility_type": "other", "colour": "red"}):
        with pytest.raises(catalogue.CatalogueError):
            catalogue.check_attributes(sub, bad)
    optional = catalogue.BY_CODE["fire_hazard_corridor"]
    assert catalogue.check_attributes(optional, {}) == {}


# --- case numbers -----------------------------------------------------------------------

def test_case_numbers_are_readable_and_fit_the_contract():
    number = numbers.format_case_number("GS", date(2026, 11, 28), 123)
    assert number == "GS20261128-000123" and CASE_NUMBER_RE.match(number)
    assert numbers.format_case_number("GS", date(2026, 11, 28), 1_234_567).endswith("-1234567")
    with pytest.raises(ValueError):
        numbers.format_case_number("gs", date(2026, 11, 28), 1)
    with pytest.raises(ValueError):
        numbers.format_case_number("GS", date(2026, 11, 28), 0)


def test_the_day_is_the_districts_day():
    # 16:30 UTC on the 28th is already the 29th in China (UTC+8)
    assert numbers.local_day(datetime(2026, 11, 28, 16, 30, tzinfo=UTC)) == date(2026, 11, 29)
    assert numbers.local_day(datetime(2026, 11, 28, 15, 59, tzinfo=UTC)) == date(2026, 11, 28)
    with pytest.raises(ValueError):
        numbers.local_day(datetime(2026, 11, 28))


# --- geometry and media -----------------------------------------------------------------

def test_haversine_and_box():
    assert geo.haversine_m(120, 31, 120, 31) == 0
    # one degree of latitude ≈ 111.2 km
    assert abs(geo.haversine_m(120, 31, 120, 32) - 111_195) < 50
    east = 120 + 100 / (111_195 * 0.857167)  # 100 m east at 31° N
    assert abs(geo.haversine_m(120, 31, east, 31) - 100) < 0.5
    box = geo.box_around(120, 31, 100)
    assert box.min_lon < 120 < box.max_lon and box.min_lat < 31 < box.max_lat
    # the box reaches at least 100 m in every direction, and not much more
    for lon, lat in ((box.max_lon, 31), (box.min_lon, 31), (120, box.max_lat),
                     (120, box.min_lat)):
        assert 100 <= geo.haversine_m(120, 31, lon, lat) < 102


def test_sniffing_trusts_bytes_not_labels():
    assert media.sniff(b"\xff\xd8\xff\xe0rest") == media.JPEG
    assert media.sniff(b"\x89PNG\r\n\x1a\nrest") == media.PNG
    assert media.sniff(b"RIFF\x00\x00\x00\x00WEBPVP8 ") == media.WEBP
    assert media.sniff(b"RIFF\x00\x00\x00\x00AVI ") is None
    assert media.sniff(b"GIF89a") is None and media.sniff(b"") is None


# --- settings ---------------------------------------------------------------------------

def test_settings_from_config():
    settings = settings_from_config({"OPEN311_API_KEYS": " k1-0123456789abcdef , ,"
                                                         "k2-0123456789abcdef",
                                     "DUPLICATE_DISTANCE_METRES": "250"})
    assert settings.open311_api_keys == ("k1-0123456789abcdef", "k2-0123456789abcdef")
    assert settings.duplicate_distance_m == 250 and settings.duplicate_window_hours == 72
    assert settings.case_number_prefix == "GS"
    client = settings.open311_client("k2-0123456789abcdef")
    assert client.startswith("open311:") and "k2" not in client
    assert settings.open311_client("k3-0123456789abcdef") is None
    assert settings.open311_client(None) is None
    assert settings_from_config({}).open311_api_keys == ()
    for bad in ({"OPEN311_API_KEYS": "short"}, {"CASE_NUMBER_PREFIX": "g-s"},
                {"DUPLICATE_WINDOW_HOURS": "-1"}, {"REGISTRY_RPC_TIMEOUT": "soon"}):
        with pytest.raises(RuntimeError):
            settings_from_config(bad)


# --- renderings -------------------------------------------------------------------------

def _case(**overrides):
    case = {
        "case_id": "5d1c7a58-8f0e-4c1b-9a3e-2b6f0d4e9a11", "case_number": "GS20261128-000124",
        "created_at": datetime(2026, 11, 28, 2, 15, tzinfo=UTC),
        "updated_at": datetime(2026, 11, 28, 3, 0, tzinfo=UTC),
        "reported_at": datetime(2026, 11, 28, 2, 14, tzinfo=UTC),
        "source": "app", "grid_code": "320505001001003", "town_code": "320505001",
        "location": {"lon": 120.5712, "lat": 31.2989}, "work_category": "major_event",
        "subcategory": "fire_incident", "severity": "critical",
        "description": "冒烟 <script>&\x00\x1f]]> 已疏散", "status": "open",
        "status_notes": None, "duplicate_status": None, "duplicate_of_number": None,
    }
    case.update(overrides)
    return case


def _text(root, path):
    return root.find("/".join(CAP + part for part in path.split("/"))).text


def test_cap_alert_update_and_cancel():
    sub = catalogue.BY_CODE["fire_incident"]
    alert = ET.fromstring(cap_xml.render(_case(), sub, "gridgov-events"))
    assert _text(alert, "msgType") == "Alert"
    assert _text(alert, "sent") == "2026-11-28T10:15:00+08:00"  # no "Z" in CAP
    assert _text(alert, "info/description") == "冒烟 <script>&]]> 已疏散"
    assert _text(alert, "info/area/circle") == "31.298900,120.571200 0.5"
    assert alert.find(f"{CAP}references") is None

    closed = ET.fromstring(cap_xml.render(_case(status="closed", status_notes="已扑灭"),
                                          sub, "gridgov-events"))
    assert _text(closed, "msgType") == "Update" and _text(closed, "note") == "已扑灭"
    assert _text(closed, "references") == \
        "gridgov-events,GS20261128-000124,2026-11-28T10:15:00+08:00"
    assert _text(closed, "identifier") != _text(alert, "identifier")

    cancel = ET.fromstring(cap_xml.render(_case(
        duplicate_status="confirmed", duplicate_of_number="GS20261128-000120", location=None),
        sub, "gridgov-events"))
    assert _text(cancel, "msgType") == "Cancel"
    assert "GS20261128-000120" in _text(cancel, "note")
    assert cancel.find(f"{CAP}info/{CAP}area/{CAP}circle") is None  # no location, no circle


def test_cap_headline_is_short():
    sub = catalogue.BY_CODE["fire_incident"]
    assert len(cap_xml.alert_headline(sub, "很长" * 500)) == cap_xml.HEADLINE_MAX


def test_open311_documents_are_well_formed_xml():
    for text in (doc.discovery_xml(doc.discovery("http://x/open311/v2", "a&b <ops>")),
                 doc.services_xml(doc.services(DEFAULT.public)),
                 doc.service_definition_xml(doc.service_definition(
                     catalogue.BY_CODE["public_facility_damage"])),
                 doc.errors_xml(doc.errors(400, "bad <input> & \x02 more"))):
        ET.fromstring(text)
    request = doc.service_request(
        {"case_number": "GS1-000001", "status": "open", "description": "x\x0b<y>",
         "reported_at": datetime(2026, 11, 28, 2, tzinfo=UTC), "lat": 31.0, "lon": 120.0,
         "photos": ["ab" * 32]}, catalogue.BY_CODE["other_issue"], ["消防"],
        "http://x/media/")
    root = ET.fromstring(doc.requests_xml([request]))
    assert root.find("request/description").text == "x<y>"
    assert root.find("request/media_url").text == "http://x/media/" + "ab" * 32
    assert root.find("request/agency_responsible").text == "消防"
    assert root.find("request/expected_datetime").text is None


def test_w3c_dates_survive_form_decoding():
    expected = datetime(2026, 11, 28, 10, 0, tzinfo=numbers.DISTRICT_TZ)
    assert _w3c("d", "2026-11-28T10:00:00+08:00") == expected
    assert _w3c("d", "2026-11-28T10:00:00 08:00") == expected  # "+" decoded as a space
    assert _w3c("d", "2026-11-28T02:00:00Z") == expected
    assert _w3c("d", "2026-11-28T10:00:00") == expected  # naive: the district's time

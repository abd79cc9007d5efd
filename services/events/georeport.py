"""Open311 GeoReport v2 endpoints (docs/OPEN311.md): discovery, services, service
definitions, filing public requests with an API key, and reading public requests.

Errors use GeoReport's shape (``[{"code", "description"}]`` / ``<errors>``) and its status
codes (400 for bad input, 403 for a bad key, 404), not gridgov's, because Open311 clients
parse them.  Personal fields a client may send (name, e-mail, phone, device id) are not
stored (P5.4.4): the platform has no use for them that would justify keeping them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import sqlalchemy as sa
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from gridgov_common.contract.cases import DESCRIPTION_MAX, Source
from gridgov_common.kernel.errors import (
    ApiError,
    BadRequest,
    Forbidden,
    NotFound,
    Unprocessable,
    UnsupportedMediaType,
)
from gridgov_common.kernel.languages import DEFAULT
from services.events import cases, catalogue_store, department_names, grid_index
from services.events.dependencies import RegistryClient, Settings
from services.events.domain import catalogue
from services.events.domain import open311 as doc
from services.events.domain.catalogue_version import Catalogue
from services.events.domain.numbers import DISTRICT_TZ, now_utc
from services.events.models import cases as cases_table
from services.events.visibility import public_conditions

FORMATS = ("json", "xml")
FORM_TYPE = "application/x-www-form-urlencoded"
MAX_FORM_FIELDS = 100
MAX_IDS = 100
ATTRIBUTE_KEY = re.compile(r"^attribute\[([a-z][a-z0-9_]*)\](\[\])?$")
REPORTER_ROLE = "open311_client"
ADDRESS_MAX = 200
MEDIA_URL_MAX = 500
NOTICE = "已受理，编号即案件编号 / Received; the request id is the case number."


def check_format(fmt: str) -> str:
    if fmt not in FORMATS:
        raise NotFound(f"unknown format {fmt!r}: use .json or .xml")
    return fmt


def respond(fmt: str, data: Any, xml_render: Callable[[Any], str], status: int = 200,
            ) -> Response:
    if fmt == "xml":
        return Response(xml_render(data), status=status, content_type=doc.XML_TYPE)
    return Response(json.dumps(data, ensure_ascii=False), status=status,
                    content_type=doc.JSON_TYPE)


def error(fmt: str, exc: ApiError) -> Response:
    """GeoReport v2 error list; a failed validation is a 400 there, not a 422."""
    status = 400 if exc.status == 422 else exc.status
    details = "; ".join(f"{name}: {', '.join(map(str, problems))}"
                        for name, problems in exc.fields.items()
                        if isinstance(problems, list))
    text = f"{exc.message} ({details})" if details else exc.message
    return respond(fmt if fmt in FORMATS else "json", doc.errors(status, text), doc.errors_xml,
                   status=status)


def guarded(fmt: str, session: Session, action: Callable[[], Response]) -> Response:
    """Run ``action``; any caller error becomes a GeoReport error and nothing is kept."""
    try:
        check_format(fmt)
        return action()
    except ApiError as exc:
        session.rollback()
        return error(fmt, exc)


# --- reads ------------------------------------------------------------------------------

def no_tokens() -> Response:
    """GeoReport's token route, answered in its error shape: filing is synchronous."""
    raise NotFound("no tokens are issued: POST requests answers with the "
                   "service_request_id at once")


def discovery(fmt: str, endpoint_url: str, settings: Settings) -> Response:
    return respond(fmt, doc.discovery(endpoint_url, settings.open311_contact),
                   doc.discovery_xml)


def services(session: Session, fmt: str) -> Response:
    return respond(fmt, doc.services(catalogue_store.current(session).public),
                   doc.services_xml)


def service_definition(session: Session, fmt: str, code: str) -> Response:
    try:
        sub = catalogue_store.current(session).public_subcategory(code)
    except catalogue.CatalogueError:
        raise NotFound(f"no service {code}") from None
    return respond(fmt, doc.service_definition(sub), doc.service_definition_xml)


def _w3c(name: str, text: str) -> datetime:
    """A W3C datetime from a query string ("+" may arrive decoded as a space)."""
    text = re.sub(r"(T\d\d:\d\d(?::\d\d(?:\.\d+)?)?) (\d\d:?\d\d)$", r"\1+\2", text.strip())
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise BadRequest(f"{name} is not a W3C datetime", fields={name: [text]}) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=DISTRICT_TZ)


def _comma_list(args, name: str) -> list[str]:
    values = [v.strip() for v in (args.get(name) or "").split(",") if v.strip()]
    if len(values) > MAX_IDS:
        raise BadRequest(f"at most {MAX_IDS} values in {name}")
    return values


def list_requests(session: Session, fmt: str, args, media_base: str,
                  lang: str = DEFAULT) -> Response:
    """GET requests: by ids, or by service_code/status/date range (default the last 90
    days), newest first, at most 1,000; public cases only."""
    current = catalogue_store.current(session)
    conditions = list(public_conditions(current))
    ids = _comma_list(args, "service_request_id")
    if ids:  # GeoReport v2: ids given → the other filters are ignored
        conditions.append(cases_table.c.case_number.in_(ids))
    else:
        end = _w3c("end_date", args["end_date"]) if args.get("end_date") else now_utc()
        start = (_w3c("start_date", args["start_date"]) if args.get("start_date")
                 else end - timedelta(days=doc.DEFAULT_DAYS))
        if start > end:
            raise BadRequest("start_date is after end_date")
        conditions += [cases_table.c.reported_at >= start, cases_table.c.reported_at <= end]
        codes = _comma_list(args, "service_code")
        if codes:
            conditions.append(cases_table.c.subcategory.in_(codes))
        statuses = _comma_list(args, "status")
        if statuses:
            if set(statuses) - {"open", "closed"}:
                raise BadRequest("status is open and/or closed")
            conditions.append(cases_table.c.status.in_(statuses))
    rows = session.execute(
        with_original().where(*conditions)
        .order_by(cases_table.c.reported_at.desc(), cases_table.c.case_number.desc())
        .limit(doc.MAX_REQUESTS)).all()
    agencies = department_names.name_map(session, lang)
    items = [_public(dict(row._mapping), current, agencies, media_base, lang) for row in rows]
    return respond(fmt, items, doc.requests_xml)


def get_request(session: Session, fmt: str, request_id: str, media_base: str,
                lang: str = DEFAULT) -> Response:
    current = catalogue_store.current(session)
    row = session.execute(with_original().where(
        cases_table.c.case_number == request_id,
        *public_conditions(current))).first()
    if row is None:
        raise NotFound(f"no public request {request_id}")
    agencies = department_names.name_map(session, lang)
    return respond(fmt, [_public(dict(row._mapping), current, agencies, media_base, lang)],
                   doc.requests_xml)


_original = cases_table.alias("original")


def with_original() -> sa.Select:
    """Public cases with the number of the case each duplicates: a confirmed duplicate's
    note names the request it was merged into (P5.3.1)."""
    number = (sa.select(_original.c.case_number)
              .where(_original.c.case_id == cases_table.c.duplicate_of).scalar_subquery())
    return sa.select(cases_table, number.label("duplicate_of_number"))


def _public(case: dict[str, Any], current: Catalogue, agencies: dict[str, str],
            media_base: str, lang: str) -> dict[str, Any]:
    named = [agencies.get(code, code) for code in dict.fromkeys(case.get("departments") or [])]
    return doc.service_request(case, current.by_code[case["subcategory"]], named, media_base,
                               lang)


# --- filing -----------------------------------------------------------------------------

def parse_form(raw_body: bytes, mimetype: str | None) -> dict[str, list[str]]:
    if (mimetype or "").lower() != FORM_TYPE:
        raise UnsupportedMediaType(f"send the request as {FORM_TYPE}")
    try:
        return parse_qs(raw_body.decode("utf-8"), keep_blank_values=True,
                        max_num_fields=MAX_FORM_FIELDS)
    except UnicodeDecodeError:
        raise BadRequest("the form is not UTF-8") from None
    except ValueError as exc:
        raise BadRequest(f"malformed form: {exc}") from None


def _one(form: dict[str, list[str]], name: str) -> str | None:
    values = form.get(name)
    return values[0].strip() if values else None


def _coordinate(form, name: str, low: float, high: float) -> float:
    text = _one(form, name)
    if not text:
        raise Unprocessable("give lat and long (WGS84) together",
                            fields={name: ["required"]})
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not low <= value <= high:  # NaN fails too
        raise Unprocessable(f"{name} is not a WGS84 coordinate", fields={name: [text]})
    return value


def _place(form, registry: RegistryClient) -> tuple[float, float, str | None]:
    """(lon, lat, address) from lat/long, else address_id (a building), else
    address_string (one building whose address contains it): GeoReport's three ways."""
    if _one(form, "lat") or _one(form, "long"):
        return (_coordinate(form, "long", -180, 180), _coordinate(form, "lat", -90, 90),
                _address_text(form))
    address_id = _one(form, "address_id")
    if address_id:
        building = (registry.building_location(int(address_id))
                    if address_id.isdigit() and 0 < int(address_id) < 2**63 else None)
        if building is None:
            raise Unprocessable(f"no address with address_id {address_id}",
                                fields={"address_id": [address_id]})
        return building["lon"], building["lat"], building["address"]
    text = _address_text(form)
    if not text:
        raise Unprocessable("give lat and long, address_string or address_id",
                            fields={"lat": ["required"], "long": ["required"]})
    found = registry.find_address(text) if len(text) >= 2 else []
    if len(found) != 1:
        problem = "matches no address we know" if not found else "matches several addresses"
        raise Unprocessable(f"address_string {problem}: send lat and long",
                            fields={"address_string": [text]})
    return found[0]["lon"], found[0]["lat"], text


def _address_text(form) -> str | None:
    text = _one(form, "address_string")
    if text and len(text) > ADDRESS_MAX:
        raise Unprocessable(f"address_string is longer than {ADDRESS_MAX} characters",
                            fields={"address_string": ["too long"]})
    return text or None


def _media_url(form) -> str | None:
    """The reporter's own picture link: kept and shown, never fetched by the server (no
    allow-list of hosts to fetch from exists, so nothing is fetched at all)."""
    text = _one(form, "media_url")
    if not text:
        return None
    parts = urlsplit(text)
    if (parts.scheme not in ("http", "https") or not parts.netloc or len(text) > MEDIA_URL_MAX
            or any(ch.isspace() or ord(ch) < 32 for ch in text)):
        raise Unprocessable("media_url must be an http(s) URL of at most "
                            f"{MEDIA_URL_MAX} characters", fields={"media_url": [text[:80]]})
    return text


def report_from_form(form: dict[str, list[str]], settings: Settings, current: Catalogue,
                     registry: RegistryClient,
                     ) -> tuple[cases.Report, catalogue.Subcategory]:
    client = settings.open311_client(_one(form, "api_key"))
    if client is None:
        raise Forbidden("api_key missing or invalid", code="invalid_api_key")
    code = _one(form, "service_code")
    if not code:
        raise Unprocessable("service_code is required", fields={"service_code": ["required"]})
    try:
        sub = current.public_subcategory(code)
    except catalogue.CatalogueError as exc:
        raise Unprocessable(str(exc), fields={"service_code": [code]}) from None
    description = _one(form, "description") or ""
    if not description:
        raise Unprocessable("description is required", fields={"description": ["required"]})
    if len(description) > DESCRIPTION_MAX:
        raise Unprocessable(f"description is longer than {DESCRIPTION_MAX} characters",
                            fields={"description": ["too long"]})
    attributes: dict[str, Any] = {}
    for key, values in form.items():
        match = ATTRIBUTE_KEY.match(key)
        if match:
            attributes[match.group(1)] = values if match.group(2) else values[0]
    media_url = _media_url(form)
    lon, lat, address = _place(form, registry)
    report = public_report(sub, description, lon, lat, reporter_sub=client,
                           attributes=attributes, media_url=media_url, address=address)
    return report, sub


def public_report(sub: catalogue.Subcategory, description: str, lon: float, lat: float, *,
                  reporter_sub: str, source_system: str = Source.OPEN311.value,
                  reporter_role: str = REPORTER_ROLE, attributes: dict[str, Any] | None = None,
                  media_url: str | None = None, address: str | None = None,
                  photos: list[str] | None = None) -> cases.Report:
    """A public report (a public subcategory, a point) as intake files it: Open311 clients
    and the residents' own page (resident.py, issue 12) both come through here and
    :func:`file_public`, so the public has one intake path."""
    return cases.Report(
        source=Source.OPEN311.value, source_system=source_system, reporter_sub=reporter_sub,
        reporter_role=reporter_role, work_category=sub.work_category.value,
        subcategory=sub.code, description=description, lon=lon, lat=lat,
        attributes=attributes or {}, media_url=media_url, address=address,
        photos=list(photos or []))


def file_public(session: Session, settings: Settings, registry: RegistryClient,
                report: cases.Report, current: Catalogue, sub: catalogue.Subcategory,
                ) -> tuple[dict[str, Any], bool]:
    """File a public report: the catalogue's checks and defaults, the grid from the point,
    the case (not committed: the caller commits)."""
    cases.complete(report, current)
    placement = cases.place(grid_index.Locator(session, registry), report)
    return cases.file_case(session, settings, report, placement, sub)

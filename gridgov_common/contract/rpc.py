"""The RPC contract: every method one service calls on another, beside the bus contract.

Each method has its positional parameters (names, in order, and how many are required),
an argument schema, a reply schema and a sample (``rpc_samples/<service>.<method>.json``:
``{"args": [...], "reply": ...}``). Tests hold both sides to it: the producer's real
reply to the sample arguments (tests/rpc/test_rpc_contract.py) and every caller, whose
:class:`gridgov_common.platform.rpc.TimedClient` checks the arguments it sends and the reply it
gets against this module on every call (:func:`check_call`, :func:`check_reply`).

Replies are read tolerantly (``unknown = INCLUDE``): a schema names what callers may rely
on; a producer may add fields, never drop or retype one (as the bus contract's minor
versions). Nothing here imports a service.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from marshmallow import INCLUDE, Schema, ValidationError, fields, validate

SAMPLES = Path(__file__).with_name("rpc_samples")
CODE = validate.Regexp(r"^\d{6}(\d{3}(\d{3}(\d{3})?)?)?$")  # district … grid
SCOPE = validate.Regexp(r"^[a-z_]+:[0-9A-Za-z_]+$")  # "district:320505"


class RpcContractError(Exception):
    """A call or reply that breaks the RPC contract: a bug on one side, never retried."""

    def __init__(self, method: str, side: str, errors: Any) -> None:
        super().__init__(f"{method}: {side} breaks the RPC contract: {errors}")
        self.method, self.side, self.errors = method, side, errors


class Tolerant(Schema):
    class Meta:
        unknown = INCLUDE


# -- registry ------------------------------------------------------------------------------

class GridPlace(Tolerant):
    grid_code = fields.String(required=True, validate=CODE)
    community_code = fields.String(required=True, validate=CODE)
    town_code = fields.String(required=True, validate=CODE)


class GridSummary(GridPlace):
    name = fields.String(required=True)
    kind = fields.String(required=True)
    valid_from = fields.Date(required=True)
    valid_to = fields.Date(required=True, allow_none=True)


class Geometry(Tolerant):
    type = fields.String(required=True)
    coordinates = fields.List(fields.Raw(), required=True)


class GridFeatureProperties(Tolerant):
    grid_code = fields.String(required=True, validate=CODE)
    community_code = fields.String(required=True, validate=CODE)
    valid_from = fields.Date(required=True)
    valid_to = fields.Date(required=True, allow_none=True)


class GridFeature(Tolerant):
    type = fields.String(required=True, validate=validate.Equal("Feature"))
    geometry = fields.Nested(Geometry, required=True)
    properties = fields.Nested(GridFeatureProperties, required=True)


class Building(Tolerant):
    id = fields.Integer(required=True)
    address = fields.String(required=True)
    grid_code = fields.String(required=True, validate=CODE)
    lon = fields.Float(required=True, allow_none=True)
    lat = fields.Float(required=True, allow_none=True)


class ResidentGrid(Tolerant):
    resident_id = fields.Integer(required=True)
    grid_code = fields.String(required=True, validate=CODE)


class CasePlace(Tolerant):
    grid_code = fields.String(required=True, validate=CODE)
    grid_name = fields.String(required=True, allow_none=True)
    geometry = fields.Nested(Geometry, required=True, allow_none=True)
    community_code = fields.String(required=True)
    community_name = fields.String(required=True, allow_none=True)
    town_code = fields.String(required=True)
    town_name = fields.String(required=True, allow_none=True)
    district_code = fields.String(required=True)
    district_name = fields.String(required=True, allow_none=True)


class StaffMember(Tolerant):
    name = fields.String(required=True)
    role = fields.String(required=True)


class CaseContext(Tolerant):
    place = fields.Nested(CasePlace, required=True)
    building = fields.Nested(Building, required=True, allow_none=True)
    staff = fields.Dict(keys=fields.String(), values=fields.Nested(StaffMember), required=True)


class GridOutline(Tolerant):
    grid_code = fields.String(required=True, validate=CODE)
    name = fields.String(required=True)
    geometry = fields.Nested(Geometry, required=True)


class KeptPhone(Tolerant):
    case_number = fields.String(required=True)
    phone_masked = fields.String(required=True)


class Department(Tolerant):
    code = fields.String(required=True)
    name_zh = fields.String(required=True)
    name_en = fields.String(required=True)
    work_categories = fields.List(fields.String(), required=True)
    active = fields.Boolean(required=True)


NAMES = fields.Dict(keys=fields.String(), values=fields.String())


class PlaceNames(Tolerant):
    districts = fields.Dict(keys=fields.String(), values=fields.String(), required=True)
    towns = fields.Dict(keys=fields.String(), values=fields.String(), required=True)
    communities = fields.Dict(keys=fields.String(), values=fields.String(), required=True)
    grids = fields.Dict(keys=fields.String(), values=fields.String())


# -- dispatch ------------------------------------------------------------------------------

class CaseSummary(Tolerant):
    case_id = fields.UUID(required=True)
    case_number = fields.String(required=True)
    state = fields.String(required=True)
    grid_code = fields.String(required=True)
    town_code = fields.String(required=True)
    work_category = fields.String(required=True)
    severity = fields.String(required=True)
    reported_at = fields.DateTime(required=True)
    updated_at = fields.DateTime(required=True)


class Assignment(Tolerant):
    assignment_id = fields.UUID(required=True)
    department = fields.String(required=True)
    role = fields.String(required=True)
    state = fields.String(required=True)
    handle_due_at = fields.DateTime(required=True, allow_none=True)


class Case(CaseSummary):
    description = fields.String(required=True, allow_none=True)
    handling_level = fields.String(required=True, allow_none=True)
    assignments = fields.List(fields.Nested(Assignment), required=True)


class CaseList(Tolerant):
    items = fields.List(fields.Nested(CaseSummary), required=True)
    total = fields.Integer(required=True)


class CalendarData(Tolerant):
    overrides = fields.Dict(keys=fields.Date(), values=fields.Boolean(), required=True)
    complete_years = fields.List(fields.Integer(), required=True)


class CaseStatistics(Tolerant):
    generated_at = fields.DateTime(required=True)
    by_grid = fields.List(fields.Dict(), required=True)
    by_department = fields.List(fields.Dict(), required=True)
    by_town = fields.List(fields.Dict(), required=True)
    recent = fields.List(fields.Dict(), required=True)
    majors = fields.List(fields.Dict())  # the wall's major events of the last days (issue 14)


class KpiRow(Tolerant):
    code = fields.String(required=True)


class KpiReport(Tolerant):
    by = fields.String(required=True)
    start = fields.DateTime(required=True)
    end = fields.DateTime(required=True)
    rows = fields.List(fields.Nested(KpiRow), required=True)


class HandlingCounts(Tolerant):
    code = fields.String(required=True)
    dispatched = fields.Integer(required=True)
    acked_on_time = fields.Integer(required=True)
    closed = fields.Integer(required=True)
    closed_on_time = fields.Integer(required=True)
    overdue_open = fields.Integer(required=True)


class HandlingFigures(Tolerant):
    as_of = fields.DateTime(required=True)
    start = fields.DateTime(required=True)
    end = fields.DateTime(required=True)
    departments = fields.List(fields.Nested(HandlingCounts), required=True)
    towns = fields.List(fields.Nested(HandlingCounts), required=True)
    overdue = fields.List(fields.Dict(), required=True)


# -- notify ---------------------------------------------------------------------------------

class CodeSent(Tolerant):
    sent = fields.Boolean(required=True)  # the SMS gateway accepted the message
    ref = fields.String(required=True)
    error = fields.String()


MOBILE = validate.Regexp(r"^1[0-9]{10}$")  # a mainland mobile number, digits only


# -- the methods ---------------------------------------------------------------------------

@dataclass(frozen=True)
class RpcMethod:
    service: str
    name: str
    params: tuple[str, ...]  # positional parameters, in order
    required: int  # how many of them a call must pass
    arguments: dict[str, fields.Field]  # parameter → field
    reply: type[Schema] | None  # None: a list or dict checked by ``reply_field``
    reply_field: fields.Field | None = None
    many: bool = False
    nullable: bool = False
    summary: str = ""

    @property
    def key(self) -> str:
        return f"{self.service}.{self.name}"


def _m(service: str, name: str, params: dict[str, fields.Field], required: int,
       reply: type[Schema] | None = None, *, reply_field: fields.Field | None = None,
       many: bool = False, nullable: bool = False, summary: str = "") -> RpcMethod:
    return RpcMethod(service, name, tuple(params), required, params, reply, reply_field,
                     many, nullable, summary)


def _str(**kw) -> fields.Field:
    return fields.String(**kw)


def _codes() -> fields.Field:
    return fields.List(fields.String(validate=CODE))


METHODS: dict[str, RpcMethod] = {m.key: m for m in (
    _m("registry", "lookup_point", {"lon": fields.Float(), "lat": fields.Float()}, 2,
       GridPlace, nullable=True, summary="the grid containing a point (WGS84/CGCS2000)"),
    _m("registry", "lookup_points", {"points": fields.List(fields.List(fields.Float()))}, 1,
       reply_field=fields.List(fields.String(validate=CODE, allow_none=True)),
       summary="the grid code containing each (lon, lat), null where none does"),
    _m("registry", "get_grid_summary", {"grid_code": _str(validate=CODE)}, 1, GridSummary,
       summary="a grid's names, validity and responsible staff"),
    _m("registry", "resident_grids", {"resident_ids": fields.List(fields.Integer())}, 1,
       ResidentGrid, many=True, summary="the grid of each resident that exists"),
    _m("registry", "get_grid_geometry", {"grid_codes": _codes()}, 1, GridFeature, many=True,
       summary="GeoJSON features of grids, retired ones with valid_to"),
    _m("registry", "find_address", {"text": _str(validate=validate.Length(2, 100))}, 1,
       Building, many=True, summary="up to two buildings whose address contains text"),
    _m("registry", "building_location", {"building_id": fields.Integer()}, 1, Building,
       nullable=True, summary="a building's address, grid and point"),
    _m("registry", "case_context",
       {"grid_code": _str(validate=CODE), "building_id": fields.Integer(allow_none=True),
        "subjects": fields.List(fields.String(), allow_none=True),
        "on": fields.Date(allow_none=True)}, 1, CaseContext,
       summary="place names, grid outline, address and staff names for a case file page"),
    _m("registry", "grid_outlines", {}, 0, GridOutline, many=True,
       summary="simplified outlines of the grids valid today (residents' report page)"),
    _m("registry", "keep_callback_phone",
       {"case_number": _str(), "phone": _str(validate=validate.Length(5, 30)),
        "grid_code": _str(validate=CODE)}, 3, KeptPhone,
       summary="keep a resident's call-back phone for a case, encrypted (P5.4.4)"),
    _m("registry", "list_departments", {}, 0, Department, many=True,
       summary="the department register"),
    _m("registry", "place_names",
       {"scope_code": _str(validate=CODE), "grids": fields.Boolean(),
        "on": fields.Date(allow_none=True)}, 1, PlaceNames,
       summary="town, community (and grid) names under a code, valid on a day"),
    _m("registry", "staff_names", {"subjects": fields.List(fields.String())}, 1,
       reply_field=NAMES, summary="public names of active grid staff (P5.4.2)"),
    _m("dispatch", "get_case",
       {"case_id": fields.UUID(), "role": _str(), "scope": _str(validate=SCOPE)}, 3, Case,
       summary="a case with its assignments as a role over a scope sees it"),
    _m("dispatch", "list_cases",
       {"role": _str(), "scope": _str(validate=SCOPE), "filters": fields.Dict(allow_none=True)},
       2, CaseList, summary="GET /cases for other services"),
    _m("dispatch", "calendar_data", {}, 0, CalendarData,
       summary="the working-day calendar deadlines use"),
    _m("dispatch", "case_statistics", {"scope": _str(validate=SCOPE)}, 1, CaseStatistics,
       summary="open/overdue/closed figures over a scope (docs/METRICS.md)"),
    _m("dispatch", "kpis",
       {"scope": _str(validate=SCOPE), "first": fields.Date(), "last": fields.Date(),
        "by": _str(validate=validate.OneOf(("town", "community", "grid", "department",
                                            "grid_worker")))}, 4, KpiReport,
       summary="case-handling KPIs of a period (P5.3.5, P5.4.6; docs/KPIS.md)"),
    _m("dispatch", "handling_figures",
       {"scope": _str(validate=SCOPE), "start": fields.DateTime(),
        "end": fields.DateTime()}, 3, HandlingFigures,
       summary="how the items sent in a period were handled (P5.3.5 circulars)"),
    _m("notify", "send_sign_in_code",
       {"phone": _str(validate=MOBILE), "code": _str(validate=validate.Regexp(r"^[0-9]{6}$")),
        "language": _str(validate=validate.OneOf(("zh-CN", "en")))}, 3, CodeSent,
       summary="an administrator's one-time sign-in code by SMS, now (issue 12)"),
)}


def _plain(value: Any) -> Any:
    """As JSON carries it: kombu's serializer gives dates and datetimes back as objects."""
    return json.loads(json.dumps(value, default=lambda v: v.isoformat()
                                 if isinstance(v, date | datetime) else str(v)))


def method(service: str, name: str) -> RpcMethod:
    try:
        return METHODS[f"{service}.{name}"]
    except KeyError:
        raise RpcContractError(f"{service}.{name}", "the call",
                               "no such method in the RPC contract") from None


def check_call(service: str, name: str, args: tuple[Any, ...]) -> None:
    """Raise :class:`RpcContractError` unless ``args`` are what the method takes."""
    spec = method(service, name)
    if not spec.required <= len(args) <= len(spec.params):
        raise RpcContractError(spec.key, "the call", f"{len(args)} arguments for "
                               f"{spec.required}..{len(spec.params)}")
    data = dict(zip(spec.params, args, strict=False))
    errors = Schema.from_dict(spec.arguments)().validate(_plain(data))
    if errors:
        raise RpcContractError(spec.key, "the call", errors)


def check_reply(service: str, name: str, reply: Any) -> Any:
    """The reply itself, once checked (:class:`RpcContractError` otherwise)."""
    spec = method(service, name)
    if reply is None:
        if spec.nullable:
            return None
        raise RpcContractError(spec.key, "the reply", "null where a value is due")
    try:
        plain = _plain(reply)
        if spec.reply is not None:
            errors = spec.reply(many=spec.many).validate(plain)
        else:
            errors = Schema.from_dict({"reply": spec.reply_field})().validate({"reply": plain})
    except (TypeError, ValueError, ValidationError) as exc:
        errors = str(exc)
    if errors:
        raise RpcContractError(spec.key, "the reply", errors)
    return reply


def sample(key: str) -> dict[str, Any]:
    """``{"args": [...], "reply": ...}`` of a method (``service.method``)."""
    return json.loads((SAMPLES / f"{key}.json").read_text(encoding="utf-8"))


def _field_text(field: fields.Field) -> str:
    text = (f"[{_field_text(field.inner)}]" if isinstance(field, fields.List)
            else type(field).__name__)
    return text + (" or null" if field.allow_none else "")


def markdown_table() -> str:
    """The methods as docs/RPC-CONTRACT.md lists them (a test keeps the copy true)."""
    rows = ["| method | parameters | reply | what for |", "|---|---|---|---|"]
    for key, spec in sorted(METHODS.items()):
        params = ", ".join(
            f"{name}{'' if i < spec.required else '?'}: {_field_text(spec.arguments[name])}"
            for i, name in enumerate(spec.params)) or "—"
        reply = (spec.reply.__name__ if spec.reply is not None
                 else _field_text(spec.reply_field))
        reply = f"[{reply}]" if spec.many else reply
        reply += " or null" if spec.nullable else ""
        rows.append(f"| `{key}` | {params} | {reply} | {spec.summary} |")
    return "\n".join(rows) + "\n"


START = "<!-- generated: gridgov_common.contract.rpc.markdown_table -->\n"
END = "<!-- end generated -->"


def write_doc(path: Path) -> None:
    """Replace the generated table in docs/RPC-CONTRACT.md with the one the code declares."""
    doc = path.read_text(encoding="utf-8")
    head, rest = doc.split(START, 1)
    tail = rest[rest.index(END):]
    path.write_text(head + START + markdown_table() + tail, encoding="utf-8")


if __name__ == "__main__":  # python -m gridgov_common.contract.rpc
    write_doc(Path(__file__).resolve().parents[2] / "docs" / "RPC-CONTRACT.md")

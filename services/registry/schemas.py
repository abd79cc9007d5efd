"""marshmallow schemas of the registry's HTTP and RPC inputs and outputs.

Unknown fields are rejected (marshmallow's default RAISE), so a typo in a field name is
an error, not silently ignored data.
"""

from __future__ import annotations

from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate, validates_schema

from gridgov_common.contract import WorkCategory
from gridgov_common.contract.cases import CASE_NUMBER_RE
from gridgov_common.contract.messages import P42_UNITS
from gridgov_common.kernel.area import Level, code_pattern
from gridgov_common.kernel.roles import Role

DIGITS = validate.Regexp(r"^\d+$", error="digits only")
GRID_CODE = fields.String(validate=[validate.Length(equal=15), DIGITS])


class IdNumberField(fields.String):
    """An ID number as people type it: spaces (" 3205 0519…", a trailing blank from a
    spreadsheet) are dropped *before* the length is checked (issue 10 item 6); the domain
    (``identity.normalise_id_number``) does the rest (full-width digits, case, checksum)."""

    RAW_MAX = 64  # spaces included; anything longer is not an ID number

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        if len(text) > self.RAW_MAX:
            raise ValidationError(f"at most {self.RAW_MAX} characters")
        return "".join(text.split())


ID_NUMBER_LENGTH = validate.Length(min=15, max=18)
SPECIAL_GROUPS = ("petitioner", "community_corrections", "released_prisoner", "drug_user",
                  "hazardous_goods_worker", "mental_illness_risk")  # P5.2.5


PLACE_NAME = validate.Length(min=1, max=100)
REASON = validate.Length(min=1, max=500)


class PlaceSchema(Schema):
    """A new district; its code is checked by the domain (GB/T 2260, 422 with ``code``)."""

    code = fields.String(required=True, validate=DIGITS)
    name = fields.String(required=True, validate=PLACE_NAME)
    # the day the division came into being (default today); it is never reused after
    valid_from = fields.Date(load_default=None, allow_none=True)


class TownSchema(PlaceSchema):
    """A new town; ``district_code``, when given, must be the one its code starts with."""

    district_code = fields.String(load_default=None, allow_none=True,
                                  validate=[validate.Length(equal=6), DIGITS])


class CommunitySchema(PlaceSchema):
    """A new community; ``town_code``, when given, must be the one its code starts with."""

    boundary = fields.Dict(load_default=None, allow_none=True)
    town_code = fields.String(load_default=None, allow_none=True,
                              validate=[validate.Length(equal=9), DIGITS])


class DivisionRenameSchema(Schema):
    """A renaming: the new name from ``valid_from`` on; the old one stays for the days
    before (issue 11, M1)."""

    name = fields.String(required=True, validate=PLACE_NAME)
    valid_from = fields.Date(required=True)
    reason = fields.String(load_default="", validate=validate.Length(max=500))


class DivisionRetireSchema(Schema):
    """A retirement (administrative-division adjustment): ``valid_to`` is the first day
    the division no longer exists; the reason is kept with it (e.g. merged into …)."""

    valid_to = fields.Date(required=True)
    reason = fields.String(required=True, validate=REASON)


class DivisionVersionSchema(Schema):
    version = fields.Integer()
    name = fields.String()
    valid_from = fields.Date()
    valid_to = fields.Date(allow_none=True)
    reason = fields.String()
    recorded_at = fields.DateTime()


class DivisionHistorySchema(Schema):
    """A division's validity and every name it has had, oldest first."""

    level = fields.String()
    code = fields.String()
    parent_code = fields.String(allow_none=True)
    name = fields.String()  # the name valid on the day asked (default today)
    valid_from = fields.Date()
    valid_to = fields.Date(allow_none=True)
    retired_reason = fields.String(allow_none=True)
    versions = fields.List(fields.Nested(DivisionVersionSchema))


class OnDaySchema(Schema):
    """``on``: the day whose names (and grids) are asked for; default today."""

    on = fields.Date(load_default=None)


class GridCreateSchema(Schema):
    community_code = fields.String(required=True, validate=[validate.Length(equal=12), DIGITS])
    name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    kind = fields.String(load_default="base", validate=validate.OneOf(["base", "exclusive"]))
    owner_org = fields.String(load_default=None, allow_none=True,
                              validate=validate.Length(max=200))
    geometry = fields.Dict(required=True)
    valid_from = fields.Date(load_default=None, allow_none=True)
    supervision_phone = fields.String(load_default=None, allow_none=True,
                                      validate=validate.Length(max=30))


class GridRetireSchema(Schema):
    valid_to = fields.Date(required=True)


class GridSchema(Schema):
    grid_code = fields.String()
    community_code = fields.String()
    town_code = fields.String()
    name = fields.String()
    kind = fields.String()
    owner_org = fields.String(allow_none=True)
    geometry = fields.Dict()
    valid_from = fields.Date()
    valid_to = fields.Date(allow_none=True)
    supervision_phone = fields.String(allow_none=True)
    households = fields.Integer()
    people = fields.Integer()
    flags = fields.List(fields.String())
    coverage_gaps = fields.List(fields.Dict())


class PrefixQuerySchema(Schema):
    prefix = fields.String(load_default="", validate=[validate.Length(max=15),
                                                      validate.Regexp(r"^\d*$")])


class PlaceNamesQuerySchema(PrefixQuerySchema):
    grids = fields.Boolean(load_default=False)


class PointQuerySchema(Schema):
    lon = fields.Float(required=True, validate=validate.Range(-180, 180))
    lat = fields.Float(required=True, validate=validate.Range(-90, 90))


class PointsSchema(Schema):
    points = fields.List(fields.List(fields.Float(), validate=validate.Length(equal=2)),
                         required=True, validate=validate.Length(min=1, max=10000))


class AddressQuerySchema(Schema):
    q = fields.String(required=True, validate=validate.Length(min=2, max=100))


class BuildingIdSchema(Schema):
    building_id = fields.Integer(required=True, strict=True,
                                 validate=validate.Range(min=1, max=2**63 - 1))


class NeighbourhoodSchema(Schema):
    # required: without it the handler's scope check met a KeyError (a 500, found by fuzzing)
    grid_code = fields.String(required=True, validate=[validate.Length(equal=15), DIGITS])
    name = fields.String(required=True, validate=validate.Length(min=1, max=100))


class BuildingSchema(Schema):
    grid_code = fields.String(required=True, validate=[validate.Length(equal=15), DIGITS])
    address = fields.String(required=True, validate=validate.Length(min=2, max=200))
    lon = fields.Float(required=True, validate=validate.Range(-180, 180))
    lat = fields.Float(required=True, validate=validate.Range(-90, 90))
    neighbourhood_id = fields.Integer(load_default=None, allow_none=True)


class HouseholdSchema(Schema):
    building_id = fields.Integer(required=True)
    unit = fields.String(required=True, validate=validate.Length(min=1, max=50))


class ResidentCreateSchema(Schema):
    household_id = fields.Integer(load_default=None, allow_none=True)
    grid_code = fields.String(load_default=None, allow_none=True,
                              validate=[validate.Length(equal=15), DIGITS])
    name = fields.String(required=True, validate=validate.Length(min=1, max=50))
    id_number = IdNumberField(required=True, validate=ID_NUMBER_LENGTH)
    phone = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=20))
    relationship = fields.String(load_default="member", validate=validate.Length(max=20))
    special_groups = fields.List(fields.String(validate=validate.OneOf(SPECIAL_GROUPS)),
                                 load_default=None, allow_none=True)

    @validates_schema
    def _placed(self, data, **kwargs):
        if data.get("household_id") is None and data.get("grid_code") is None:
            raise ValidationError("give household_id or grid_code", "household_id")


class ResidentSchema(Schema):
    id = fields.Integer()
    household_id = fields.Integer(allow_none=True)
    grid_code = fields.String()
    name = fields.String()
    sex = fields.String()
    birth_year = fields.Integer()
    relationship = fields.String()
    status = fields.String()
    moved_out_on = fields.Date(allow_none=True)
    id_number = fields.String(metadata={"description": "masked unless unmasked with a reason"})
    phone = fields.String(allow_none=True)
    special_groups = fields.List(fields.String())
    masked = fields.Boolean()


class UnmaskQuerySchema(Schema):
    unmask = fields.String(load_default="", validate=validate.Length(max=60),
                           metadata={"description": "comma list: id_number,phone,special_groups"})
    reason = fields.String(load_default=None, validate=validate.Length(max=200))


class ResidentListQuerySchema(Schema):
    grid_code = fields.String(load_default=None, validate=[validate.Length(equal=15), DIGITS])
    household_id = fields.Integer(load_default=None)
    limit = fields.Integer(load_default=100, validate=validate.Range(1, 1000))
    offset = fields.Integer(load_default=0, validate=validate.Range(0))


class SearchSchema(Schema):
    """P6.2 one query: a person by full ID number or phone (exact), or name; or address.

    A POST body, never a query string: the terms are personal data, and a URL lands in
    access logs and the service's own log (issue 10 item 4)."""

    id_number = IdNumberField(load_default=None, validate=ID_NUMBER_LENGTH)
    phone = fields.String(load_default=None, validate=validate.Length(min=7, max=20))
    name = fields.String(load_default=None, validate=validate.Length(min=1, max=50))
    address = fields.String(load_default=None, validate=validate.Length(min=2, max=100))
    reason = fields.String(required=True, validate=validate.Length(min=4, max=200))

    @validates_schema
    def _one_criterion(self, data, **kwargs):
        if not any(data.get(k) for k in ("id_number", "phone", "name", "address")):
            raise ValidationError("give id_number, phone, name or address", "id_number")


# a token subject: an opaque account id, never a name or phone (P5.4.4)
SUBJECT = validate.Regexp(r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$",
                          error="1-128 letters, digits, '.', '_', ':', '@', '-'")


class StaffCreateSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=50))
    role = fields.String(required=True, validate=validate.OneOf([r.value for r in Role]))
    scope = fields.String(required=True, validate=validate.Length(max=40),
                          metadata={"example": "grid:320505001001001"})
    work_phone = fields.String(load_default=None, allow_none=True,
                               validate=validate.Length(max=20))
    duties = fields.String(load_default="", validate=validate.Length(max=500))
    subject = fields.String(load_default=None, allow_none=True, validate=SUBJECT,
                            metadata={"description": "the `sub` of the person's tokens"})


class StaffSubjectSchema(Schema):
    """Tie a staff record to a token subject (null unties it)."""

    subject = fields.String(required=True, allow_none=True, validate=SUBJECT)


class StaffGridsSchema(Schema):
    """The grids a staff member answers for (replaces the previous list)."""

    grid_codes = fields.List(fields.String(validate=validate.Regexp(code_pattern(Level.GRID))),
                             required=True, validate=validate.Length(max=50))


class ResidentIdsSchema(Schema):
    """The ``resident_grids`` RPC's argument."""

    resident_ids = fields.List(fields.Integer(strict=True, validate=validate.Range(min=1)),
                               required=True, validate=validate.Length(min=1, max=500))


class CaseContextSchema(Schema):
    """The ``case_context`` RPC's arguments (a case file page's names)."""

    grid_code = fields.String(required=True, validate=validate.Regexp(code_pattern(Level.GRID)))
    building_id = fields.Integer(load_default=None, allow_none=True, strict=True,
                                 validate=validate.Range(min=1, max=2**63 - 1))
    subjects = fields.List(fields.String(validate=validate.Length(1, 200)), load_default=list,
                           validate=validate.Length(max=200))
    on = fields.Date(load_default=None, allow_none=True)  # names as on that day


class SubjectsSchema(Schema):
    """The ``staff_names`` RPC's argument: token subjects (``staff.subject``)."""

    subjects = fields.List(fields.String(validate=validate.Length(1, 128)), required=True,
                           validate=validate.Length(max=5000))


class PlaceNamesSchema(Schema):
    """The ``place_names`` RPC's arguments."""

    prefix = fields.String(load_default="", validate=[validate.Length(max=15),
                                                      validate.Regexp(r"^\d*$")])
    grids = fields.Boolean(load_default=False)
    on = fields.Date(load_default=None, allow_none=True)  # names as on that day


class CallbackPhoneSchema(Schema):
    """The ``keep_callback_phone`` RPC's arguments (issue 12)."""

    case_number = fields.String(required=True, validate=validate.Regexp(CASE_NUMBER_RE))
    phone = fields.String(required=True, validate=validate.Length(min=5, max=30))
    grid_code = fields.String(required=True, validate=validate.Regexp(code_pattern(Level.GRID)))


class PhoneUnmaskQuerySchema(Schema):
    unmask = fields.String(load_default="", validate=validate.OneOf(["", "phone"]),
                           metadata={"description": "phone: show it unmasked (audited)"})
    reason = fields.String(load_default=None, validate=validate.Length(max=200))


class CallbackPhoneViewSchema(Schema):
    case_number = fields.String()
    grid_code = fields.String()
    phone = fields.String(metadata={"description": "masked unless unmask=phone"})
    masked = fields.Boolean()
    created_at = fields.DateTime()


class GridCodesSchema(Schema):
    """The ``get_grid_geometry`` RPC's argument."""

    grid_codes = fields.List(fields.String(validate=validate.Regexp(code_pattern(Level.GRID))),
                             required=True, validate=validate.Length(min=1, max=500))


class StaffSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    role = fields.String()
    scope_code = fields.String()
    work_phone = fields.String(allow_none=True)
    duties = fields.String()
    lifecycle_state = fields.String()
    active = fields.Boolean()
    subject = fields.String(allow_none=True)
    grid_codes = fields.List(fields.String())
    place = fields.String(allow_none=True, metadata={
        "description": "the list only: the name of the grid, community, town or department"})
    actions = fields.List(fields.String(), metadata={
        "description": "the list only: lifecycle actions the caller may take now"})


class StaffListQuerySchema(Schema):
    prefix = fields.String(load_default="", validate=validate.Length(max=40))
    role = fields.String(load_default=None, validate=validate.OneOf([r.value for r in Role]))


class StaffTransitionSchema(Schema):
    action = fields.String(required=True, validate=validate.Length(min=1, max=40))
    reason = fields.String(load_default="", validate=validate.Length(max=500))


class PartyBranchSchema(Schema):
    kind = fields.String(required=True, validate=validate.OneOf(["branch", "group"]))
    name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    secretary_staff_id = fields.Integer(required=True)


class AuditQuerySchema(Schema):
    actor_sub = fields.String(load_default=None)
    action = fields.String(load_default=None, validate=validate.Length(1, 64), metadata={
        "description": "what was done: sign_in, unmask, read_audit_log, … (docs/SECURITY.md)"})
    subject_type = fields.String(load_default=None)
    subject_id = fields.String(load_default=None)
    since = fields.AwareDateTime(load_default=None)
    until = fields.AwareDateTime(load_default=None)
    limit = fields.Integer(load_default=100, validate=validate.Range(1, 1000))
    offset = fields.Integer(load_default=0, validate=validate.Range(0))


class NoticeBoardQuerySchema(Schema):
    lang = fields.String(load_default="zh", validate=validate.OneOf(["zh", "en"]))


class FeatureCollectionSchema(Schema):
    """A GeoJSON FeatureCollection of grids; each feature's properties carry
    community_code, name, and optionally kind, owner_org, supervision_phone, valid_from."""

    type = fields.String(required=True, validate=validate.Equal("FeatureCollection"))
    features = fields.List(fields.Dict(), required=True, validate=validate.Length(min=1))


class ImportReportSchema(Schema):
    total = fields.Integer()
    imported = fields.Integer()
    rejected_count = fields.Integer()
    rejected = fields.List(fields.Dict())


# --- the department register (P4.2, docs/DEPARTMENTS.md) ----------------------------------

_WORK_CATEGORIES = [c.value for c in WorkCategory]


class DepartmentChangeSchema(Schema):
    """What a district admin may change of a department: never its code (its identity on
    the bus: routing keys, broker user, queues)."""

    name_zh = fields.String(validate=validate.Length(1, 60))
    name_en = fields.String(validate=validate.Length(1, 100))
    unit = fields.String(allow_none=True, validate=validate.OneOf(P42_UNITS), metadata={
        "description": "which P4.2 unit it belongs to; null: brought in by the district"})
    work_categories = fields.List(fields.String(validate=validate.OneOf(_WORK_CATEGORIES)),
                                  validate=validate.Length(max=8), metadata={
        "description": "P5.2 work categories it answers for (routing suggestions)"})
    contact_phone = fields.String(allow_none=True, validate=validate.Regexp(
        r"^\+?[0-9][0-9 -]{4,28}[0-9]$", error="a telephone number"),
        metadata={"description": "the duty line (值班电话), not a person's"})
    contact_email = fields.Email(allow_none=True, validate=validate.Length(max=200))
    active = fields.Boolean(metadata={"description": "false: retired, no new assignments"})

    @validates_schema
    def _categories_once(self, data, **kwargs):
        categories = data.get("work_categories") or []
        if len(set(categories)) != len(categories):
            raise ValidationError("a work category is listed twice", "work_categories")


class DepartmentCreateSchema(DepartmentChangeSchema):
    code = fields.String(required=True, validate=[
        validate.Regexp(r"^[a-z][a-z0-9]*(?:_[a-z0-9]+)*$", error="Not a snake_case code."),
        validate.Length(max=40)], metadata={"description": "snake_case, never reused"})
    name_zh = fields.String(required=True, validate=validate.Length(1, 60))
    name_en = fields.String(required=True, validate=validate.Length(1, 100))
    unit = fields.String(load_default=None, allow_none=True,
                         validate=validate.OneOf(P42_UNITS))
    work_categories = fields.List(fields.String(validate=validate.OneOf(_WORK_CATEGORIES)),
                                  load_default=list, validate=validate.Length(max=8))
    contact_phone = fields.String(load_default=None, allow_none=True, validate=validate.Regexp(
        r"^\+?[0-9][0-9 -]{4,28}[0-9]$", error="a telephone number"))
    contact_email = fields.Email(load_default=None, allow_none=True,
                                 validate=validate.Length(max=200))

    class Meta:
        exclude = ("active",)  # a new department is active


class DepartmentSchema(Schema):
    code = fields.String()
    name_zh = fields.String()
    name_en = fields.String()
    unit = fields.String(allow_none=True)
    work_categories = fields.List(fields.String())
    contact_phone = fields.String(allow_none=True)
    contact_email = fields.String(allow_none=True)
    active = fields.Boolean()
    updated_at = fields.String()


# -- sign-in (issue 12; services/registry/accounts.py) ---------------------------------------

LOGIN = validate.Length(min=1, max=128)
PASSWORD = validate.Length(min=1, max=1024)  # the policy (10..128) is checked on new ones


class SignInSchema(Schema):
    """A login (the staff member's subject) and a password."""

    login = fields.String(required=True, validate=LOGIN)
    password = fields.String(required=True, validate=PASSWORD, load_only=True)


class SignInCodeSchema(Schema):
    """The ticket a staff manager's sign-in answered and the SMS code (issue 12)."""

    ticket = fields.String(required=True, validate=validate.Length(20, 100), load_only=True)
    code = fields.String(required=True, validate=validate.Length(1, 12), load_only=True)


class PasswordChangeSchema(Schema):
    """The current (or temporary) password and the new one."""

    login = fields.String(required=True, validate=LOGIN)
    password = fields.String(required=True, validate=PASSWORD, load_only=True)
    new_password = fields.String(required=True, validate=PASSWORD, load_only=True)


class SignedInSchema(Schema):
    """Who is signed in: name, role and scope in words (the page's header)."""

    sub = fields.String()
    name = fields.String()
    role = fields.String()
    role_name = fields.String()
    scope = fields.String()
    scope_name = fields.String(allow_none=True)
    auth = fields.String(metadata={"description": "cookie (browser) or bearer (machine)"})


class OidcCallbackSchema(Schema):
    """The identity platform's authorization response (RFC 6749 §4.1.2, RFC 9207 iss)."""

    class Meta:
        unknown = EXCLUDE  # e.g. session_state: not ours to judge

    code = fields.String(validate=validate.Length(1, 2048))
    state = fields.String(validate=validate.Length(1, 512))
    iss = fields.String(validate=validate.Length(1, 512))
    error = fields.String(validate=validate.Length(1, 200))
    error_description = fields.String(validate=validate.Length(0, 1000))


class SignInResultSchema(SignedInSchema):
    """Who is signed in, or (a staff manager, AUTH_SECOND_FACTOR on) that an SMS code was
    sent: then only these four fields, and no cookies."""

    second_factor = fields.String(metadata={"description": "sms: complete with POST "
                                                           "/auth/sign-in/code"})
    ticket = fields.String(metadata={"description": "goes with the code; kept by the page"})
    phone = fields.String(metadata={"description": "where the code went, masked"})
    expires_in = fields.Integer(metadata={"description": "seconds the code is valid"})


class PasswordResetSchema(Schema):
    """A temporary password, shown once; the person must change it at the next sign-in."""

    staff_id = fields.Integer()
    temporary_password = fields.String()
    must_change = fields.Boolean()

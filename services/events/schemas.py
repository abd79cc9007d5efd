"""marshmallow schemas of the events service's HTTP inputs and outputs.

Unknown fields are rejected (marshmallow's default RAISE): a typo in the app is an error,
not silently lost data.  The enumerations are the contract's (P5.2 work categories, P5.4.4
information classes, severities), so the API cannot drift from the bus.
"""

from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from gridgov_common.contract import InfoClass, Severity, WorkCategory
from gridgov_common.contract.cases import (
    CLOSING_CONDITION_MAX,
    DESCRIPTION_MAX,
    HANDLING_LEVELS,
    LIMIT_UNITS,
    SHA256_RE,
)
from services.events.domain.catalogue import CAP_CATEGORIES, Datatype
from services.events.domain.catalogue_version import DESCRIPTION_MAX as DESCRIPTION_MAX_CATALOGUE
from services.events.domain.catalogue_version import NAME_MAX
from services.events.domain.media import MAX_PHOTOS_PER_CASE
from services.events.models import DUPLICATE_STATUSES, STATUSES

DIGITS15 = [validate.Length(equal=15), validate.Regexp(r"^\d+$", error="digits only")]
CLIENT_REF = validate.Regexp(r"^[\x21-\x7e]{1,64}$",
                             error="1-64 printable ASCII characters, no spaces")


def _one_of(enum_cls) -> validate.OneOf:
    return validate.OneOf([member.value for member in enum_cls])


class LocationSchema(Schema):
    """WGS84 (GPS) longitude/latitude; the app converts GCJ-02 map coordinates first."""

    lon = fields.Float(required=True, allow_nan=False, validate=validate.Range(-180, 180))
    lat = fields.Float(required=True, allow_nan=False, validate=validate.Range(-90, 90))


class Location(fields.Field):
    """A ``{"lon", "lat"}`` object checked by :class:`LocationSchema`.

    A plain Field rather than ``fields.Nested``: the shared OpenAPI generator names schemas
    by class and cannot name a nested schema instance.
    """

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("metadata", {}).update(
            type="object", example={"lon": 120.5712, "lat": 31.2989},
            description="WGS84 longitude/latitude (convert GCJ-02 first)")
        super().__init__(**kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, dict):
            raise ValidationError("Give an object with lon and lat.")
        return LocationSchema().load(value)

    def _serialize(self, value, attr, obj, **kwargs):
        return value


class CaseCreateSchema(Schema):
    location = Location(load_default=None, allow_none=True)
    building_id = fields.Integer(load_default=None, allow_none=True, strict=True,
                                 validate=validate.Range(min=1))
    grid_code = fields.String(load_default=None, allow_none=True, validate=DIGITS15, metadata={
        "description": "required with building_id when no location is given"})
    work_category = fields.String(required=True, validate=_one_of(WorkCategory))
    info_class = fields.String(load_default=None, allow_none=True, validate=_one_of(InfoClass),
                               metadata={"description": "default: the subcategory's class"})
    subcategory = fields.String(required=True, validate=validate.Length(1, 48))
    severity = fields.String(load_default=None, allow_none=True, validate=_one_of(Severity),
                             metadata={"description": "default: the subcategory's severity"})
    description = fields.String(required=True, validate=validate.Length(1, DESCRIPTION_MAX))
    photos = fields.List(fields.String(validate=validate.Regexp(SHA256_RE)), load_default=list,
                         validate=validate.Length(max=MAX_PHOTOS_PER_CASE), metadata={
                             "description": "sha256 of photos uploaded with POST /photos"})
    attributes = fields.Dict(keys=fields.String(), load_default=dict)
    resident_id = fields.Integer(load_default=None, allow_none=True, strict=True,
                                 validate=validate.Range(min=1))
    handled_on_spot = fields.Boolean(load_default=False, metadata={
        "description": "P5.1.5: handled and closed at grid level, still filed and counted"})
    private = fields.Boolean(load_default=False, metadata={
        "description": "never shown on public reads (Open311)"})
    reported_at = fields.AwareDateTime(load_default=None, allow_none=True, metadata={
        "description": "when the worker saw it (app offline queue); default: now"})
    client_ref = fields.String(load_default=None, allow_none=True, validate=CLIENT_REF,
                               metadata={"description": "the app's retry key: a repeated "
                                         "POST with the same key returns the same case"})

    @validates_schema
    def _placed(self, data, **kwargs):
        if data.get("location") is None:
            if data.get("building_id") is None or data.get("grid_code") is None:
                raise ValidationError("give location, or building_id with grid_code",
                                      "location")
        elif data.get("grid_code") is not None:
            raise ValidationError("the grid follows from the location; omit grid_code",
                                  "grid_code")


class CaseSchema(Schema):
    case_id = fields.String()
    case_number = fields.String()
    reported_at = fields.DateTime()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
    source = fields.String()
    source_system = fields.String()
    external_ref = fields.String(allow_none=True)
    grid_code = fields.String()
    town_code = fields.String()
    location = Location(allow_none=True)
    building_id = fields.Integer(allow_none=True)
    work_category = fields.String()
    info_class = fields.String()
    subcategory = fields.String()
    severity = fields.String()
    major = fields.Boolean(metadata={"description": "P5.2.7: an alert was raised"})
    description = fields.String()
    photos = fields.List(fields.String())
    attributes = fields.Dict()
    resident_id = fields.Integer(allow_none=True)
    handled_on_spot = fields.Boolean()
    duplicate_of = fields.String(allow_none=True)
    duplicate_of_number = fields.String(allow_none=True)
    duplicate_status = fields.String(allow_none=True)
    private = fields.Boolean()
    reporter_sub = fields.String()
    reporter_role = fields.String()
    status = fields.String()
    status_notes = fields.String(allow_none=True)


class CaseListQuerySchema(Schema):
    grid_code = fields.String(load_default=None, validate=validate.Regexp(r"^\d{6,15}$"),
                              metadata={"description": "a code prefix inside your scope"})
    status = fields.String(load_default=None, validate=validate.OneOf(STATUSES))
    work_category = fields.String(load_default=None, validate=_one_of(WorkCategory))
    subcategory = fields.String(load_default=None, validate=validate.Length(1, 48))
    duplicate_status = fields.String(load_default=None,
                                     validate=validate.OneOf(DUPLICATE_STATUSES))
    since = fields.AwareDateTime(load_default=None)
    until = fields.AwareDateTime(load_default=None)
    limit = fields.Integer(load_default=100, validate=validate.Range(1, 500))
    offset = fields.Integer(load_default=0, validate=validate.Range(0))


class DuplicateActionSchema(Schema):
    action = fields.String(required=True, validate=validate.OneOf(["confirm", "undo"]))


class PhotoSchema(Schema):
    sha256 = fields.String()
    content_type = fields.String()
    size = fields.Integer()


# --- the subcategory catalogue (docs/CATALOGUE.md) ---------------------------------------

class AttributeValueSchema(Schema):
    key = fields.String(required=True, validate=validate.Regexp(r"^[a-z0-9_]{1,40}$"))
    name = fields.String(required=True, validate=validate.Length(1, 60))


class AttributeSchema(Schema):
    """A typed extra field of the subcategory's report form (Open311 attribute)."""

    code = fields.String(required=True, validate=validate.Regexp(r"^[a-z][a-z0-9_]{0,39}$"))
    datatype = fields.String(required=True, validate=_one_of(Datatype))
    description = fields.String(required=True, validate=validate.Length(1, 200))
    required = fields.Boolean(load_default=False)
    values = fields.List(fields.Nested(AttributeValueSchema), load_default=list,
                         validate=validate.Length(max=50))
    order = fields.Integer(load_default=1, strict=True, validate=validate.Range(1, 100))

    @validates_schema
    def _values_for_lists(self, data, **kwargs):
        listed = data.get("datatype") in (Datatype.SINGLEVALUELIST, Datatype.MULTIVALUELIST)
        if listed != bool(data.get("values")):
            raise ValidationError("a *valuelist attribute lists its values; others none",
                                  "values")


class TimeLimitSchema(Schema):
    """A prescribed time limit (P5.3.3): ``{"amount": 5, "unit": "working_days"}``."""

    amount = fields.Float(required=True, allow_nan=False,
                          validate=validate.Range(min=0, max=10000, min_inclusive=False))
    unit = fields.String(required=True, validate=validate.OneOf(LIMIT_UNITS))


class SubcategoryChangeSchema(Schema):
    """What a district admin may change of a subcategory: not its code nor its work
    category (cases are archived by them, P5.3.1)."""

    name_zh = fields.String(validate=validate.Length(1, NAME_MAX))
    name_en = fields.String(validate=validate.Length(1, NAME_MAX))
    info_class = fields.String(validate=_one_of(InfoClass),
                               metadata={"description": "default ledger class (P5.4.4)"})
    severity = fields.String(validate=_one_of(Severity),
                             metadata={"description": "default when the reporter gives none"})
    public = fields.Boolean(metadata={"description": "offered to the public on Open311"})
    sensitive = fields.Boolean(metadata={
        "description": "reveals special-group membership (P5.2.5); cannot be switched off"})
    retired = fields.Boolean(metadata={"description": "no new reports; old cases keep it"})
    description = fields.String(validate=validate.Length(max=DESCRIPTION_MAX_CATALOGUE))
    alert_category = fields.String(validate=validate.Regexp(r"^[a-z][a-z0-9_]{0,39}$"),
                                   metadata={"description": "third word of the alert key"})
    cap_category = fields.String(validate=validate.OneOf(sorted(CAP_CATEGORIES)))
    attributes = fields.List(fields.Nested(AttributeSchema), validate=validate.Length(max=20))
    # handling defaults, applied by dispatch where no triage rule names the subcategory
    handling_level = fields.String(allow_none=True, validate=validate.OneOf(HANDLING_LEVELS),
                                   metadata={"description": "level that handles it (P5.3.2)"})
    ack_limit = fields.Nested(TimeLimitSchema, allow_none=True,
                              metadata={"description": "report-in limit (P5.3.3)"})
    handle_limit = fields.Nested(TimeLimitSchema, allow_none=True,
                                 metadata={"description": "handling limit (P5.3.3)"})
    closing_condition = fields.String(validate=validate.Length(max=CLOSING_CONDITION_MAX),
                                      metadata={"description": "when a case may be closed"})
    note = fields.String(load_default="", validate=validate.Length(max=500),
                         metadata={"description": "why: kept with the version"})


class SubcategoryCreateSchema(SubcategoryChangeSchema):
    code = fields.String(required=True, validate=validate.Regexp(
        r"^[a-z][a-z0-9]*(?:_[a-z0-9]+)*$", error="Not a snake_case code."),
        metadata={"description": "snake_case, never reused"})
    work_category = fields.String(required=True, validate=_one_of(WorkCategory))
    name_zh = fields.String(required=True, validate=validate.Length(1, NAME_MAX))
    name_en = fields.String(required=True, validate=validate.Length(1, NAME_MAX))
    info_class = fields.String(required=True, validate=_one_of(InfoClass))
    alert_category = fields.String(load_default="other",
                                   validate=validate.Regexp(r"^[a-z][a-z0-9_]{0,39}$"))
    cap_category = fields.String(load_default="Other",
                                 validate=validate.OneOf(sorted(CAP_CATEGORIES)))
    severity = fields.String(load_default=Severity.MINOR.value, validate=_one_of(Severity))
    public = fields.Boolean(load_default=False)
    sensitive = fields.Boolean(load_default=False)
    retired = fields.Boolean(load_default=False)
    description = fields.String(load_default="",
                                validate=validate.Length(max=DESCRIPTION_MAX_CATALOGUE))
    attributes = fields.List(fields.Nested(AttributeSchema), load_default=list,
                             validate=validate.Length(max=20))
    handling_level = fields.String(load_default=None, allow_none=True,
                                   validate=validate.OneOf(HANDLING_LEVELS))
    ack_limit = fields.Nested(TimeLimitSchema, load_default=None, allow_none=True)
    handle_limit = fields.Nested(TimeLimitSchema, load_default=None, allow_none=True)
    closing_condition = fields.String(load_default="",
                                      validate=validate.Length(max=CLOSING_CONDITION_MAX))


class SubcategorySchema(Schema):
    """A subcategory as the app's form and the admin read it."""

    code = fields.String()
    work_category = fields.String()
    info_class = fields.String()
    name_zh = fields.String()
    name_en = fields.String()
    severity = fields.String()
    public = fields.Boolean()
    sensitive = fields.Boolean()
    retired = fields.Boolean()
    description = fields.String()
    alert_category = fields.String()
    cap_category = fields.String()
    attributes = fields.List(fields.Nested(AttributeSchema))
    handling_level = fields.String(allow_none=True)
    ack_limit = fields.Nested(TimeLimitSchema, allow_none=True)
    handle_limit = fields.Nested(TimeLimitSchema, allow_none=True)
    closing_condition = fields.String()


class CatalogueSchema(Schema):
    version = fields.Integer()
    subcategories = fields.List(fields.Nested(SubcategorySchema))


class CatalogueVersionSchema(Schema):
    version = fields.Integer()
    created_by = fields.String()
    created_at = fields.DateTime()
    note = fields.String()
    subcategories = fields.Integer(metadata={"description": "how many, retired included"})


# -- the residents' report page (issue 12, docs/RESIDENT-REPORTS.md) ---------------------

RESIDENT_PHOTOS_MAX = 3
PHONE_TEXT = validate.Regexp(r"^[0-9+\-\s().（）]{5,30}$", error="Not a phone number.")


class PublicLangQuerySchema(Schema):
    lang = fields.String(load_default="zh-CN", validate=validate.OneOf(["zh-CN", "en"]))


class PublicPageQuerySchema(PublicLangQuerySchema):
    case = fields.String(load_default=None, validate=validate.Length(max=32),
                         metadata={"description": "the status page: the case to show"})


class ChallengeSchema(Schema):
    challenge = fields.String(metadata={"description": "<nonce>.<expires>.<bits>"})
    signature = fields.String()
    bits = fields.Integer(metadata={"description": "leading zero bits sha256 must have"})
    expires = fields.Integer(metadata={"description": "Unix seconds"})
    algorithm = fields.String()


class ChallengeSolutionSchema(Schema):
    challenge = fields.String(required=True, validate=validate.Length(1, 64))
    signature = fields.String(required=True, validate=validate.Length(64, 64))
    counter = fields.Integer(required=True, strict=True, validate=validate.Range(0, 2**53 - 1),
                             metadata={"description": "sha256('<challenge>:<counter>') "
                                       "starts with bits zero bits"})


class SolutionField(fields.Field):
    """A :class:`ChallengeSolutionSchema` object (a plain Field, as :class:`Location`)."""

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("metadata", {}).update(
            type="object", description="the solved proof-of-work challenge: "
            "{challenge, signature, counter}")
        super().__init__(**kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, dict):
            raise ValidationError("Give an object with challenge, signature and counter.")
        return ChallengeSolutionSchema().load(value)


class ResidentReportSchema(Schema):
    solution = SolutionField(required=True)
    category = fields.String(required=True, validate=validate.Length(1, 48),
                             metadata={"description": "a public subcategory code "
                                       "(GET /public/categories)"})
    location = Location(required=True)
    description = fields.String(required=True, validate=validate.Length(1, DESCRIPTION_MAX))
    photos = fields.List(fields.String(validate=validate.Regexp(SHA256_RE)), load_default=list,
                         validate=validate.Length(max=RESIDENT_PHOTOS_MAX))
    attributes = fields.Dict(keys=fields.String(validate=validate.Length(1, 48)),
                             load_default=dict, metadata={
                                 "description": "the category's attributes, by code "
                                 "(GET /public/categories)"})
    phone = fields.String(load_default=None, allow_none=True, validate=PHONE_TEXT,
                          metadata={"description": "optional call-back phone; kept "
                                    "encrypted by the registry, never by events"})


class ReceiptSchema(Schema):
    case_number = fields.String()
    received_at = fields.String()
    status_url = fields.String()
    callback_phone = fields.String(allow_none=True, metadata={"description": "masked"})
    notice = fields.String()


class PublicStatusSchema(Schema):
    case_number = fields.String()
    category = fields.String()
    status = fields.String()
    status_note = fields.String(allow_none=True)
    agency = fields.String(allow_none=True)
    received_at = fields.String()
    updated_at = fields.String()
    expected_at = fields.String(allow_none=True)


class PublicCategorySchema(Schema):
    code = fields.String()
    name = fields.String()
    work_category = fields.String()
    description = fields.String()
    attributes = fields.List(fields.Dict(), metadata={
        "description": "as Open311's service definition: code, datatype, required, "
        "description, values [{key, name}]"})


class GridOutlineSchema(Schema):
    grid_code = fields.String()
    name = fields.String()
    geometry = fields.Dict()

"""Payload schemas of the case flow (P2.2, P5.2, P5.3): intake, the town whistle to the
departments, their reports, major-event alerts, case state changes and escalations.

Cases carry no personal data on the bus (P5.4.4): a resident is referred to by id only;
a department that needs contact details asks through its case, and that read is audited.
"""

from __future__ import annotations

import re
from enum import StrEnum

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from gridgov_common.contract.envelope import Payload, UtcTimestamp, message_type
from gridgov_common.contract.messages import code_field, enum_field, grid_code_field, id_field
from gridgov_common.contract.routing import (
    InfoClass,
    Priority,
    ReportKind,
    Severity,
    WorkCategory,
)
from gridgov_common.kernel.area import Level, code_pattern

CASE_NUMBER_RE = re.compile(r"^[A-Z0-9][A-Z0-9-]{5,31}$")
TOWN_CODE_RE = re.compile(code_pattern(Level.TOWN))
SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
DESCRIPTION_MAX = 4000  # as Open311 GeoReport v2
NOTE_MAX = 2000


class Source(StrEnum):
    APP = "app"  # grid workers' mobile app (P6.2: real-time collection)
    HOTLINE = "hotline"  # e.g. 12345 citizen hotline over gridgov.intake
    OPEN311 = "open311"
    DEPARTMENT = "department"


class AssignmentRole(StrEnum):
    """Multi-department cases (P5.3.2 "coordinate several departments"): one lead."""

    LEAD = "lead"
    ASSIST = "assist"


class AlertMsgType(StrEnum):
    """CAP 1.2 msgType subset used for a major event's life (P5.2.7)."""

    ALERT = "alert"
    UPDATE = "update"
    CANCEL = "cancel"


class EscalationKind(StrEnum):
    ACK_TIMEOUT = "ack_timeout"  # no report-in within the ack deadline (P2.2)
    OVERDUE = "overdue"  # not handled within the prescribed time limit (P5.3.3)
    UNROUTABLE = "unroutable"  # no department queue bound for the assignment
    MANUAL = "manual"  # issued by hand by the district or the town (P6.2, issue 14)


class DuplicateDecision(StrEnum):
    """A grid worker's decision on a suggested duplicate link (P5.3.1)."""

    CONFIRMED = "confirmed"  # the same problem: merged into the original's flow
    UNDONE = "undone"  # not the same problem after all: a case of its own again


class Card(StrEnum):
    """P6.2 督办: supervision cards, ordinary → yellow → red."""

    ORDINARY = "ordinary"
    YELLOW = "yellow"
    RED = "red"


def town_code_field(**kwargs) -> fields.String:
    return fields.String(validate=validate.Regexp(TOWN_CODE_RE, error="Not a 9-digit town code."),
                         **kwargs)


def case_number_field(**kwargs) -> fields.String:
    return fields.String(validate=validate.Regexp(CASE_NUMBER_RE,
                                                  error="Not a case number."), **kwargs)


class Location(Payload):
    """WGS84 longitude/latitude (convert GCJ-02 from Chinese map apps before sending)."""

    lon = fields.Float(required=True, validate=validate.Range(-180, 180))
    lat = fields.Float(required=True, validate=validate.Range(-90, 90))


@message_type("events.case.reported", 1)
class CaseReportedV1(Payload):
    """A case was filed (P5.3.1): from the app, a hotline, Open311 or a department."""

    case_id = fields.UUID(required=True)
    case_number = case_number_field(required=True)
    reported_at = UtcTimestamp(required=True)
    source = enum_field(Source, required=True)
    grid_code = grid_code_field(required=True)
    town_code = town_code_field(required=True)
    location = fields.Nested(Location, required=True, allow_none=True)
    building_id = id_field(required=True, allow_none=True)
    work_category = enum_field(WorkCategory, required=True)
    info_class = enum_field(InfoClass, required=True)
    subcategory = code_field(required=True)
    severity = enum_field(Severity, required=True)
    description = fields.String(required=True, validate=validate.Length(1, DESCRIPTION_MAX))
    photos = fields.List(fields.String(validate=validate.Regexp(SHA256_RE)), required=True,
                         validate=validate.Length(max=9))
    resident_id = id_field(required=True, allow_none=True)
    handled_on_spot = fields.Boolean(required=True)  # P5.1.5 "small problems stay in the grid"
    duplicate_of = fields.UUID(required=True, allow_none=True)
    private = fields.Boolean(required=True)

    @validates_schema
    def _town_of_grid(self, data, **kwargs):
        if not data["grid_code"].startswith(data["town_code"]):
            raise ValidationError("grid_code must lie in town_code", "town_code")


@message_type("events.case.reported", 2)
class CaseReportedV2(CaseReportedV1):
    """v1 plus the reporting grid staff member, so that case figures can be kept per grid
    worker (P5.4.6 assessment; docs/KPIS.md ``by=grid_worker``)."""

    # the token subject of the grid staff member who reported through the app; null for
    # hotlines, Open311 clients and department systems (their ids name systems, not staff)
    reporter_sub = fields.String(required=True, allow_none=True,
                                 validate=validate.Length(1, 128))


@message_type("events.case.reported", 3)
class CaseReportedV3(CaseReportedV2):
    """v2 plus ``sensitive`` (P5.2.5): the case's subcategory reveals that a resident
    belongs to a special group, so consumers show it only to the roles that may see
    special groups and to the departments assigned, and elsewhere only as a count."""

    sensitive = fields.Boolean(required=True)


@message_type("events.case.duplicate_decided", 1)
class DuplicateDecidedV1(Payload):
    """A grid worker confirmed or undid a suggested duplicate link (P5.3.1 collect and
    archive by class): dispatch merges a confirmed duplicate into its original's flow
    (its own deadlines stop; it closes when the original closes, P5.3.3) and an undone
    one back into its own flow. ``decided_at`` orders decisions on one case."""

    case_id = fields.UUID(required=True)  # the duplicate
    case_number = case_number_field(required=True)
    original_case_id = fields.UUID(required=True)
    original_case_number = case_number_field(required=True)
    decision = enum_field(DuplicateDecision, required=True)
    decided_by_role = code_field(required=True)  # a gridgov role (P5.0)
    decided_by_sub = fields.String(required=True, validate=validate.Length(1, 128))
    decided_at = UtcTimestamp(required=True)

    @validates_schema
    def _two_cases(self, data, **kwargs):
        if data["case_id"] == data["original_case_id"]:
            raise ValidationError("a case is not a duplicate of itself", "original_case_id")


@message_type("dispatch.assignment", 1)
class AssignmentV1(Payload):
    """The town whistles (P2.2): a case is assigned to a department, which must report in
    (ack) by ``ack_due_at`` and report a result by ``handle_due_at`` (P5.3.3)."""

    assignment_id = fields.UUID(required=True)
    case_id = fields.UUID(required=True)
    case_number = case_number_field(required=True)
    department = code_field(required=True)
    role = enum_field(AssignmentRole, required=True)
    town_code = town_code_field(required=True)
    grid_code = grid_code_field(required=True)
    work_category = enum_field(WorkCategory, required=True)
    subcategory = code_field(required=True)
    priority = enum_field(Priority, required=True)
    severity = enum_field(Severity, required=True)
    description = fields.String(required=True, validate=validate.Length(1, DESCRIPTION_MAX))
    location = fields.Nested(Location, required=True, allow_none=True)
    ack_due_at = UtcTimestamp(required=True)
    handle_due_at = UtcTimestamp(required=True)
    rule_version = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
    rework = fields.Integer(required=True, strict=True, validate=validate.Range(min=0))


@message_type("department.report", 1)
class DepartmentReportV1(Payload):
    """A department reports in on an assignment (P2.2, P5.3.3), published on
    ``gridgov.reports`` with routing key ``<department>.<kind>``."""

    assignment_id = fields.UUID(required=True)
    case_id = fields.UUID(required=True)
    department = code_field(required=True)
    kind = enum_field(ReportKind, required=True)
    department_ref = fields.String(validate=validate.Length(1, 64))  # their own reference
    note = fields.String(validate=validate.Length(1, NOTE_MAX))
    resolved = fields.Boolean()  # kind=result: was the problem solved
    reason = fields.String(validate=validate.Length(1, NOTE_MAX))  # return / delay_request
    requested_due_at = UtcTimestamp()  # delay_request
    reported_at = UtcTimestamp(required=True)

    @validates_schema
    def _kind_fields(self, data, **kwargs):
        kind = data["kind"]
        if kind == ReportKind.RESULT and "resolved" not in data:
            raise ValidationError("a result says whether it resolved the case", "resolved")
        if kind in (ReportKind.RETURN, ReportKind.DELAY_REQUEST) and not data.get("reason"):
            raise ValidationError(f"a {kind} needs a reason", "reason")
        if kind == ReportKind.DELAY_REQUEST and "requested_due_at" not in data:
            raise ValidationError("a delay request names the new due time", "requested_due_at")


@message_type("alert.major_event", 1)
class MajorEventAlertV1(Payload):
    """P5.2.7: a major event, published at once, before anything else happens to the case;
    routing key ``<town_code>.<severity>.<category>``."""

    case_id = fields.UUID(required=True)
    case_number = case_number_field(required=True)
    msg_type = enum_field(AlertMsgType, required=True)
    town_code = town_code_field(required=True)
    grid_code = grid_code_field(required=True)
    severity = enum_field(Severity, required=True)
    category = code_field(required=True)  # e.g. fire, safety, public_order, petition
    headline = fields.String(required=True, validate=validate.Length(1, 200))
    description = fields.String(required=True, validate=validate.Length(1, DESCRIPTION_MAX))
    location = fields.Nested(Location, required=True, allow_none=True)
    reported_at = UtcTimestamp(required=True)


@message_type("dispatch.case.changed", 1)
class CaseChangedV1(Payload):
    """A case moved in its state machine; every change is also in the case file."""

    case_id = fields.UUID(required=True)
    case_number = case_number_field(required=True)
    from_state = code_field(required=True, allow_none=True)
    to_state = code_field(required=True)
    at = UtcTimestamp(required=True)
    actor_role = code_field(required=True)
    grid_code = grid_code_field(required=True)
    town_code = town_code_field(required=True)
    departments = fields.List(code_field(), required=True)
    on_time = fields.Boolean(required=True, allow_none=True)  # frozen when a stage ends


@message_type("dispatch.case.changed", 2)
class CaseChangedV2(CaseChangedV1):
    """v1 plus ``due_at``: when the case is expected to be done after this change (the
    latest handling deadline of its active assignments, else its own), null once it is
    resolved, closed or cancelled, or while it waits for triage. Open311 shows it as
    ``expected_datetime``."""

    due_at = UtcTimestamp(required=True, allow_none=True)


@message_type("dispatch.case.changed", 3)
class CaseChangedV3(CaseChangedV2):
    """v2's fields; what changed is the first change of a case. v2 announced filing as two
    changes of one transaction (null -> ``filed``, then ``filed`` -> where triage left it);
    v3 announces it once: ``from_state`` null means the case was filed and, in the same
    transaction, triage moved it to ``to_state`` (issue 16: one message fewer per case for
    every follower, and the ``filed`` state was never visible outside that transaction)."""


@message_type("events.callback_phone.kept", 1)
class CallbackPhoneKeptV1(Payload):
    """A resident's report that left a call-back phone was committed (issue 12, P5.4.4).
    Events hands the phone to the registry before its own commit; this message, from its
    outbox, tells the registry the case exists, so the registry keeps the phone; a phone
    no such message confirms is deleted. Carries no phone."""

    case_number = case_number_field(required=True)
    grid_code = grid_code_field(required=True)
    at = UtcTimestamp(required=True)


@message_type("dispatch.case.photos_attached", 1)
class CasePhotosAttachedV1(Payload):
    """A department attached photos to its report on the workbench (P5.3.3: the result goes
    back with its evidence). The photos were uploaded to events first; events adds them to
    the case's photos, so whoever may see the case sees them and they are kept as long as
    the case's own (never purged as unattached)."""

    case_id = fields.UUID(required=True)
    case_number = case_number_field(required=True)
    department = code_field(required=True)
    photos = fields.List(fields.String(validate=validate.Regexp(SHA256_RE)), required=True,
                         validate=validate.Length(1, 9))
    at = UtcTimestamp(required=True)


@message_type("dispatch.escalation", 1)
class EscalationV1(Payload):
    """An ack timeout, an overdue case or an unroutable assignment, raised to the next
    level (community grid chief → grid instructor → town grid chief) with a card; or a
    card issued by hand (``manual``: ``level`` is its number among the case's hand-issued
    cards, ``reason`` the issuer's instruction)."""

    case_id = fields.UUID(required=True)
    case_number = case_number_field(required=True)
    assignment_id = fields.UUID(required=True, allow_none=True)
    department = code_field(required=True, allow_none=True)
    kind = enum_field(EscalationKind, required=True)
    card = enum_field(Card, required=True, allow_none=True)
    level = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
    target_role = code_field(required=True)
    target_scope = fields.String(required=True, validate=validate.Length(1, 40))
    reason = fields.String(required=True, validate=validate.Length(1, NOTE_MAX))
    at = UtcTimestamp(required=True)


@message_type("dispatch.delay_decision", 1)
class DelayDecisionV1(Payload):
    """P5.3.3 办理时限: town staff decided a department's ``delay_request``; sent on
    ``gridgov.dispatch`` with key ``<department>.decisions``.  ``handle_due_at`` is the
    assignment's due time after the decision: the requested one if approved, else the
    unchanged one."""

    request_id = fields.UUID(required=True)
    assignment_id = fields.UUID(required=True)
    case_id = fields.UUID(required=True)
    case_number = case_number_field(required=True)
    department = code_field(required=True)
    approved = fields.Boolean(required=True)
    handle_due_at = UtcTimestamp(required=True)
    note = fields.String(required=True, allow_none=True, validate=validate.Length(max=NOTE_MAX))
    decided_at = UtcTimestamp(required=True)


__all__ = [
    "AlertMsgType", "AssignmentRole", "Card", "DuplicateDecision", "EscalationKind",
    "Location", "Source", "case_number_field", "town_code_field",
]


class CatalogueEntryV1(Schema):
    """One subcategory of a published catalogue version: what a consumer routes, counts
    and names by (Open311 attributes and CAP details stay with events)."""

    class Meta:
        unknown = RAISE

    code = code_field(required=True)
    work_category = enum_field(WorkCategory, required=True)
    info_class = enum_field(InfoClass, required=True)
    name_zh = fields.String(required=True, validate=validate.Length(1, 60))
    name_en = fields.String(required=True, validate=validate.Length(1, 60))
    severity = enum_field(Severity, required=True)  # default when a reporter gives none
    public = fields.Boolean(required=True)  # offered on Open311
    sensitive = fields.Boolean(required=True)  # P5.2.5: reveals special-group membership
    retired = fields.Boolean(required=True)  # no new reports; old cases keep the code


@message_type("events.catalogue.published", 1)
class CataloguePublishedV1(Payload):
    """A district admin published a new version of the subcategory catalogue (or events
    stored the packaged one as version 1). The whole catalogue each time: a consumer keeps
    the highest version and may skip any message. Codes are never removed or reused."""

    version = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
    published_by = fields.String(required=True, validate=validate.Length(1, 128))
    subcategories = fields.List(fields.Nested(CatalogueEntryV1), required=True,
                                validate=validate.Length(1, 2000))

    @validates_schema
    def _codes_once(self, data, **kwargs):
        codes = [entry["code"] for entry in data["subcategories"]]
        if len(set(codes)) != len(codes):
            raise ValidationError("a code is listed twice", "subcategories")


# P5.0/P5.3.2: the levels that handle a case, lowest first (dispatch's HandlingLevel);
# P5.3.3: the kinds of prescribed time limit (dispatch's TimeUnit, DOMAIN-REFERENCES §2)
HANDLING_LEVELS = ("grid", "community", "town", "district")
LIMIT_UNITS = ("working_hours", "working_days", "natural_days", "urgent_minutes")
CLOSING_CONDITION_MAX = 500


class TimeLimitV1(Schema):
    """A prescribed time limit: ``{"amount": 3, "unit": "working_days"}``."""

    class Meta:
        unknown = RAISE

    amount = fields.Float(required=True, allow_nan=False, validate=validate.Range(0, 10000))
    unit = fields.String(required=True, validate=validate.OneOf(LIMIT_UNITS))


class CatalogueEntryV2(CatalogueEntryV1):
    """v1 and the subcategory's handling defaults (DOMAIN-REFERENCES §2: per-subcategory
    master data): the level that handles it at its own level (P5.3.2), the report-in and
    handling time limits (P5.3.3) and the closing condition. ``null`` / ``""``: no default
    (the triage rules decide). Dispatch applies them where the rule set has no rule naming
    the subcategory (docs/CASE-FLOW.md §1.1)."""

    handling_level = fields.String(required=True, allow_none=True,
                                   validate=validate.OneOf(HANDLING_LEVELS))
    ack_limit = fields.Nested(TimeLimitV1, required=True, allow_none=True)
    handle_limit = fields.Nested(TimeLimitV1, required=True, allow_none=True)
    closing_condition = fields.String(required=True,
                                      validate=validate.Length(max=CLOSING_CONDITION_MAX))


@message_type("events.catalogue.published", 2)
class CataloguePublishedV2(CataloguePublishedV1):
    """v1 with each subcategory's handling defaults (``CatalogueEntryV2``)."""

    subcategories = fields.List(fields.Nested(CatalogueEntryV2), required=True,
                                validate=validate.Length(1, 2000))

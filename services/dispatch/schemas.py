"""marshmallow schemas of the dispatch service's HTTP inputs and outputs.

Unknown fields are rejected (marshmallow's default RAISE), so a typo in a field name is
an error, not silently ignored data.
"""

from __future__ import annotations

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from gridgov_common.contract.cases import Card, EscalationKind
from gridgov_common.contract.messages import code_field, grid_code_field
from gridgov_common.contract.routing import TOWN_CODE_RE, ReportKind, WorkCategory
from services.dispatch import config_schemas
from services.dispatch.domain.states import CaseState, HandlingLevel

# --- people acting on cases, case lists (P5.3.1–P5.3.3, P5.2.1) ---------------------------

TEXT = validate.Length(max=2000)
TRIAGE_OUTCOMES = ("local", "dispatch", "report_up", "assign_down")


def _not_blank(value: str) -> None:
    if not value.strip():
        raise ValidationError("Must not be blank.")


def _reason(required: bool) -> fields.String:
    if required:
        return fields.String(required=True, validate=[validate.Length(1, 2000), _not_blank])
    return fields.String(load_default=None, allow_none=True, validate=TEXT)


class TriageBodySchema(Schema):
    """P5.3.2 triage by a person.  ``dispatch``: ``lead`` (and ``assist``) as chosen, or the
    case's rule's departments when none are named; ``report_up`` says why."""

    outcome = fields.String(required=True, validate=validate.OneOf(TRIAGE_OUTCOMES))
    reason = _reason(required=False)
    lead = code_field(load_default=None, allow_none=True)
    assist = fields.List(code_field(), load_default=list, validate=validate.Length(max=20))

    @validates_schema
    def _consistent(self, data, **kwargs) -> None:
        outcome, lead, assist = data.get("outcome"), data.get("lead"), data.get("assist") or []
        if outcome == "report_up" and not (data.get("reason") or "").strip():
            raise ValidationError("say why the level above is asked (report_up)", "reason")
        if outcome != "dispatch" and (lead or assist):
            raise ValidationError("departments are named only when dispatching", "lead")
        if assist and not lead:
            raise ValidationError("name the lead department with the assisting ones", "lead")
        if lead and lead in assist:
            raise ValidationError("the lead department cannot also assist", "assist")
        if len(set(assist)) != len(assist):
            raise ValidationError("assisting departments are listed twice", "assist")


class ReasonBodySchema(Schema):
    """Cancel (注销) and suspend (挂账): the reason is kept in the case file."""

    reason = _reason(required=True)


class ResumeBodySchema(Schema):
    reason = _reason(required=False)


class LocalResultBodySchema(Schema):
    """P5.3.3: the result of handling at own level."""

    note = fields.String(required=True, validate=[validate.Length(1, 2000), _not_blank])
    resolved = fields.Boolean(required=True)


class ReturnVisitBodySchema(Schema):
    """P5.2.1 回访: the resident's verdict; not satisfied means rework, with a note."""

    satisfied = fields.Boolean(required=True)
    satisfaction = fields.Integer(required=True, strict=True, validate=validate.Range(1, 5))
    method = fields.String(required=True, validate=validate.OneOf(["phone", "visit"]))
    note = fields.String(load_default=None, allow_none=True, validate=TEXT)

    @validates_schema
    def _note_for_rework(self, data, **kwargs) -> None:
        if data.get("satisfied") is False and not (data.get("note") or "").strip():
            raise ValidationError("say what is still wrong: the case goes back for rework",
                                  "note")


class AssignmentSchema(Schema):
    assignment_id = fields.UUID()
    department = fields.String()
    role = fields.String(validate=validate.OneOf(["lead", "assist"]))
    state = fields.String()
    rework = fields.Integer()
    routing_key = fields.String()
    sent_at = fields.DateTime()
    ack_due_at = fields.DateTime()
    acked_at = fields.DateTime(allow_none=True)
    handle_due_at = fields.DateTime()
    reported_at = fields.DateTime(allow_none=True)
    resolved = fields.Boolean(allow_none=True)
    unroutable = fields.Boolean()


class CaseSummarySchema(Schema):
    case_id = fields.UUID()
    case_number = fields.String()
    state = fields.String(validate=validate.OneOf([s.value for s in CaseState]))
    grid_code = fields.String()
    town_code = fields.String()
    work_category = fields.String()
    subcategory = fields.String()
    severity = fields.String()
    priority = fields.String()
    handling_level = fields.String(validate=validate.OneOf([h.value for h in HandlingLevel]))
    reported_at = fields.DateTime()
    updated_at = fields.DateTime()


class CaseSchema(CaseSummarySchema):
    """A case as the people acting on it see it (GET /cases/<id> and every action)."""

    description = fields.String()
    photos = fields.List(fields.String(), metadata={
        "description": "the case's photos (sha256): events' GET /photos/<sha256>"})
    handled_locally = fields.Boolean()
    handle_due_at = fields.DateTime(allow_none=True)
    rework_count = fields.Integer()
    return_count = fields.Integer()
    satisfaction = fields.Integer(allow_none=True)
    rule_id = fields.String(allow_none=True)
    rule_version = fields.Integer(allow_none=True)
    resolved_at = fields.DateTime(allow_none=True)
    closed_at = fields.DateTime(allow_none=True)
    cancelled_at = fields.DateTime(allow_none=True)
    suspended_at = fields.DateTime(allow_none=True)
    assignments = fields.List(fields.Dict(), metadata={
        "description": "the case's assignments, oldest round first: assignment_id, "
                       "department, role, state, rework, sent_at, ack_due_at, "
                       "handle_due_at, … (AssignmentSchema in services/dispatch/schemas.py)"})
    subcategory_name = fields.Dict(keys=fields.String(), values=fields.String(),
                                   allow_none=True, metadata={
                                       "description": "GET /cases/<id> only: zh-CN and en "
                                                      "names from the catalogue"})
    place = fields.Dict(keys=fields.String(), values=fields.String(allow_none=True),
                        allow_none=True, metadata={
                            "description": "GET /cases/<id> only: names of the town, "
                                           "community and grid (null where the registry "
                                           "has none)"})
    location = fields.Dict(allow_none=True, metadata={
        "description": "where it was seen, {lon, lat} in WGS84 (the case page's map; the "
                       "printable case file shows it too)"})


class CaseListSchema(Schema):
    items = fields.List(fields.Dict(), metadata={
        "description": "one page of cases, newest reported first, each with the "
                       "fields of CaseSummarySchema (services/dispatch/schemas.py) and, "
                       "over HTTP, subcategory_name and place as on GET /cases/<id>"})
    total = fields.Integer()


class CaseListQuerySchema(Schema):
    state = fields.String(load_default=None, validate=validate.OneOf([s.value for s in CaseState]))
    town_code = fields.String(load_default=None, validate=validate.Regexp(TOWN_CODE_RE))
    grid_code = grid_code_field(load_default=None)
    work_category = fields.String(load_default=None,
                                  validate=validate.OneOf([w.value for w in WorkCategory]))
    # P5.3.2: the level that owns the case now (a level's triage queue)
    handling_level = fields.String(load_default=None, validate=validate.OneOf(
        [h.value for h in HandlingLevel]))
    overdue = fields.Boolean(load_default=None)
    reported_from = fields.DateTime(load_default=None)
    reported_to = fields.DateTime(load_default=None)
    limit = fields.Integer(load_default=50, validate=validate.Range(1, 200))
    offset = fields.Integer(load_default=0, validate=validate.Range(min=0))


class CaseActionsSchema(Schema):
    case_id = fields.UUID()
    state = fields.String()
    handling_level = fields.String()
    transitions = fields.List(fields.String())
    supervise = fields.Boolean(metadata={
        "description": "the caller may issue a supervision card by hand now "
                       "(POST /cases/<id>/supervision-cards)"})


# --- the department workbench (issue 14; P2.2, P5.3.2–P5.3.3) ------------------------------

REPORT_KINDS = [k.value for k in ReportKind]
SHA256 = validate.Regexp(r"^[0-9a-f]{64}$", error="Not a photo id (sha256 hex).")


class WorkbenchReportBodySchema(Schema):
    """A department officer's action on an assignment: the fields of ``department.report``
    v1 (sign for = ``ack``, ``progress``, ``result``, ``return``, ``delay_request``); the
    rules that tie them to the kind are the contract's own (docs/BUS-CONTRACT.md)."""

    kind = fields.String(required=True, validate=validate.OneOf(REPORT_KINDS))
    note = fields.String(load_default=None, allow_none=True,
                         validate=[validate.Length(1, 2000), _not_blank])
    resolved = fields.Boolean(load_default=None, allow_none=True)
    reason = fields.String(load_default=None, allow_none=True,
                           validate=[validate.Length(1, 2000), _not_blank])
    requested_due_at = fields.AwareDateTime(load_default=None, allow_none=True)
    department_ref = fields.String(load_default=None, allow_none=True,
                                   validate=validate.Length(1, 64))
    photos = fields.List(fields.String(validate=SHA256), load_default=list,
                         validate=validate.Length(max=9), metadata={
                             "description": "photos of the result, uploaded to events' "
                                            "POST /photos first"})
    client_ref = fields.String(load_default=None, allow_none=True,
                               validate=validate.Length(1, 64), metadata={
                                   "description": "the officer's own id of this action: "
                                                  "sent again, it is applied once"})


class WorkbenchQuerySchema(Schema):
    state = fields.String(load_default=None, validate=validate.OneOf(
        ["sent", "acked", "reported", "returned", "withdrawn"]))
    overdue = fields.Boolean(load_default=None)


class WorkbenchAssignmentSchema(Schema):
    """An assignment as the department's to-do list shows it, with its countdown."""

    assignment_id = fields.UUID()
    case_id = fields.UUID()
    case_number = fields.String()
    case_state = fields.String()
    department = fields.String()
    role = fields.String()
    state = fields.String()
    rework = fields.Integer()
    work_category = fields.String()
    subcategory = fields.String()
    priority = fields.String()
    description = fields.String()
    grid_code = fields.String()
    town_code = fields.String()
    sent_at = fields.DateTime()
    ack_due_at = fields.DateTime()
    acked_at = fields.DateTime(allow_none=True)
    handle_due_at = fields.DateTime()
    reported_at = fields.DateTime(allow_none=True)
    next_due_at = fields.DateTime(allow_none=True, metadata={
        "description": "report-in deadline until signed for, then the handling deadline"})
    seconds_left = fields.Integer(allow_none=True, metadata={
        "description": "until next_due_at; negative once late"})
    overdue = fields.Boolean()
    replayed = fields.Boolean(metadata={
        "description": "after an action: the same client_ref was applied before"})
    subcategory_name = fields.Dict(keys=fields.String(), values=fields.String(),
                                   allow_none=True, metadata={
                                       "description": "zh-CN and en names from the catalogue"})
    place = fields.Dict(keys=fields.String(), values=fields.String(allow_none=True),
                        allow_none=True, metadata={
                            "description": "names of the town, community and grid (null "
                                           "where the registry has none)"})


# --- delay requests, configuration admin, case file export (P5.3.3, P5.3.2, P6.2, P5.3.4) --

DELAY_STATES = ("pending", "approved", "denied")
NOTE = validate.Length(max=2000)


class DelayRequestQuerySchema(Schema):
    state = fields.String(load_default=None, validate=validate.OneOf(DELAY_STATES))


class DelayDecisionBodySchema(Schema):
    approve = fields.Boolean(required=True)
    note = fields.String(load_default=None, allow_none=True, validate=NOTE)


class DelayRequestSchema(Schema):
    request_id = fields.UUID()
    case_id = fields.UUID()
    case_number = fields.String()
    grid_code = fields.String()
    town_code = fields.String()
    assignment_id = fields.UUID()
    department = fields.String()
    reason = fields.String()
    requested_due_at = fields.DateTime()
    current_due_at = fields.DateTime()
    handle_due_at = fields.DateTime()
    requested_at = fields.DateTime()
    state = fields.String(validate=validate.OneOf(DELAY_STATES))
    decided_by = fields.String(allow_none=True)
    decided_role = fields.String(allow_none=True)
    decided_at = fields.DateTime(allow_none=True)
    decision_note = fields.String(allow_none=True)
    message_id = fields.String(allow_none=True)
    work_category = fields.String()
    subcategory = fields.String()
    subcategory_name = fields.Dict(keys=fields.String(), values=fields.String(),
                                   allow_none=True, metadata={
                                       "description": "zh-CN and en names from the catalogue"})
    department_name = fields.Dict(keys=fields.String(), values=fields.String(),
                                  allow_none=True, metadata={
                                      "description": "zh-CN and en names from the register"})


# --- supervision cards (督办, P6.2; issue 14) ---------------------------------------------

class SupervisionQuerySchema(Schema):
    kind = fields.String(load_default=None, validate=validate.OneOf(
        [k.value for k in EscalationKind]))
    card = fields.String(load_default=None, validate=validate.OneOf(
        [*(c.value for c in Card), "none"]), metadata={
            "description": "one card, or none: escalations without a card"})
    limit = fields.Integer(load_default=100, validate=validate.Range(1, 500))


class SupervisionCardBodySchema(Schema):
    """A supervision card issued by hand (督办, P6.2): the instruction, kept in the case
    file and sent with the notice, and the card's colour; ``department``: the department
    addressed (one with an active assignment on the case), else the lead's."""

    reason = fields.String(required=True, validate=[validate.Length(1, 2000), _not_blank],
                           metadata={"description": "the instruction (督办要求)"})
    card = fields.String(required=True, validate=validate.OneOf([c.value for c in Card]))
    department = fields.String(load_default=None, allow_none=True,
                               validate=validate.Regexp(r"^[a-z][a-z0-9_]{1,39}$",
                                                        error="Not a department code."))


class SupervisionCardSchema(Schema):
    id = fields.Integer()
    case_id = fields.UUID()
    case_number = fields.String()
    case_state = fields.String()
    grid_code = fields.String()
    work_category = fields.String()
    subcategory = fields.String()
    subcategory_name = fields.Dict(keys=fields.String(), values=fields.String(),
                                   allow_none=True, metadata={
                                       "description": "zh-CN and en names from the catalogue"})
    assignment_id = fields.UUID(allow_none=True)
    assignment_state = fields.String(allow_none=True, metadata={
        "description": "the escalated assignment's state now (followed up or not)"})
    reported_at = fields.DateTime(allow_none=True)
    department = fields.String(allow_none=True)
    department_name = fields.Dict(keys=fields.String(), values=fields.String(),
                                  allow_none=True, metadata={
                                      "description": "zh-CN and en names from the register"})
    kind = fields.String(validate=validate.OneOf([k.value for k in EscalationKind]))
    level = fields.Integer(metadata={"description": "the ladder's level; for a card issued "
                                     "by hand (kind manual) its number on the case"})
    card = fields.String(allow_none=True)
    issued_by = fields.String(allow_none=True, metadata={
        "description": "who issued a card by hand (subject); null for the timer's"})
    issued_role = fields.String(allow_none=True)
    target_role = fields.String()
    target_scope = fields.String()
    reason = fields.String()
    due_at = fields.DateTime(allow_none=True, metadata={"description": "the missed due time"})
    at = fields.DateTime()


class ConfigVersionSchema(Schema):
    version = fields.Integer()
    created_by = fields.String()
    created_at = fields.DateTime()
    description = fields.String(allow_none=True)


def _rule_json_schema() -> dict:
    """The JSON Schema of one rule, generated from the domain's own marshmallow schema
    (``config_schemas.RULE_SCHEMA``, which validates it), so the API document cannot drift."""
    spec = APISpec(title="rule", version="1", openapi_version="3.0.3",
                   plugins=[MarshmallowPlugin(schema_name_resolver=lambda schema: None)])
    spec.components.schema("Rule", schema=config_schemas.RULE_SCHEMA)
    found = spec.to_dict()["components"]["schemas"]["Rule"]
    found["description"] = (
        "One triage rule (docs/CASE-FLOW.md §1.1). The most specific matching rule wins: "
        "a subcategory over a work category over '*', then a specific severity, then the "
        "longest town_prefix. lead and assist must be active departments of the registry's "
        "register and subcategory a code of events' catalogue, under work_category.")
    return found


class RuleSetBodySchema(Schema):
    """A whole triage rule set (domain.triage.RuleSet); ``version`` may be left out, else it
    must be the next one.  Each rule is validated by ``config_schemas.RULE_SCHEMA``
    and against the register and the catalogue (``master_data``), every problem named."""

    version = fields.Integer(load_default=None, allow_none=True)
    description = fields.String(load_default="")
    rules = fields.List(fields.Dict(metadata=_rule_json_schema()), required=True,
                        metadata={"description": "at least one catch-all rule (all '*', "
                                                 "no town_prefix); no two rules with the "
                                                 "same match"})


class RuleSetSchema(Schema):
    version = fields.Integer()
    created_by = fields.String()
    created_at = fields.DateTime()
    rules = fields.Dict()


class EscalationPolicyBodySchema(Schema):
    """A whole escalation policy (domain.escalation.EscalationPolicy); ``version`` as for
    rule sets."""

    version = fields.Integer(load_default=None, allow_none=True)
    description = fields.String(load_default="")
    ladder = fields.List(fields.Dict(), required=True)
    ack_timeout = fields.Dict(required=True)
    overdue = fields.Dict(required=True)


class EscalationPolicySchema(Schema):
    version = fields.Integer()
    created_by = fields.String()
    created_at = fields.DateTime()
    policy = fields.Dict()


class DateRangeQuerySchema(Schema):
    from_ = fields.Date(data_key="from", load_default=None)
    to = fields.Date(load_default=None)


class CalendarOverrideBodySchema(Schema):
    is_workday = fields.Boolean(required=True)
    note = fields.String(load_default="", validate=validate.Length(max=200))


class CalendarOverrideSchema(Schema):
    day = fields.Date()
    is_workday = fields.Boolean()
    note = fields.String()


class NoticeDaySchema(Schema):
    day = fields.Date(required=True)
    name = fields.String(required=True, validate=validate.Length(1, 60),
                         metadata={"description": "the holiday, e.g. 国庆节"})


class CalendarNoticeBodySchema(Schema):
    """The State Council's holiday notice for one year, whole (M12)."""

    notice = fields.String(required=True, validate=validate.Length(1, 300), metadata={
        "description": "its title and document number (文号)"})
    days_off = fields.List(fields.Nested(NoticeDaySchema), required=True,
                           validate=validate.Length(1, 60),
                           metadata={"description": "every day off (放假), weekends included"})
    workdays = fields.List(fields.Nested(NoticeDaySchema), load_default=list,
                           validate=validate.Length(max=20),
                           metadata={"description": "every make-up working day (调休上班)"})


class CalendarNoticeSchema(Schema):
    year = fields.Integer()
    notice = fields.String()
    days_off = fields.Integer()
    workdays = fields.Integer()


class CalendarYearSchema(Schema):
    year = fields.Integer()
    source = fields.String(metadata={"description": "notice, library or estimate"})
    notice = fields.String(allow_none=True)
    entered_by = fields.String(allow_none=True)
    entered_at = fields.DateTime(allow_none=True)
    warning = fields.String(allow_none=True)


class CalendarDaySchema(Schema):
    day = fields.Date()
    is_workday = fields.Boolean()
    source = fields.String(validate=validate.OneOf(
        ["override", "operator_schedule", "chinese_calendar", "holidays", "fallback"]))
    note = fields.String()


class CaseFileHtmlQuerySchema(Schema):
    # None: the browser's Accept-Language decides (zh-CN when it names neither)
    lang = fields.String(load_default=None, validate=validate.OneOf(["zh-CN", "en"]))

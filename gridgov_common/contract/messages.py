"""Payload schemas of every message type on the bus, one class per (type, version).

Adding a message type (or a new version of one) takes three steps:

1. a class here::

       @message_type("dispatch.case.assigned", 1)
       class CaseAssignedV1(Payload):
           case_id = fields.Integer(required=True, strict=True)
           grid_code = grid_code_field(required=True)

2. a full sample envelope in ``samples/dispatch.case.assigned.v1.json``;
3. a section in docs/BUS-CONTRACT.md.

tests/unit/test_contract.py fails until the sample exists and validates. A published version is
frozen: change a field's meaning, add or remove a field -> register version + 1 and keep
the old one until no producer sends it.
"""

from __future__ import annotations

import re
from enum import StrEnum

from marshmallow import ValidationError, fields, validate, validates_schema

from gridgov_common.contract.envelope import Payload, UtcTimestamp, message_type
from gridgov_common.contract.routing import (
    CODE_MAX_LENGTH,
    CODE_RE,
    COMMUNITY_CODE_RE,
    GRID_CODE_RE,
    WorkCategory,
)
from gridgov_common.kernel.area import Level, code_pattern

ID_NUMBER_RE = re.compile(r"^(?:\d{15}|\d{17}[\dXx])$")
ID_CHECK_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK_CHARS = "10X98765432"
PHONE_RE = re.compile(r"^\+?\d[\d-]{4,18}\d$")
REASON_MAX = 500


# --- reusable field builders ----------------------------------------------------------

def code_field(**kwargs) -> fields.String:
    """A lowercase snake_case code (department, source, reason code)."""
    return fields.String(validate=[validate.Regexp(CODE_RE),
                                   validate.Length(max=CODE_MAX_LENGTH)], **kwargs)


def digits_field(pattern: re.Pattern, what: str, **kwargs) -> fields.String:
    return fields.String(validate=validate.Regexp(pattern, error=f"Not a valid {what}."),
                         **kwargs)


def grid_code_field(**kwargs) -> fields.String:
    """P4.1: the unique 15-digit grid code issued by the district."""
    return digits_field(GRID_CODE_RE, "15-digit grid code", **kwargs)


def community_code_field(**kwargs) -> fields.String:
    return digits_field(COMMUNITY_CODE_RE, "12-digit community code", **kwargs)


def enum_field(enum_cls: type[StrEnum], **kwargs) -> fields.String:
    return fields.String(validate=validate.OneOf([m.value for m in enum_cls]), **kwargs)


def id_field(**kwargs) -> fields.Integer:
    return fields.Integer(strict=True, validate=validate.Range(min=1), **kwargs)


def id_number_checksum_ok(value: str) -> bool:
    """GB 11643-1999 check character of an 18-character citizen ID (15-digit legacy IDs
    have none)."""
    if len(value) != 18:
        return True
    total = sum(int(digit) * weight for digit, weight in zip(value[:17], ID_CHECK_WEIGHTS,
                                                             strict=True))
    return ID_CHECK_CHARS[total % 11] == value[17]


class IdNumber(fields.String):
    """A citizen ID number; a lower-case ``x`` is accepted and loaded as ``X``."""

    default_error_messages = {"invalid_id": "Not a valid citizen ID number (15 digits, or 18 "
                                            "with a valid GB 11643 check character)."}

    def _deserialize(self, value, attr, data, **kwargs) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        if not ID_NUMBER_RE.match(text) or not id_number_checksum_ok(text.upper()):
            raise self.make_error("invalid_id")
        return text.upper()


def id_number_field(**kwargs) -> IdNumber:
    return IdNumber(**kwargs)


# --- enums of payload values ----------------------------------------------------------

class GridAction(StrEnum):
    """P4.1: grids are drawn once and then fixed, so a grid is only created, corrected or
    retired (never deleted: cases keep pointing at it)."""

    CREATED = "created"
    UPDATED = "updated"
    RETIRED = "retired"


class ResidentAction(StrEnum):
    """P3.1 / P5.1.5: every resident registered in one grid; moves, births, deaths kept
    current."""

    REGISTERED = "registered"
    UPDATED = "updated"
    MOVED_OUT = "moved_out"
    DECEASED = "deceased"


# --- registry service -----------------------------------------------------------------

@message_type("registry.grid.changed", 1)
class GridChangedV1(Payload):
    """A grid was created, corrected or retired (P4.1)."""

    grid_code = grid_code_field(required=True)
    community_code = community_code_field(required=True)
    action = enum_field(GridAction, required=True)
    valid_from = fields.Date(required=True)
    valid_to = fields.Date(required=True, allow_none=True)

    @validates_schema
    def _consistent(self, data, **kwargs):
        # DOMAIN-REFERENCES §2: grid code = the community's 12-digit code + 3-digit sequence.
        if not data["grid_code"].startswith(data["community_code"]):
            raise ValidationError("grid_code must start with community_code", "grid_code")
        if data["valid_to"] is not None and data["valid_to"] < data["valid_from"]:
            raise ValidationError("valid_to is before valid_from", "valid_to")


class DivisionLevel(StrEnum):
    """The administrative divisions the registry keeps as versioned data (P5.0 levels)."""

    DISTRICT = "district"  # 6-digit GB/T 2260 county-level code
    TOWN = "town"  # 9 digits: + GB/T 10114 township
    COMMUNITY = "community"  # 12 digits: + statistical village-level code


class DivisionAction(StrEnum):
    """A division is created, renamed (same code, a new name version) or retired
    (administrative-division adjustment); never deleted, its code never reused."""

    CREATED = "created"
    RENAMED = "renamed"
    RETIRED = "retired"


DIVISION_CODE_LENGTH = {DivisionLevel.DISTRICT: 6, DivisionLevel.TOWN: 9,
                        DivisionLevel.COMMUNITY: 12}


@message_type("registry.division.changed", 1)
class DivisionChangedV1(Payload):
    """A district, town or community was created, renamed or retired (the division codes).

    ``name`` is valid on [``valid_from``, ``valid_to``): for ``created`` the first name
    from the day the division began; for ``renamed`` the new name from the day it takes
    effect (the old one stays valid for the days before); for ``retired`` the last name,
    and ``valid_to`` is the first day the division no longer exists."""

    level = enum_field(DivisionLevel, required=True)
    code = fields.String(required=True, validate=validate.Regexp(
        code_pattern(Level.DISTRICT, Level.TOWN, Level.COMMUNITY)))
    name = fields.String(required=True, validate=validate.Length(1, 100))
    name_version = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
    action = enum_field(DivisionAction, required=True)
    valid_from = fields.Date(required=True)
    valid_to = fields.Date(required=True, allow_none=True)
    reason = fields.String(required=True, validate=validate.Length(max=500))

    @validates_schema
    def _consistent(self, data, **kwargs):
        # DOMAIN-REFERENCES §2: the code's length says its level (6 / 9 / 12 digits)
        if len(data["code"]) != DIVISION_CODE_LENGTH[DivisionLevel(data["level"])]:
            raise ValidationError(f"a {data['level']} code has "
                                  f"{DIVISION_CODE_LENGTH[DivisionLevel(data['level'])]} "
                                  "digits", "code")
        if data["valid_to"] is not None and data["valid_to"] <= data["valid_from"]:
            raise ValidationError("valid_to is not after valid_from", "valid_to")
        if (data["action"] == DivisionAction.RETIRED) != (data["valid_to"] is not None):
            raise ValidationError("valid_to is set exactly when the action is retired",
                                  "valid_to")


class DepartmentAction(StrEnum):
    """What happened to a department of the register (P4.2)."""

    CREATED = "created"
    UPDATED = "updated"  # renamed, new contacts or work categories, retired or restored
    ANNOUNCED = "announced"  # unchanged: the register re-announced (start, hourly)


P42_UNITS = ("organization", "comprehensive_governance", "civil_affairs", "public_security",
             "human_resources", "health", "ecology_environment", "emergency_management",
             "veterans_affairs", "fire")  # P4.2's ten units, in the policy's order


@message_type("registry.department.changed", 1)
class DepartmentChangedV1(Payload):
    """A department of the register was added or changed, or the register re-announced.
    The whole state each time: a consumer keeps the newest (``updated_at``) per code.
    Its duty contacts stay in the registry (notify reads them there)."""

    code = code_field(required=True)
    action = enum_field(DepartmentAction, required=True)
    name_zh = fields.String(required=True, validate=validate.Length(1, 60))
    name_en = fields.String(required=True, validate=validate.Length(1, 100))
    unit = fields.String(required=True, allow_none=True, validate=validate.OneOf(P42_UNITS))
    work_categories = fields.List(enum_field(WorkCategory), required=True,
                                  validate=validate.Length(max=8))
    active = fields.Boolean(required=True)  # false: retired, no new assignments
    updated_at = UtcTimestamp(required=True)


class StaffAction(StrEnum):
    """What happened to a staff record (P5.0, P5.1.5 lifecycle, P5.4.1 adjustment)."""

    CREATED = "created"
    SUBJECT_SET = "subject_set"
    GRIDS_CHANGED = "grids_changed"
    STATUS_CHANGED = "status_changed"


@message_type("registry.staff.changed", 1)
class StaffChangedV1(Payload):
    """A staff record was created, tied to a token subject, given grids or moved in its
    lifecycle. The whole current state each time, so a consumer keeps the latest and may
    skip any message. Ids, codes and states only: no name, phone or ID number (P5.4.4)."""

    staff_id = id_field(required=True)
    subject = fields.String(required=True, allow_none=True, validate=validate.Length(1, 128))
    action = enum_field(StaffAction, required=True)
    role = fields.String(required=True, validate=validate.Regexp(r"^[a-z_]{1,40}$"))
    # a department's part is a department code (CODE_RE, as registry.department.changed
    # names it: digits allowed); it was [a-z_]{1,40}, which refused the staff of a
    # department such as fire2 that the register itself accepts
    scope = fields.String(required=True, validate=[validate.Regexp(
        r"^(district:\d{6}|town:\d{9}|community:\d{12}|grid:\d{15}"
        r"|department:[a-z][a-z0-9]*(?:_[a-z0-9]+)*)$"),
        validate.Length(max=len("department:") + CODE_MAX_LENGTH)])
    town_code = fields.String(required=True, allow_none=True,
                              validate=validate.Regexp(code_pattern(Level.TOWN)))
    community_code = community_code_field(required=True, allow_none=True)
    grid_codes = fields.List(grid_code_field(), required=True, validate=validate.Length(max=50))
    lifecycle_state = code_field(required=True)
    active = fields.Boolean(required=True)
    valid_from = fields.Date(required=True)  # local day of this state (Asia/Shanghai)

    @validates_schema
    def _grids_in_scope(self, data, **kwargs):
        code = data["scope"].partition(":")[2]
        if any(not g.startswith(code) for g in data["grid_codes"]):
            raise ValidationError("grid_codes must lie in scope", "grid_codes")


@message_type("registry.resident.changed", 1)
class ResidentChangedV1(Payload):
    """A resident's registration changed. Ids only: P5.4.4 forbids leaking personal data,
    so consumers that need details ask the registry, which checks their rights."""

    resident_id = id_field(required=True)
    household_id = id_field(required=True, allow_none=True)
    grid_code = grid_code_field(required=True)
    action = enum_field(ResidentAction, required=True)


# --- departments push (P6.2: mutual push breaks the data silos) -----------------------

@message_type("intake.resident.moved_out", 1)
class IntakeResidentMovedOutV1(Payload):
    """A department (e.g. civil_affairs, public_security) reports a resident moved out."""

    department = code_field(required=True)
    id_number = id_number_field(required=True)
    moved_out_on = fields.Date(required=True)
    reason = fields.String(validate=validate.Length(min=1, max=REASON_MAX))


@message_type("intake.resident.updated", 1)
class IntakeResidentUpdatedV1(Payload):
    """A department corrects a resident's contact or household; at least one is given."""

    department = code_field(required=True)
    id_number = id_number_field(required=True)
    phone = fields.String(validate=validate.Regexp(PHONE_RE, error="Not a valid phone."))
    household_id = id_field()

    @validates_schema
    def _something_to_update(self, data, **kwargs):
        if "phone" not in data and "household_id" not in data:
            raise ValidationError("give phone and/or household_id")


# --- platform -------------------------------------------------------------------------

@message_type("platform.rejection", 1)
class RejectionV1(Payload):
    """We refused a message a department sent (sent on gridgov.dispatch to
    ``<department>.rejections``): same code/message/fields as the dead-letter headers."""

    original_message_id = fields.UUID(required=True)
    code = code_field(required=True)
    message = fields.String(required=True, validate=validate.Length(min=1, max=2000))
    fields = fields.Dict(keys=fields.String(), load_default=dict)


@message_type("platform.rejection", 2)
class RejectionV2(Payload):
    """v1 plus what identifies the refused message without its body (issue 10): every
    refusal of a department's message, contract-level ones (not JSON, too large, unknown
    version…) included, so ``original_message_id`` is the ``message_id`` property when the
    body could not be read, and null when the message carried none."""

    original_message_id = fields.String(required=True, allow_none=True,
                                        validate=validate.Length(min=1, max=128))
    original_routing_key = fields.String(required=True, validate=validate.Length(max=255))
    original_exchange = fields.String(required=True, validate=validate.Length(max=255))
    code = code_field(required=True)
    message = fields.String(required=True, validate=validate.Length(min=1, max=2000))
    fields = fields.Dict(keys=fields.String(), required=True)

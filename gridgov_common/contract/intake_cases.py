"""Payload schema of cases pushed in by other systems (P5.3.1 "collect", P6.2 "break the data
silos"): a citizen hotline (e.g. 12345) or a department's own system files a case on
``gridgov.intake`` with routing key ``<source_system>.case.report``.

The events service files it exactly like a case from the grid workers' app (same validation,
same case number, same ``events.case.reported`` event); a message it cannot file is
dead-lettered in ``events.intake.dlq`` with the reason.  ``external_ref`` is the sender's own
ticket number (DOMAIN-REFERENCES §4, "identifiers both ways"): one case per
(``source_system``, ``external_ref``), so a ticket resent under a new ``message_id`` still
files one case.

No personal data of the caller travels here (P5.4.4): the hotline keeps its caller's
contact details and refers to them by its own ticket number.
"""

from __future__ import annotations

import re

from marshmallow import fields, validate

from gridgov_common.contract.cases import DESCRIPTION_MAX, Location, Source
from gridgov_common.contract.envelope import Payload, UtcTimestamp, message_type
from gridgov_common.contract.messages import code_field, enum_field
from gridgov_common.contract.routing import InfoClass, Severity, WorkCategory

EXTERNAL_REF_RE = re.compile(r"^[\x21-\x7e]{1,64}$")  # printable ASCII, no spaces
# Only systems outside gridgov push cases on the bus; the app and Open311 come over HTTP.
INTAKE_SOURCES = (Source.HOTLINE.value, Source.DEPARTMENT.value)


@message_type("intake.case.report", 1)
class IntakeCaseReportV1(Payload):
    """A hotline or department system reports a case to be filed (P5.3.1)."""

    source = fields.String(required=True, validate=validate.OneOf(INTAKE_SOURCES))
    # the sending system's code: the routing key's first word and the envelope's producer
    source_system = code_field(required=True)
    external_ref = fields.String(required=True, validate=validate.Regexp(
        EXTERNAL_REF_RE, error="1-64 printable ASCII characters, no spaces."))
    location = fields.Nested(Location, required=True)  # WGS84; GCJ-02 converted by sender
    work_category = enum_field(WorkCategory, required=True)
    info_class = enum_field(InfoClass, required=True)
    subcategory = code_field(required=True)
    severity = enum_field(Severity, required=True)
    description = fields.String(required=True, validate=validate.Length(1, DESCRIPTION_MAX))
    reported_at = UtcTimestamp(required=True)
    private = fields.Boolean(required=True)  # P5.4.4: never shown on public reads


__all__ = ["EXTERNAL_REF_RE", "INTAKE_SOURCES", "IntakeCaseReportV1"]

"""The gridgov bus contract: exchanges, routing keys, the envelope and every message type.

Defined once, here, and used by every service; department systems in other languages
follow docs/BUS-CONTRACT.md and the sample envelopes in ``samples/``. Importing this
package registers every payload schema (``messages``).
"""

import gridgov_common.contract.assessment  # noqa: F401  (registers schemas)
from gridgov_common.contract import cases, intake_cases, messages, notify  # noqa: F401  (registers schemas)
from gridgov_common.contract.envelope import (
    INVALID_ENVELOPE,
    INVALID_JSON,
    INVALID_PAYLOAD,
    MAX_MESSAGE_BYTES,
    MESSAGE_TOO_LARGE,
    UNKNOWN_TYPE,
    ContractError,
    Envelope,
    EnvelopeSchema,
    Payload,
    ValidatedEnvelope,
    encode,
    format_timestamp,
    latest_version,
    load_sample,
    make_envelope,
    message_type,
    parse_envelope,
    registered_types,
    sample_path,
    schema_for,
)
from gridgov_common.contract.routing import (
    ALERTS_EXCHANGE,
    DEAD_LETTER_EXCHANGE,
    DISPATCH_EXCHANGE,
    EVENTS_EXCHANGE,
    EXCHANGES,
    INTAKE_EXCHANGE,
    REPORTS_EXCHANGE,
    InfoClass,
    Priority,
    ReportKind,
    RoutingKeyError,
    Severity,
    WorkCategory,
    alert_key,
    decision_key,
    dispatch_key,
    dlq_name,
    event_key,
    intake_key,
    parse_alert_key,
    parse_decision_key,
    parse_dispatch_key,
    parse_event_key,
    parse_intake_key,
    parse_rejection_key,
    parse_report_key,
    rejection_key,
    report_key,
    validate_routing_key,
)

__all__ = [
    "ALERTS_EXCHANGE", "DEAD_LETTER_EXCHANGE", "DISPATCH_EXCHANGE", "EVENTS_EXCHANGE",
    "EXCHANGES", "INTAKE_EXCHANGE", "REPORTS_EXCHANGE", "INVALID_ENVELOPE", "INVALID_JSON",
    "INVALID_PAYLOAD", "MAX_MESSAGE_BYTES", "MESSAGE_TOO_LARGE", "UNKNOWN_TYPE",
    "ContractError", "Envelope", "InfoClass", "EnvelopeSchema", "Payload", "Priority", "ReportKind",
    "RoutingKeyError", "Severity", "WorkCategory", "alert_key", "decision_key", "dispatch_key",
    "dlq_name", "ValidatedEnvelope",
    "encode", "event_key", "format_timestamp", "intake_key", "latest_version", "load_sample",
    "make_envelope", "message_type", "parse_alert_key", "parse_decision_key",
    "parse_dispatch_key",
    "parse_envelope", "parse_event_key", "parse_intake_key", "parse_rejection_key",
    "parse_report_key", "registered_types", "rejection_key", "report_key", "sample_path",
    "schema_for", "validate_routing_key",
]

"""Cases pushed in on ``gridgov.intake`` by a hotline or a department system (P5.3.1, P6.2):
``intake.case.report`` v1 with routing key ``<source_system>.case.report``.

Same validation and filing as the app's HTTP API.  Idempotent twice over: the message id is
claimed in the filing transaction (a redelivery changes nothing), and one case is filed per
(source system, external_ref) (the same ticket resent as a new message changes nothing).
A report we cannot file is refused for good (dead-lettered with the reason, and told on
``<source_system>.rejections``); a registry that does not answer is a transient failure
(the message is retried). The broker user that published it must be the source system's
own, ``dept.<source_system>`` (``gridgov_common.contract.senders``; issue 10).
"""

from __future__ import annotations

from gridgov_common.contract import parse_intake_key, senders
from gridgov_common.contract.envelope import Envelope
from gridgov_common.kernel.errors import ApiError
from gridgov_common.platform.messaging import PermanentError
from services.events.cases import Report

CONSUMER = "events.intake"
QUEUE = "events.intake"
MESSAGE_TYPE = "intake.case.report"
ROUTING_KEYS = ["*.case.report"]
# REQUIRE_INTAKE_USER_ID (gridgov_common/platform/messaging.py), true in production (one broker user
# per department or system): only dept.<source_system>


def report_from(envelope: Envelope, require_user: bool = False) -> Report:
    """The envelope as a Report, after checking that its three names of the sender agree
    (routing key, producer, payload) and that the broker user that published it is the
    sender's own: the sender is who the case will say reported it (P5.3.1, P6.2)."""
    payload = envelope.payload
    system = payload["source_system"]
    key_source = parse_intake_key(envelope.routing_key).source if envelope.routing_key else system
    if key_source != system or envelope.producer != system:
        raise PermanentError("source_mismatch", "routing key, producer and source_system must "
                             "name the same system", {"source_system": [system],
                                                      "producer": [envelope.producer],
                                                      "routing_key": [envelope.routing_key]})
    senders.check_publisher(envelope.user_id, system, require_user=require_user)
    location = payload["location"]
    return Report(
        source=payload["source"], source_system=system, reporter_sub=system,
        reporter_role=payload["source"], work_category=payload["work_category"],
        subcategory=payload["subcategory"], description=payload["description"],
        info_class=payload["info_class"], severity=payload["severity"],
        lon=location["lon"], lat=location["lat"], private=payload["private"],
        reported_at=payload["reported_at"], external_ref=payload["external_ref"],
        correlation_id=envelope.message_id)


def permanent(exc: ApiError) -> PermanentError | None:
    """A caller error (4xx) refuses the message for good; a 5xx is worth a retry (None)."""
    if exc.status >= 500:
        return None
    return PermanentError(exc.code, exc.message, exc.fields)

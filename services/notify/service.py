"""The notify service: every message to a person or a department's system (P6.2) — the
app inbox, webhooks, e-mail and SMS, at least once and never twice per cause.

In: ``notify.request`` (gridgov.events, from any service; queue ``notify.requests``, in
batches), ``dispatch.escalation`` (gridgov.events; ``notify.escalations``) and
``alert.major_event`` (gridgov.alerts; ``notify.alerts``, its own queue and consumer, so an
alert never waits behind a backlog of other requests, and its deliveries go first) and
``assessment.meeting.reminder`` (gridgov.events; ``notify.meeting_reminders``) and
``assessment.circular.published`` (gridgov.events; ``notify.circulars``, P5.3.5).
Out, through the outbox: ``notify.sent`` on gridgov.events for each delivery sent.
Entrypoints only: the logic is in ``accepting`` (requests → deliveries), ``sending``
(deliveries → channels, retries, dead letters), ``reading`` and ``contacts``.
"""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from gridgov_common.contract import ALERTS_EXCHANGE, EVENTS_EXCHANGE
from gridgov_common.kernel.roles import ALL_ROLES, Role
from gridgov_common.platform import department_register
from gridgov_common.platform import (
    service as platform,  # module, so `nameko run` sees one service class
)
from gridgov_common.platform.batching import consume_contract_batch
from gridgov_common.platform.messaging import PermanentError, claim_messages, consume_contract
from gridgov_common.platform.outbox import OutboxRelay
from gridgov_common.platform.pii_provider import Pii
from gridgov_common.platform.rpc import rpc
from gridgov_common.platform.settings import ConfigValue
from gridgov_common.platform.web import http
from services.notify import accepting, contacts, models, reading, schemas, sign_in_codes
from services.notify import settings as declared
from services.notify.domain import causes
from services.notify.domain.requests import Refused
from services.notify.sending import Sender

REQUESTS = "notify.requests"
ESCALATIONS = "notify.escalations"
ALERTS = "notify.alerts"
MEETINGS = "notify.meeting_reminders"
CIRCULARS = "notify.circulars"
DEPARTMENTS = "notify.departments"
# requests per consumer batch (one transaction): a digest or a circular to a whole district
# arrives as thousands of requests at once; bench_07 measured 50 vs 200
REQUEST_BATCH = 200
ADMINS = frozenset({Role.DISTRICT_ADMIN})
OPERATORS = frozenset({Role.DISTRICT_ADMIN, Role.OPS_VIEWER})


class NotifyService(platform.PlatformService):
    name = "notify"
    title = "gridgov notify"
    description = (
        "Every message to a person or a department's system (P6.2): app inbox, webhooks, "
        "e-mail and SMS; at least once, never twice per cause."
    )
    declared_settings = declared.SETTINGS

    relay = OutboxRelay()
    pii = Pii()
    sender = Sender()
    default_locale = ConfigValue(declared.DEFAULT_LOCALE)
    webhook_secret_overlap_hours = ConfigValue(declared.WEBHOOK_SECRET_OVERLAP_HOURS)

    # -- in: requests, escalations, alerts ----------------------------------------------------

    def _accept(self, envelopes, consumer: str, make) -> None:
        """Claim the message ids (one statement), store the new ones' requests."""
        todo = [make(e) for e in claim_messages(self.db, envelopes, consumer)]
        if not todo:
            return  # redeliveries: stored already
        try:
            created = accepting.accept(self.db, todo)
        except Refused as refused:
            raise PermanentError(refused.code, refused.message, refused.fields) from None
        if created:  # the sender looks at once, not at its next poll
            sa.event.listen(self.db, "after_commit", lambda _s: self.sender.wake(), once=True)

    def _locale(self) -> str:
        return self.default_locale

    @consume_contract(ALERTS, ALERTS_EXCHANGE, ["#"], message_types=["alert.major_event"])
    def take_alert(self, envelope):
        """P5.2.7: major events first — own queue and consumer, priority 0 deliveries."""
        self._accept([envelope], ALERTS, lambda e: causes.from_alert(e, self._locale()))

    @consume_contract(ESCALATIONS, EVENTS_EXCHANGE, ["dispatch.escalation"],
                      message_types=["dispatch.escalation"])
    def take_escalation(self, envelope):
        """P6.2 督办: the escalation's target and the late department are told."""
        self._accept([envelope], ESCALATIONS,
                     lambda e: causes.from_escalation(e, self._locale()))

    @consume_contract(MEETINGS, EVENTS_EXCHANGE, ["assessment.meeting.reminder"],
                      message_types=["assessment.meeting.reminder"])
    def take_meeting_reminder(self, envelope):
        """P5.4.5: a period about to end without enough meetings."""
        self._accept([envelope], MEETINGS,
                     lambda e: causes.from_meeting_reminder(e, self._locale()))

    @consume_contract(DEPARTMENTS, EVENTS_EXCHANGE, [department_register.MESSAGE_TYPE],
                      message_types=[department_register.MESSAGE_TYPE])
    def take_department_changed(self, envelope):
        """The register's names, so that messages name departments (accepting.with_names)."""
        department_register.apply(self.db, models.departments, envelope, DEPARTMENTS)

    @consume_contract(CIRCULARS, EVENTS_EXCHANGE, ["assessment.circular.published"],
                      message_types=["assessment.circular.published"])
    def take_circular(self, envelope):
        """P5.3.5: a circular to the towns and departments it names, with its link."""
        self._accept([envelope], CIRCULARS, lambda e: causes.from_circular(e, self._locale()))

    @consume_contract_batch(REQUESTS, EVENTS_EXCHANGE, ["notify.request"],
                            message_types=["notify.request"], batch_size=REQUEST_BATCH)
    def take_requests(self, envelopes):
        """In batches (gridgov_common.platform.batching); a refused request fails its batch, which
        is then replayed message by message and the refused one dead-lettered alone."""
        self._accept(envelopes, REQUESTS, causes.from_request)

    # -- the registry's sign-in codes (issue 12; docs/SECURITY.md "Sign-in and sessions") --

    @rpc
    def send_sign_in_code(self, phone, code, language):
        """An administrator's one-time sign-in code, by SMS now (never stored or retried)."""
        return sign_in_codes.send(self.sender.senders["sms"], phone, code, language)

    # -- the app inbox -----------------------------------------------------------------------

    @http("GET", "/inbox", roles=ALL_ROLES, query=schemas.InboxQuerySchema,
          response=schemas.InboxListSchema, tags=("inbox",),
          summary="Messages to the caller's role over scopes it covers; alerts first")
    def get_inbox(self, request):
        return reading.list_inbox(self.db, request.principal, request.params)

    @http("POST", "/inbox/<int:message_id>/read", roles=ALL_ROLES,
          response=schemas.InboxMessageSchema, tags=("inbox",),
          summary="Mark an inbox message read for the caller (idempotent)")
    def read_inbox_message(self, request, message_id):
        return reading.mark_read(self.db, request.principal, message_id)

    # -- subscriptions (district admin) -----------------------------------------------------

    @http("POST", "/subscriptions", roles=ADMINS, body=schemas.SubscriptionBodySchema,
          response=schemas.SubscriptionSchema, status=201, tags=("subscriptions",),
          summary="Add a contact point (e-mail, SMS, webhook) for a role over a scope")
    def create_subscription(self, request):
        return contacts.create(self.db, self.pii, request.data, request.principal)

    @http("GET", "/subscriptions", roles=ADMINS, query=schemas.SubscriptionQuerySchema,
          response=schemas.SubscriptionSchema, many=True, tags=("subscriptions",),
          summary="Contact points, addresses masked")
    def list_subscriptions(self, request):
        return contacts.listing(self.db, request.principal, request.params["role"],
                                request.params["active"])

    @http("GET", "/subscriptions/<int:subscription_id>", roles=ADMINS,
          response=schemas.SubscriptionSchema, tags=("subscriptions",),
          summary="One contact point, address masked")
    def get_subscription(self, request, subscription_id):
        return contacts.get(self.db, request.principal, subscription_id)

    @http("POST", "/subscriptions/<int:subscription_id>/secret", roles=ADMINS,
          body=schemas.SecretRotationBodySchema, response=schemas.SubscriptionSchema,
          tags=("subscriptions",),
          summary="Rotate a webhook's signing secret (returned once); the previous one "
                  "signs too during the overlap")
    def rotate_subscription_secret(self, request, subscription_id):
        hours = request.data["overlap_hours"]
        if hours is None:
            hours = self.webhook_secret_overlap_hours
        return contacts.rotate_secret(self.db, self.pii, subscription_id,
                                      timedelta(hours=hours), request.data["secret"],
                                      principal=request.principal)

    @http("DELETE", "/subscriptions/<int:subscription_id>", roles=ADMINS,
          response=schemas.SubscriptionSchema, tags=("subscriptions",),
          summary="Deactivate a contact point (kept for the deliveries that name it)")
    def deactivate_subscription(self, request, subscription_id):
        return contacts.deactivate(self.db, request.principal, subscription_id)

    # -- deliveries (operators) ----------------------------------------------------------------

    @http("GET", "/deliveries", roles=OPERATORS, query=schemas.DeliveryQuerySchema,
          response=schemas.DeliveryListSchema, tags=("deliveries",),
          summary="Deliveries by state; default: dead-lettered (failed on every attempt)")
    def list_deliveries(self, request):
        return reading.list_deliveries(self.db, request.params, request.principal)

    @http("POST", "/deliveries/<int:delivery_id>/retry", roles=ADMINS,
          response=schemas.DeliverySchema, tags=("deliveries",),
          summary="Send a dead-lettered delivery again (after the endpoint is fixed)")
    def retry_delivery(self, request, delivery_id):
        result = reading.retry(self.db, delivery_id, request.principal)
        sa.event.listen(self.db, "after_commit", lambda _s: self.sender.wake(), once=True)
        return result

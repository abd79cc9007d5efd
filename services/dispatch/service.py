"""The dispatch service: Triage, town whistle to departments, deadlines, escalation and
electronic case files (P2.2, P5.3).  Entrypoints only: the logic lives in plain modules
(``filing``, ``reports``, ``casefile_store``) over the pure domain (``domain``).

In: ``events.case.reported`` and ``events.case.duplicate_decided`` (gridgov.events) and
``department.report`` (gridgov.reports).
Out, through the outbox: ``dispatch.assignment`` on gridgov.dispatch
(``<department>.<town>.<category>.<priority>``), ``platform.rejection`` to
``<department>.rejections``, and ``dispatch.case.changed`` on gridgov.events.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from gridgov_common.contract import DISPATCH_EXCHANGE, EVENTS_EXCHANGE, REPORTS_EXCHANGE
from gridgov_common.kernel.errors import NotFound
from gridgov_common.kernel.languages import negotiate
from gridgov_common.kernel.roles import STAFF_ROLES, Role
from gridgov_common.platform import (
    service as platform,  # module, so `nameko run` sees one service class
)
from gridgov_common.platform.batching import consume_contract_batch
from gridgov_common.platform.messaging import (
    PermanentError,
    claim_message,
    claim_messages,
    consume_contract,
)
from gridgov_common.platform.outbox import OutboxRelay
from gridgov_common.platform.rpc import rpc
from gridgov_common.platform.settings import ConfigValue
from gridgov_common.platform.timers import config_timer
from gridgov_common.platform.web import http
from services.dispatch import (
    actions,
    admin,
    calendar_notice,
    case_names,
    case_store,
    casefile_context,
    casefile_store,
    config_store,
    delays,
    digests,
    escalating,
    filing,
    grid_workers,
    handling,
    kpis,
    master_data,
    merging,
    notices,
    notifications,
    place_names,
    queries,
    reports,
    rework,
    schemas,
    statistics,
    statistics_schemas,
    supervision,
    workbench,
)
from services.dispatch import metrics as dispatch_metrics
from services.dispatch import settings as declared
from services.dispatch.domain.casefile_page import render_page

VIEWERS = STAFF_ROLES | {Role.OPS_VIEWER, Role.DEPARTMENT_OFFICER}
STATISTICS_READERS = {Role.DISTRICT_ADMIN, Role.OPS_VIEWER, Role.TOWN_GRID_CHIEF}




def _plain(value: Any) -> Any:
    return json.loads(json.dumps(value, default=lambda v: v.isoformat()
                                 if hasattr(v, "isoformat") else str(v)))


class DispatchService(platform.PlatformService):
    name = "dispatch"
    title = "gridgov dispatch"
    description = (
        "Triage, town whistle to departments, deadlines, escalation and electronic case "
        "files (P2.2, P5.3)."
    )

    declared_settings = declared.SETTINGS

    relay = OutboxRelay(mandatory_exchanges=(DISPATCH_EXCHANGE,),
                        on_returned=case_store.mark_unroutable)
    # reports only from the department's own broker user (docs/BUS-SECURITY.md)
    require_report_user = ConfigValue(declared.REQUIRE_REPORT_USER_ID)
    escalation_batch = ConfigValue(declared.ESCALATION_BATCH)
    digest_hour = ConfigValue(declared.DIGEST_HOUR)
    events_public_url = ConfigValue(declared.EVENTS_PUBLIC_URL)

    # -- supervision timer (P6.2 督办) ------------------------------------------------------

    @config_timer(declared.ESCALATION_POLL_SECONDS)
    def escalate_due(self):
        """One transaction per tick; an exception is logged by nameko (the worker fails,
        the session rolls back) and the next tick runs as usual."""
        escalating.run_due(self.db, batch=self.escalation_batch)
        self.db.commit()  # the commit wakes the relay (gridgov_common.platform.outbox)

    @config_timer(declared.DIGEST_POLL_SECONDS)
    def send_daily_digests(self):
        """Daily digests of open cases, once per recipient and day (digests.py)."""
        digests.send_due(self.db, datetime.now(UTC), self.digest_hour, self.registry.of)
        calendar_notice.warn_due(self.db, datetime.now(UTC))  # M12, from November
        self.db.commit()  # the commit wakes the relay

    # -- cases reported by the events service ---------------------------------------------

    @consume_contract_batch(filing.CONSUMER, EVENTS_EXCHANGE, ["events.case.reported"],
                            message_types=["events.case.reported"])
    def take_reported_cases(self, envelopes):
        """In batches (gridgov_common.platform.batching): one transaction files many cases,
        in a fixed number of statements (filing.file_reported_many)."""
        fresh = claim_messages(self.db, envelopes, filing.CONSUMER)
        case_store.lock_files(self.db, [e.payload["case_id"] for e in fresh])
        filing.file_reported_many(self.db, fresh)  # the others were filed already

    @consume_contract(grid_workers.CONSUMER, EVENTS_EXCHANGE, [grid_workers.MESSAGE_TYPE],
                      message_types=[grid_workers.MESSAGE_TYPE])
    def take_staff_changed(self, envelope):
        """Grid staff and their grids, for KPIs per grid worker (docs/KPIS.md)."""
        grid_workers.apply_staff_changed(self.db, envelope)

    @consume_contract(master_data.CONSUMER, EVENTS_EXCHANGE, list(master_data.MESSAGE_TYPES),
                      message_types=list(master_data.MESSAGE_TYPES))
    def take_master_data(self, envelope):
        """The department register and the subcategory catalogue, from their owners."""
        master_data.apply(self.db, envelope)

    # -- departments reporting in ---------------------------------------------------------

    @consume_contract(reports.CONSUMER, REPORTS_EXCHANGE, ["*.*"],
                      message_types=["department.report"], tell_sender=True)
    def take_department_report(self, envelope):
        if not claim_message(self.db, envelope.message_id, reports.CONSUMER):
            return  # applied already
        try:
            reports.apply_report(self.db, envelope, require_user=self.require_report_user)
        except reports.Refused as refused:
            # undo any partial work, keep the claim, the rejection and the case-file entry,
            # then dead-letter (the consumer tells the sender when we could not)
            self.db.rollback()
            claim_message(self.db, envelope.message_id, reports.CONSUMER)
            reports.add_rejection(self.db, envelope, refused)
            reports.record_refusal(self.db, envelope, refused)
            self.db.commit()
            raise PermanentError(refused.code, refused.message, refused.fields,
                                 told=refused.department is not None) from None

    # -- confirmed duplicates (events) ----------------------------------------------------

    @consume_contract(merging.QUEUE, EVENTS_EXCHANGE, merging.ROUTING_KEYS,
                      max_redeliveries=merging.MAX_REDELIVERIES,
                      message_types=[merging.MESSAGE_TYPE])
    def take_duplicate_decisions(self, envelope):
        """P5.3.1/P5.3.3: a confirmed duplicate is merged into its original's flow, an
        undone one goes back to its own (merging.py); claimed in the same transaction."""
        if not claim_message(self.db, envelope.message_id, merging.CONSUMER):
            return  # applied already
        merging.apply_decision(self.db, envelope)

    # -- notifications sent for a case (notify) -------------------------------------------

    @consume_contract_batch(notifications.QUEUE, EVENTS_EXCHANGE, notifications.ROUTING_KEYS,
                            message_types=[notifications.MESSAGE_TYPE])
    def record_notifications(self, envelopes):
        """P5.3.4: each delivery notify made for a case is an entry of its case file."""
        fresh = claim_messages(self.db, envelopes, notifications.CONSUMER)
        case_store.lock_files(self.db, [e.payload["case_id"] for e in fresh])
        for envelope in fresh:
            notifications.record_sent(self.db, envelope)


    # -- reading cases ---------------------------------------------------------------------

    def _visible_case(self, principal, case_id: str) -> dict[str, Any]:
        return queries.visible_case(self.db, principal, case_id)

    @http("GET", "/cases/<string:case_id>", roles=VIEWERS, response=schemas.CaseSchema,
          tags=("cases",),
          summary="A case with its assignments and its names (grid staff: in scope; "
                  "departments: assigned)")
    def get_case_http(self, request, case_id):
        case = queries.case_with_assignments(self.db, request.principal, case_id)
        return _plain(case_names.named(self.db, [case], self.registry.place)[0])

    @http("GET", "/cases/<string:case_id>/file", roles=VIEWERS, tags=("cases",),
          summary="The electronic case file (P5.3.4) with its hash-chain verification")
    def get_case_file(self, request, case_id):
        self._visible_case(request.principal, case_id)
        return _plain(casefile_store.verified(self.db, case_id))

    # -- people acting on cases --------------------------------------------------------------

    @http("GET", "/cases", roles=VIEWERS, query=schemas.CaseListQuerySchema,
          response=schemas.CaseListSchema, tags=("cases",),
          summary="Cases in the caller's scope (departments: assigned ones), newest first, "
                  "named")
    def list_cases_http(self, request):
        found = queries.list_cases(self.db, request.principal, request.params)
        return _plain({**found, "items": case_names.named(self.db, found["items"],
                                                           self.registry.place)})

    @http("GET", "/cases/<string:case_id>/actions", roles=VIEWERS,
          response=schemas.CaseActionsSchema, tags=("cases",),
          summary="The transitions the caller may attempt on the case now (app buttons)")
    def case_actions(self, request, case_id):
        return _plain(queries.allowed_actions(self.db, request.principal, case_id))

    @http("POST", "/cases/<string:case_id>/triage", roles=actions.ACTORS,
          body=schemas.TriageBodySchema, response=schemas.CaseSchema, tags=("case actions",),
          summary="Triage a filed case (P5.3.2): handle locally, dispatch, report up, "
                  "assign down")
    def triage_case(self, request, case_id):
        return _plain(actions.triage_case(self.db, request.principal, case_id, request.data))

    @http("POST", "/cases/<string:case_id>/cancel", roles=actions.ACTORS,
          body=schemas.ReasonBodySchema, response=schemas.CaseSchema, tags=("case actions",),
          summary="Cancel (注销) a filed case that fails the filing conditions (P5.3.1)")
    def cancel_case(self, request, case_id):
        return _plain(actions.cancel(self.db, request.principal, case_id,
                                     request.data["reason"]))

    @http("POST", "/cases/<string:case_id>/local-result", roles=actions.ACTORS,
          body=schemas.LocalResultBodySchema, response=schemas.CaseSchema,
          tags=("case actions",), summary="The result of handling at own level (P5.3.3)")
    def report_local_result(self, request, case_id):
        return _plain(actions.local_result(self.db, request.principal, case_id,
                                           request.data["note"], request.data["resolved"]))

    @http("POST", "/cases/<string:case_id>/return-visit", roles=actions.ACTORS,
          body=schemas.ReturnVisitBodySchema, response=schemas.CaseSchema,
          tags=("case actions",),
          summary="Return visit (回访, P5.2.1): satisfied closes, not satisfied means rework")
    def record_return_visit(self, request, case_id):
        return _plain(rework.return_visit(self.db, request.principal, case_id, request.data))

    @http("POST", "/cases/<string:case_id>/suspend", roles=actions.ACTORS,
          body=schemas.ReasonBodySchema, response=schemas.CaseSchema, tags=("case actions",),
          summary="Suspend (挂账) with approval; open assignments are withdrawn")
    def suspend_case(self, request, case_id):
        return _plain(actions.suspend(self.db, request.principal, case_id,
                                      request.data["reason"]))

    @http("POST", "/cases/<string:case_id>/resume", roles=actions.ACTORS,
          body=schemas.ResumeBodySchema, response=schemas.CaseSchema, tags=("case actions",),
          summary="Resume a suspended case for re-triage")
    def resume_case(self, request, case_id):
        return _plain(actions.resume(self.db, request.principal, case_id,
                                     request.data["reason"]))

    @rpc
    def get_case(self, case_id: str, role: str, scope: str) -> dict:
        """A case with its assignments as ``role`` over ``scope`` ("town:320505001")
        would see it (other services act for a person and pass that person's scope)."""
        principal = queries.principal_for(role, scope)
        return _plain(queries.case_with_assignments(self.db, principal, case_id))

    @rpc
    def list_cases(self, role: str, scope: str, filters: dict | None = None) -> dict:
        """``GET /cases`` for other services; ``filters`` as its query parameters."""
        principal = queries.principal_for(role, scope)
        params = schemas.CaseListQuerySchema().load(filters or {})
        return _plain(queries.list_cases(self.db, principal, params))

    # -- statistics (operations dashboard, Prometheus domain metrics) ----------------------

    registry = place_names.Registry()  # names for the digests and case file pages
    domain_metrics = dispatch_metrics.DomainMetrics()  # /metrics: gridgov_cases_open, …

    @http("GET", "/statistics", roles=STATISTICS_READERS,
          response=statistics_schemas.CaseStatisticsSchema, tags=("cases",),
          summary="Open/overdue/closed figures of the cases in the caller's scope "
                  "(definitions: docs/METRICS.md)")
    def case_statistics_http(self, request):
        return statistics.case_statistics(self.db, [request.principal.scope_code])

    @rpc
    def calendar_data(self) -> dict:
        """The operators' calendar as deadlines use it — overrides and the years whose
        notice was entered — so that assessment's field-work rules count the same
        working days (issue 11: they disagreed on a 调休 day)."""
        calendar = config_store.work_calendar(self.db)
        return {"overrides": {day.isoformat(): workday
                              for day, workday in calendar.overrides.items()},
                "complete_years": sorted(calendar.complete_years)}

    @rpc
    def case_statistics(self, scope: str) -> dict:
        """``GET /statistics`` for other services, over ``scope`` ("district:320505")."""
        checked = statistics_schemas.StatisticsScopeSchema().load({"scope": scope})
        return statistics.case_statistics(self.db, [statistics.parse_scope(checked["scope"])])

    @http("GET", "/kpis", roles=STATISTICS_READERS | {Role.DEPARTMENT_OFFICER},
          query=statistics_schemas.KpiQuerySchema,
          response=statistics_schemas.KpiReportSchema, tags=("cases",),
          summary="Case-handling KPIs of a period by town, community, grid or department, "
                  "in the caller's scope; a department officer: its own row, by=department "
                  "(P5.3.5, P5.4.6; definitions: docs/KPIS.md)")
    def kpis_http(self, request):
        p = request.params
        start, end = kpis.local_period(p["from_"], p["to"])
        return kpis.kpis_for(self.db, request.principal, start, end, p["by"])

    @rpc
    def kpis(self, scope: str, first: str, last: str, by: str) -> dict:
        """``GET /kpis`` for other services over ``scope`` ("town:320505001"), e.g. the
        half-year assessment (P5.4.6, services/assessment/appraisal.py)."""
        code = statistics.parse_scope(statistics_schemas.StatisticsScopeSchema().load(
            {"scope": scope})["scope"])
        p = statistics_schemas.KpiQuerySchema().load({"from": first, "to": last, "by": by})
        start, end = kpis.local_period(p["from_"], p["to"])
        return kpis.kpis(self.db, [code], start, end, p["by"])

    @rpc
    def handling_figures(self, scope: str, start: str, end: str) -> dict:
        """How the items sent in [start, end) were handled, by department and town, and
        the overdue list (P5.3.5 circulars; read-only, services/dispatch/handling.py)."""
        checked = handling.HandlingQuerySchema().load({"scope": scope, "start": start,
                                                       "end": end})
        return _plain(handling.handling_figures(
            self.db, [statistics.parse_scope(checked["scope"])], checked["start"],
            checked["end"]))

    # -- the department workbench (issue 14; P2.2, P5.3.2–P5.3.3) ----------------------------

    @http("GET", "/assignments", roles={Role.DEPARTMENT_OFFICER},
          query=schemas.WorkbenchQuerySchema, response=schemas.WorkbenchAssignmentSchema,
          many=True, tags=("workbench",),
          summary="The signed-in department's assignments with their countdown, overdue "
                  "first (a department without IT works from here)")
    def list_assignments(self, request):
        p = request.params
        return _plain(workbench.assignments_of(self.db, request.principal, state=p["state"],
                                               overdue=p["overdue"],
                                               place=self.registry.place))

    @http("POST", "/assignments/<string:assignment_id>/reports",
          roles={Role.DEPARTMENT_OFFICER}, body=schemas.WorkbenchReportBodySchema,
          response=schemas.WorkbenchAssignmentSchema, tags=("workbench",),
          summary="Sign for (ack), progress, result, return or delay request on the "
                  "workbench: the same rules and path as department.report on the bus")
    def report_on_assignment(self, request, assignment_id):
        return _plain(workbench.report(self.db, request.principal, assignment_id,
                                       request.data, place=self.registry.place))

    # -- delay requests --------------------------------------------------------------------

    @http("GET", "/delay-requests", roles=delays.DECIDERS, query=schemas.DelayRequestQuerySchema,
          response=schemas.DelayRequestSchema, many=True, tags=("delay requests",),
          summary="Delay requests (P5.3.3) on cases in the caller's area, oldest first")
    def list_delay_requests(self, request):
        return _plain(delays.list_requests(self.db, request.principal,
                                           request.params["state"]))

    @http("POST", "/delay-requests/<string:request_id>/decision", roles=delays.DECIDERS,
          body=schemas.DelayDecisionBodySchema, response=schemas.DelayRequestSchema,
          tags=("delay requests",),
          summary="Approve or deny a pending delay request once; the department is told on "
                  "<department>.decisions")
    def decide_delay_request(self, request, request_id):
        return _plain(delays.decide(self.db, request.principal, request_id,
                                    request.data["approve"], request.data["note"]))

    # -- supervision cards (督办, P6.2) ------------------------------------------------------

    @http("GET", "/supervision-cards", roles=supervision.READERS,
          query=schemas.SupervisionQuerySchema, response=schemas.SupervisionCardSchema,
          many=True, tags=("supervision",),
          summary="Escalations (督办 cards, P6.2) on cases in the caller's area, newest "
                  "first, with the case's and the assignment's state now")
    def list_supervision_cards(self, request):
        p = request.params
        return _plain(supervision.list_cards(self.db, request.principal, kind=p["kind"],
                                             card=p["card"], limit=p["limit"]))

    @http("POST", "/cases/<string:case_id>/supervision-cards", roles=supervision.ISSUERS,
          body=schemas.SupervisionCardBodySchema, response=schemas.SupervisionCardSchema,
          status=201, tags=("supervision",),
          summary="Issue a supervision card (督办, P6.2) by hand on an open case of the "
                  "caller's area: stored, in the case file, told like the timer's")
    def issue_supervision_card(self, request, case_id):
        return _plain(supervision.issue_card(self.db, request.principal, case_id,
                                             request.data))

    # -- configuration ---------------------------------------------------------------------

    @http("GET", "/config/rule-sets", roles=admin.READERS, response=schemas.ConfigVersionSchema,
          many=True, tags=("configuration",), summary="Triage rule set versions, newest first")
    def list_rule_sets(self, request):
        return _plain(admin.list_versions(self.db, admin.RULE_SETS))

    @http("GET", "/config/rule-sets/<int:version>", roles=admin.READERS,
          response=schemas.RuleSetSchema, tags=("configuration",),
          summary="One triage rule set version")
    def get_rule_set(self, request, version):
        return _plain(admin.get_version(self.db, admin.RULE_SETS, version))

    @http("POST", "/config/rule-sets", roles=admin.WRITERS, body=schemas.RuleSetBodySchema,
          response=schemas.RuleSetSchema, status=201, tags=("configuration",),
          summary="Publish a whole new rule set as the next version (new cases only)")
    def publish_rule_set(self, request):
        return _plain(admin.publish(self.db, admin.RULE_SETS, request.data,
                                    request.principal.sub))

    @http("GET", "/config/escalation-policies", roles=admin.READERS,
          response=schemas.ConfigVersionSchema, many=True, tags=("configuration",),
          summary="Escalation policy versions, newest first")
    def list_escalation_policies(self, request):
        return _plain(admin.list_versions(self.db, admin.POLICIES))

    @http("GET", "/config/escalation-policies/<int:version>", roles=admin.READERS,
          response=schemas.EscalationPolicySchema, tags=("configuration",),
          summary="One escalation policy version")
    def get_escalation_policy(self, request, version):
        return _plain(admin.get_version(self.db, admin.POLICIES, version))

    @http("POST", "/config/escalation-policies", roles=admin.WRITERS,
          body=schemas.EscalationPolicyBodySchema, response=schemas.EscalationPolicySchema,
          status=201, tags=("configuration",),
          summary="Publish a whole new escalation policy as the next version (new cases only)")
    def publish_escalation_policy(self, request):
        return _plain(admin.publish(self.db, admin.POLICIES, request.data,
                                    request.principal.sub))

    @http("GET", "/config/calendar-overrides", roles=admin.READERS,
          query=schemas.DateRangeQuerySchema, response=schemas.CalendarOverrideSchema,
          many=True, tags=("configuration",), summary="Calendar overrides (调休) in a range")
    def list_calendar_overrides(self, request):
        return _plain(admin.list_overrides(self.db, request.params["from_"],
                                           request.params["to"]))

    @http("PUT", "/config/calendar-overrides/<string:day>", roles=admin.WRITERS,
          body=schemas.CalendarOverrideBodySchema, response=schemas.CalendarOverrideSchema,
          tags=("configuration",), summary="Set whether a date is a workday (调休 correction)")
    def put_calendar_override(self, request, day):
        created, row = admin.put_override(self.db, admin.parse_day(day),
                                          request.data["is_workday"], request.data["note"])
        return (201 if created else 200), _plain(row)

    @http("DELETE", "/config/calendar-overrides/<string:day>", roles=admin.WRITERS,
          status=204, tags=("configuration",), summary="Remove a date's calendar override")
    def delete_calendar_override(self, request, day):
        admin.delete_override(self.db, admin.parse_day(day))
        return 204, ""

    @http("GET", "/config/calendar", roles=admin.READERS, query=schemas.DateRangeQuerySchema,
          response=schemas.CalendarDaySchema, many=True, tags=("configuration",),
          summary="Each day's workday flag and the source that decided it")
    def get_calendar(self, request):
        return _plain(admin.calendar_days(self.db, request.params["from_"],
                                          request.params["to"]))

    @http("GET", "/config/calendar/years", roles=admin.READERS,
          response=schemas.CalendarYearSchema, many=True, tags=("configuration",),
          summary="This year and next: notice entered, library data or an estimate")
    def list_calendar_years(self, request):
        today = datetime.now(UTC).astimezone(notices.DISTRICT_TZ).date()
        return schemas.CalendarYearSchema(many=True).dump(
            calendar_notice.years(self.db, today))

    @http("PUT", "/config/calendar/years/<int:year>", roles=admin.WRITERS,
          body=schemas.CalendarNoticeBodySchema, response=schemas.CalendarNoticeSchema,
          tags=("configuration",), summary="Enter a year's State Council holiday notice",
          description="Every day off and make-up working day of the year, at once: they "
          "replace the year's overrides and the year is no longer estimated (M12).")
    def put_calendar_year(self, request, year):
        if not 2000 <= year <= 2100:
            raise NotFound(f"no calendar year {year}", code="unknown_year")
        return schemas.CalendarNoticeSchema().dump(calendar_notice.enter_notice(
            self.db, year, request.data, request.principal.sub))

    # -- case file export -------------------------------------------------------------------

    @http("GET", "/cases/<string:case_id>/file.html", roles=VIEWERS,
          query=schemas.CaseFileHtmlQuerySchema, produces="text/html; charset=utf-8",
          tags=("cases",), summary="The case file as a printable page (P5.3.4), verified")
    def get_case_file_html(self, request, case_id):
        case = queries.case_with_assignments(self.db, request.principal, case_id)
        entries = casefile_store.entries(self.db, case_id)
        context = casefile_context.page_context(
            self.db, case, case.pop("assignments"), entries, self.registry.case_context,
            self.events_public_url)
        lang = request.params["lang"] or negotiate(request.headers.get("Accept-Language"))
        return render_page(case, entries, context, lang=lang)

    @http("GET", "/cases/<string:case_id>/file.json", roles=VIEWERS, tags=("cases",),
          summary="The case file with its verification as a download (P5.3.4)")
    def download_case_file(self, request, case_id):
        case = self._visible_case(request.principal, case_id)
        name = f"case-file-{case['case_number']}.json"
        return 200, {"Content-Disposition": f'attachment; filename="{name}"'}, \
            _plain(casefile_store.verified(self.db, case_id))

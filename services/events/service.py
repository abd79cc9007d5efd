"""The events service: case intake (P5.3.1 "collect and archive by class") from the grid
workers' app (P6.2: real-time reporting from phones), hotline and department systems on the
bus, and Open311 clients.  Entrypoints only: the logic lives in plain modules.

Every accepted case is announced as ``events.case.reported`` on ``gridgov.events``; a major
event (P5.2.7) is also alerted at once on ``gridgov.alerts`` and rendered as CAP 1.2.
Dispatch's ``dispatch.case.changed`` is followed (following.py): the Open311 status and
notes, and a major event's CAP ``update`` / ``cancel``.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from nameko.timer import timer
from werkzeug.wrappers import Response

from gridgov_common.contract import EVENTS_EXCHANGE, INTAKE_EXCHANGE
from gridgov_common.kernel.errors import ApiError, Conflict, NotFound, ServiceUnavailable
from gridgov_common.kernel.languages import negotiate
from gridgov_common.kernel.roles import GRID_ROLES, Role
from gridgov_common.platform import (
    service as platform,  # module, so `nameko run` sees one service class
)
from gridgov_common.platform.batching import consume_contract_batch
from gridgov_common.platform.messaging import (
    REQUIRE_INTAKE_USER_ID,
    claim_messages,
    consume_contract,
)
from gridgov_common.platform.outbox import OutboxRelay
from gridgov_common.platform.settings import ConfigValue
from gridgov_common.platform.timers import config_timer
from gridgov_common.platform.web import http
from services.events import (
    batch_filing,
    cases,
    catalogue_admin,
    catalogue_store,
    department_names,
    following,
    georeport,
    grid_index,
    intake,
    photos,
    resident,
    resident_page,
    schemas,
)
from services.events import settings as declared
from services.events.dependencies import EventsSettings, GridSync, Registry
from services.events.domain import cap, media
from services.events.metrics import CASES_REPORTED

# Who files cases: the five grid roles (P5.0) and the district admin.  Department officers
# report over the bus; the ops viewer only reads.
log = logging.getLogger(__name__)
REPORTERS = GRID_ROLES | {Role.DISTRICT_ADMIN}
# a department's officer uploads the photos of its result on the workbench (P5.3.3); they
# reach the case through dispatch.case.photos_attached (following._attached)
UPLOADERS = REPORTERS | {Role.DEPARTMENT_OFFICER}
VIEWERS = GRID_ROLES | {Role.DISTRICT_ADMIN, Role.OPS_VIEWER}
# CAP's restricted audience for major-event alerts (P5.2.7, P2.2)
ALERT_READERS = {Role.TOWN_GRID_CHIEF, Role.DISTRICT_ADMIN, Role.OPS_VIEWER,
                 Role.DEPARTMENT_OFFICER}
CAP_TYPE = "application/cap+xml; charset=utf-8"
OPEN311 = "/open311/v2"


class EventsService(platform.PlatformService):
    name = "events"
    title = "gridgov events"
    description = (
        "Case intake (P5.3.1) from the grid workers' app, hotline and department systems "
        "(gridgov.intake) and Open311 GeoReport v2 clients; major events alerted at once "
        "(P5.2.7) and rendered as CAP 1.2."
    )

    declared_settings = declared.SETTINGS

    settings = EventsSettings()
    registry = Registry()
    grid_sync = GridSync()
    relay = OutboxRelay()
    # pushed cases only from the source system's own broker user (docs/BUS-SECURITY.md)
    require_intake_user = ConfigValue(REQUIRE_INTAKE_USER_ID)

    # -- cases from the app ---------------------------------------------------------------

    @http("POST", "/cases", roles=REPORTERS, body=schemas.CaseCreateSchema, rate_limit="intake",
          response=schemas.CaseSchema, status=201, tags=("cases",),
          summary="File a case (P5.3.1); 200 with the same case for a repeated client_ref",
          description="The location (WGS84) decides the grid, which must lie in your scope. "
          "Without a location give building_id and grid_code (the registry has no building "
          "lookup yet). A major event (work_category major_event or severity critical) is "
          "alerted at once (P5.2.7). A case near an open one of the same subcategory is "
          "linked as a suggested duplicate, never dropped.")
    def report_case(self, request):
        principal = request.principal
        report = self._report_from_app(request.data, principal)
        current = catalogue_store.current(self.db)
        sub = cases.complete(report, current)
        placement = cases.place(grid_index.Locator(self.db, self.registry), report)
        principal.require_covers(placement.grid_code, f"grid {placement.grid_code}")
        cases.check_resident(self.registry, principal, report)
        case, created = cases.file_case(self.db, self.settings, report, placement, sub)
        if not created and case["reporter_sub"] != principal.sub:
            raise Conflict("client_ref was already used for another reporter's case",
                           fields={"client_ref": ["already used"]}, code="client_ref_taken")
        self._committed(case, created)
        return (201 if created else 200), schemas.CaseSchema().dump(
            cases.as_answered_to(principal, case, current))

    @staticmethod
    def _report_from_app(data: dict[str, Any], principal) -> cases.Report:
        location = data["location"] or {}
        reported_at = data["reported_at"]
        return cases.Report(
            source="app", source_system="app", reporter_sub=principal.sub,
            reporter_role=principal.role.value, work_category=data["work_category"],
            subcategory=data["subcategory"], description=data["description"],
            info_class=data["info_class"], severity=data["severity"],
            lon=location.get("lon"), lat=location.get("lat"),
            building_id=data["building_id"], grid_code=data["grid_code"],
            photos=data["photos"], attributes=data["attributes"],
            resident_id=data["resident_id"], handled_on_spot=data["handled_on_spot"],
            private=data["private"],
            reported_at=reported_at.astimezone(UTC) if reported_at else None,
            external_ref=data["client_ref"])

    def _committed(self, case: dict[str, Any], created: bool) -> None:
        """Commit now, so the counter counts stored cases only."""
        self.db.commit()
        if created:
            CASES_REPORTED.labels(case["source"], case["work_category"]).inc()

    @http("GET", "/cases", roles=VIEWERS, query=schemas.CaseListQuerySchema,
          response=schemas.CaseSchema, many=True, tags=("cases",),
          summary="Cases in your scope, newest first")
    def list_cases(self, request):
        found = cases.list_cases(self.db, request.principal, request.params)
        return schemas.CaseSchema(many=True).dump(found)

    @http("GET", "/cases/<string:case_number>", roles=VIEWERS, response=schemas.CaseSchema,
          tags=("cases",))
    def get_case(self, request, case_number):
        case = cases.get_case(self.db, case_number)
        cases.require_can_see(request.principal, case, catalogue_store.current(self.db))
        return schemas.CaseSchema().dump(case)

    @http("POST", "/cases/<string:case_number>/duplicate", roles=REPORTERS,
          body=schemas.DuplicateActionSchema, response=schemas.CaseSchema, tags=("cases",),
          summary="Confirm or undo a suggested duplicate link",
          description="A decision that changes the link is announced as "
          "events.case.duplicate_decided: dispatch merges a confirmed duplicate into its "
          "original's flow (closed with it, P5.3.1, P5.3.3) and returns an undone one to "
          "its own. 409 not_a_duplicate for a case with no link, case_closed once the case "
          "is closed.")
    def decide_duplicate(self, request, case_number):
        case = cases.set_duplicate(self.db, request.principal, case_number,
                                   request.data["action"])
        return schemas.CaseSchema().dump(case)

    @http("GET", "/cases/<string:case_number>/cap.xml", roles=ALERT_READERS, produces=CAP_TYPE,
          tags=("cases",), summary="The major event as a CAP 1.2 alert (restricted audience)")
    def case_cap(self, request, case_number):
        case = cases.get_case(self.db, case_number)
        current = catalogue_store.current(self.db)
        cases.require_can_read_alert(request.principal, case, current)
        if not case["major"]:
            raise NotFound(f"case {case_number} is not a major event: no alert",
                           code="no_alert")
        sub = current.by_code[case["subcategory"]]  # codes are never removed
        return cap.render(case, sub, self.settings.cap_sender)

    # -- photos ---------------------------------------------------------------------------

    @http("POST", "/photos", roles=UPLOADERS, max_body=media.MAX_PHOTO_BYTES, rate_limit="intake",
          response=schemas.PhotoSchema, status=201, tags=("photos",),
          summary="Upload a photo (raw JPEG/PNG/WebP body, ≤ 5 MiB); returns its sha256",
          description="Reference the hash in POST /cases. The same bytes are stored once.")
    def upload_photo(self, request):
        return photos.store(self.db, request.raw_body, request.mimetype, request.principal.sub)

    @http("GET", "/photos/<string:sha256>", roles=UPLOADERS | VIEWERS, produces="image/*",
          tags=("photos",), summary="A photo of a case you may see")
    def get_photo(self, request, sha256):
        data, content_type = photos.for_staff(self.db, request.principal, sha256)
        return Response(data, content_type=content_type,
                        headers={"Cache-Control": "private, max-age=86400"})

    # -- the subcategory catalogue, as data (docs/CATALOGUE.md) ---------------------------

    @http("GET", "/catalogue", roles=VIEWERS | {Role.DEPARTMENT_OFFICER},
          response=schemas.CatalogueSchema, tags=("catalogue",),
          summary="The current subcategory catalogue (the app's report form reads it)")
    def get_catalogue(self, request):
        return schemas.CatalogueSchema().dump(catalogue_admin.read(self.db))

    @http("GET", "/catalogue/versions", roles={Role.DISTRICT_ADMIN, Role.OPS_VIEWER},
          response=schemas.CatalogueVersionSchema, many=True, tags=("catalogue",),
          summary="Every catalogue version, newest first: who, when, why")
    def list_catalogue_versions(self, request):
        return schemas.CatalogueVersionSchema(many=True).dump(
            catalogue_store.history(self.db))

    @http("POST", "/catalogue/subcategories", roles={Role.DISTRICT_ADMIN},
          body=schemas.SubcategoryCreateSchema, response=schemas.CatalogueSchema, status=201,
          tags=("catalogue",), summary="Add a subcategory: the next catalogue version",
          description="Reportable at once (other replicas within 5 s) and announced as "
          "events.catalogue.published, so a triage rule set may route it. Codes are never "
          "reused; 422 names every broken catalogue rule.")
    def add_subcategory(self, request):
        found = catalogue_admin.add_subcategory(self.db, dict(request.data),
                                                request.principal.sub)
        self.db.commit()
        return 201, schemas.CatalogueSchema().dump(found)

    @http("PATCH", "/catalogue/subcategories/<string:code>", roles={Role.DISTRICT_ADMIN},
          body=schemas.SubcategoryChangeSchema, response=schemas.CatalogueSchema,
          tags=("catalogue",), summary="Rename, change defaults or retire a subcategory",
          description="Not its code or work category (cases are archived by them, "
          "P5.3.1); a sensitive subcategory stays sensitive (P5.2.5).")
    def change_subcategory(self, request, code):
        found = catalogue_admin.change_subcategory(self.db, code, dict(request.data),
                                                   request.principal.sub)
        self.db.commit()
        return schemas.CatalogueSchema().dump(found)

    @config_timer(declared.CATALOGUE_ANNOUNCE_SECONDS, eager=True)
    def announce_catalogue(self):
        """The current catalogue on the bus at start and hourly (dispatch converges)."""
        catalogue_store.announce_current(self.db)  # committed by the Database provider

    # -- cases from hotline and department systems (gridgov.intake) ---------------------

    @consume_contract_batch(intake.QUEUE, INTAKE_EXCHANGE, intake.ROUTING_KEYS,
                            message_types=[intake.MESSAGE_TYPE], tell_sender=True)
    def take_intake_cases(self, envelopes):
        """In batches (gridgov_common.platform.batching): one registry call places the
        batch, one transaction files it in a fixed number of statements (batch_filing). A
        report we cannot file fails the batch, which is then replayed message by message,
        so only that report is refused."""
        fresh = claim_messages(self.db, envelopes, intake.CONSUMER)  # else filed already
        reports = [intake.report_from(envelope, self.require_intake_user)
                   for envelope in fresh]
        try:
            current = catalogue_store.current(self.db)
            subs = [cases.complete(report, current) for report in reports]
            placements = cases.place_many(grid_index.Locator(self.db, self.registry), reports)
            filed = batch_filing.file_many(self.db, self.settings,
                                           list(zip(reports, placements, subs, strict=True)))
        except ApiError as exc:
            refusal = intake.permanent(exc)
            if refusal is None:
                raise
            raise refusal from None
        self.db.commit()  # count stored cases only
        for case, created in filed:
            if created:
                CASES_REPORTED.labels(case["source"], case["work_category"]).inc()

    # -- housekeeping ---------------------------------------------------------------------

    @config_timer(declared.PHOTO_PURGE_SECONDS)
    def purge_photos(self):
        """Uploads no case shows, older than PHOTO_RETENTION_HOURS, are deleted (P5.4.4)."""
        retention = timedelta(hours=self.settings.photo_retention_hours)
        while photos.purge_unattached(self.db, retention, datetime.now(UTC)):
            self.db.commit()  # in slices: a backlog never holds one long transaction

    @config_timer(declared.CHALLENGE_PURGE_SECONDS)
    def purge_spent_challenges(self):
        """Spent proof-of-work challenges past their expiry are forgotten (issue 12)."""
        while resident.purge_spent(self.db, datetime.now(UTC)):
            self.db.commit()

    # -- following the case as dispatch moves it (gridgov.events) ------------------------

    @consume_contract_batch(following.QUEUE, EVENTS_EXCHANGE, following.ROUTING_KEYS,
                            max_redeliveries=following.MAX_REDELIVERIES,
                            message_types=following.MESSAGE_TYPES)
    def follow_case_changes(self, envelopes):
        """In batches: several changes per case, each too small to pay for a worker
        and a transaction of its own (gridgov_common.platform.batching)."""
        # the others were applied already; the rest in a fixed number of statements
        fresh = list(claim_messages(self.db, envelopes, following.CONSUMER))
        if fresh:
            following.apply_many(self.db, fresh)

    @consume_contract(department_names.QUEUE, EVENTS_EXCHANGE, [department_names.MESSAGE_TYPE],
                      message_types=[department_names.MESSAGE_TYPE])
    def take_department_changed(self, envelope):
        """The register's names, for Open311's agency_responsible (department_names.py)."""
        department_names.apply(self.db, envelope)

    # -- the grid index (issue 15.5: reports placed without the registry) ------------------

    @consume_contract(grid_index.QUEUE, EVENTS_EXCHANGE, [grid_index.MESSAGE_TYPE],
                      message_types=[grid_index.MESSAGE_TYPE])
    def take_grid_changed(self, envelope):
        """P4.1: the registry redrew or retired a grid; the copy follows (grid_index.py)."""
        grid_index.apply_grid_changed(self.db, envelope, self.registry.grid_geometry)

    @timer(interval=grid_index.SYNC_RETRY_SECONDS, eager=True)
    def sync_grid_index(self):
        """The whole copy refreshed at start and hourly: grids drawn before the copy
        existed, or a message lost with its queue. A registry that does not answer now is
        asked again within SYNC_RETRY_SECONDS (placing falls back to it meanwhile)."""
        if not self.grid_sync.due():
            return
        try:
            codes = sorted(outline["grid_code"] for outline in self.registry.grid_outlines())
            self.db.commit()  # no transaction held while the registry answers
            grid_index.sync_all(self.db, codes, self.registry.grid_geometry)
        except ServiceUnavailable as exc:
            self.grid_sync.failed()
            log.warning("grid index not refreshed, again in %d s: %s",
                        grid_index.SYNC_RETRY_SECONDS, exc)
            return
        self.grid_sync.succeeded()

    # -- Open311 GeoReport v2 (public, docs/OPEN311.md) -----------------------------------

    @http("GET", OPEN311 + "/discovery.<string:fmt>", public=True, tags=("open311",))
    def open311_discovery(self, request, fmt):
        endpoint = request.url_root.rstrip("/") + OPEN311
        return georeport.guarded(fmt, self.db, lambda: georeport.discovery(
            fmt, endpoint, self.settings))

    @http("GET", OPEN311 + "/services.<string:fmt>", public=True, tags=("open311",),
          summary="Public service list (our public subcategories)")
    def open311_services(self, request, fmt):
        return georeport.guarded(fmt, self.db, lambda: georeport.services(self.db, fmt))

    @http("GET", OPEN311 + "/services/<string:service_code>.<string:fmt>", public=True,
          tags=("open311",), summary="Service definition with typed attributes")
    def open311_service_definition(self, request, service_code, fmt):
        return georeport.guarded(fmt, self.db, lambda: georeport.service_definition(
            self.db, fmt, service_code))

    @http("POST", OPEN311 + "/requests.<string:fmt>", public=True, tags=("open311",),
          rate_limit="intake",
          summary="File a public request (form-encoded, api_key required)")
    def open311_create_request(self, request, fmt):
        def create() -> Response:
            form = georeport.parse_form(request.raw_body, request.mimetype)
            current = catalogue_store.current(self.db)
            report, sub = georeport.report_from_form(form, self.settings, current,
                                                     self.registry)
            case, created = georeport.file_public(self.db, self.settings, self.registry,
                                                  report, current, sub)
            self._committed(case, created)
            return georeport.respond(fmt, georeport.doc.created(
                case["case_number"], georeport.NOTICE), georeport.doc.requests_xml,
                status=201)
        return georeport.guarded(fmt, self.db, create)

    @http("GET", OPEN311 + "/tokens/<string:token>.<string:fmt>", public=True,
          tags=("open311",), summary="Not used: the POST answers with the request id")
    def open311_token(self, request, token, fmt):
        return georeport.guarded(fmt, self.db, georeport.no_tokens)

    @http("GET", OPEN311 + "/requests.<string:fmt>", public=True, tags=("open311",),
          summary="Public requests: ids, service_code, status, start_date/end_date")
    def open311_list_requests(self, request, fmt):
        return georeport.guarded(fmt, self.db, lambda: georeport.list_requests(
            self.db, fmt, request.args, self._media_base(request),
            negotiate(request.headers.get("Accept-Language"))))

    @http("GET", OPEN311 + "/requests/<string:request_id>.<string:fmt>", public=True,
          tags=("open311",), summary="One public request")
    def open311_get_request(self, request, request_id, fmt):
        return georeport.guarded(fmt, self.db, lambda: georeport.get_request(
            self.db, fmt, request_id, self._media_base(request),
            negotiate(request.headers.get("Accept-Language"))))

    @http("GET", OPEN311 + "/media/<string:sha256>", public=True, produces="image/*",
          tags=("open311",), summary="A photo shown by a public request (media_url)")
    def open311_media(self, request, sha256):
        data, content_type = photos.for_public(self.db, sha256)
        return Response(data, content_type=content_type,
                        headers={"Cache-Control": "public, max-age=86400"})

    @staticmethod
    def _media_base(request) -> str:
        return request.url_root.rstrip("/") + OPEN311 + "/media/"

    # -- the residents' report page (public, no account; docs/RESIDENT-REPORTS.md) ------

    @http("GET", "/report", public=True, query=schemas.PublicPageQuerySchema,
          produces=resident_page.HTML, tags=("resident",),
          summary="The residents' report page (zh-CN first, en; no CDN, no account)")
    def resident_report_page(self, request):
        return 200, resident_page.headers(self.settings), resident_page.render(
            request.params["lang"], "report", self.settings)

    @http("GET", "/report/status", public=True, query=schemas.PublicPageQuerySchema,
          produces=resident_page.HTML, tags=("resident",),
          summary="The status page: a case followed by its number")
    def resident_status_page(self, request):
        return 200, resident_page.headers(self.settings), resident_page.render(
            request.params["lang"], "status", self.settings)

    @http("GET", "/report/static/<string:name>", public=True, produces="text/javascript",
          tags=("resident",), summary="The page's script and style (served here, no CDN)")
    def resident_static(self, request, name):
        body, content_type = resident_page.static_file(name)
        return Response(body, content_type=content_type,
                        headers={"Cache-Control": "no-cache",
                                 "X-Content-Type-Options": "nosniff"})

    @http("GET", "/public/categories", public=True, query=schemas.PublicLangQuerySchema,
          response=schemas.PublicCategorySchema, many=True, tags=("resident",),
          summary="What a resident may report: the public subcategories, in words")
    def public_categories(self, request):
        return resident.categories(self.db, request.params["lang"])

    @http("GET", "/public/grids", public=True, response=schemas.GridOutlineSchema, many=True,
          tags=("resident",), summary="Grid outlines for the map (simplified, WGS84)")
    def public_grids(self, request):
        return 200, {"Cache-Control": "public, max-age=300"}, resident.grids(self.registry)

    @http("POST", "/public/challenge", public=True, rate_limit="public",
          response=schemas.ChallengeSchema, status=201, tags=("resident",),
          summary="A proof-of-work challenge for one report",
          description="Find a counter so that sha256('<challenge>:<counter>') starts with "
          "`bits` zero bits; send it with the report before `expires`. Each is spent once.")
    def public_challenge(self, request):
        return 201, resident.new_challenge(self.settings)

    @http("POST", "/public/photos", public=True, rate_limit="public",
          max_body=media.MAX_PHOTO_BYTES, response=schemas.PhotoSchema, status=201,
          tags=("resident",), summary="A resident's photo (raw JPEG/PNG/WebP, ≤ 5 MiB)",
          description="Reference its sha256 in POST /public/reports; deleted after "
          "PHOTO_RETENTION_HOURS if no case shows it.")
    def public_photo(self, request):
        found = photos.store(self.db, request.raw_body, request.mimetype,
                             resident.PHOTO_UPLOADER)
        return 201, found

    @http("POST", "/public/reports", public=True, rate_limit="public",
          body=schemas.ResidentReportSchema, response=schemas.ReceiptSchema, status=201,
          tags=("resident",), summary="A resident's report: the case number as a receipt",
          description="Goes through the Open311 intake path. 422 for a wrong or expired "
          "challenge, a category that is not public, a point outside every grid or a phone "
          "that is none; 409 challenge_spent for a replayed solution. The phone is kept "
          "encrypted by the registry, never by events.")
    def public_report(self, request):
        lang = negotiate(request.headers.get("Accept-Language"))
        case, receipt = resident.file_report(self.db, self.settings, self.registry,
                                             request.data, lang)
        self._committed(case, True)
        return 201, receipt

    @http("GET", "/public/reports/<string:case_number>", public=True,
          query=schemas.PublicLangQuerySchema, response=schemas.PublicStatusSchema,
          tags=("resident",), summary="A public case's status by its number",
          description="The stage in words, the department by name, dates: no description, "
          "place, photo or person (P5.4.4).")
    def public_report_status(self, request, case_number):
        return resident.status(self.db, case_number, request.params["lang"])

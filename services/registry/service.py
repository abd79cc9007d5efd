"""The registry service: grids, places, residents, staff, departments (P3.1, P4, P5.0–P5.1,
P5.4.1–P5.4.2, P5.4.4, P6.2).  Entrypoints only: the logic lives in plain modules."""

from __future__ import annotations

from datetime import UTC, datetime

from nameko.timer import timer

from gridgov_common.contract import EVENTS_EXCHANGE, INTAKE_EXCHANGE, labels
from gridgov_common.kernel import scoping
from gridgov_common.kernel.area import community_of, town_of
from gridgov_common.kernel.errors import NotFound, Unprocessable, UnsupportedMediaType
from gridgov_common.kernel.languages import negotiate
from gridgov_common.kernel.roles import ALL_ROLES, Role
from gridgov_common.platform import (
    service as platform,  # module, so `nameko run` sees one service class
)
from gridgov_common.platform.messaging import REQUIRE_INTAKE_USER_ID, consume_contract
from gridgov_common.platform.outbox import OutboxRelay
from gridgov_common.platform.pii_provider import Pii
from gridgov_common.platform.rpc import rpc
from gridgov_common.platform.settings import ConfigValue
from gridgov_common.platform.timers import config_timer
from gridgov_common.platform.web import http
from services.registry import (
    accounts,
    adjustment_schemas,
    adjustments,
    audit,
    callback_phones,
    case_context,
    departments,
    divisions,
    importer,
    intake,
    noticeboard,
    people,
    places,
    privacy,
    schemas,
    search,
    settings,
    staff_identity,
    staff_list,
    staffing,
)
from services.registry.dependencies import GridLocator
from services.registry.notify_client import Notify
from services.registry.oidc import STATE_COOKIE, Oidc, OidcFailed, signed_in_page
from services.registry.signin import SignIn, require_csrf_with_session

ADMIN = {Role.DISTRICT_ADMIN}
PLACE_EDITORS = {Role.DISTRICT_ADMIN, Role.TOWN_GRID_CHIEF, Role.COMMUNITY_GRID_CHIEF,
                 Role.COMMUNITY_GRID_WORKER, Role.NEIGHBOURHOOD_GRID_WORKER}
STAFF_MANAGERS = {Role.DISTRICT_ADMIN, Role.TOWN_GRID_CHIEF, Role.COMMUNITY_GRID_CHIEF}
# P5.4.1 adjustments: the community proposes, the town approves, the district sees all
ADJUSTMENT_PROPOSERS = {Role.COMMUNITY_GRID_CHIEF, Role.GRID_INSTRUCTOR}
ADJUSTMENT_APPROVERS = {Role.TOWN_GRID_CHIEF}
ADJUSTMENT_READERS = ADJUSTMENT_PROPOSERS | ADJUSTMENT_APPROVERS | {Role.DISTRICT_ADMIN}
GRID_INDEX_REFRESH_SECONDS = 2
IMPORT_MAX_BYTES = 64 * 1024 * 1024


class RegistryService(platform.PlatformService):
    name = "registry"
    title = "gridgov registry"
    description = ("Grids (issued codes, GeoJSON), places, residents with encrypted personal "
                   "data, staff, departments, the public notice board and one-query search.")
    declared_settings = settings.SETTINGS

    pii = Pii()
    locator = GridLocator()
    relay = OutboxRelay()
    # department pushes only from the department's own broker user (docs/BUS-SECURITY.md)
    require_intake_user = ConfigValue(REQUIRE_INTAKE_USER_ID)
    callback_confirm_minutes = ConfigValue(settings.CALLBACK_PHONE_CONFIRM_MINUTES)
    audit_retention = audit.AuditRetention()  # refuses AUDIT_RETENTION_DAYS < 183 at start
    signin = SignIn()  # AUTH_* settings (checked at start) and the per-login throttle
    notify = Notify()  # the SMS codes of administrators' sign-in (issue 12)
    oidc = Oidc()  # single sign-on with the unified identity platform (OIDC_*; issue 12)

    # -- places ---------------------------------------------------------------------------

    @http("POST", "/districts", roles=ADMIN, body=schemas.PlaceSchema, status=201,
          tags=("places",))
    def create_district(self, request):
        # issue 10: a district admin creates its own district's row, no other
        code = request.data["code"]
        scoping.require(request.principal, code, f"district {code}")
        return places.create_district(self.db, **request.data, actor=request.principal.sub)

    @http("POST", "/towns", roles=ADMIN, body=schemas.TownSchema, status=201, tags=("places",))
    def create_town(self, request):
        scoping.require(request.principal, request.data["code"], f"town {request.data['code']}")
        return places.create_town(self.db, **request.data, actor=request.principal.sub)

    @http("POST", "/communities", roles=ADMIN, body=schemas.CommunitySchema, status=201,
          tags=("places",))
    def create_community(self, request):
        scoping.require(request.principal, request.data["code"],
                        f"community {request.data['code']}")
        return places.create_community(self.db, **request.data, actor=request.principal.sub)

    # -- division codes as data: rename, retire, history (issue 11, M1) --------------------

    @http("PATCH", "/towns/<string:code>", roles=ADMIN, body=schemas.DivisionRenameSchema,
          response=schemas.DivisionHistorySchema, tags=("places",),
          summary="Rename a town from a day on (the code stays; the old name is history)")
    def rename_town(self, request, code):
        return self._rename("town", request, code)

    @http("PATCH", "/communities/<string:code>", roles=ADMIN,
          body=schemas.DivisionRenameSchema, response=schemas.DivisionHistorySchema,
          tags=("places",),
          summary="Rename a community from a day on (the code stays; the old name is history)")
    def rename_community(self, request, code):
        return self._rename("community", request, code)

    @http("POST", "/towns/<string:code>/retire", roles=ADMIN,
          body=schemas.DivisionRetireSchema, response=schemas.DivisionHistorySchema,
          tags=("places",), summary="End a town's validity (refused while a community of "
          "it is still valid; its code is never reused)")
    def retire_town(self, request, code):
        return self._retire("town", request, code)

    @http("POST", "/communities/<string:code>/retire", roles=ADMIN,
          body=schemas.DivisionRetireSchema, response=schemas.DivisionHistorySchema,
          tags=("places",), summary="End a community's validity (refused while a grid of "
          "it is still valid; its code is never reused)")
    def retire_community(self, request, code):
        return self._retire("community", request, code)

    @http("GET", "/towns/<string:code>/history", query=schemas.OnDaySchema,
          response=schemas.DivisionHistorySchema, tags=("places",),
          summary="A town's validity and every name it has had")
    def town_history(self, request, code):
        scoping.require_in_district(request.principal, code, f"town {code}")
        return divisions.history_of(self.db, "town", code, request.params["on"])

    @http("GET", "/communities/<string:code>/history", query=schemas.OnDaySchema,
          response=schemas.DivisionHistorySchema, tags=("places",),
          summary="A community's validity and every name it has had")
    def community_history(self, request, code):
        scoping.require_in_district(request.principal, code, f"community {code}")
        return divisions.history_of(self.db, "community", code, request.params["on"])

    def _rename(self, level: str, request, code: str) -> dict:
        scoping.require(request.principal, code, f"{level} {code}")
        return divisions.rename(self.db, level, code, request.data["name"],
                                request.data["valid_from"], request.data["reason"],
                                actor=request.principal.sub)

    def _retire(self, level: str, request, code: str) -> dict:
        scoping.require(request.principal, code, f"{level} {code}")
        return divisions.retire(self.db, level, code, request.data["valid_to"],
                                request.data["reason"], actor=request.principal.sub)

    @http("GET", "/communities/<string:code>/coverage", tags=("places",),
          summary="P3.1: parts of the community no grid covers")
    def community_coverage(self, request, code):
        scoping.require_in_district(request.principal, code, f"community {code}")
        return {"community_code": code, "gaps": places.coverage_gaps(self.db, code)}

    @http("POST", "/grids", roles=ADMIN, body=schemas.GridCreateSchema,
          response=schemas.GridSchema, status=201, tags=("grids",),
          summary="Draw a grid and issue its 15-digit code (P4.1; only the registry issues)")
    def issue_grid(self, request):
        code = request.data["community_code"]
        scoping.require(request.principal, code, f"community {code}")
        return places.issue_grid(self.db, request.data)

    @http("GET", "/grids", query=schemas.PrefixQuerySchema, tags=("grids",))
    def list_grids(self, request):
        prefix = scoping.narrow(scoping.district_prefix(request.principal),
                                request.params["prefix"])
        return [] if prefix is None else places.list_grids(self.db, prefix)

    @http("GET", "/place-names", query=schemas.PlaceNamesQuerySchema, tags=("places",),
          summary="Today's names of the towns and communities (and, with grids=true, the "
          "grids) under a code prefix in the caller's district: what a screen shows for "
          "codes (not personal data)")
    def list_place_names(self, request):
        prefix = scoping.narrow(scoping.district_prefix(request.principal),
                                request.params["prefix"])
        if prefix is None:  # nothing of the caller's district under it
            empty = {"districts": {}, "towns": {}, "communities": {}}
            return {**empty, "grids": {}} if request.params["grids"] else empty
        return places.place_names(self.db, prefix, with_grids=request.params["grids"])

    @http("GET", "/grids.geojson", query=schemas.OnDaySchema, tags=("grids",),
          summary="Grids valid on a day (default today) as a FeatureCollection, with the "
          "names their town and community had that day")
    def grids_geojson(self, request):
        return places.grids_feature_collection(
            self.db, request.params["on"], prefix=scoping.district_prefix(request.principal))

    @http("GET", "/grids/<string:grid_code>", response=schemas.GridSchema, tags=("grids",))
    def get_grid(self, request, grid_code):
        scoping.require_in_district(request.principal, grid_code, f"grid {grid_code}")
        return places.get_grid(self.db, grid_code)

    @http("POST", "/grids/<string:grid_code>/retire", roles=ADMIN,
          body=schemas.GridRetireSchema, response=schemas.GridSchema, tags=("grids",),
          summary="End a grid's validity (redivision keeps its history and code)")
    def retire_grid(self, request, grid_code):
        scoping.require(request.principal, grid_code, f"grid {grid_code}")
        return places.retire_grid(self.db, grid_code, request.data["valid_to"])

    @http("GET", "/grids/<string:grid_code>/notice-board", public=True,
          query=schemas.NoticeBoardQuerySchema, produces="text/html; charset=utf-8",
          tags=("grids",), summary="P5.4.2 public notice board (printable HTML)")
    def notice_board(self, request, grid_code):
        grid = places.get_grid(self.db, grid_code)
        staff = staffing.responsible_staff(self.db, grid_code)
        party = staffing.party_branch(self.db, grid_code)
        place = case_context.case_context(self.db, grid_code, None, [])["place"]
        return noticeboard.render(grid, staff, party, request.params["lang"], place)

    @http("PUT", "/grids/<string:grid_code>/party-branch", roles=STAFF_MANAGERS,
          body=schemas.PartyBranchSchema, tags=("grids",), summary="P4.3 Party branch")
    def set_party_branch(self, request, grid_code):
        request.principal.require_covers(grid_code, f"grid {grid_code}")
        places.get_grid(self.db, grid_code)
        return staffing.set_party_branch(self.db, grid_code, request.data)

    # -- import (all or nothing, with a report of every rejected row) ----------------------

    @http("POST", "/import/grids", roles=ADMIN, body=schemas.FeatureCollectionSchema,
          rate_limit="import",
          response=schemas.ImportReportSchema, max_body=IMPORT_MAX_BYTES, status=201,
          tags=("import",), summary="Import grids from GeoJSON; codes issued by the registry")
    def import_grids(self, request):
        return importer.import_grids(self.db, request.data,
                                     scope_prefix=request.principal.scope_code).as_dict()

    @http("POST", "/import/residents", roles={Role.DISTRICT_ADMIN, Role.COMMUNITY_GRID_CHIEF},
          rate_limit="import",
          response=schemas.ImportReportSchema, max_body=IMPORT_MAX_BYTES, status=201,
          tags=("import",), description="CSV (UTF-8) with columns " +
          ", ".join(importer.RESIDENT_COLUMNS) + "; special_groups separated by ';'.",
          summary="Import residents from CSV (encrypted on the way in)")
    def import_residents(self, request):
        if not (request.mimetype or "").endswith("csv"):
            raise UnsupportedMediaType("send the residents as text/csv")
        try:
            text = request.raw_body.decode("utf-8")
        except UnicodeDecodeError:
            raise UnsupportedMediaType("the CSV must be UTF-8") from None
        return importer.import_residents(self.db, self.pii, importer.read_csv(text),
                                         scope_prefix=request.principal.scope_code).as_dict()

    # -- lookups --------------------------------------------------------------------------

    @http("GET", "/lookup/point", query=schemas.PointQuerySchema, tags=("lookup",),
          summary="Point (WGS84) → grid")
    def lookup_point_http(self, request):
        found = self._locate(request.params["lon"], request.params["lat"])
        if found is None or not scoping.in_district(request.principal, found["grid_code"]):
            raise NotFound("no grid contains that point", code="outside_grids")
        return found

    @http("POST", "/lookup/points", body=schemas.PointsSchema, tags=("lookup",),
          rate_limit="lookup",
          summary="Many points → grid codes (null outside every grid)")
    def lookup_points_http(self, request):
        found = self.locator.lookup_many([tuple(p) for p in request.data["points"]])
        return {"grid_codes": [code if scoping.in_district(request.principal, code) else None
                               for code in found]}

    @http("GET", "/lookup/address", query=schemas.AddressQuerySchema, tags=("lookup",),
          summary="Address → buildings → grid")
    def lookup_address(self, request):
        return places.find_buildings(self.db, request.params["q"],
                                     scoping.district_prefix(request.principal))

    def _locate(self, lon: float, lat: float) -> dict | None:
        grid_code = self.locator.locate(lon, lat)
        if grid_code is None:
            return None
        return {"grid_code": grid_code, "community_code": community_of(grid_code),
                "town_code": town_of(grid_code)}

    # -- buildings, households ------------------------------------------------------------

    @http("POST", "/neighbourhoods", roles=PLACE_EDITORS, body=schemas.NeighbourhoodSchema,
          status=201, tags=("places",))
    def create_neighbourhood(self, request):
        request.principal.require_covers(request.data["grid_code"], "that grid")
        return places.create_neighbourhood(self.db, **request.data)

    @http("POST", "/buildings", roles=PLACE_EDITORS, body=schemas.BuildingSchema, status=201,
          tags=("places",))
    def create_building(self, request):
        request.principal.require_covers(request.data["grid_code"], "that grid")
        return places.create_building(self.db, **request.data)

    @http("POST", "/households", roles=PLACE_EDITORS, body=schemas.HouseholdSchema,
          status=201, tags=("places",))
    def create_household(self, request):
        household = places.create_household(self.db, **request.data)
        request.principal.require_covers(household["grid_code"], "that building")
        return household

    # -- residents (personal data) --------------------------------------------------------

    @http("POST", "/residents", roles=privacy.EDIT_RESIDENTS, body=schemas.ResidentCreateSchema,
          response=schemas.ResidentSchema, status=201, tags=("residents",))
    def register_resident(self, request):
        return people.register_resident(self.db, self.pii, request.principal, request.data)

    @http("GET", "/residents", roles=privacy.VIEW_RESIDENTS,
          query=schemas.ResidentListQuerySchema, response=schemas.ResidentSchema, many=True,
          tags=("residents",), summary="Residents of a grid or household, masked")
    def list_residents(self, request):
        return people.list_residents(self.db, request.principal, **request.params)

    @http("GET", "/residents/<int:resident_id>", roles=privacy.VIEW_RESIDENTS,
          query=schemas.UnmaskQuerySchema, response=schemas.ResidentSchema,
          tags=("residents",),
          summary="One resident; masked unless unmask=… with a reason (audited, P5.4.4)")
    def get_resident(self, request, resident_id):
        unmask = {f.strip() for f in request.params["unmask"].split(",") if f.strip()}
        return people.get_resident(self.db, self.pii, request.principal, resident_id,
                                   unmask, request.params["reason"])

    @http("GET", "/export/residents.csv", roles=privacy.EXPORT_RESIDENTS,
          query=schemas.PrefixQuerySchema, produces="text/csv; charset=utf-8",
          tags=("residents",), summary="Masked CSV export of residents (audited)")
    def export_residents(self, request):
        return people.export_csv(self.db, request.principal, request.params["prefix"])

    @http("POST", "/search", roles=privacy.VIEW_RESIDENTS, body=schemas.SearchSchema,
          tags=("residents",), summary="P6.2 one query: person or address → household, grid, "
          "responsible staff (scoped, audited)",
          description="The terms (ID number, phone, name) go in the JSON body, never in the "
          "URL, so no log keeps them.")
    def one_query(self, request):
        return search.one_query(self.db, self.pii, request.principal, request.data)

    @http("GET", "/callback-phones/<string:case_number>", roles=privacy.VIEW_RESIDENTS,
          query=schemas.PhoneUnmaskQuerySchema, response=schemas.CallbackPhoneViewSchema,
          tags=("residents",),
          summary="The call-back phone a resident left with a public report (issue 12)",
          description="Masked; unmask=phone with a reason for the roles that may unmask "
          "residents' contact data, in the case's grid (audited, refusals too; P5.4.4).")
    def get_callback_phone(self, request, case_number):
        params = request.params
        return callback_phones.read(self.db, self.pii, request.principal, case_number,
                                    params["unmask"] == "phone", params["reason"])

    @http("GET", "/audit", roles=ADMIN, query=schemas.AuditQuerySchema, tags=("audit",),
          summary="The sensitive-data audit log (its own reads are audited)")
    def read_audit(self, request):
        return audit.query(self.db, request.principal, **request.params)  # its district

    @consume_contract(callback_phones.CONSUMER, EVENTS_EXCHANGE,
                      ["events.callback_phone.kept"],
                      message_types=["events.callback_phone.kept"])
    def confirm_callback_phone(self, envelope):
        """Events committed the case whose phone it kept here: keep the phone."""
        callback_phones.confirm(self.db, envelope, datetime.now(UTC))

    @config_timer(settings.CALLBACK_PHONE_PURGE_SECONDS)
    def purge_unconfirmed_callback_phones(self):
        """P5.4.4: a phone kept for a case events never committed is deleted."""
        callback_phones.purge_unconfirmed(self.db, datetime.now(UTC),
                                          self.callback_confirm_minutes)

    @config_timer(settings.AUDIT_PURGE_SECONDS)
    def purge_audit_log(self):
        """P5.4.4: rows older than the retention (>= 6 months) go, through the DB's one path."""
        audit.purge(self.db, self.audit_retention)  # committed by the Database provider

    # -- sign-in and sessions (issue 12; docs/SECURITY.md "Sign-in and sessions") ----------

    @http("POST", "/auth/sign-in", public=True, body=schemas.SignInSchema,
          response=schemas.SignInResultSchema, tags=("auth",), rate_limit="signin",
          summary="Sign in with login (staff subject) and password: sets the access, "
                  "refresh and CSRF cookies; a staff manager (AUTH_SECOND_FACTOR on) gets "
                  "{second_factor: sms, ticket} instead, and an SMS code")
    def sign_in(self, request):
        login, ip = request.data["login"], self.signin.client_ip(request)
        self.signin.throttle_login(login)
        language = negotiate(request.headers.get("Accept-Language"))
        result = accounts.sign_in(
            self.db, self.signin.secret, login, request.data["password"], ip,
            self.signin.settings, self.pii,
            lambda phone, code: self.notify.send_sign_in_code(phone, code, language))
        if isinstance(result, accounts.Challenge):
            return 200, {"Cache-Control": "no-store"}, {
                "second_factor": "sms", "ticket": result.ticket, "phone": result.phone,
                "expires_in": result.expires_in}
        return self.signin.grant_response(result, self._who(request, result.principal,
                                                            "cookie"))

    @http("POST", "/auth/sign-in/code", public=True, body=schemas.SignInCodeSchema,
          response=schemas.SignedInSchema, tags=("auth",), rate_limit="signin",
          summary="Complete a staff manager's sign-in with the SMS code and its ticket: "
                  "sets the cookies; wrong codes count towards the lock-out")
    def sign_in_code(self, request):
        grant = accounts.complete_sign_in(self.db, self.signin.secret, request.data["ticket"],
                                          request.data["code"], self.signin.client_ip(request),
                                          self.signin.settings)
        return self.signin.grant_response(grant, self._who(request, grant.principal,
                                                           "cookie"))

    @http("GET", "/auth/oidc/start", public=True, tags=("auth",), rate_limit="signin",
          status=302, produces="text/html",
          summary="Single sign-on: to the unified identity platform (统一身份认证; OIDC "
                  "authorization code with PKCE); 404 oidc_off when not configured")
    def oidc_start(self, request):
        try:
            return self.oidc.begin()
        except OidcFailed as failed:
            accounts.refuse_oidc(self.db, f"start: {failed}", self.signin.client_ip(request))

    @http("GET", "/auth/oidc/callback", public=True, query=schemas.OidcCallbackSchema,
          tags=("auth",), rate_limit="signin", produces="text/html",
          summary="Single sign-on: the platform's answer; the ID token verified, the person "
                  "mapped to the staff record, the same cookies as a password sign-in")
    def oidc_callback(self, request):
        ip = self.signin.client_ip(request)
        try:
            subject = self.oidc.finish(request.params, request.cookies.get(STATE_COOKIE))
        except OidcFailed as failed:
            accounts.refuse_oidc(self.db, str(failed), ip)
        grant = accounts.oidc_sign_in(self.db, self.signin.secret, subject, ip,
                                      self.signin.settings)
        response = self.signin.set_grant_cookies(
            signed_in_page(self.oidc.settings.after_sign_in), grant)
        response.delete_cookie(STATE_COOKIE, path=self.oidc.cookie_path,
                               secure=self.oidc.cookie_secure, httponly=True, samesite="Lax")
        return response

    @http("POST", "/auth/refresh", public=True, response=schemas.SignedInSchema,
          tags=("auth",), summary="A new access cookie for the refresh session (CSRF "
                                  "header required); role and scope read again")
    def refresh_session(self, request):
        raw = require_csrf_with_session(request)
        grant = accounts.refresh(self.db, self.signin.secret, raw,
                                 self.signin.client_ip(request), self.signin.settings)
        return self.signin.grant_response(grant, self._who(request, grant.principal,
                                                           "cookie"))

    @http("POST", "/auth/sign-out", public=True, tags=("auth",),
          summary="End the refresh session (CSRF header required) and clear the cookies")
    def sign_out(self, request):
        raw = require_csrf_with_session(request)
        ended = accounts.sign_out(self.db, raw, self.signin.client_ip(request))
        return self.signin.cleared({"signed_out": ended})

    @http("POST", "/auth/password", public=True, body=schemas.PasswordChangeSchema,
          tags=("auth",), rate_limit="signin",
          summary="Set a new password with the current or temporary one; ends every "
                  "session (sign in again)")
    def change_password(self, request):
        login = request.data["login"]
        self.signin.throttle_login(login)
        accounts.change_password(self.db, login, request.data["password"],
                                 request.data["new_password"], self.signin.client_ip(request),
                                 self.signin.settings)
        return self.signin.cleared({"changed": True})

    @http("GET", "/auth/me", roles=ALL_ROLES, response=schemas.SignedInSchema,
          tags=("auth",), summary="Who is signed in: name, role and scope in words")
    def who_am_i(self, request):
        return self._who(request, request.principal, getattr(request, "auth_by", "bearer"))

    @http("POST", "/staff/<int:staff_id>/password-reset", roles=accounts.RESETTERS,
          response=schemas.PasswordResetSchema, tags=("staff",),
          summary="A one-time temporary password, by an administrator of the level above "
                  "(P5.0); ends the person's sessions")
    def reset_password(self, request, staff_id):
        temporary = accounts.reset_password(self.db, request.principal, staff_id,
                                            self.signin.client_ip(request))
        return 200, {"Cache-Control": "no-store"}, {
            "staff_id": staff_id, "temporary_password": temporary, "must_change": True}

    def _who(self, request, principal, auth_by: str) -> dict:
        lang = negotiate(request.headers.get("Accept-Language"))
        return {"sub": principal.sub, "name": principal.name, "role": str(principal.role),
                "role_name": labels.label("role", principal.role, lang),
                "scope": principal.scope,
                "scope_name": places.scope_name(self.db, principal.scope_level,
                                                principal.scope_code, lang),
                "auth": auth_by}

    # -- staff and departments ------------------------------------------------------------

    @http("POST", "/staff", roles=STAFF_MANAGERS, body=schemas.StaffCreateSchema,
          response=schemas.StaffSchema, status=201, tags=("staff",))
    def create_staff(self, request):
        return staffing.create_staff(self.db, request.principal, request.data)

    @http("GET", "/staff", query=schemas.StaffListQuerySchema, response=schemas.StaffSchema,
          many=True, tags=("staff",))
    def list_staff(self, request):
        people = staffing.list_staff(self.db, request.principal, **request.params)
        return staff_list.named(self.db, request.principal, people,
                                 negotiate(request.headers.get("Accept-Language")))

    @http("POST", "/staff/<int:staff_id>/transitions", roles=STAFF_MANAGERS,
          body=schemas.StaffTransitionSchema, response=schemas.StaffSchema, tags=("staff",),
          summary="Lifecycle step: review, hire, file, propose adjustment, dismiss (P5.4.1)")
    def transition_staff(self, request, staff_id):
        return staffing.transition_staff(self.db, request.principal, staff_id,
                                         request.data["action"], request.data["reason"])

    @http("GET", "/staff/me", roles=ALL_ROLES, response=schemas.StaffSchema, tags=("staff",),
          summary="The caller's staff record and grids, by the token's subject")
    def my_staff(self, request):
        return staffing.get_staff(self.db, staff_identity.my_staff_id(self.db,
                                                                      request.principal))

    @http("PUT", "/staff/<int:staff_id>/subject", roles=STAFF_MANAGERS,
          body=schemas.StaffSubjectSchema, response=schemas.StaffSchema, tags=("staff",),
          summary="Tie a staff record to a token subject (unique among active staff)")
    def set_staff_subject(self, request, staff_id):
        staff_identity.set_subject(self.db, request.principal, staff_id,
                                   request.data["subject"])
        return staffing.get_staff(self.db, staff_id)

    @http("PUT", "/staff/<int:staff_id>/grids", roles=STAFF_MANAGERS,
          body=schemas.StaffGridsSchema, response=schemas.StaffSchema, tags=("staff",),
          summary="The grids a staff member answers for (P5.1.4, P5.1.5)")
    def set_staff_grids(self, request, staff_id):
        staff_identity.set_grids(self.db, request.principal, staff_id,
                                 request.data["grid_codes"])
        return staffing.get_staff(self.db, staff_id)

    @http("GET", "/staff/<int:staff_id>/history", roles=STAFF_MANAGERS, tags=("staff",))
    def staff_history(self, request, staff_id):
        return staffing.staff_history(self.db, request.principal, staff_id)

    # -- staff adjustments (P5.4.1: community proposes, town approves) ---------------------

    @http("GET", "/staff-adjustments", roles=ADJUSTMENT_READERS,
          query=adjustment_schemas.AdjustmentListQuerySchema,
          response=adjustment_schemas.AdjustmentSchema, many=True, tags=("staff",),
          summary="Adjustments of staff flagged by the half-year assessment, in your scope")
    def list_staff_adjustments(self, request):
        return adjustments.list_adjustments(self.db, request.principal, **request.params)

    @http("GET", "/staff-adjustments/<int:adjustment_id>", roles=ADJUSTMENT_READERS,
          response=adjustment_schemas.AdjustmentSchema, tags=("staff",),
          summary="One adjustment with every step (who, when, what)")
    def get_staff_adjustment(self, request, adjustment_id):
        return adjustments.get(self.db, request.principal, adjustment_id)

    @http("POST", "/staff-adjustments/<int:adjustment_id>/propose",
          roles=ADJUSTMENT_PROPOSERS, body=adjustment_schemas.ProposalSchema,
          response=adjustment_schemas.AdjustmentSchema, tags=("staff",),
          summary="P5.4.1 the community proposes a measure (again after a rejection)")
    def propose_staff_adjustment(self, request, adjustment_id):
        return adjustments.propose(self.db, request.principal, adjustment_id, request.data)

    @http("POST", "/staff-adjustments/<int:adjustment_id>/approve",
          roles=ADJUSTMENT_APPROVERS, body=adjustment_schemas.ApprovalSchema,
          response=adjustment_schemas.AdjustmentSchema, tags=("staff",),
          summary="P5.4.1 the town approves; the measure is applied at once")
    def approve_staff_adjustment(self, request, adjustment_id):
        return adjustments.approve(self.db, request.principal, adjustment_id,
                                   request.data["reason"])

    @http("POST", "/staff-adjustments/<int:adjustment_id>/reject",
          roles=ADJUSTMENT_APPROVERS, body=adjustment_schemas.RejectionSchema,
          response=adjustment_schemas.AdjustmentSchema, tags=("staff",),
          summary="P5.4.1 the town turns the proposal down, with a reason")
    def reject_staff_adjustment(self, request, adjustment_id):
        return adjustments.reject(self.db, request.principal, adjustment_id,
                                  request.data["reason"])

    @http("GET", "/departments", roles=ALL_ROLES, response=schemas.DepartmentSchema,
          many=True, tags=("departments",),
          summary="The department register (P4.2), retired ones marked active: false")
    def list_departments_http(self, request):
        return schemas.DepartmentSchema(many=True).dump(departments.list_departments(self.db))

    @http("POST", "/departments", roles=ADMIN, body=schemas.DepartmentCreateSchema,
          response=schemas.DepartmentSchema, status=201, tags=("departments",),
          summary="Add a department (announced as registry.department.changed)",
          description="Dispatch accepts it in rule sets at once; its broker user and "
          "queues are provisioned by the bus administrator (docs/DEPARTMENTS.md).")
    def add_department(self, request):
        return 201, schemas.DepartmentSchema().dump(
            departments.add_department(self.db, request.data))

    @http("PATCH", "/departments/<string:code>", roles=ADMIN,
          body=schemas.DepartmentChangeSchema, response=schemas.DepartmentSchema,
          tags=("departments",), summary="Rename, change contacts or categories, retire")
    def change_department(self, request, code):
        if not request.data:
            raise Unprocessable("nothing to change", fields={"_schema": ["give a field"]})
        return schemas.DepartmentSchema().dump(
            departments.change_department(self.db, code, request.data))

    @config_timer(settings.DEPARTMENTS_ANNOUNCE_SECONDS, eager=True)
    def announce_departments(self):
        """The whole register on the bus at start and hourly (consumers converge)."""
        departments.announce_register(self.db)  # committed by the Database provider

    # -- RPC for the other services -------------------------------------------------------

    @rpc
    def lookup_point(self, lon: float, lat: float) -> dict | None:
        data = schemas.PointQuerySchema().load({"lon": lon, "lat": lat})
        return self._locate(data["lon"], data["lat"])

    @rpc
    def lookup_points(self, points: list) -> list:
        data = schemas.PointsSchema().load({"points": points})
        return self.locator.lookup_many([tuple(p) for p in data["points"]])

    @rpc
    def get_grid_summary(self, grid_code: str) -> dict:
        grid = places.get_grid(self.db, grid_code)
        grid.pop("geometry")
        return {**grid, "responsible_staff": staffing.responsible_staff(self.db, grid_code)}

    @rpc
    def resident_grids(self, resident_ids: list) -> list:
        """``[{resident_id, grid_code}]`` of the residents that exist (unknown ids left
        out): events checks the resident a case names lies in the reporter's scope."""
        data = schemas.ResidentIdsSchema().load({"resident_ids": resident_ids})
        return people.resident_grids(self.db, data["resident_ids"])

    @rpc
    def get_grid_geometry(self, grid_codes: list) -> list:
        """GeoJSON features of the given grids (retired ones with ``valid_to``), for the
        assessment's patrol checks when ``registry.grid.changed`` arrives."""
        data = schemas.GridCodesSchema().load({"grid_codes": grid_codes})
        return places.grid_features(self.db, data["grid_codes"])

    @rpc
    def grid_outlines(self) -> list:
        """Simplified outlines of the grids valid today, for the residents' report page
        (events' /public/grids, issue 12); no personal data."""
        return places.grid_outlines(self.db)

    @rpc
    def keep_callback_phone(self, case_number: str, phone: str, grid_code: str) -> dict:
        """Keep the call-back phone a resident left with a public report, encrypted (events
        holds no personal-data keys and keeps none of it; P5.4.4). Replaces an earlier one
        of the same case. ``{case_number, phone_masked}``; 422 for a phone that is none."""
        data = schemas.CallbackPhoneSchema().load(
            {"case_number": case_number, "phone": phone, "grid_code": grid_code})
        return callback_phones.keep(self.db, self.pii, data["case_number"], data["phone"],
                                    data["grid_code"])

    @rpc
    def find_address(self, text: str) -> list:
        """Up to two buildings whose address contains ``text`` (Open311 address_string:
        one match places the report, two are ambiguous). Addresses are not personal data."""
        data = schemas.AddressQuerySchema().load({"q": text})
        return places.find_buildings(self.db, data["q"], "", limit=2)

    @rpc
    def building_location(self, building_id: int) -> dict | None:
        """{id, address, grid_code, lon, lat} of a building (Open311 address_id), or None."""
        data = schemas.BuildingIdSchema().load({"building_id": building_id})
        return places.building_location(self.db, data["building_id"])

    @rpc
    def case_context(self, grid_code: str, building_id: int | None = None,
                     subjects: list | None = None, on: str | None = None) -> dict:
        """Place names, grid boundary, building address and staff names for a case file
        page (dispatch); no personal data (case_context.py). ``on`` (ISO date, default
        today): the day whose place names are printed, e.g. the day the case was filed."""
        data = schemas.CaseContextSchema().load(
            {"grid_code": grid_code, "building_id": building_id, "subjects": subjects or [],
             "on": on})
        return case_context.case_context(self.db, data["grid_code"], data["building_id"],
                                         data["subjects"], data["on"])

    @rpc
    def list_departments(self) -> list:
        return departments.list_departments(self.db)

    @rpc
    def place_names(self, scope_code: str, grids: bool = False, on: str | None = None) -> dict:
        """Town and community names under a district, town or community code; with
        ``grids`` the grids' names too (the half-year assessment names each worker's grid,
        P5.4.6). ``on`` (ISO date, default today): the names valid that day, so a document
        about a day before a renaming prints the old name. Place names are public: no
        personal data."""
        data = schemas.PlaceNamesSchema().load({"prefix": scope_code, "grids": grids,
                                                "on": on})
        return places.place_names(self.db, data["prefix"], with_grids=data["grids"],
                                  on=data["on"])

    @rpc
    def staff_names(self, subjects: list) -> dict:
        """``{subject: name}`` of the active grid staff among ``subjects``: the names the
        grid notice board posts anyway (P5.4.2), for the documents people file (the
        half-year assessment, P5.4.6). Names only: never a phone or an ID number, and no
        department officer's or administrator's name (least privilege)."""
        data = schemas.SubjectsSchema().load({"subjects": subjects})
        return staffing.public_names(self.db, data["subjects"])

    # -- department data push (P6.2) ------------------------------------------------------

    @consume_contract(intake.CONSUMER, INTAKE_EXCHANGE,
                      ["*.resident.moved_out", "*.resident.updated"], tell_sender=True)
    def apply_department_push(self, envelope):
        """Refusals are dead-lettered and told on ``<department>.rejections``."""
        intake.apply(self.db, self.pii, envelope, require_user=self.require_intake_user)

    @consume_contract(adjustments.CONSUMER, EVENTS_EXCHANGE, ["assessment.staff.flagged"],
                      message_types=["assessment.staff.flagged"])
    def open_staff_adjustment(self, envelope):
        """P5.4.6 → P5.4.1: a published assessment flagged a person: open the adjustment."""
        adjustments.open_from_flag(self.db, envelope)

    @timer(interval=GRID_INDEX_REFRESH_SECONDS)
    def refresh_grid_index(self):
        self.locator.refresh_if_changed()

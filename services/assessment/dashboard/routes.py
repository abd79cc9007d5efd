"""The dashboard's HTTP entrypoints, as a mixin of the assessment service.

The service class also needs the two dependencies the routes use (see docs/DASHBOARD.md):

    class AssessmentService(platform.PlatformService, DashboardRoutes):
        dashboard_sources = DashboardSources()
        dispatch = dispatch_client.Dispatch()  # its case_statistics

The page itself is public (it holds no data); it asks for a bearer token (its sign-in
form, or a ``#token=`` fragment the browser never sends; kept in sessionStorage, never in
a URL: ``?token=`` is refused with 400 ``credential_in_url``) and sends it to
``/dashboard/data``, which only the district admin and the ops viewer may read (P6.2
operations centre).
"""

from __future__ import annotations

from werkzeug.wrappers import Response

from gridgov_common.kernel.roles import Role
from gridgov_common.platform.web import http
from services.assessment.dashboard import gather, page, schemas

VIEWERS = {Role.DISTRICT_ADMIN, Role.OPS_VIEWER}
HTML = "text/html; charset=utf-8"


class DashboardRoutes:
    """``GET /dashboard``, ``/dashboard/static/<name>`` and ``/dashboard/data``."""

    @http("GET", "/dashboard", public=True, query=schemas.PageQuerySchema, produces=HTML,
          tags=("dashboard",), summary="P6.2 the operations centre page (asks for a token)")
    def dashboard_page(self, request):
        params = request.params
        return 200, page.SECURITY_HEADERS, page.render(params["lang"], params["refresh"])

    @http("GET", "/dashboard/static/<string:name>", public=True, produces="text/javascript",
          tags=("dashboard",), summary="The page's script and style (no CDN)")
    def dashboard_static(self, request, name):
        body, content_type = page.static_file(name)
        return Response(body, content_type=content_type,
                        headers={"Cache-Control": "no-cache",
                                 "X-Content-Type-Options": "nosniff"})

    @http("GET", "/dashboard/data", roles=VIEWERS, query=schemas.DataQuerySchema,
          tags=("dashboard",),
          summary="Everything the page shows: grids, case statistics, queues, health")
    def dashboard_data(self, request):
        principal = request.principal
        sources = self.dashboard_sources
        authorization = request.headers.get("Authorization", "")
        document = gather.gather(principal.scope, {
            "grids": lambda: gather.in_scope(sources.grids(authorization),
                                             principal.scope_code),
            "departments": lambda: sources.departments(authorization),
            "cases": lambda: gather.with_rankings(
                self.dispatch.case_statistics(principal.scope)),
            "queues": sources.queues,
            "health": sources.health,
        })
        return 200, {"Cache-Control": "no-store"}, document

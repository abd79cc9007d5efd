"""Half-year assessment entrypoints of the assessment service (a mixin, like ``fieldwork``):
base-data spot checks, schemes, typed inputs, runs, publishing and reading (P5.4.6, P5.4.1).
Thin: the logic lives in spotchecks, appraisal_scheme, appraisal and appraisal_reports."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from werkzeug.wrappers import Response

from gridgov_common.kernel import languages
from gridgov_common.kernel.roles import GRID_ROLES, Role
from gridgov_common.platform.web import http
from services.assessment import (
    appraisal_doc,
    appraisal_reports,
    appraisal_schemas,
    appraisal_scheme,
    spotchecks,
    tabular,
)
from services.assessment.compliance import TZ
from services.assessment.fieldwork import _plain, _scope

ADMIN = {Role.DISTRICT_ADMIN}
RUNNERS = {Role.DISTRICT_ADMIN, Role.TOWN_GRID_CHIEF}  # P5.4.6: the town assesses
SCHEME_READERS = RUNNERS | {Role.OPS_VIEWER}
REPORT_READERS = GRID_ROLES | {Role.DISTRICT_ADMIN, Role.OPS_VIEWER}
ACCURACY_READERS = spotchecks.CHECKERS | {Role.OPS_VIEWER}






class AppraisalRoutes:
    """Needs ``self.db``, ``self.dispatch`` (dispatch_client) and ``self.registry``
    (registry_client) from the service."""

    # -- base-data spot checks (基础信息准确率) ---------------------------------------------

    @http("POST", "/spot-checks", roles=spotchecks.CHECKERS,
          body=appraisal_schemas.SpotCheckCreateSchema, response=appraisal_schemas.SpotCheckSchema,
          status=201, tags=("assessment",),
          summary="Record a phone or field spot check of a registry record (ids only, P5.4.6)")
    def record_spot_check(self, request):
        return _plain(spotchecks.record(self.db, request.principal, request.data,
                                        datetime.now(UTC)))

    @http("GET", "/spot-checks", roles=ACCURACY_READERS,
          query=appraisal_schemas.SpotCheckListQuerySchema,
          response=appraisal_schemas.SpotCheckSchema, many=True, tags=("assessment",),
          summary="Spot checks in the caller's scope and a period, newest first")
    def list_spot_checks(self, request):
        p = request.params
        start, end = spotchecks.period_of(p["from_"], p["to"])
        return _plain(spotchecks.listing(self.db, _scope(request.principal, p["scope"]),
                                         start, end, p["limit"]))

    @http("GET", "/spot-checks/accuracy", roles=ACCURACY_READERS,
          query=appraisal_schemas.AccuracyQuerySchema, tags=("assessment",),
          summary="Base-data accuracy = correct / checked, by grid, community, town or grid "
                  "worker (P5.4.6)")
    def spot_check_accuracy(self, request):
        p = request.params
        scope = _scope(request.principal, p["scope"])
        start, end = spotchecks.period_of(p["from_"], p["to"])
        return {"by": p["by"], "scope": scope, "from": p["from_"].isoformat(),
                "to": p["to"].isoformat(),
                "rows": spotchecks.accuracy(self.db, scope, start, end, p["by"])}

    # -- schemes ---------------------------------------------------------------------------

    @http("GET", "/appraisal-schemes", roles=SCHEME_READERS, tags=("assessment",),
          summary="Assessment schemes, oldest first (the highest version is current)")
    def list_appraisal_schemes(self, request):
        return _plain(appraisal_scheme.listing(self.db))

    @http("POST", "/appraisal-schemes", roles=ADMIN, body=appraisal_schemas.SchemeCreateSchema,
          status=201, tags=("assessment",),
          summary="Add a scheme version (weights sum to 1, grade bands cover 0–100)")
    def add_appraisal_scheme(self, request):
        body = appraisal_schemas.check_scheme(request.data["body"])
        return _plain(appraisal_scheme.add(self.db, body, request.data["note"],
                                           request.principal.sub))

    # -- typed inputs ----------------------------------------------------------------------

    @http("PUT", "/appraisal-inputs/<string:half_year>", roles=RUNNERS,
          body=appraisal_schemas.InputsPutSchema, tags=("assessment",),
          summary="Democratic appraisal and quantified points of subjects in the caller's "
                  "town (the only typed figures, P5.4.6)")
    def put_appraisal_inputs(self, request, half_year):
        count = appraisal_reports.put_inputs(self.db, request.principal, half_year,
                                             request.data["inputs"])
        return {"half_year": half_year, "stored": count}

    @http("GET", "/appraisal-inputs/<string:half_year>", roles=SCHEME_READERS,
          tags=("assessment",), summary="Typed inputs of a half-year in the caller's scope")
    def get_appraisal_inputs(self, request, half_year):
        return _plain(appraisal_reports.get_inputs(self.db, request.principal, half_year))

    # -- reports ---------------------------------------------------------------------------

    @http("POST", "/appraisals", roles=RUNNERS, body=appraisal_schemas.RunSchema, status=201,
          tags=("assessment",),
          summary="Run the half-year assessment of a town (or the district): a new draft "
                  "version (P5.4.6)")
    def run_appraisal(self, request):
        d = request.data
        scope = appraisal_reports.run_scope(request.principal, d["scope"])
        return _plain(appraisal_reports.run(
            self.db, self.dispatch, request.principal, d["half_year"], scope,
            d["scheme_version"], datetime.now(TZ).date(),
            self.dispatch.calendar().is_workday, self.registry))

    @http("POST", "/appraisals/<string:report_id>/publish", roles=RUNNERS,
          tags=("assessment",),
          summary="Publish a draft (then immutable); flagged staff go to the registry's "
                  "adjustment flow (assessment.staff.flagged, P5.4.1)")
    def publish_appraisal(self, request, report_id):
        return _plain(appraisal_reports.publish(self.db, request.principal, report_id,
                                                datetime.now(UTC)))

    @http("GET", "/appraisals", roles=REPORT_READERS,
          query=appraisal_schemas.ReportListQuerySchema, tags=("assessment",),
          summary="Assessment reports the caller may read, newest first (no content)")
    def list_appraisals(self, request):
        p = request.params
        return _plain(appraisal_reports.listing(self.db, request.principal, p["half_year"],
                                                p["limit"]))

    @http("GET", "/appraisals/<string:report_id>", roles=REPORT_READERS, tags=("assessment",),
          summary="A report: district roles all rows, a town its town, grid staff their row")
    def get_appraisal(self, request, report_id):
        return _plain(appraisal_reports.read(self.db, request.principal, report_id))

    @http("GET", "/appraisals/<string:report_id>.html", roles=REPORT_READERS,
          query=appraisal_schemas.ReportPageQuerySchema, produces="text/html; charset=utf-8",
          tags=("assessment",),
          summary="A report as a printable page: people, grids and communities by name, "
                  "indicators as columns, grades in words (zh-CN or en; issue 11)")
    def get_appraisal_html(self, request, report_id):
        report = self._readable_report(request, report_id)
        return tabular.to_html(appraisal_doc.document(report, self._report_names(report),
                                                      _lang(request)))

    @http("GET", "/appraisals/<string:report_id>.csv", roles=REPORT_READERS,
          query=appraisal_schemas.ReportFileQuerySchema, produces="text/csv; charset=utf-8",
          tags=("assessment",),
          summary="A report as CSV (UTF-8 with BOM): one row per subject with names, headers "
                  "in lang; layout=long one row per subject and indicator")
    def get_appraisal_csv(self, request, report_id):
        return self._appraisal_file(request, report_id, "csv")

    @http("GET", "/appraisals/<string:report_id>.xlsx", roles=REPORT_READERS,
          query=appraisal_schemas.ReportFileQuerySchema, produces=tabular.RENDERERS["xlsx"][1],
          tags=("assessment",),
          summary="A report as an Excel workbook (the CSV's table; layout=long likewise)")
    def get_appraisal_xlsx(self, request, report_id):
        return self._appraisal_file(request, report_id, "xlsx")

    def _readable_report(self, request, report_id: str) -> dict[str, Any]:
        return _plain(appraisal_reports.read(self.db, request.principal, report_id))

    def _report_names(self, report: dict[str, Any]) -> dict[str, Any]:
        """The names stored with the report; for a report made without them (before issue
        11, or while the registry did not answer) the registry's current ones."""
        stored = report["content"].get("names")
        if isinstance(stored, dict) and any(stored.values()):
            return stored
        self.db.commit()  # no transaction held open while the registry answers
        return self.registry.for_report(report["scope"], [
            r["code"] for r in report["content"]["rows"] if r["subject_kind"] == "grid_worker"],
            report["content"].get("as_of"))

    def _appraisal_file(self, request, report_id: str, fmt: str) -> Response:
        report = self._readable_report(request, report_id)
        if request.params["layout"] == "long":
            doc = appraisal_doc.long_document(report)
        else:
            doc = appraisal_doc.document(report, self._report_names(report), _lang(request))
        render, mimetype = tabular.RENDERERS[fmt]
        name = f"assessment-{report['half_year']}-v{report['version']}.{fmt}"
        return Response(render(doc), status=200, content_type=mimetype,
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})


def _lang(request) -> str:
    """``?lang=`` if given, else what the browser asks for (zh-CN by default)."""
    return request.params["lang"] or languages.negotiate(request.headers.get("Accept-Language"))

"""Circular entrypoints of the assessment service (a mixin, like ``fieldwork``): the
schedule's timer, on-demand generation and reading as JSON, HTML, CSV and XLSX (P5.3.5).
Thin: figures in ``circulars``, documents in ``circular_doc``, formats in ``tabular``."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from werkzeug.wrappers import Response

from gridgov_common.kernel.errors import NotFound
from gridgov_common.kernel.roles import Role
from gridgov_common.platform.settings import Setting
from gridgov_common.platform.timers import config_timer
from gridgov_common.platform.web import http
from services.assessment import circular_doc, circular_schemas, circulars, tabular
from services.assessment import settings as declared
from services.assessment.compliance import TZ
from services.assessment.domain import circular_rules
from services.assessment.fieldwork import _plain
from services.assessment.models import circulars as circulars_table

WRITERS = {Role.DISTRICT_ADMIN, Role.TOWN_GRID_CHIEF}
READERS = {Role.DISTRICT_ADMIN, Role.OPS_VIEWER, Role.TOWN_GRID_CHIEF, Role.DEPARTMENT_OFFICER}


def _visible(principal):
    """Department officers read every circular (each names every department); a
    geographic role reads those over its area or over an area holding it."""
    if principal.role == Role.DEPARTMENT_OFFICER:
        return sa.true()
    code = sa.func.split_part(circulars_table.c.scope, ":", 2)
    return sa.or_(code.startswith(principal.scope_code, autoescape=True),
                  sa.literal(principal.scope_code).startswith(code))


class CircularRoutes:
    """Needs ``self.db``, ``self.relay``, ``self.dispatch`` (dispatch_client) and
    ``self.registry`` (registry_client)."""

    def _circular_config(self, setting: Setting) -> Any:
        return setting.read(self.relay.container.config)

    def _card_rules(self) -> list[dict[str, Any]]:
        rules = self._circular_config(declared.CIRCULAR_CARD_RULES) or list(
            circular_rules.DEFAULT_CARD_RULES)
        return circular_rules.check_rules(rules)

    def _compose(self, kind: str, period: str, scope: str) -> dict[str, Any]:
        """The content a circular of (kind, period, scope) would have now: dispatch's
        figures, the card rules, the registry's names (P5.3.5)."""
        first, last = circular_rules.period_bounds(kind, period)
        figures = self.dispatch.handling_figures(scope, *circulars.instants(first, last))
        return {**circular_rules.build_content(figures, self._card_rules()),
                "names": self.registry.for_scope(scope, last.isoformat())}

    def _generate(self, kind: str, period: str, scope: str, origin: str, by: str):
        content = self._compose(kind, period, scope)
        url = self._circular_config(declared.CIRCULAR_PUBLIC_URL).rstrip("/")
        return circulars.store(
            self.db, kind=kind, period=period, scope=scope, origin=origin, generated_by=by,
            content=content, html_url=url + "/circulars/{circular_id}.html",
            issuer=self._circular_config(declared.CIRCULAR_ISSUER),
            number_prefix=self._circular_config(declared.CIRCULAR_NUMBER_PREFIX))

    @config_timer(declared.CIRCULAR_POLL_SECONDS)
    def publish_due_circulars(self):
        """P5.3.5: each scheduled kind's last complete period, once (unique index)."""
        scope = self._circular_config(declared.CIRCULAR_SCOPE)
        schedule = self._circular_config(declared.CIRCULAR_SCHEDULE)
        today = datetime.now(TZ).date()
        for kind in (k.strip() for k in schedule.split(",") if k.strip()):
            period = circular_rules.last_complete(kind, today)
            if circulars.scheduled_exists(self.db, kind, period, scope):
                continue
            self.db.commit()  # no transaction held open while dispatch counts
            self._generate(kind, period, scope, "schedule", "schedule")
            self.db.commit()  # the commit wakes the relay

    @http("POST", "/circulars", roles=WRITERS, body=circular_schemas.CircularCreateSchema,
          response=circular_schemas.CircularSchema, status=201, tags=("circulars",),
          summary="Generate a circular now (a new version), from dispatch's records (P5.3.5)")
    def create_circular(self, request):
        principal = request.principal
        scope = request.data["scope"] or principal.scope
        principal.require_covers(scope.partition(":")[2], f"scope {scope}")
        row = self._generate(request.data["kind"], request.data["period"], scope, "demand",
                             principal.sub)
        return _plain(row)

    @http("POST", "/circulars/preview", roles=WRITERS,
          body=circular_schemas.CircularCreateSchema,
          response=circular_schemas.CircularPreviewSchema, tags=("circulars",),
          summary="What a circular of the period would say now, to check before it is "
                  "generated: stores, numbers and publishes nothing (P5.3.5)")
    def preview_circular(self, request):
        principal = request.principal
        kind, period = request.data["kind"], request.data["period"]
        scope = request.data["scope"] or principal.scope
        principal.require_covers(scope.partition(":")[2], f"scope {scope}")
        first, last = circular_rules.period_bounds(kind, period)
        return {"kind": kind, "period": period, "scope": scope,
                "period_start": first.isoformat(), "period_end": last.isoformat(),
                "issuer": self._circular_config(declared.CIRCULAR_ISSUER),
                "content": self._compose(kind, period, scope)}

    @http("GET", "/circulars", roles=READERS, query=circular_schemas.CircularListQuerySchema,
          response=circular_schemas.CircularSchema, many=True, tags=("circulars",),
          summary="Circulars the caller may read, newest first (without their content)")
    def list_circulars(self, request):
        return _plain(circulars.listing(self.db, _visible(request.principal),
                                        request.params["kind"], request.params["limit"]))

    def _circular(self, request, circular_id: str) -> dict[str, Any]:
        try:  # not an id at all is "no such circular", not a database error
            circular_id = str(uuid.UUID(circular_id))
        except ValueError:
            raise NotFound(f"no circular {circular_id}") from None
        row = circulars.one(self.db, _visible(request.principal), circular_id)
        if row is None:
            raise NotFound(f"no circular {circular_id}")
        return _plain(row)

    @http("GET", "/circulars/<string:circular_id>", roles=READERS,
          response=circular_schemas.CircularSchema, tags=("circulars",),
          summary="One circular with its content")
    def get_circular(self, request, circular_id):
        return self._circular(request, circular_id)

    @http("GET", "/circulars/<string:circular_id>.html", roles=READERS,
          query=circular_schemas.CircularRenderQuerySchema, produces="text/html; charset=utf-8",
          tags=("circulars",), summary="A circular as a self-contained page (zh-CN or en)")
    def get_circular_html(self, request, circular_id):
        return self._rendered(request, circular_id, "html")

    @http("GET", "/circulars/<string:circular_id>.csv", roles=READERS,
          query=circular_schemas.CircularRenderQuerySchema, produces="text/csv; charset=utf-8",
          tags=("circulars",), summary="A circular as CSV (UTF-8 with BOM, for Excel)")
    def get_circular_csv(self, request, circular_id):
        return self._rendered(request, circular_id, "csv")

    @http("GET", "/circulars/<string:circular_id>.xlsx", roles=READERS,
          query=circular_schemas.CircularRenderQuerySchema,
          produces=tabular.RENDERERS["xlsx"][1], tags=("circulars",),
          summary="A circular as an Excel workbook")
    def get_circular_xlsx(self, request, circular_id):
        return self._rendered(request, circular_id, "xlsx")

    def _rendered(self, request, circular_id: str, fmt: str):
        row = self._circular(request, circular_id)
        render, mimetype = tabular.RENDERERS[fmt]
        body = render(circular_doc.document(row, request.params["lang"]))
        if fmt == "html":
            return body
        name = f"circular-{row['kind']}-{row['period']}-v{row['version']}.{fmt}"
        return Response(body, status=200, content_type=mimetype, headers={
            "Content-Disposition": f'attachment; filename="{name}"'})

"""The operations wall's HTTP entrypoints and its timer, as a mixin of the assessment
service (issue 14; docs/DASHBOARD.md "The wall on the desk").

The service class also needs ``wall = wall.WallHub()``, ``dashboard_sources`` and
``dispatch`` (the dashboard's). The desk's page (web/desk/src/views/OpsWall.vue) signs in
with the desk's cookie session like every other desk call: no token is pasted or kept.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import eventlet
import jwt
from nameko.timer import timer
from werkzeug.wrappers import Response

from gridgov_common.kernel.area import TZ_NAME
from gridgov_common.kernel.errors import Conflict, NotFound, Unprocessable
from gridgov_common.kernel.roles import Role
from gridgov_common.platform.web import ACCESS_COOKIE, http
from services.assessment.dashboard import acknowledgements, gather, schemas, wall

# P6.2 the operations centre (district admin, ops viewer); P5.1.1 the town grid chief
# receives major-event alerts and sees the wall of the town (scoped views: district, town)
WALL_VIEWERS = {Role.DISTRICT_ADMIN, Role.OPS_VIEWER, Role.TOWN_GRID_CHIEF}
STREAM = "text/event-stream"
TREND_DAYS = 8  # today and the seven days before: today against yesterday, a week's bars


def _token(request) -> str:
    """The caller's access token (already verified by ``Http._authenticate``)."""
    header = request.headers.get("Authorization")
    if header is not None:
        return header.partition(" ")[2].strip()
    return request.cookies.get(ACCESS_COOKIE, "")


def _expires_at(token: str) -> float | None:
    try:  # verified a moment ago; only its end is read here
        return float(jwt.decode(token, options={"verify_signature": False})["exp"])
    except (jwt.PyJWTError, KeyError, TypeError, ValueError):
        return None


class WallRoutes:
    """``GET /dashboard/events`` (the stream), ``GET /dashboard/session`` and the timer."""

    def _wall_cases(self, scope: str):
        return gather.with_rankings(self.dispatch.case_statistics(scope))

    def _wall_trend(self, scope: str, today: bool = False) -> dict:
        """Cases reported on each local day and how many of them are closed by now
        (dispatch's ``kpis`` of one day: ``due`` and ``closed`` over the cases filed that
        day, docs/KPIS.md), oldest first: today alone, or the ``TREND_DAYS - 1`` days
        before it (the hub asks today's every tick and the others once a minute)."""
        local_today = datetime.now(ZoneInfo(TZ_NAME)).date()
        days = [local_today] if today else [
            local_today - timedelta(days=n) for n in range(TREND_DAYS - 1, 0, -1)]

        def one(day: date) -> dict | Exception:
            try:
                rows = self.dispatch.kpis(scope, day.isoformat(), day.isoformat(), "town",
                                          timeout=self.dispatch.limits["case_statistics"]
                                          )["rows"]
            except Exception as exc:  # noqa: BLE001  (raised below, once, not per day)
                return exc
            due = sum(int(r.get("due") or 0) for r in rows)
            # P5.4.6 on-time closure (按期结案率) of the day's cases: the towns' rates
            # weighted by their cases (dispatch gives rates, docs/KPIS.md)
            on_time = sum(float(r.get("on_time_closure_rate") or 0) * int(r.get("due") or 0)
                          for r in rows)
            return {"day": day.isoformat(), "reported": due,
                    "closed": sum(int(r.get("closed") or 0) for r in rows),
                    "on_time_rate": round(on_time / due, 4) if due else None}

        found = list(eventlet.GreenPool(len(days)).imap(one, days))
        failed = next((f for f in found if isinstance(f, Exception)), None)
        if failed is not None:  # the caller says the section is missing, as for the rest
            raise failed
        return {"days": found}

    @http("GET", "/dashboard/events", roles=WALL_VIEWERS, query=schemas.EventsQuerySchema,
          produces=STREAM, tags=("dashboard",),
          summary="The wall's live stream (server-sent events): the grids once, then only "
                  "what changed, major events at once")
    def dashboard_events(self, request):
        principal = request.principal
        sources = self.dashboard_sources
        token = _token(request)
        authorization = f"Bearer {token}"
        fetchers = {
            "departments": lambda: sources.departments(authorization),
            "cases": lambda: self._wall_cases(principal.scope),
            "trend": lambda: hub.trend(principal.scope, self._wall_trend),
        }
        if request.params["geometry"]:
            fetchers["grids"] = lambda: gather.in_scope(sources.grids(authorization),
                                                        principal.scope_code)
        hub = self.wall
        snapshot = gather.gather(principal.scope, fetchers)
        baseline = {**(snapshot["cases"] or {}), "trend": snapshot["trend"]}
        hub.learn_acknowledgements(acknowledgements.for_cases(self.db, [
            str(row["case_id"]) for row in hub._majors_in(baseline)]).values())
        subscriber = hub.subscribe(principal.scope, baseline)
        snapshot["majors"] = hub.major_events(principal.scope)
        expires_at = _expires_at(token)
        snapshot["expires_at"] = expires_at
        snapshot["heartbeat"] = hub.heartbeat
        # eventlet's WSGI server holds back writes under 4 KiB (minimum_chunk_size): each
        # message of this stream is to leave at once
        request.environ["eventlet.minimum_write_chunk_size"] = 0
        return Response(hub.stream(subscriber, snapshot, expires_at), status=200,
                        mimetype=STREAM,
                        headers={"Cache-Control": "no-store",
                                 # nginx: never buffer this answer (deploy/proxy/nginx.conf
                                 # says so for the location too)
                                 "X-Accel-Buffering": "no"})

    @http("GET", "/dashboard/session", roles=WALL_VIEWERS, query=schemas.DataQuerySchema,
          tags=("dashboard",),
          summary="Who the wall is signed in as, and until when (the page asks before it "
                  "reconnects its stream, so an ended session is renewed or said)")
    def dashboard_session(self, request):
        principal = request.principal
        return 200, {"Cache-Control": "no-store"}, {
            "sub": principal.sub, "role": str(principal.role), "scope": principal.scope,
            "expires_at": _expires_at(_token(request))}

    @http("POST", "/dashboard/major-events/<string:case_id>/acknowledge", roles=WALL_VIEWERS,
          body=schemas.AcknowledgeBodySchema, response=schemas.AcknowledgementSchema,
          status=201, tags=("dashboard",),
          summary="Acknowledge a major event (P5.2.7) for every wall: stored once with who "
                  "and when; every open wall removes its pin and says so")
    def acknowledge_major_event(self, request, case_id):
        principal = request.principal
        case = self._major_case(principal, case_id)
        if case["case_number"] != request.data["case_number"]:
            raise Unprocessable("the case number is not this case's",
                                fields={"case_number": ["not the number of this case"]})
        return acknowledgements.acknowledge(self.db, principal, case, request.data["note"])

    def _major_case(self, principal, case_id: str) -> dict:
        """The case as the caller may see it (dispatch's scope rules: another area's, or a
        sensitive one for a reader who may not, is unknown), if it is a major event; an id
        that is not a UUID is unknown too (as dispatch says of it)."""
        unknown = NotFound(f"no case {case_id} in your area", code="unknown_case",
                           fields={"case_id": ["unknown in your area"]})
        try:
            uuid.UUID(case_id)
        except ValueError:
            raise unknown from None
        try:
            case = self.dispatch.case(case_id, str(principal.role), principal.scope)
        except NotFound:
            raise unknown from None
        if not wall.is_major(case):
            raise Conflict(f"{case['case_number']} is not a major event", code="not_major",
                           fields={"case_id": ["not a major event (P5.2.7)"]})
        return case

    def _wall_acknowledgements(self, after_id: int) -> list[dict]:
        return acknowledgements.since(self.db, after_id)

    @timer(interval=1)
    def wall_tick(self):
        """Once a second: the acknowledgements and the figures of every watched scope to
        the walls (wall.py)."""
        self.wall.tick(self._wall_cases, self._wall_trend, self._wall_acknowledgements)

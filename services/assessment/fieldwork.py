"""Field-work entrypoints of the assessment service (a mixin, like ``dashboard.routes``):
patrols and tracks (P5.4.3, P5.1.2), compliance, meetings (P5.4.5) and work logs (P5.1.3,
P5.1.4). Thin: the logic lives in patrols, compliance, meetings and worklogs."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

from gridgov_common.kernel import scoping
from gridgov_common.kernel.roles import GRID_ROLES, STAFF_ROLES, Role
from gridgov_common.platform.settings import Setting
from gridgov_common.platform.timers import config_timer
from gridgov_common.platform.web import http
from services.assessment import compliance, meetings, patrols, schemas, worklogs
from services.assessment import settings as declared
from services.assessment.domain import meeting_rules

ADMIN = {Role.DISTRICT_ADMIN}
PATROLLERS = GRID_ROLES  # P5.4.3: every grid staff member patrols
COMPLIANCE_READERS = STAFF_ROLES - {Role.COMMUNITY_GRID_WORKER, Role.NEIGHBOURHOOD_GRID_WORKER}


def _plain(value: Any) -> Any:
    return json.loads(json.dumps(value, default=lambda v: v.isoformat()
                                 if hasattr(v, "isoformat") else str(v)))


def _scope(principal, asked: str | None) -> str:
    """The caller's scope, or a narrower one inside it."""
    if asked is None:
        return principal.scope_code
    principal.require_covers(asked, f"scope {asked}")
    return asked


class FieldWorkRoutes:
    """Needs ``self.db`` and ``self.relay`` (an OutboxRelay) from the service class."""

    def _setting(self, setting: Setting) -> Any:
        return setting.read(self.relay.container.config)

    # -- patrols (P5.4.3) ------------------------------------------------------------------

    @http("POST", "/patrols", roles=PATROLLERS, body=schemas.PatrolStartSchema,
          response=schemas.PatrolSchema, status=201, tags=("patrols",),
          summary="Start a patrol of the grids in the caller's scope (P5.4.3)")
    def start_patrol(self, request):
        started = request.data["started_at"] or datetime.now(UTC)
        return _plain(patrols.start(self.db, request.principal, started))

    @http("POST", "/patrols/<string:patrol_id>/stop", roles=PATROLLERS,
          body=schemas.PatrolStopSchema, response=schemas.PatrolSchema, tags=("patrols",),
          summary="Stop one's own patrol")
    def stop_patrol(self, request, patrol_id):
        stopped = request.data["stopped_at"] or datetime.now(UTC)
        return _plain(patrols.stop(self.db, request.principal, patrol_id, stopped))

    @http("POST", "/patrols/<string:patrol_id>/points", roles=PATROLLERS,
          body=schemas.TrackBatchSchema, response=schemas.UploadResultSchema,
          tags=("patrols",),
          summary="Upload a batch of GPS points (late, out of order and re-sent accepted)")
    def upload_points(self, request, patrol_id):
        max_age = self._setting(declared.TRACK_MAX_AGE_DAYS)
        return patrols.upload(self.db, request.principal, patrol_id,
                              request.data["points"], datetime.now(UTC), max_age)

    @http("GET", "/patrols/<string:patrol_id>/track", roles=STAFF_ROLES, tags=("patrols",),
          summary="A patrol's track, by recorded time (scoped; every read is audited)")
    def read_track(self, request, patrol_id):
        return _plain(patrols.read_track(self.db, request.principal, patrol_id))

    @http("GET", "/patrols/audit", roles=ADMIN, query=schemas.AuditQuerySchema,
          tags=("patrols",),
          summary="Who read which tracks, newest first (this read is audited too)")
    def track_audit(self, request):
        return _plain(patrols.read_audit(self.db, request.principal, request.params["limit"]))

    @http("PUT", "/patrol-grids", roles=ADMIN, body=schemas.GridCollectionSchema,
          tags=("patrols",),
          summary="Load grid polygons (the registry's /grids.geojson) for patrol checks")
    def load_grids(self, request):
        for feature in request.data["features"]:  # issue 10: its own district's grids only
            code = feature["properties"]["grid_code"]
            scoping.require(request.principal, code, f"grid {code}")
        return {"grids": patrols.replace_grids(self.db, request.data["features"])}

    @config_timer(declared.TRACK_PURGE_SECONDS)
    def purge_tracks(self):
        """Retention of location data (P5.4.4)."""
        days = self._setting(declared.TRACK_RETENTION_DAYS)
        patrols.purge(self.db, datetime.now(UTC), days)
        self.db.commit()
        patrols.purge_audit(self.db, self.track_audit_retention)
        self.db.commit()

    # -- compliance ------------------------------------------------------------------------

    @http("GET", "/compliance/patrols", roles=COMPLIANCE_READERS,
          query=schemas.PatrolComplianceQuerySchema, tags=("compliance",),
          summary="Per person: patrolled, share of working time inside own grids "
                  "(P5.4.3), instructors' monthly patrol (P5.1.2)")
    def patrol_compliance(self, request):
        day: date = request.params["date"]
        scope = _scope(request.principal, request.params["scope"])
        rows = compliance.patrol_day(
            self.db, day, scope, self.dispatch.calendar().is_workday(day),
            self._setting(declared.PATROL_MAX_GAP_SECONDS))
        return _plain({"date": day, "scope": scope, "people": rows})

    @http("GET", "/compliance/meetings", roles=COMPLIANCE_READERS,
          query=schemas.MeetingComplianceQuerySchema, tags=("compliance",),
          summary="Meetings held against the P5.4.5 frequency rules in a month")
    def meeting_compliance(self, request):
        year, month = (int(x) for x in request.params["period"].split("-"))
        scope = _scope(request.principal, request.params["scope"])
        # the month's last day: month rules judge that month, quarter rules its quarter
        monthly = meeting_rules.RULE_BY_KIND["community_chief"]
        bounds = meeting_rules.period_of(monthly, date(year, month, 1))
        rows = meetings.standing(self.db, scope, bounds[1])
        return _plain({"period": request.params["period"], "scope": scope, "people": rows})

    # -- meetings (P5.4.5) -----------------------------------------------------------------

    @http("POST", "/meetings", roles=GRID_ROLES, body=schemas.MeetingCreateSchema, status=201,
          tags=("meetings",), summary="Record a meeting (type, date, attendees, minutes)")
    def record_meeting(self, request):
        return _plain(meetings.record(self.db, request.principal, request.data))

    @http("GET", "/meetings", roles=STAFF_ROLES, query=schemas.MeetingListQuerySchema,
          tags=("meetings",), summary="Meetings convened in the caller's scope")
    def list_meetings(self, request):
        return _plain(meetings.list_meetings(self.db, request.principal,
                                             request.params["since"], request.params["until"]))

    @config_timer(declared.MEETING_REMINDER_SECONDS)
    def remind_meetings(self):
        """P5.4.5: remind people whose period ends soon without enough meetings."""
        today = datetime.now(compliance.TZ).date()
        meetings.remind(self.db, today, self._setting(declared.MEETING_REMINDER_DAYS))
        self.db.commit()  # the commit wakes the relay

    # -- work logs (P5.1.3, P5.1.4) --------------------------------------------------------

    @http("POST", "/work-logs", roles=worklogs.AUTHORS, body=schemas.WorkLogCreateSchema,
          status=201, tags=("work logs",), summary="A grid worker's daily log (P5.1.4)")
    def write_work_log(self, request):
        return _plain(worklogs.write(self.db, request.principal, request.data))

    @http("GET", "/work-logs", roles=worklogs.READERS, query=schemas.WorkLogQuerySchema,
          tags=("work logs",), summary="Work logs: own (workers) or in scope (chiefs)")
    def list_work_logs(self, request):
        return _plain(worklogs.visible(self.db, request.principal, request.params))

    @http("POST", "/work-logs/<string:log_id>/review", roles={Role.COMMUNITY_GRID_CHIEF},
          body=schemas.WorkLogReviewSchema, tags=("work logs",),
          summary="The community grid chief reviews a log (P5.1.3)")
    def review_work_log(self, request, log_id):
        return _plain(worklogs.review(self.db, request.principal, log_id, request.data,
                                      datetime.now(UTC)))

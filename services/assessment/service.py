"""The assessment service: Patrols, meetings, KPIs, circulars and the operations dashboard
(P5.3.5, P5.4.3, P5.4.5, P5.4.6).

The district operations centre's dashboard (``dashboard/``, docs/DASHBOARD.md) — grid map
coloured by open and overdue cases, live feed, departments, town ranking, queues and dead
letters, service health — and field work (``fieldwork.py``, docs/FIELD-WORK.md): patrols
and GPS tracks, patrol and meeting compliance, meeting reminders, work logs. KPIs and
circulars come next.
"""

# modules, not classes: `nameko run` starts every visible class that has entrypoints
from gridgov_common.platform import audit_retention, outbox
from gridgov_common.platform import service as platform
from services.assessment import (
    app_routes,
    appraisal_routes,
    circular_routes,
    dispatch_client,
    fieldwork,
    registry_client,
    registry_consumers,
)
from services.assessment import settings as declared
from services.assessment.dashboard import routes as dashboard_routes
from services.assessment.dashboard import sources as dashboard_deps
from services.assessment.dashboard import wall, wall_routes


class AssessmentService(platform.PlatformService, dashboard_routes.DashboardRoutes,
                        fieldwork.FieldWorkRoutes, circular_routes.CircularRoutes,
                        registry_consumers.RegistryConsumers,
                        appraisal_routes.AppraisalRoutes, app_routes.AppRoutes,
                        app_routes.DeskRoutes, wall_routes.WallRoutes):
    name = "assessment"
    title = "gridgov assessment"
    description = (
        "Patrols, meetings, KPIs, circulars and the operations dashboard (P5.3.5, P5.4.3, "
        "P5.4.5, P5.4.6)."
    )
    declared_settings = declared.SETTINGS

    dashboard_sources = dashboard_deps.DashboardSources()
    wall = wall.WallHub()  # the operations wall's open streams (dashboard/wall.py)
    relay = outbox.OutboxRelay()  # meeting reminders, circulars (P5.3.5) through the outbox
    # one client per service called (docs/RPC-CONTRACT.md): circulars' figures and names,
    # KPIs and names of the half-year assessment, the working calendar, the dashboard's
    # statistics, grid outlines for patrol checks
    dispatch = dispatch_client.Dispatch()
    registry = registry_client.Registry()
    # P5.4.4: who read whose track is kept ≥ 183 days; a shorter setting stops the start
    track_audit_retention = audit_retention.AuditRetention(
        declared.TRACK_AUDIT_RETENTION_DAYS)

"""The assessment service: Patrols, meetings, KPIs, circulars and the operations dashboard
(P5.3.5, P5.4.3, P5.4.5, P5.4.6).

The district operations centre's dashboard (``dashboard/``, docs/DASHBOARD.md) — grid map
coloured by open and overdue cases, live feed, departments, town ranking, queues and dead
letters, service health — and field work (``fieldwork.py``, docs/FIELD-WORK.md): patrols
and GPS tracks, patrol and meeting compliance, meeting reminders, work logs. KPIs and
circulars come next.
"""

# modules, not classes: `nameko run` starts every visible class that has entrypoints
from gridgov_common import audit_retention, outbox, platform
from services.assessment import (
    appraisal_names,
    appraisal_routes,
    circular_routes,
    fieldwork,
    registry_consumers,
    work_calendar,
)
from services.assessment.dashboard import routes as dashboard_routes
from services.assessment.dashboard import sources as dashboard_deps


class AssessmentService(platform.PlatformService, dashboard_routes.DashboardRoutes,
                        fieldwork.FieldWorkRoutes, circular_routes.CircularRoutes,
                        registry_consumers.RegistryConsumers,
                        appraisal_routes.AppraisalRoutes):
    name = "assessment"
    title = "gridgov assessment"
    description = (
        "Patrols, meetings, KPIs, circulars and the operations dashboard (P5.3.5, P5.4.3, "
        "P5.4.5, P5.4.6)."
    )

    dashboard_sources = dashboard_deps.DashboardSources()
    dashboard_dispatch = dashboard_deps.DispatchStatistics()  # RpcProxy("dispatch")
    relay = outbox.OutboxRelay()  # meeting reminders, circulars (P5.3.5) through the outbox
    circular_figures = circular_routes.DispatchFigures()  # RpcProxy("dispatch"), circulars
    circular_names = circular_routes.RegistryNames()  # RpcProxy("registry"), their names
    dispatch_calendar = work_calendar.DispatchCalendar()  # deadlines' working days (P5.4.3)
    registry_geometry = registry_consumers.RegistryGeometry()  # RpcProxy("registry"), grids
    appraisal_kpis = appraisal_routes.DispatchKpis()  # RpcProxy("dispatch"), P5.4.6
    appraisal_names = appraisal_names.RegistryNames()  # RpcProxy("registry"), report names
    # P5.4.4: who read whose track is kept ≥ 183 days; a shorter setting stops the start
    track_audit_retention = audit_retention.AuditRetention("TRACK_AUDIT_RETENTION_DAYS")

"""The assessment service: Patrols, meetings, KPIs, circulars and the operations dashboard
(P5.3.5, P5.4.3, P5.4.5, P5.4.6).

The district operations centre's dashboard (``dashboard/``, docs/DASHBOARD.md) — grid map
coloured by open and overdue cases, live feed, departments, town ranking, queues and dead
letters, service health — and field work (``fieldwork.py``, docs/FIELD-WORK.md): patrols
and GPS tracks, patrol and meeting compliance, meeting reminders, work logs. KPIs and
circulars come next.
"""

# modules, not classes: `nameko run` starts every visible class that has entrypoints
from gridgov_common import outbox, platform
from services.assessment import fieldwork
from services.assessment.dashboard import routes as dashboard_routes
from services.assessment.dashboard import sources as dashboard_deps


class AssessmentService(platform.PlatformService, dashboard_routes.DashboardRoutes,
                        fieldwork.FieldWorkRoutes):
    name = "assessment"
    title = "gridgov assessment"
    description = (
        "Patrols, meetings, KPIs, circulars and the operations dashboard (P5.3.5, P5.4.3, "
        "P5.4.5, P5.4.6)."
    )

    dashboard_sources = dashboard_deps.DashboardSources()
    dashboard_dispatch = dashboard_deps.DispatchStatistics()  # RpcProxy("dispatch")
    relay = outbox.OutboxRelay()  # field work (fieldwork.py): assessment.meeting.reminder

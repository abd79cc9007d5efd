"""The assessment service: Patrols, meetings, KPIs, circulars and the operations dashboard
(P5.3.5, P5.4.3, P5.4.5, P5.4.6).

Skeleton: health, readiness, metrics and OpenAPI only; its domain comes in a later issue.
"""

from gridgov_common import platform  # module, so `nameko run` sees one service class


class AssessmentService(platform.PlatformService):
    name = "assessment"
    title = "gridgov assessment"
    description = (
        "Patrols, meetings, KPIs, circulars and the operations dashboard (P5.3.5, P5.4.3, "
        "P5.4.5, P5.4.6)."
    )

"""The dispatch service: Triage, town whistle to departments, deadlines, escalation and
electronic case files (P2.2, P5.3).

Skeleton: health, readiness, metrics and OpenAPI only; its domain comes in a later issue.
"""

from gridgov_common import platform  # module, so `nameko run` sees one service class


class DispatchService(platform.PlatformService):
    name = "dispatch"
    title = "gridgov dispatch"
    description = (
        "Triage, town whistle to departments, deadlines, escalation and electronic case "
        "files (P2.2, P5.3)."
    )

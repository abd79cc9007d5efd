"""The notify service: Every message to a person or a department's system (P6.2).

Skeleton: health, readiness, metrics and OpenAPI only; its domain comes in a later issue.
"""

from gridgov_common import platform  # module, so `nameko run` sees one service class


class NotifyService(platform.PlatformService):
    name = "notify"
    title = "gridgov notify"
    description = (
        "Every message to a person or a department's system (P6.2)."
    )

"""The notify service: Every message to a person or a department's system (P6.2).

Skeleton: health, readiness, metrics and OpenAPI only; its domain comes in a later issue.
"""

from gridgov_common.platform import PlatformService


class NotifyService(PlatformService):
    name = "notify"
    title = "gridgov notify"
    description = (
        "Every message to a person or a department's system (P6.2)."
    )

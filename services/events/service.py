"""The events service: Case intake from grid workers' app, hotline systems and Open311 clients
(P5.3.1).

Skeleton: health, readiness, metrics and OpenAPI only; its domain comes in a later issue.
"""

from gridgov_common.platform import PlatformService


class EventsService(PlatformService):
    name = "events"
    title = "gridgov events"
    description = (
        "Case intake from grid workers' app, hotline systems and Open311 clients "
        "(P5.3.1)."
    )

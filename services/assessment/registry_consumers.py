"""Consumers of the registry's grid and staff events (a mixin of ``AssessmentService``).
Thin: the logic is in ``registry_sync``; each queue is the assessment's own."""

from __future__ import annotations

from gridgov_common.contract import EVENTS_EXCHANGE
from gridgov_common.platform.messaging import consume_contract
from services.assessment import registry_sync

GRID_CHANGED = "registry.grid.changed"
STAFF_CHANGED = "registry.staff.changed"






class RegistryConsumers:
    """Needs ``self.db`` and ``self.registry`` (registry_client)."""

    @consume_contract(registry_sync.GRIDS_QUEUE, EVENTS_EXCHANGE, [GRID_CHANGED],
                      message_types=[GRID_CHANGED])
    def take_grid_changed(self, envelope):
        """P5.4.3: patrol checks use the registry's current grid outlines."""
        registry_sync.apply_grid_changed(self.db, envelope, self.registry.grid_geometry)

    @consume_contract(registry_sync.STAFF_QUEUE, EVENTS_EXCHANGE, [STAFF_CHANGED],
                      message_types=[STAFF_CHANGED])
    def take_staff_changed(self, envelope):
        """P5.4.3/P5.4.5: every active staff member with a subject is judged."""
        registry_sync.apply_staff_changed(self.db, envelope)

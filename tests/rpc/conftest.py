"""The RPC contract's integration fixtures: the REAL registry with the demo district and the
REAL dispatch with seeded cases, as the dashboard tests start them."""

from tests.assessment_dashboard.conftest import (  # noqa: F401  (fixtures, used by name)
    demo_district,
    dispatch,
    registry,
    registry_port,
    seeded_cases,
)

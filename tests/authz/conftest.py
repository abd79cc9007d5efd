"""Fixtures of the authorisation tests: the hand-kept matrix, a token of every role, and
the five real services started one at a time on the real broker and database."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml

from gridgov_common.kernel import auth
from gridgov_common.kernel.roles import Role
from services.assessment.service import AssessmentService
from services.dispatch.service import DispatchService
from services.events.service import EventsService
from services.notify.service import NotifyService
from services.registry.service import RegistryService

MATRIX_FILE = Path(__file__).with_name("matrix.yaml")
SERVICES = {"registry": RegistryService, "events": EventsService,
            "dispatch": DispatchService, "assessment": AssessmentService,
            "notify": NotifyService}
# a scope of the right level for every role (codes of the demo district's first grid)
SCOPES = {
    Role.TOWN_GRID_CHIEF: "town:320505001",
    Role.GRID_INSTRUCTOR: "community:320505001001",
    Role.COMMUNITY_GRID_CHIEF: "community:320505001001",
    Role.COMMUNITY_GRID_WORKER: "community:320505001001",
    Role.NEIGHBOURHOOD_GRID_WORKER: "grid:320505001001001",
    Role.DEPARTMENT_OFFICER: "department:fire",
    Role.DISTRICT_ADMIN: "district:320505",
    Role.OPS_VIEWER: "district:320505",
}
# the same roles in a second district, 110105, beside 320505 (issue 10: nothing crosses);
# a department scope names no district, so department officers have no second-district twin
OTHER_DISTRICT = "110105"
OTHER_SCOPES = {role: scope.replace(":320505", f":{OTHER_DISTRICT}")
                for role, scope in SCOPES.items() if role != Role.DEPARTMENT_OFFICER}
OPEN311_KEY = "authz-open311-key-0123456789"


def load_matrix() -> dict[str, dict[str, frozenset[str] | str]]:
    """{service: {"METHOD /path": "public" | "session" | frozenset(role values)}}, platform routes
    merged into every service."""
    raw = yaml.safe_load(MATRIX_FILE.read_text())
    names = raw["roles"]
    every = frozenset(r.value for r in Role)

    def parse(value):
        if value in ("public", "session"):  # session: the refresh cookie (issue 12)
            return value
        if value == "ALL":
            return every
        return frozenset(names[abbrev] for abbrev in value)

    return {svc: {route: parse(v) for route, v in {**raw["platform"], **routes}.items()}
            for svc, routes in raw["services"].items()}


@pytest.fixture(scope="session")
def matrix():
    return load_matrix()


@pytest.fixture
def bearer(platform_secrets):
    """Authorization headers: valid of each role, expired, forged, and none."""
    secret = platform_secrets["JWT_SECRET"]

    def header(token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    valid = {role.value: header(auth.mint(secret, f"authz-{role.value}", role.value,
                                          SCOPES[role]))
             for role in Role}
    expired = header(auth.mint(secret, "authz-expired", "district_admin", "district:320505",
                               ttl_seconds=600, now=time.time() - 3600))
    forged = header(auth.mint("another-secret-of-at-least-32-bytes!!", "authz-forged",
                              "district_admin", "district:320505"))
    other = {role.value: header(auth.mint(secret, f"authz-other-{role.value}", role.value,
                                          scope))
             for role, scope in OTHER_SCOPES.items()}
    return {"valid": valid, "expired": expired, "forged": forged, "other_district": other}


def _truncate_all(engine) -> None:
    """Empty every service's tables (the audit log keeps its rows: triggers refuse)."""
    with engine.begin() as conn:
        rows = conn.execute(sa.text(
            "SELECT schemaname, tablename FROM pg_tables WHERE schemaname = ANY(:s) "
            "AND tablename NOT IN ('alembic_version', 'audit_log', 'track_audit', "
            "'departments')"), {"s": list(SERVICES)}).all()
        if rows:
            names = ", ".join(f'"{s}"."{t}"' for s, t in rows)
            conn.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


@pytest.fixture
def start_service(container_factory, service_config, db_engine):
    """Start one real service by name, with rate limits off (the walk calls each intake
    route 11 times with one subject; tests/test_ratelimit.py tests the limits)."""

    # each service is given only keys it declares (an unknown one stops its start)
    own = {"events": {"OPEN311_API_KEYS": OPEN311_KEY, "REGISTRY_RPC_TIMEOUT": 2,
                      "RATE_LIMIT_INTAKE_RATE": 0},
           "registry": {"RATE_LIMIT_LOOKUP_RATE": 0, "RATE_LIMIT_IMPORT_RATE": 0}}

    def start(name: str, **extra):
        _truncate_all(db_engine)
        config = service_config(name, **{**own.get(name, {}), **extra})
        container = container_factory(SERVICES[name], config)
        container.start()
        return container

    return start

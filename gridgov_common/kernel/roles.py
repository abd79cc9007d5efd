"""Roles and scopes shared by every service (P5.0).

The policy's five grid roles, plus department officers (P2.2 "departments report in"),
the district admin (the Social Affairs Bureau, which issues grid codes, P4.1) and a
read-only ops viewer for the operations centre (P6.2).
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    # P5.0: town grid chief → grid instructor → community grid chief → community grid
    # worker → neighbourhood grid worker
    TOWN_GRID_CHIEF = "town_grid_chief"
    GRID_INSTRUCTOR = "grid_instructor"
    COMMUNITY_GRID_CHIEF = "community_grid_chief"
    COMMUNITY_GRID_WORKER = "community_grid_worker"
    NEIGHBOURHOOD_GRID_WORKER = "neighbourhood_grid_worker"
    DEPARTMENT_OFFICER = "department_officer"
    DISTRICT_ADMIN = "district_admin"
    OPS_VIEWER = "ops_viewer"


class ScopeLevel(StrEnum):
    DISTRICT = "district"
    TOWN = "town"
    COMMUNITY = "community"
    GRID = "grid"
    DEPARTMENT = "department"


# Which scope level each role holds.  P5.1.2: one grid instructor per community;
# P5.1.3/P5.1.4: community chief and community workers work for a community;
# P5.1.5: neighbourhood grid workers work in one grid.
ROLE_SCOPE: dict[Role, ScopeLevel] = {
    Role.TOWN_GRID_CHIEF: ScopeLevel.TOWN,
    Role.GRID_INSTRUCTOR: ScopeLevel.COMMUNITY,
    Role.COMMUNITY_GRID_CHIEF: ScopeLevel.COMMUNITY,
    Role.COMMUNITY_GRID_WORKER: ScopeLevel.COMMUNITY,
    Role.NEIGHBOURHOOD_GRID_WORKER: ScopeLevel.GRID,
    Role.DEPARTMENT_OFFICER: ScopeLevel.DEPARTMENT,
    Role.DISTRICT_ADMIN: ScopeLevel.DISTRICT,
    Role.OPS_VIEWER: ScopeLevel.DISTRICT,
}

# Code lengths of the nested administrative codes (GB/T 2260 + statistical division
# codes; grid code = community code + 3 digits, P4.1).
CODE_LENGTH: dict[ScopeLevel, int] = {
    ScopeLevel.DISTRICT: 6,
    ScopeLevel.TOWN: 9,
    ScopeLevel.COMMUNITY: 12,
    ScopeLevel.GRID: 15,
}

GRID_ROLES = frozenset({
    Role.TOWN_GRID_CHIEF, Role.GRID_INSTRUCTOR, Role.COMMUNITY_GRID_CHIEF,
    Role.COMMUNITY_GRID_WORKER, Role.NEIGHBOURHOOD_GRID_WORKER,
})
ALL_ROLES = frozenset(Role)
STAFF_ROLES = GRID_ROLES | {Role.DISTRICT_ADMIN}

# P5.2.5: special-group membership (community corrections, released prisoners, drug users,
# mental illness at risk…) is highly sensitive personal data.  The community grid chief and
# the grid instructor organise the assistance; the district admin oversees it.  One list for
# every service: the registry's ``unmask=special_groups`` and the visibility of cases whose
# subcategory reveals a special group (``sensitive`` in the events catalogue) both read it.
SPECIAL_GROUP_READERS = frozenset({
    Role.COMMUNITY_GRID_CHIEF, Role.GRID_INSTRUCTOR, Role.DISTRICT_ADMIN,
})

"""Who may see which personal field (P5.4.4; PIPL Art. 28/51; GB/T 35273 §7.1–7.2).

Least privilege: ID numbers and phones are masked for everyone by default; the grid
staff who serve a household (and the district admin) may unmask them with a stated
reason.  Special-group membership (P5.2.5: community corrections, released prisoners,
drug users, mental illness at risk…) is visible only to the community grid chief, the
grid instructor and the district admin.  Ops viewers and department officers never see
residents through the registry.
"""

from __future__ import annotations

from gridgov_common.kernel.auth import Principal
from gridgov_common.kernel.errors import Forbidden, Unprocessable
from gridgov_common.kernel.roles import SPECIAL_GROUP_READERS, Role

VIEW_RESIDENTS = frozenset({
    Role.TOWN_GRID_CHIEF, Role.GRID_INSTRUCTOR, Role.COMMUNITY_GRID_CHIEF,
    Role.COMMUNITY_GRID_WORKER, Role.NEIGHBOURHOOD_GRID_WORKER, Role.DISTRICT_ADMIN,
})
EDIT_RESIDENTS = frozenset({
    Role.COMMUNITY_GRID_CHIEF, Role.COMMUNITY_GRID_WORKER, Role.NEIGHBOURHOOD_GRID_WORKER,
    Role.DISTRICT_ADMIN,
})
# P5.1.3/P5.1.5: the staff who "know every household" need the contact details.
UNMASK_CONTACT = frozenset({
    Role.COMMUNITY_GRID_CHIEF, Role.COMMUNITY_GRID_WORKER, Role.NEIGHBOURHOOD_GRID_WORKER,
    Role.DISTRICT_ADMIN,
})
# P5.2.5: highly sensitive; the community chief and instructor organise assistance.  The
# one list shared with the visibility of sensitive cases (events, dispatch).
SEE_SPECIAL_GROUPS = SPECIAL_GROUP_READERS
# masked exports for the staff who keep the grid's ledger (P5.4.4 一个网格一本台帐)
EXPORT_RESIDENTS = frozenset({
    Role.TOWN_GRID_CHIEF, Role.COMMUNITY_GRID_CHIEF, Role.DISTRICT_ADMIN,
})
UNMASKABLE_FIELDS = frozenset({"id_number", "phone"})
MIN_REASON_LENGTH = 4


def check_unmask(principal: Principal, fields: set[str], reason: str | None) -> None:
    """Refuse an unmask request that names unknown fields, lacks a reason or the role."""
    unknown = fields - UNMASKABLE_FIELDS - {"special_groups"}
    if unknown:
        raise Unprocessable("unknown fields to unmask", fields={"unmask": sorted(unknown)})
    if not fields:
        return
    if not reason or len(reason.strip()) < MIN_REASON_LENGTH:
        raise Unprocessable("unmasking personal data needs a reason",
                            fields={"reason": ["state why you need it (P5.4.4)"]})
    if fields & UNMASKABLE_FIELDS and principal.role not in UNMASK_CONTACT:
        raise Forbidden(f"role {principal.role} may not unmask contact data")
    if "special_groups" in fields and principal.role not in SEE_SPECIAL_GROUPS:
        raise Forbidden(f"role {principal.role} may not see special-group membership")

"""Which cases the public may see (Open311 reads, public photos), and which sensitive
cases staff may see (P5.2.5, below).

One definition, used by every public read, because P5.4.4 ("personal privacy must never
leak") is only as strong as its weakest query.  A case is public when all hold:

- it is not marked private;
- it is not about a named resident (``resident_id`` set: reported on someone's behalf);
- its subcategory is one the public may report (an Open311 service): disputes,
  special groups, livelihood help and major events are never public.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from gridgov_common.kernel.auth import Principal
from gridgov_common.kernel.roles import SPECIAL_GROUP_READERS, ScopeLevel
from services.events.domain.catalogue_version import Catalogue
from services.events.models import cases


def public_conditions(catalogue: Catalogue) -> list[sa.ColumnElement[bool]]:
    """The WHERE clauses of a public read, against the current catalogue version."""
    return [cases.c.private.is_(False), cases.c.resident_id.is_(None),
            cases.c.subcategory.in_(catalogue.public_codes)]


# --- staff reads of special-group cases (P5.2.5) -----------------------------------------
#
# A case whose subcategory is ``sensitive`` in the catalogue reveals that a resident belongs
# to a special group.  Staff see it only if their role may see special groups
# (``SPECIAL_GROUP_READERS``, the registry's ``unmask=special_groups`` list) and it lies in
# their scope; a department officer only if its department is assigned to it.  Everyone
# else is answered as if it did not exist (404), on every read: case, list, photos, CAP.

def may_see_special_groups(principal: Principal) -> bool:
    return principal.role in SPECIAL_GROUP_READERS


def staff_conditions(principal: Principal, catalogue: Catalogue,
                     ) -> list[sa.ColumnElement[bool]]:
    """The WHERE clauses, besides the scope, of the cases ``principal`` may list."""
    if may_see_special_groups(principal):
        return []
    return [cases.c.subcategory.not_in(catalogue.sensitive_codes)]


def may_see_case(principal: Principal, case: dict[str, Any], catalogue: Catalogue) -> bool:
    """False for a sensitive case the principal may not see (its scope is checked apart)."""
    if not catalogue.is_sensitive(case["subcategory"]):
        return True
    if principal.scope_level == ScopeLevel.DEPARTMENT:
        return principal.scope_code in (case.get("departments") or [])
    return may_see_special_groups(principal)

"""Which cases the public may see (Open311 reads, public photos).

One definition, used by every public read, because P5.4.4 ("personal privacy must never
leak") is only as strong as its weakest query.  A case is public when all hold:

- it is not marked private;
- it is not about a named resident (``resident_id`` set: reported on someone's behalf);
- its subcategory is one the public may report (an Open311 service): disputes,
  special groups, livelihood help and major events are never public.
"""

from __future__ import annotations

import sqlalchemy as sa

from services.events.domain.catalogue import PUBLIC
from services.events.models import cases

PUBLIC_CODES = tuple(sub.code for sub in PUBLIC)


def public_conditions() -> list[sa.ColumnElement[bool]]:
    return [cases.c.private.is_(False), cases.c.resident_id.is_(None),
            cases.c.subcategory.in_(PUBLIC_CODES)]

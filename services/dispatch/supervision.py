"""The supervision cards (督办, P6.2) as people read them (issue 14): every escalation the
timer raised (``escalating``) on cases of the caller's area, newest first, with what
happened since — the case's state and the escalated assignment's — so a town grid chief
follows up what was issued.  Read-only: cards are raised by the timer against the
versioned ladder (P6.2, P5.3.3), never typed in by hand.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from gridgov_common import department_register
from gridgov_common.roles import Role
from services.dispatch import queries
from services.dispatch.master_data import subcategory_names
from services.dispatch.models import assignments, cases, departments, escalations

# P6.2: the staff who receive and follow up cards over an area (town whistles, P5.1.1;
# community takes what stays local, P5.1.3), the district and the operations centre
READERS = frozenset({Role.TOWN_GRID_CHIEF, Role.COMMUNITY_GRID_CHIEF, Role.DISTRICT_ADMIN,
                     Role.OPS_VIEWER})
NO_CARD = "none"  # the query's word for escalations without a card (unroutable ones)


def list_cards(session, principal, *, kind: str | None = None, card: str | None = None,
               limit: int = 100) -> list[dict[str, Any]]:
    """Escalations on cases in the caller's area (grid codes nest, P4.1) that it may see
    (a sensitive case only a special-group reader, P5.2.5), newest first."""
    e = escalations.c
    query = (sa.select(e.id, e.case_id, e.assignment_id, e.kind, e.level, e.card,
                       e.target_role, e.target_scope, e.department, e.reason, e.due_at, e.at,
                       cases.c.case_number, cases.c.state.label("case_state"),
                       cases.c.grid_code, cases.c.work_category, cases.c.subcategory,
                       assignments.c.state.label("assignment_state"),
                       assignments.c.reported_at)
             .join(cases, cases.c.case_id == e.case_id)
             .outerjoin(assignments, assignments.c.assignment_id == e.assignment_id)
             .where(cases.c.grid_code.startswith(principal.scope_code, autoescape=True),
                    queries.sensitive_filter(principal))
             .order_by(e.at.desc(), e.id.desc()).limit(limit))
    if kind:
        query = query.where(e.kind == kind)
    if card == NO_CARD:
        query = query.where(e.card.is_(None))
    elif card:
        query = query.where(e.card == card)
    rows = [dict(row) for row in session.execute(query).mappings()]
    subcategories = subcategory_names(session, [row["subcategory"] for row in rows])
    names = department_register.names_both(
        session, departments, {row["department"] for row in rows if row["department"]})
    for row in rows:
        row["subcategory_name"] = subcategories.get(row["subcategory"])
        known = names.get(row["department"])
        row["department_name"] = {"zh-CN": known[0], "en": known[1]} if known else None
    return rows

"""The supervision cards (督办, P6.2) as people read them (issue 14): every escalation the
timer raised (``escalating``) on cases of the caller's area, newest first, with what
happened since — the case's state and the escalated assignment's — so a town grid chief
follows up what was issued.  The timer raises cards against the versioned ladder (P6.2,
P5.3.3); the district admin and a town grid chief over the case's area may also issue one
by hand (``issue_card``, kind ``manual``): stored, recorded in the case file under the
issuer's name and announced as ``dispatch.escalation`` through the outbox exactly as the
timer's, so notify tells the same people the same way.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from gridgov_common.contract.cases import AssignmentRole, Card, EscalationKind
from gridgov_common.kernel.area import community_of, district_of
from gridgov_common.kernel.errors import Conflict, Unprocessable
from gridgov_common.kernel.roles import Role
from gridgov_common.platform import department_register
from services.dispatch import config_store, escalating, queries
from services.dispatch.domain.escalation import Escalation
from services.dispatch.domain.states import ACTIVE_ASSIGNMENT_STATES, OPEN_STATES, HandlingLevel
from services.dispatch.master_data import subcategory_names
from services.dispatch.models import assignments, cases, departments, escalations

# P6.2: the staff who receive and follow up cards over an area (town whistles, P5.1.1;
# community takes what stays local, P5.1.3), the district and the operations centre
READERS = frozenset({Role.TOWN_GRID_CHIEF, Role.COMMUNITY_GRID_CHIEF, Role.DISTRICT_ADMIN,
                     Role.OPS_VIEWER})
NO_CARD = "none"  # the query's word for escalations without a card (unroutable ones)
# P6.2 督办 by hand: the district centre and the town (the town whistles, P2.2) supervise
# the cases of their area; the community is supervised, it does not supervise
ISSUERS = frozenset({Role.TOWN_GRID_CHIEF, Role.DISTRICT_ADMIN})


def list_cards(session, principal, *, kind: str | None = None, card: str | None = None,
               limit: int = 100, case_id: str | None = None) -> list[dict[str, Any]]:
    """Escalations on cases in the caller's area (grid codes nest, P4.1) that it may see
    (a sensitive case only a special-group reader, P5.2.5), newest first."""
    e = escalations.c
    query = (sa.select(e.id, e.case_id, e.assignment_id, e.kind, e.level, e.card,
                       e.target_role, e.target_scope, e.department, e.reason, e.due_at, e.at,
                       e.issued_by, e.issued_role,
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
    if case_id:
        query = query.where(e.case_id == case_id)
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


def may_issue(principal, case: dict[str, Any]) -> bool:
    """The caller may issue a card on this case now: an issuer role (the case is in its
    area: the caller found it) and a case still being worked on (P6.2: one supervises open
    work, not a closed, cancelled, suspended or merged case)."""
    return principal.role in ISSUERS and case["state"] in OPEN_STATES


def issue_card(session, principal, case_id: str, body: dict[str, Any],
               now: datetime | None = None) -> dict[str, Any]:
    """Issue a card by hand on a case of the caller's area; the card as ``list_cards``
    reads it.  Refused (409) on a case that is not open, (422) for a department that has
    no active assignment on it."""
    now = now or datetime.now(UTC)
    case = queries.visible_case(session, principal, case_id, lock=True)
    if not may_issue(principal, case):
        raise Conflict(f"no supervision card on a case that is {case['state']}",
                       code="case_not_open", fields={"case_id": [f"case is {case['state']}"]})
    assignment = _addressed_assignment(session, case_id, body.get("department"))
    role, scope = _handling_staff(case)
    escalation = Escalation(
        case["case_id"], case["case_number"],
        str(assignment["assignment_id"]) if assignment else None,
        assignment["department"] if assignment else None, EscalationKind.MANUAL,
        _next_number(session, case_id), Card(body["card"]), role, scope,
        body["reason"].strip(), now, None,
        case["escalation_version"] or config_store.escalation_policy(session).version)
    escalating.record(session, case, escalation, now, issuer=principal)
    cards = list_cards(session, principal, kind=EscalationKind.MANUAL.value, case_id=case_id,
                       limit=1)
    return cards[0]  # the newest hand-issued card of the case: this one (the case is locked)


def _addressed_assignment(session, case_id: str, department: str | None
                          ) -> dict[str, Any] | None:
    """The active assignment the card is about: the named department's, else the lead's
    (the department answers for the case, P2.2), else none (handled by grid staff)."""
    rows = session.execute(sa.select(assignments).where(
        assignments.c.case_id == case_id,
        assignments.c.state.in_([s.value for s in ACTIVE_ASSIGNMENT_STATES]))
    ).mappings().all()
    if department:
        found = [dict(r) for r in rows if r["department"] == department]
        if not found:
            raise Unprocessable(f"{department} has no active assignment on this case",
                                code="no_active_assignment",
                                fields={"department": ["no active assignment on this case"]})
        return found[0]
    leads = [dict(r) for r in rows if r["role"] == AssignmentRole.LEAD.value]
    return leads[0] if leads else None


def _handling_staff(case: dict[str, Any]) -> tuple[Role, str]:
    """Whom the card goes to besides the department: the grid staff of the case's handling
    level (a grid-level case: its community grid chief, who leads the grid, P5.1.3)."""
    level = HandlingLevel(case["handling_level"])
    if level == HandlingLevel.DISTRICT:
        return Role.DISTRICT_ADMIN, f"district:{district_of(case['town_code'])}"
    if level == HandlingLevel.TOWN:
        return Role.TOWN_GRID_CHIEF, f"town:{case['town_code']}"
    return Role.COMMUNITY_GRID_CHIEF, f"community:{community_of(case['grid_code'])}"


def _next_number(session, case_id: str) -> int:
    """A hand-issued card's ``level`` is its number among the case's hand-issued cards
    (the case row is locked: no two issuers get the same), so each one is its own row
    under the once-per-deadline index and its own notice in notify."""
    count = session.execute(sa.select(sa.func.count()).select_from(escalations).where(
        escalations.c.case_id == case_id,
        escalations.c.kind == EscalationKind.MANUAL.value)).scalar_one()
    return int(count) + 1

"""The dispatch service: Triage, town whistle to departments, deadlines, escalation and
electronic case files (P2.2, P5.3).  Entrypoints only: the logic lives in plain modules
(``filing``, ``reports``, ``casefile_store``) over the pure domain (``domain``).

In: ``events.case.reported`` (gridgov.events) and ``department.report`` (gridgov.reports).
Out, through the outbox: ``dispatch.assignment`` on gridgov.dispatch
(``<department>.<town>.<category>.<priority>``), ``platform.rejection`` to
``<department>.rejections``, and ``dispatch.case.changed`` on gridgov.events.
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa

from gridgov_common import platform  # module, so `nameko run` sees one service class
from gridgov_common.contract import DISPATCH_EXCHANGE, EVENTS_EXCHANGE, REPORTS_EXCHANGE
from gridgov_common.errors import NotFound
from gridgov_common.messaging import PermanentError, claim_message, consume_contract
from gridgov_common.outbox import OutboxRelay
from gridgov_common.roles import STAFF_ROLES, Role
from gridgov_common.web import http
from services.dispatch import casefile_store, filing, reports
from services.dispatch.models import assignments, cases

VIEWERS = STAFF_ROLES | {Role.OPS_VIEWER, Role.DEPARTMENT_OFFICER}


def _plain(value: Any) -> Any:
    return json.loads(json.dumps(value, default=lambda v: v.isoformat()
                                 if hasattr(v, "isoformat") else str(v)))


class DispatchService(platform.PlatformService):
    name = "dispatch"
    title = "gridgov dispatch"
    description = (
        "Triage, town whistle to departments, deadlines, escalation and electronic case "
        "files (P2.2, P5.3)."
    )

    relay = OutboxRelay(mandatory_exchanges=(DISPATCH_EXCHANGE,),
                        on_returned=filing.mark_unroutable)

    # -- cases reported by the events service ---------------------------------------------

    @consume_contract(filing.CONSUMER, EVENTS_EXCHANGE, ["events.case.reported"],
                      message_types=["events.case.reported"])
    def take_reported_case(self, envelope):
        if not claim_message(self.db, envelope.message_id, filing.CONSUMER):
            return  # a redelivery: filed already
        filing.file_reported(self.db, envelope)

    # -- departments reporting in ---------------------------------------------------------

    @consume_contract(reports.CONSUMER, REPORTS_EXCHANGE, ["*.*"],
                      message_types=["department.report"])
    def take_department_report(self, envelope):
        if not claim_message(self.db, envelope.message_id, reports.CONSUMER):
            return  # applied already
        try:
            reports.apply_report(self.db, envelope)
        except reports.Refused as refused:
            # undo any partial work, keep the claim and the rejection, then dead-letter
            self.db.rollback()
            claim_message(self.db, envelope.message_id, reports.CONSUMER)
            reports.add_rejection(self.db, envelope, refused)
            self.db.commit()
            raise PermanentError(refused.code, refused.message, refused.fields) from None

    # -- reading cases ---------------------------------------------------------------------

    def _visible_case(self, principal, case_id: str) -> dict[str, Any]:
        case = self.db.execute(sa.select(cases).where(cases.c.case_id == case_id)) \
            .mappings().first() if _is_uuid(case_id) else None
        if case is None:
            raise NotFound(f"no case {case_id}", code="unknown_case")
        if principal.role == Role.DEPARTMENT_OFFICER:
            mine = self.db.execute(sa.select(assignments.c.assignment_id).where(
                assignments.c.case_id == case_id,
                assignments.c.department == principal.scope_code)).first()
            if mine is None:
                raise NotFound(f"no case {case_id}", code="unknown_case")
        elif not principal.covers(case["grid_code"]):
            raise NotFound(f"no case {case_id}", code="unknown_case")
        return dict(case)

    @http("GET", "/cases/<string:case_id>", roles=VIEWERS, tags=("cases",),
          summary="A case with its assignments (grid staff: in scope; departments: assigned)")
    def get_case(self, request, case_id):
        case = self._visible_case(request.principal, case_id)
        rows = self.db.execute(sa.select(assignments).where(assignments.c.case_id == case_id)
                               .order_by(assignments.c.sent_at, assignments.c.role.desc())
                               ).mappings().all()
        return _plain({**case, "assignments": [dict(r) for r in rows]})

    @http("GET", "/cases/<string:case_id>/file", roles=VIEWERS, tags=("cases",),
          summary="The electronic case file (P5.3.4) with its hash-chain verification")
    def get_case_file(self, request, case_id):
        self._visible_case(request.principal, case_id)
        return _plain(casefile_store.verified(self.db, case_id))


def _is_uuid(text: str) -> bool:
    import uuid
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True

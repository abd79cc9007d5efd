"""Confirmed duplicates are merged into their original's flow (并案; P5.3.1 collect and
archive by class, P5.3.3 the result goes back to the reporter; issue 11 M9).

In: ``events.case.duplicate_decided`` (queue ``dispatch.duplicates``), one transaction per
message with its claim (the consumer dedups by ``message_id``). What a decision does is the
pure rule of ``domain.merging``; the moves are the state machine's (``merge``, ``unmerge``,
``close_merged``):

- **confirmed**: the duplicate's open assignments are withdrawn and it waits in ``merged``
  (no deadline, no escalation, no reminder: the timer watches working states only); its
  file gets a ``merged_into`` entry naming the original, the original's file a
  ``duplicate_merged`` entry. If the original is closed or cancelled already, the duplicate
  ends at once as it did (``closed_with_original`` / ``cancelled_with_original``);
  otherwise :func:`close_duplicates_of` ends it when the original ends (``actions.record``
  calls it on every move into a final state, so a chain of merges ends together).
- **undone** while merged: back where it was (``merge_undone``): local handling with a new
  time limit, or new assignments to the departments the merge withdrew, deadlines counted
  from now (docs/CASE-FLOW.md §5.1 says why); a waiting or resolved case waits again.
- Too late or nothing to do: a duplicate finished on its own is not merged, one finished
  with its original is not taken out again (``merge_skipped`` / ``unmerge_skipped``
  entries); a repeated confirm or an undo of a mere suggestion changes nothing.

Every move also publishes ``dispatch.case.changed``, so events shows the reporter where the
request went (its status note names the original's number). Decisions apply in the order
they were made (``decided_at`` against the stored ``duplicate_decided_at``).

Locks: the original's row, then the duplicate's (``FOR UPDATE``) — the order in which an
original that closes locks its duplicates — so the two paths never wait for each other in
a circle. A decision about a case dispatch has not filed yet (its ``events.case.reported``
is on another queue) is retried until ``FILING_GRACE`` after it was made
(:class:`CaseNotFiledYet`), then dead-lettered ``unknown_case``; a decision that breaks a
rule is dead-lettered at once.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from gridgov_common.contract.envelope import Envelope
from gridgov_common.platform.messaging import DEFAULT_MAX_REDELIVERIES, PermanentError, RetryLater
from services.dispatch import actions, case_store, config_store
from services.dispatch.domain import merging, states, triage
from services.dispatch.domain.states import (
    AssignmentState,
    CaseState,
    IllegalTransition,
    PseudoActor,
    TransitionName,
)
from services.dispatch.models import assignments, cases

QUEUE = "dispatch.duplicates"
CONSUMER = QUEUE
MESSAGE_TYPE = "events.case.duplicate_decided"
ROUTING_KEYS = [MESSAGE_TYPE]
SENDER = "events"  # the only producer of duplicate decisions
MAX_REDELIVERIES = DEFAULT_MAX_REDELIVERIES
SYSTEM = PseudoActor.SYSTEM.value
# the entries a decision that moves nothing still leaves in the duplicate's file (P5.3.4)
SKIP_ACTIONS = {merging.Skip.FINISHED: "merge_skipped",
                merging.Skip.TOO_LATE: "unmerge_skipped"}


# A decision may overtake the filing of its cases (another queue): it waits for them
# until its decided_at is this old, no longer — the consumer's back-off (0.5, 1, 2, 4, 5 s)
# is cut so that the last retry comes when the grace ends, then it is dead-lettered with
# unknown_case (replayable from dispatch.duplicates.dlq once the case is there).
FILING_GRACE = timedelta(seconds=10)
GRACE_MARGIN = 0.05  # seconds: the last retry comes just after the grace, not just before


class CaseNotFiledYet(RetryLater):
    """Transient: a case the decision names is not filed here yet (see FILING_GRACE)."""


def apply_decision(session, envelope: Envelope, now: datetime | None = None) -> str:
    """Apply one ``events.case.duplicate_decided``; what happened: ``applied``,
    ``stale`` or the :class:`~services.dispatch.domain.merging.Skip` reason. The caller
    claims the message in the same transaction."""
    now = now or datetime.now(UTC)
    p = envelope.payload
    if envelope.producer != SENDER:
        raise PermanentError("unexpected_producer", f"duplicate decisions come from {SENDER}",
                             {"producer": [envelope.producer]})
    # the original first (module doc)
    original = case_store.lock(session, str(p["original_case_id"]))
    duplicate = case_store.lock(session, str(p["case_id"]))
    if original is None or duplicate is None:
        missing = p["case_number"] if duplicate is None else p["original_case_number"]
        if now - p["decided_at"] < FILING_GRACE:
            remaining = (p["decided_at"] + FILING_GRACE - now).total_seconds() + GRACE_MARGIN
            raise CaseNotFiledYet(f"case {missing} is not filed here yet",
                                  retry_after=remaining)
        raise PermanentError("unknown_case", f"no case {missing} was filed here",
                             {"case_number" if duplicate is None else "original_case_number":
                              [missing]})
    for case, field in ((duplicate, "case_number"), (original, "original_case_number")):
        if case["case_number"] != p[field]:
            raise PermanentError("case_mismatch", "a case id and its number name different "
                                 "cases", {field: [p[field]]})
    if not merging.is_newer(p["decided_at"], duplicate["duplicate_decided_at"]):
        return "stale"
    case_store.set_fields(session, duplicate["case_id"],
                          duplicate_decided_at=p["decided_at"])
    plan = merging.plan(p["decision"], duplicate["state"], duplicate["merged_into"],
                        original["case_id"], original["state"])
    if plan.skip is not None:
        _record_skip(session, duplicate, original, plan.skip, envelope, now)
        return plan.skip.value
    try:
        for move in plan.moves:
            if move == TransitionName.MERGE:
                duplicate = _merge(session, duplicate, original, envelope, now)
            elif move == TransitionName.CLOSE_MERGED:
                duplicate = _end_with(session, duplicate, original, now, envelope.message_id)
            else:
                duplicate = _unmerge(session, duplicate, original, envelope, now)
    except IllegalTransition as exc:  # the table refused: a rule broke, not a glitch
        raise PermanentError("illegal_transition", exc.message,
                             {"state": [duplicate["state"]]}) from None
    return "applied"


def close_duplicates_of(session, original: dict[str, Any], now: datetime,
                        correlation_id: str | None = None) -> int:
    """P5.3.3: the original reached a final state: every duplicate merged into it ends as
    it did, and so on down a chain of merges. Called in the transaction that ended the
    original (its row locked), after its own change is written. Returns how many ended."""
    ended = 0
    pending = [original]
    while pending:
        current = pending.pop()
        rows = case_store.lock_where(session, cases.c.merged_into == current["case_id"],
                                     cases.c.state == CaseState.MERGED.value,
                                     order_by=(cases.c.case_number,))
        for row in rows:
            ended_case = _end_with(session, row, current, now, correlation_id, cascade=False)
            pending.append(ended_case)
            ended += 1
    return ended


# --- the moves ------------------------------------------------------------------------------

def _decision_data(envelope: Envelope) -> dict[str, Any]:
    p = envelope.payload
    return {"decision": str(p["decision"]), "decided_by_role": p["decided_by_role"],
            "decided_by_sub": p["decided_by_sub"], "decided_at": p["decided_at"],
            "message_id": envelope.message_id}


def _write(session, case: dict[str, Any], action: str, target: str, now: datetime,
           values: dict[str, Any], departments: list[str], correlation_id: str | None,
           **entry: Any) -> dict[str, Any]:
    """The move stored, by the system (the decision came over the bus)."""
    return case_store.record_move(session, case, action, target, now, actor_sub=SYSTEM,
                                  actor_role=SYSTEM, values=values, departments=departments,
                                  correlation_id=correlation_id, **entry)


def _merge(session, duplicate: dict[str, Any], original: dict[str, Any],
           envelope: Envelope, now: datetime) -> dict[str, Any]:
    """P5.3.1: into the original's flow; its own work orders and clocks stop."""
    target = states.apply(duplicate["state"], TransitionName.MERGE, SYSTEM).value
    withdrawn = case_store.withdraw_active(session, duplicate["case_id"])
    merged = _write(
        session, duplicate, "merged_into", target, now,
        {"merged_into": original["case_id"], "merged_at": now,
         "merged_from_state": duplicate["state"], "next_escalation_at": None},
        [], envelope.message_id,
        data={**_decision_data(envelope), "original_case_id": original["case_id"],
              "original_case_number": original["case_number"], "withdrawn": withdrawn})
    case_store.record_entry(session, original["case_id"], "duplicate_merged", actor_sub=SYSTEM,
                            actor_role=SYSTEM, at=now,
                            data={**_decision_data(envelope),
                                  "duplicate_case_id": duplicate["case_id"],
                                  "duplicate_case_number": duplicate["case_number"]})
    return merged


def _end_with(session, duplicate: dict[str, Any], original: dict[str, Any], now: datetime,
              correlation_id: str | None, cascade: bool = True) -> dict[str, Any]:
    """P5.3.3: the original's result is the duplicate's: closed, or cancelled."""
    target = states.apply(duplicate["state"], TransitionName.CLOSE_MERGED, SYSTEM,
                          original_state=original["state"]).value
    closed = target == CaseState.CLOSED.value
    ended = _write(
        session, duplicate, "closed_with_original" if closed else "cancelled_with_original",
        target, now, {"closed_at": now} if closed else {"cancelled_at": now}, [],
        correlation_id,
        data={"original_case_id": original["case_id"],
              "original_case_number": original["case_number"],
              "original_state": original["state"],
              "original_satisfaction": original.get("satisfaction")})
    if cascade:  # a chain: what was merged into this duplicate ends with it
        close_duplicates_of(session, ended, now, correlation_id)
    return ended


def _unmerge(session, duplicate: dict[str, Any], original: dict[str, Any],
             envelope: Envelope, now: datetime) -> dict[str, Any]:
    """P5.3.1/P5.3.3: back to its own flow where it left it, deadlines from now."""
    target = states.apply(duplicate["state"], TransitionName.UNMERGE, SYSTEM,
                          merged_from=duplicate["merged_from_state"]).value
    values: dict[str, Any] = {"merged_into": None, "merged_at": None,
                              "merged_from_state": None}
    data = {**_decision_data(envelope), "original_case_id": original["case_id"],
            "original_case_number": original["case_number"],
            "merged_at": duplicate["merged_at"]}
    departments: list[str] = []
    entry: dict[str, Any] = {}
    if target == CaseState.HANDLING_LOCAL.value:  # P5.3.3: own level, a new time limit
        _, rule = actions.case_rule(session, duplicate)
        _, handle_due = triage.deadlines(rule, now, config_store.work_calendar(session))
        values["handle_due_at"] = handle_due
        entry["deadline"] = handle_due
    elif target == CaseState.DISPATCHED.value:  # P2.2: the same departments, new orders
        rule_version, rule = actions.case_rule(session, duplicate)
        lead, assist = _withdrawn_departments(session, duplicate, rule)
        notifications, ack_due, handle_due = actions.dispatch_to(
            session, duplicate, lead, assist, rule, rule_version, now,
            rework=duplicate["rework_count"])
        departments = [lead, *assist]
        entry.update(deadline=handle_due, notifications=notifications)
        data.update(departments=departments, ack_due_at=ack_due.isoformat())
    back = _write(session, duplicate, "merge_undone", target, now, values, departments,
                  envelope.message_id, data=data, **entry)
    case_store.record_entry(session, original["case_id"], "duplicate_unmerged", actor_sub=SYSTEM,
                            actor_role=SYSTEM, at=now,
                            data={**_decision_data(envelope),
                                  "duplicate_case_id": duplicate["case_id"],
                                  "duplicate_case_number": duplicate["case_number"]})
    return back


def _withdrawn_departments(session, case: dict[str, Any], rule: triage.Rule,
                           ) -> tuple[str, tuple[str, ...]]:
    """(lead, assists) of the round the merge withdrew (the last one sent); the rule's
    departments when there was none."""
    last_round = sa.select(sa.func.max(assignments.c.sent_at)).where(
        assignments.c.case_id == case["case_id"]).scalar_subquery()
    rows = session.execute(sa.select(assignments.c.department, assignments.c.role).where(
        assignments.c.case_id == case["case_id"], assignments.c.sent_at == last_round,
        assignments.c.state == AssignmentState.WITHDRAWN.value)).all()
    leads = [row.department for row in rows if row.role == "lead"]
    if leads:
        return leads[0], tuple(row.department for row in rows if row.role != "lead")
    if rule.lead is None:
        raise PermanentError("no_departments", f"case {case['case_number']} has no "
                             "departments to send it back to")
    return rule.lead, rule.assist


def _record_skip(session, duplicate: dict[str, Any], original: dict[str, Any],
                 skip: merging.Skip, envelope: Envelope, now: datetime) -> None:
    """P5.3.4: a decision that came too late is kept in the file, with why."""
    action = SKIP_ACTIONS.get(skip)
    if action is None:
        return
    case_store.record_entry(session, duplicate["case_id"], action, actor_sub=SYSTEM,
                            actor_role=SYSTEM, at=now, reason=skip.value,
                            data={**_decision_data(envelope),
                                  "original_case_id": original["case_id"],
                                  "original_case_number": original["case_number"],
                                  "state": duplicate["state"]})

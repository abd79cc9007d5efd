"""Daily digests of open cases (uReport's "% of allowed time used", DOMAIN-REFERENCES §4;
P5.3.3 time limits): once a local day, from ``DIGEST_HOUR`` on, each department with items
to handle and each town with open cases gets one ``notify.request`` listing them, overdue
first, each with the share of its handling time used.

Dispatch builds them because it holds the deadlines and the working-time calendar; notify
delivers them (inbox and the recipients' channels). Once per (recipient scope, day): the
``daily_digests`` primary key is claimed in the transaction that puts the request in the
outbox, so with several replicas one timer wins, and the ``cause_id``
``dispatch:daily_digest:<scope>:<day>`` keeps notify from sending it twice if replayed.

- department ``department:<code>`` (department officers): its active assignments (sent or
  acknowledged), measured from ``sent_at`` to ``handle_due_at``;
- town ``town:<code>`` (town grid chief): its open cases (``OPEN_STATES``), each by the
  active assignment that used most of its time, or its own-level deadline (from
  ``filed_at``); a case with no running deadline (awaiting triage or the return visit) is
  listed last with "—". A sensitive case (P5.2.5: it reveals special-group membership,
  which the town grid chief may not see) is counted but not listed.

% used = working time from start to now / working time from start to due (natural time
when the span holds no working time, as reminders.py does); over 100 % and past due is
overdue. The list is cut to fit one notification parameter (2,000 characters); ``listed``
says how many made it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg

from gridgov_common.contract import EVENTS_EXCHANGE, make_envelope
from gridgov_common.kernel.work_calendar import WorkCalendar
from gridgov_common.platform.outbox import add_to_outbox
from services.dispatch import config_store, notices
from services.dispatch.models import assignments, cases, daily_digests
from services.dispatch.statistics import ACTIVE, OPEN

LINES_MAX_CHARS = 1900  # notify.request params: ≤ 2000 characters each
DEFAULT_HOUR = 8
TEMPLATE = "open_cases_digest"  # services/notify/domain/templates.py


def percent_used(calendar: WorkCalendar, start: datetime, due: datetime,
                 now: datetime) -> int:
    span = calendar.working_time_between(start, due).total_seconds()
    if span <= 0:
        whole = (due - start).total_seconds()
        return 100 if whole <= 0 else round(100 * (now - start).total_seconds() / whole)
    return round(100 * calendar.working_time_between(start, now).total_seconds() / span)


def department_items(session, code: str, calendar, now) -> list[dict[str, Any]]:
    a = assignments.c
    rows = session.execute(sa.select(cases.c.case_number, a.sent_at, a.handle_due_at)
                           .join(cases, cases.c.case_id == a.case_id)
                           .where(a.department == code, a.state.in_(ACTIVE)))
    return [_item(r.case_number, calendar, r.sent_at, r.handle_due_at, now) for r in rows]


def town_items(session, code: str, calendar, now) -> list[dict[str, Any]]:
    a = assignments.c
    rows = session.execute(
        sa.select(cases.c.case_id, cases.c.case_number, cases.c.filed_at,
                  cases.c.handle_due_at.label("own_due"), cases.c.state, cases.c.sensitive,
                  a.sent_at, a.handle_due_at)
        .select_from(cases.outerjoin(assignments, sa.and_(a.case_id == cases.c.case_id,
                                                          a.state.in_(ACTIVE))))
        .where(cases.c.town_code == code, cases.c.state.in_(OPEN)))
    best: dict[str, dict[str, Any]] = {}
    for r in rows:
        if r.sent_at is not None:
            item = _item(r.case_number, calendar, r.sent_at, r.handle_due_at, now)
        elif r.state == "handling_local" and r.own_due is not None:
            item = _item(r.case_number, calendar, r.filed_at, r.own_due, now)
        else:
            item = {"case_number": r.case_number, "percent": None, "due_at": None,
                    "overdue": False}
        item["sensitive"] = r.sensitive
        kept = best.get(r.case_id)
        if kept is None or (item["percent"] or -1) > (kept["percent"] or -1):
            best[r.case_id] = item
    return list(best.values())


def _item(number, calendar, start, due, now) -> dict[str, Any]:
    return {"case_number": number, "percent": percent_used(calendar, start, due, now),
            "due_at": due, "overdue": due < now}


def ordered(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Overdue first (longest overdue first), then by share used, then without deadline."""
    return sorted(items, key=lambda i: (not i["overdue"], i["percent"] is None,
                                        i["due_at"] if i["overdue"] else None,
                                        -(i["percent"] or 0), i["case_number"]))


def lines(items: list[dict[str, Any]], calendar) -> tuple[str, int]:
    """The text list (one case a line, locale-neutral) and how many fitted."""
    out, size = [], 0
    for item in items:
        if item.get("sensitive"):
            continue  # P5.2.5: counted in the digest's figures, never named
        due = (item["due_at"].astimezone(calendar.tz).strftime("%m-%d %H:%M")
               if item["due_at"] else "—")
        used = f"{item['percent']}%" if item["percent"] is not None else "—"
        line = f"{'!' if item['overdue'] else '·'} {item['case_number']}  {used}  {due}"
        if size + len(line) + 1 > LINES_MAX_CHARS:
            break
        out.append(line)
        size += len(line) + 1
    return "\n".join(out), len(out)


def recipients(session) -> list[str]:
    """Scopes with something open: departments with active items, towns with open cases."""
    departments = session.execute(sa.select(assignments.c.department).distinct()
                                  .where(assignments.c.state.in_(ACTIVE))).scalars()
    towns = session.execute(sa.select(cases.c.town_code).distinct()
                            .where(cases.c.state.in_(OPEN))).scalars()
    return sorted([f"department:{d}" for d in departments] + [f"town:{t}" for t in towns])


ROLES = {"department": "department_officer", "town": "town_grid_chief"}


def send_due(session, now: datetime, hour: int = DEFAULT_HOUR,
             town_name: Callable[[str], str | None] = lambda code: None) -> int:
    """Claim and request today's digests not sent yet; how many were requested."""
    calendar = config_store.work_calendar(session)
    local = now.astimezone(calendar.tz)
    if local.hour < hour:
        return 0
    day = local.date()
    done = set(session.execute(sa.select(daily_digests.c.scope)
                               .where(daily_digests.c.day == day)).scalars())
    sent = 0
    for scope in recipients(session):
        if scope in done:
            continue
        claimed = session.execute(pg.insert(daily_digests).values(scope=scope, day=day)
                                  .on_conflict_do_nothing()
                                  .returning(daily_digests.c.scope)).first()
        if claimed is None:
            continue  # another replica's
        level, _, code = scope.partition(":")
        found = (department_items if level == "department" else town_items)(
            session, code, calendar, now)
        items = ordered(found)
        text, listed = lines(items, calendar)
        envelope = make_envelope("notify.request", {
            "cause_id": f"dispatch:daily_digest:{scope}:{day.isoformat()}", "case_id": None,
            "kind": "daily_digest", "template": TEMPLATE, "locale": notices.LOCALE,
            "recipients": [{"role": ROLES[level], "scope": scope}],
            "params": {"day": day.isoformat(), "recipient": code,
                       # a town by the registry's name (notify names departments itself)
                       **({"recipient_name": name} if level == "town"
                          and (name := town_name(code)) else {}),
                       "open": len(items),
                       "overdue": sum(i["overdue"] for i in items), "listed": listed,
                       "lines": text}}, notices.PRODUCER)
        add_to_outbox(session, EVENTS_EXCHANGE, "notify.request", envelope)
        sent += 1
    return sent

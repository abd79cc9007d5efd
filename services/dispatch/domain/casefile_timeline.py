"""The case file's timeline in words (P5.3.4): one line per entry — when, who, what was
done, to whom, by when and whether on time — instead of the entry's raw JSON.

An entry's ``data`` is read for the facts a person needs (departments by name, levels,
the escalation's card, a notification's kind and channel); the rest stays in the JSON
export.  Unknown actions are shown by their code, so nothing recorded is ever hidden.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from services.dispatch.domain.casefile import ACTION_LABELS, NAMES_CASE, Entry

SYSTEM_ACTORS = {"system": ("系统", "System"), "notify": ("消息服务", "Notification service"),
                 "svc": ("系统", "System")}


# entries a department writes itself: its name is already the actor's
DEPARTMENT_OWN = frozenset({"ack", "progress", "department_result", "department_return",
                            "delay_requested", "report_refused"})


class Page(Protocol):
    """What the timeline needs of a page (casefile_page._Page)."""

    ctx: Any
    lang: str

    def t(self, zh: str, en: str) -> str: ...
    def pick(self, names: tuple[str, str]) -> str: ...
    def paren(self, inner: str) -> str: ...
    def when(self, moment: Any) -> str: ...
    def label(self, table: str, code: Any) -> str: ...
    def department(self, code: str | None) -> str: ...
    def state(self, code: str | None) -> str: ...
    def place_of(self, scope: str | None) -> str: ...


def timeline(p: Page, entries: Sequence[Entry]) -> str:
    items = "".join(_item(p, entry) for entry in entries)
    return f'<ol class="timeline">{items}</ol>'


def _item(p: Page, entry: Entry) -> str:
    line = f"<b>{html.escape(p.when(entry.at))}</b> {actor(p, entry)}{p.t('：', ': ')}"
    line += _action(p, entry)
    details = _details(p, entry.action, dict(entry.data or {}))
    if details:
        line += p.paren(details)
    if entry.to_state and entry.to_state != entry.from_state:
        line += p.t("，案件", "; case ") + p.state(entry.to_state)
    parts = [line]
    if entry.reason:
        parts.append(f'<br><span class="muted">{p.t("意见：", "Note: ")}'
                     f"{html.escape(entry.reason)}</span>")
    if entry.deadline is not None:
        parts.append(f'<br><span class="muted">{p.t("时限：", "Due: ")}'
                     f"{html.escape(p.when(entry.deadline))}</span>")
    if entry.on_time is not None:
        word = p.t("按时", "on time") if entry.on_time else p.t("超时", "late")
        parts.append(f' <span class="{"ok" if entry.on_time else "bad"}">{word}</span>')
    sent = _sent(p, entry.notifications)
    if sent:
        parts.append(f'<br><span class="muted">{sent}</span>')
    parts.append(f' <span class="code" title="hash">#{entry.seq} '
                 f'{html.escape((entry.hash or "")[:12])}</span>')
    return f"<li>{' '.join(parts)}</li>"


def actor(p: Page, entry: Entry) -> str:
    """Who did it, by name: the department, the staff member, or the platform."""
    if entry.actor_role == "department":
        return p.department(entry.actor_sub)
    if entry.actor_role in SYSTEM_ACTORS:
        return html.escape(p.pick(SYSTEM_ACTORS[entry.actor_role]))
    person = p.ctx.staff.get(entry.actor_sub)
    role = p.label("role", entry.actor_role)
    if person:
        return html.escape(person["name"]) + p.paren(role)
    return f'{role} <span class="code">{html.escape(entry.actor_sub)}</span>'


def _action(p: Page, entry: Entry) -> str:
    names = ACTION_LABELS.get(entry.action)
    if names:
        data = entry.data or {}
        other = next((data[key] for key in NAMES_CASE if data.get(key)), None)
        # P5.3.1: a merge names the other case by its number (并案 GS…)
        return html.escape(p.pick(names) + (f" {other}" if other else ""))
    return f'<span class="code">{html.escape(entry.action)}</span>'


def _details(p: Page, action: str, data: Mapping[str, Any]) -> str:
    """The facts of an entry's data a person reads, in words."""
    parts: list[str] = []
    departments = data.get("departments") or []
    if departments:  # the first is the lead (actions.record, rework)
        parts.append(p.t("、", ", ").join(
            p.department(code) + (p.paren(p.t("主办", "lead")) if n == 0 else "")
            for n, code in enumerate(departments)))
    if data.get("department") and action not in DEPARTMENT_OWN:
        parts.append(p.department(data["department"]))
    if data.get("from_level") and data.get("to_level"):
        parts.append(f"{p.label('handling_level', data['from_level'])} → "
                     f"{p.label('handling_level', data['to_level'])}")
    if action == "escalation":
        parts.append(_escalation(p, data))
    if action == "notification_sent":
        parts.append(_notification(p, data))
    if data.get("note"):
        parts.append(html.escape(str(data["note"])))
    if data.get("resolved") is not None and action != "escalation":
        parts.append(p.t("已解决", "resolved") if data["resolved"]
                     else p.t("未解决", "not resolved"))
    if data.get("handle_due_at") and action.startswith("delay_"):
        parts.append(p.t("新时限 ", "new deadline ") + html.escape(p.when(data["handle_due_at"])))
    return p.t("；", "; ").join(part for part in parts if part)


def _escalation(p: Page, data: Mapping[str, Any]) -> str:
    words = [p.label("escalation_kind", data.get("kind"))]
    if data.get("card"):
        words.append(p.label("card", data["card"]))
    if data.get("target_role"):
        words.append(p.t("送", "to ") + whom(p, data["target_role"], data.get("target_scope")))
    return p.t("，", ", ").join(w for w in words if w)


def _notification(p: Page, data: Mapping[str, Any]) -> str:
    recipient = _recipient(data.get("recipient"))
    to = ""
    if recipient.get("role"):
        to = whom(p, recipient["role"], recipient.get("scope"))
    elif recipient.get("subscriber"):
        to = p.t("订阅 ", "subscription ") + html.escape(str(recipient["subscriber"]))
    return p.t("，", ", ").join(w for w in (p.label("notify_kind", data.get("kind")),
                                p.label("channel", data.get("channel")), to) if w)


def _recipient(value: Any) -> Mapping[str, Any]:
    """notify.sent names its recipient as a string (gridgov_common/contract/notify.py,
    services/notify/models.py): ``inbox:<role>@<scope>`` or ``subscription:<id>``; older
    entries may hold the {"role", "scope"} / {"subscriber"} form of notify.request."""
    if isinstance(value, Mapping):
        return value
    kind, _, rest = str(value or "").partition(":")
    if kind == "subscription" and rest:
        return {"subscriber": rest}
    role, at, scope = rest.partition("@")
    if kind == "inbox" and role and at:
        return {"role": role, "scope": scope}
    return {}


def whom(p: Page, role: str, scope: str | None) -> str:
    """People by role and place: 枫桥街道镇网格长 / Town grid chief, 枫桥街道."""
    if p.lang == "en":
        return f"{p.label('role', role)}, {p.place_of(scope)}"
    return f"{p.place_of(scope)}{p.label('role', role)}"


def _sent(p: Page, notifications: Sequence[Mapping[str, Any]]) -> str:
    """Messages recorded with the entry: to a department's queue, to the bus."""
    said = []
    for item in notifications or ():
        if item.get("department"):
            said.append(p.t("已发送至 ", "sent to ") + p.department(item["department"])
                        + " " + p.label("channel", item.get("channel")))
        elif "@" in str(item.get("to") or ""):  # role@scope: people by role and place
            role, _, scope = str(item["to"]).partition("@")
            said.append(p.t("已通知", "told ") + whom(p, role, scope))
        elif item.get("to"):
            said.append(p.t("已通知", "told ") + f'<span class="code">'
                        f'{html.escape(str(item["to"]))}</span>')
    return p.t("；", "; ").join(said)

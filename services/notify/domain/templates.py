"""Message templates in zh-CN and en: one (title, body) per template and locale.

Templates are code, reviewed like code: a message to a town grid chief is part of the
supervision procedure (P6.2 督办) and must not be edited at run time by whoever holds an
admin token.  Parameters fill ``{name}`` placeholders; enum values (escalation ``kind``,
``card``, alert ``severity``) also get a translated ``{<name>_label}``.  A template that
does not exist or a placeholder without a parameter is refused when the request arrives
(:class:`TemplateError`), so a bad request is dead-lettered with the reason instead of
failing later at delivery time.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from functools import cache
from typing import Any

LOCALES = ("zh-CN", "en")

TEMPLATES: dict[str, dict[str, tuple[str, str]]] = {
    "assignment": {  # P2.2 the town whistles: a department is given a case
        "zh-CN": ("新交办：{case_number}", "案件 {case_number} 已交办给{department_label}，"
                  "请于 {ack_due_at} 前签收。"),
        "en": ("New assignment: {case_number}", "Case {case_number} was assigned to "
               "{department_label}; acknowledge it by {ack_due_at}."),
    },
    "escalation": {  # P6.2 督办: ordinary → yellow → red card
        "zh-CN": ("督办{card_label}：{case_number}", "案件 {case_number}{kind_label}，"
                  "已升级至第 {level} 级。原因：{reason}"),
        "en": ("Supervision {card_label}: {case_number}", "Case {case_number}: "
               "{kind_label}; escalated to level {level}. Reason: {reason}"),
    },
    "escalation_manual": {  # P6.2 督办 issued by hand by the district or the town
        "zh-CN": ("督办{card_label}：{case_number}", "案件 {case_number}被人工督办"
                  "（第 {level} 次）。督办要求：{reason}"),
        "en": ("Supervision {card_label}: {case_number}", "Case {case_number} is under "
               "supervision issued by hand (number {level}). Instruction: {reason}"),
    },
    "deadline_reminder": {  # P5.3.3 the prescribed time limit
        "zh-CN": ("办理时限提醒：{case_number}", "案件 {case_number} 须在 {due_at} 前办结。"),
        "en": ("Deadline reminder: {case_number}", "Case {case_number} is due by {due_at}."),
    },
    "major_event": {  # P5.2.7 major events reported at once
        "zh-CN": ("【重大事件·{severity_label}】{headline}", "案件 {case_number}，"
                  "网格 {grid_code}：{description}"),
        "en": ("[Major event · {severity_label}] {headline}", "Case {case_number}, grid "
               "{grid_code}: {description}"),
    },
    "return_visit": {  # P5.2.1 livelihood services end with a return visit
        "zh-CN": ("回访请求：{case_number}", "案件 {case_number} 已办结，请在 {due_at} 前回访。"),
        "en": ("Return visit: {case_number}", "Case {case_number} is resolved; visit the "
               "reporter by {due_at}."),
    },
    "meeting_reminder": {  # P5.4.5 grid meetings
        "zh-CN": ("会议提醒：{title}", "{title} 将于 {starts_at} 在 {place} 召开。"),
        "en": ("Meeting reminder: {title}", "{title} starts at {starts_at} in {place}."),
    },
    "meeting_due": {  # P5.4.5 meeting frequency: a period about to end short of meetings
        "zh-CN": ("例会提醒", "本期（截至 {period_end}）应召开 {required} 次例会，已召开 {held} 次"
                  "（{clause}）。"),
        "en": ("Meetings due", "{held} of {required} meetings held in the period ending "
               "{period_end} ({clause})."),
    },
    "circular": {  # P5.3.5 circulars (通报)
        "zh-CN": ("通知：{title}", "{text}"),
        "en": ("Circular: {title}", "{text}"),
    },
    "circular_published": {  # P5.3.5 circulars (通报), from assessment.circular.published
        "zh-CN": ("交办事项办理情况{circular_kind_label}：{period}",
                  "{period_start} 至 {period_end}（第 {version} 版）：交办 {dispatched} 件，"
                  "办结 {closed} 件，超期未办结 {overdue_open} 件；红牌 {red_cards} 个，"
                  "黄牌 {yellow_cards} 个。全文：{url}"),
        "en": ("Circular ({circular_kind_label}) on dispatched items: {period}",
               "{period_start} to {period_end} (version {version}): {dispatched} dispatched, "
               "{closed} closed, {overdue_open} overdue open; {red_cards} red and "
               "{yellow_cards} yellow cards. Full text: {url}"),
    },
    "open_cases_digest": {  # daily digest of open cases, % of the time limit used (P5.3.3)
        "zh-CN": ("每日待办汇总 {day}：{open} 件未办结，{overdue} 件超期",
                  "{recipient_label}的未办结案件（超期在前）。每行：案件编号、已用时限、办理期限。\n"
                  "{lines}\n（列出 {listed} / {open} 件）"),
        "en": ("Daily digest {day}: {open} open, {overdue} overdue",
               "Open cases of {recipient_label} (overdue first). Each line: case number, share of "
               "the time limit used, due.\n{lines}\n({listed} of {open} listed)"),
    },
    "calendar_notice_missing": {  # M12: next year's holiday notice not entered yet
        "zh-CN": ("请录入 {year} 年节假日安排",
                  "国务院办公厅 {year} 年部分节假日安排的通知尚未录入工作日历，该年期限暂按通常"
                  "安排估算（宁晚勿早）。请录入通知中的全部放假日和调休上班日。"),
        "en": ("Enter the {year} holiday arrangement",
               "The State Council's {year} holiday notice is not in the work calendar: "
               "deadlines in {year} use an estimate of the usual arrangement (erring late). "
               "Enter every day off and make-up working day of the notice."),
    },
    "daily_digest": {
        "zh-CN": ("每日汇总 {day}", "新案件 {new_cases} 件，办结 {closed_cases} 件，"
                  "超期 {overdue_cases} 件。"),
        "en": ("Daily digest {day}", "{new_cases} new cases, {closed_cases} closed, "
               "{overdue_cases} overdue."),
    },
}

LABELS: dict[str, dict[str, dict[str, str]]] = {
    "kind": {
        "zh-CN": {"ack_timeout": "超时未签收", "overdue": "超期未办结",
                  "unroutable": "无法送达部门", "manual": "人工督办"},
        "en": {"ack_timeout": "not acknowledged in time", "overdue": "overdue",
               "unroutable": "no department queue", "manual": "issued by hand"},
    },
    "card": {
        "zh-CN": {"ordinary": "督办单", "yellow": "黄牌", "red": "红牌", "": "通知"},
        "en": {"ordinary": "notice", "yellow": "yellow card", "red": "red card", "": "notice"},
    },
    "circular_kind": {
        "zh-CN": {"weekly": "周通报", "monthly": "月通报", "custom": "专项通报"},
        "en": {"weekly": "weekly", "monthly": "monthly", "custom": "special"},
    },
    "severity": {
        "zh-CN": {"minor": "一般", "major": "重大", "critical": "特别重大"},
        "en": {"minor": "minor", "major": "major", "critical": "critical"},
    },
}


class TemplateError(ValueError):
    """An unknown template or locale, or a placeholder without its parameter."""

    def __init__(self, code: str, message: str, fields: Mapping[str, Any]) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.fields = dict(fields)


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


@cache
def _needs(template: str, locale: str) -> frozenset[str]:
    """The placeholders of a template (parsed once, not for every delivery)."""
    title, body = TEMPLATES[template][locale]
    return frozenset(placeholders(title) | placeholders(body))


# Parameters that carry a department's code: shown by the register's name in the reader's
# language (``names``, added when the request is accepted: accepting.with_names), by the
# code while the register has not reached notify.
NAMED = ("department", "recipient")


def _with_labels(params: Mapping[str, Any], locale: str) -> dict[str, Any]:
    values = {key: ("" if value is None else value) for key, value in params.items()
              if key != "names"}
    for name, by_locale in LABELS.items():
        if name in values:
            raw = str(values[name])
            values[f"{name}_label"] = by_locale[locale].get(raw, raw)
    names = params.get("names") or {}
    for name in NAMED:  # the register's name, else one the requester gave, else the code
        if name in values:
            values[f"{name}_label"] = ((names.get(name) or {}).get(locale)
                                       or values.get(f"{name}_name") or values[name])
    return values


def render(template: str, locale: str, params: Mapping[str, Any]) -> tuple[str, str]:
    """(title, body) of ``template`` in ``locale``; TemplateError if it cannot be."""
    by_locale = TEMPLATES.get(template)
    if by_locale is None:
        raise TemplateError("unknown_template", f"no template {template!r}",
                            {"template": template, "known": sorted(TEMPLATES)})
    if locale not in by_locale:
        raise TemplateError("unknown_locale", f"template {template!r} has no {locale!r}",
                            {"locale": locale, "known": list(LOCALES)})
    title, body = by_locale[locale]
    values = _with_labels(params, locale)
    missing = sorted(_needs(template, locale) - set(values))
    if missing:
        raise TemplateError("missing_params", f"template {template!r} needs {missing}",
                            {"missing": missing})
    return title.format_map(values), body.format_map(values)


def check(template: str, params: Mapping[str, Any]) -> None:
    """Raise TemplateError unless ``template`` renders in every locale with ``params``
    (a subscriber may read another locale than the requester's)."""
    for locale in LOCALES:
        render(template, locale, params)

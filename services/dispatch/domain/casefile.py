"""The electronic case file (P5.3.4 立案建档): every step of a case, kept for good.

Entries are append-only and hash-chained: ``hash = sha256(canonical_json(body) +
prev_hash)``, where the body is the entry without ``prev_hash`` and ``hash`` and the first
entry's ``prev_hash`` is 64 zeros.  Changing, removing or reordering any entry breaks every
hash after it, so ``verify`` finds where a file was tampered with (the table also refuses
UPDATE and DELETE).  The vocabulary follows the flow records of real platforms
(DOMAIN-REFERENCES §1: node, operation, result, opinion, operator, time used, timeout
flag) and uReport's history (§4: named actions and the notifications each step sent).

On-time flags are frozen when a stage ends (Zürich, §4): ``stage_outcome`` computes the
flag once, it is written into the entry that ends the stage, and it is never recomputed.
"""

from __future__ import annotations

import hashlib
import html
import json
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from enum import Enum
from typing import Any
from zoneinfo import ZoneInfo

__all__ = [
    "ACTION_LABELS", "GENESIS_HASH", "LANGUAGES", "Entry", "canonical_json", "chain",
    "entry_hash", "format_instant", "link", "parse_instant", "render_html", "stage_outcome",
    "verify",
]

GENESIS_HASH = "0" * 64
LANGUAGES = ("zh-CN", "en")
_INSTANT_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"  # always microseconds: lossless and canonical


def _require_aware(moment: datetime, what: str) -> datetime:
    if not isinstance(moment, datetime) or moment.tzinfo is None \
            or moment.tzinfo.utcoffset(moment) is None:
        raise ValueError(f"{what} must be a timezone-aware datetime (got {moment!r})")
    return moment


def format_instant(moment: datetime) -> str:
    """ISO-8601 UTC with ``Z`` and microseconds, the one form hashed."""
    return _require_aware(moment, "instant").astimezone(UTC).strftime(_INSTANT_FORMAT)


def parse_instant(text: str) -> datetime:
    return datetime.strptime(text, _INSTANT_FORMAT).replace(tzinfo=UTC)


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return format_instant(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    # sets have no stable order, floats-as-Decimal no single spelling: refuse, don't guess
    raise TypeError(f"{type(value).__name__} cannot go into a case file entry")


def canonical_json(value: Any) -> bytes:
    """Sorted keys, UTF-8, no spaces, datetimes as ISO UTC ``Z``: one byte string per
    value, so that a hash can be recomputed by anyone, in any language."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"),
                      allow_nan=False, default=_json_default).encode("utf-8")


def _plain(value: Any) -> Any:
    """A JSON value equal to what canonical_json writes (so stored = hashed)."""
    return json.loads(canonical_json(value))


@dataclass(frozen=True)
class Entry:
    """One step of a case (P5.3.4).  ``notifications``: what the step sent, e.g.
    ``{"to": "department:fire", "type": "dispatch.assignment"}``; ``data``: any JSON facts
    (assignment ids, rule id and version, department reference, …) — never a resident's
    personal data (P5.4.4)."""

    seq: int
    at: datetime
    actor_sub: str
    actor_role: str
    action: str
    from_state: str | None = None
    to_state: str | None = None
    reason: str | None = None
    deadline: datetime | None = None
    on_time: bool | None = None
    notifications: tuple[Mapping[str, Any], ...] = ()
    data: Mapping[str, Any] = field(default_factory=dict)
    prev_hash: str | None = None
    hash: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.seq, int) or isinstance(self.seq, bool) or self.seq < 1:
            raise ValueError(f"seq must be a positive integer (got {self.seq!r})")
        _require_aware(self.at, "at")
        if self.deadline is not None:
            _require_aware(self.deadline, "deadline")
        if not self.action:
            raise ValueError("an entry names its action")
        object.__setattr__(self, "notifications", tuple(self.notifications))

    def body(self) -> dict[str, Any]:
        """The hashed part, as plain JSON values."""
        return _plain({
            "seq": self.seq, "at": self.at, "actor_sub": self.actor_sub,
            "actor_role": self.actor_role, "action": self.action,
            "from_state": self.from_state, "to_state": self.to_state, "reason": self.reason,
            "deadline": self.deadline, "on_time": self.on_time,
            "notifications": list(self.notifications), "data": dict(self.data),
        })

    def to_dict(self) -> dict[str, Any]:
        """What the service stores (the ``entry`` column holds the body; the hashes have
        columns of their own, but are included here too)."""
        return {**self.body(), "prev_hash": self.prev_hash, "hash": self.hash}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Entry:
        """Back from storage (timestamps as strings) or from ``to_dict``."""
        deadline = data.get("deadline")
        return cls(
            seq=data["seq"], at=_instant(data["at"]), actor_sub=data["actor_sub"],
            actor_role=data["actor_role"], action=data["action"],
            from_state=data.get("from_state"), to_state=data.get("to_state"),
            reason=data.get("reason"),
            deadline=None if deadline is None else _instant(deadline),
            on_time=data.get("on_time"),
            notifications=tuple(data.get("notifications") or ()),
            data=dict(data.get("data") or {}),
            prev_hash=data.get("prev_hash"), hash=data.get("hash"),
        )


def _instant(value: datetime | str) -> datetime:
    return value if isinstance(value, datetime) else parse_instant(value)


def _entry(value: Entry | Mapping[str, Any]) -> Entry:
    return value if isinstance(value, Entry) else Entry.from_dict(value)


def entry_hash(entry: Entry, prev_hash: str) -> str:
    """sha256(canonical_json(entry without its hashes) + prev_hash), hex."""
    return hashlib.sha256(canonical_json(entry.body()) + prev_hash.encode("ascii")).hexdigest()


def link(entry: Entry, prev_hash: str) -> Entry:
    """The entry with its place in the chain: append after the entry hashed ``prev_hash``."""
    return replace(entry, prev_hash=prev_hash, hash=entry_hash(entry, prev_hash))


def chain(entries: Iterable[Entry | Mapping[str, Any]],
          prev_hash: str = GENESIS_HASH) -> list[Entry]:
    """Link entries in order, starting after ``prev_hash`` (the genesis for a new file)."""
    result = []
    for entry in entries:
        linked = link(_entry(entry), prev_hash)
        result.append(linked)
        prev_hash = linked.hash  # type: ignore[assignment]
    return result


def verify(entries: Iterable[Entry | Mapping[str, Any]]) -> tuple[bool, int | None]:
    """Check a whole case file: seq 1, 2, 3, … each linked to the one before, each hash
    right.  Returns (True, None), or (False, the first seq that cannot be trusted)."""
    prev_hash = GENESIS_HASH
    for expected_seq, raw in enumerate(entries, start=1):
        try:
            entry = _entry(raw)
        except (KeyError, TypeError, ValueError):
            return False, expected_seq
        if (entry.seq != expected_seq or entry.prev_hash != prev_hash
                or entry.hash != entry_hash(entry, prev_hash)):
            return False, expected_seq
        prev_hash = entry.hash
    return True, None


def stage_outcome(due_at: datetime, ended_at: datetime) -> bool:
    """On time = the stage ended no later than it was due.  Call it once, when the stage
    ends, and store the answer in that entry (frozen, never recomputed: Zürich, §4)."""
    return _require_aware(ended_at, "ended_at") <= _require_aware(due_at, "due_at")


# --- printable page -----------------------------------------------------------------------

# History vocabulary (uReport, §4): named actions; unknown actions are shown by their code.
ACTION_LABELS: dict[str, tuple[str, str]] = {
    "filed": ("立案", "Filed"),
    "triage_local": ("本级办理", "Handled at own level"),
    "dispatch": ("派遣（吹哨）", "Dispatched to departments"),
    "report_up": ("上报", "Reported up"),
    "assign_down": ("交办下级", "Assigned down"),
    "cancel": ("注销", "Cancelled"),
    "close_on_spot": ("自办自结", "Handled on the spot"),
    "ack": ("部门签收（报到）", "Department reported in"),
    "assist_ack": ("协办部门签收", "Assisting department reported in"),
    "progress": ("进展", "Progress reported"),
    "department_return": ("退办", "Returned by department"),
    "assist_return": ("协办部门退回", "Returned by assisting department"),
    "local_result": ("本级办结", "Result of local handling"),
    "department_result": ("部门办结", "Departments' result"),
    "result_reported": ("部门报告结果", "Department reported a result"),
    "return_visit_satisfied": ("回访满意，结案", "Return visit: satisfied, closed"),
    "return_visit_unsatisfied": ("回访不满意，返工", "Return visit: rework"),
    "suspend": ("挂账", "Suspended"),
    "resume": ("恢复办理", "Resumed"),
    "delay_requested": ("申请延时", "Delay requested"),
    "delay_granted": ("同意延时", "Delay granted"),
    "delay_refused": ("不同意延时", "Delay refused"),
    "report_refused": ("部门报告被拒收", "Department report refused"),
    "escalated": ("督办", "Escalated"),
    "note": ("备注", "Note"),
    # P5.3.1/P5.3.3: a confirmed duplicate joins its original's flow and ends with it; the
    # original's number follows the label (``data.original_case_number``)
    "merged_into": ("并案", "Merged into case"),
    "merge_undone": ("撤销并案，恢复办理", "Merge undone, back to its own handling"),
    "closed_with_original": ("随原案结案", "Closed with the original case"),
    "cancelled_with_original": ("随原案注销", "Cancelled with the original case"),
    "merge_skipped": ("未并案：本案已办结", "Not merged: this case was already finished"),
    "unmerge_skipped": ("未撤销并案：已随原案办结", "Merge not undone: already finished "
                        "with the original case"),
    "duplicate_merged": ("重复案件并入本案", "Duplicate merged into this case"),
    "duplicate_unmerged": ("重复案件撤销并案", "Duplicate taken out of this case again"),
}
# the other case a merge entry names by its number, shown after the label (P5.3.1)
_NAMES_CASE = ("original_case_number", "duplicate_case_number")

STATE_LABELS: dict[str, tuple[str, str]] = {
    "filed": ("已立案", "Filed"),
    "handling_local": ("本级办理中", "Handled locally"),
    "dispatched": ("已派遣", "Dispatched"),
    "in_progress": ("办理中", "In progress"),
    "resolved": ("已办结待回访", "Resolved, awaiting return visit"),
    "closed": ("已结案", "Closed"),
    "suspended": ("挂账", "Suspended"),
    "cancelled": ("已注销", "Cancelled"),
    "merged": ("已并案，随原案办理", "Merged, handled with the original case"),
}

_CASE_FIELDS: tuple[tuple[str, str, str], ...] = (
    ("case_number", "案件编号", "Case number"),
    ("state", "状态", "State"),
    ("work_category", "工作类别", "Work category"),
    ("subcategory", "小类", "Subcategory"),
    ("severity", "严重程度", "Severity"),
    ("priority", "优先级", "Priority"),
    ("handling_level", "处理层级", "Handling level"),
    ("town_code", "镇街编码", "Town code"),
    ("grid_code", "网格编码", "Grid code"),
    ("reported_at", "上报时间", "Reported at"),
    ("filed_at", "立案时间", "Filed at"),
    ("rule_id", "分流规则", "Triage rule"),
    ("rule_version", "规则版本", "Rule version"),
    ("rework_count", "返工次数", "Rework count"),
    ("resolved_at", "办结时间", "Resolved at"),
    ("closed_at", "结案时间", "Closed at"),
    ("description", "案件描述", "Description"),
)

_COLUMNS: tuple[tuple[str, str], ...] = (
    ("序号", "Seq"), ("时间", "Time"), ("操作", "Action"), ("操作人", "Actor"),
    ("状态变化", "State"), ("意见/理由", "Reason"), ("时限", "Deadline"),
    ("是否按时", "On time"), ("通知", "Notifications"), ("数据", "Data"), ("校验码", "Hash"),
)

_STYLE = (
    "body{font-family:sans-serif;font-size:12px;margin:16px}"
    "table{border-collapse:collapse;width:100%}"
    "th,td{border:1px solid #999;padding:3px 5px;vertical-align:top;text-align:left}"
    ".en{color:#555;font-size:90%}.bad{color:#b00;font-weight:bold}.ok{color:#070}"
    "code{font-size:90%;word-break:break-all}"
    "@media print{body{margin:0}tr{page-break-inside:avoid}}"
)


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _label(zh: str, en: str, lang: str) -> str:
    if lang == "en":
        return _e(en)
    return f'{_e(zh)} <span class="en" lang="en">{_e(en)}</span>'


def _local(moment: datetime | None, tz: ZoneInfo) -> str:
    if moment is None:
        return ""
    return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S %z")


def _value(value: Any, tz: ZoneInfo) -> str:
    if isinstance(value, datetime):
        return _e(_local(value, tz))
    return _e(value)


def _named(code: str | None, labels: Mapping[str, tuple[str, str]], lang: str) -> str:
    if not code:
        return ""
    if code in labels:
        return _label(*labels[code], lang)
    return _e(code)


def _on_time(flag: bool | None, lang: str) -> str:
    if flag is None:
        return "—"
    if flag:
        return f'<span class="ok">{_label("按时", "On time", lang)}</span>'
    return f'<span class="bad">{_label("超时", "Late", lang)}</span>'


def _notifications(items: Sequence[Mapping[str, Any]]) -> str:
    return "<br>".join(
        _e(", ".join(f"{k}={v}" for k, v in sorted(item.items()))) for item in items)


def _action(entry: Entry, lang: str) -> str:
    """The action's label; a merge names the other case by its number (P5.3.1)."""
    label = _named(entry.action, ACTION_LABELS, lang)
    other = next((entry.data[key] for key in _NAMES_CASE if entry.data.get(key)), None)
    return f"{label} {_e(other)}" if other and entry.action in ACTION_LABELS else label


def _row(entry: Entry, tz: ZoneInfo, lang: str) -> str:
    states = " → ".join(
        s for s in (_named(entry.from_state, STATE_LABELS, lang),
                    _named(entry.to_state, STATE_LABELS, lang)) if s)
    actor = f"{_e(entry.actor_role)}<br><code>{_e(entry.actor_sub)}</code>"
    data = canonical_json(dict(entry.data)).decode("utf-8") if entry.data else ""
    cells = (
        _e(entry.seq), _e(_local(entry.at, tz)), _action(entry, lang),
        actor, states, _e(entry.reason), _e(_local(entry.deadline, tz)),
        _on_time(entry.on_time, lang), _notifications(entry.notifications),
        f"<code>{_e(data)}</code>" if data else "", f"<code>{_e((entry.hash or '')[:12])}</code>",
    )
    return "<tr>" + "".join(f"<td>{cell}</td>" for cell in cells) + "</tr>"


def _case_table(case: Mapping[str, Any], tz: ZoneInfo, lang: str) -> str:
    rows = []
    for key, zh, en in _CASE_FIELDS:
        if case.get(key) is None:
            continue
        value = case[key]
        shown = _named(str(value), STATE_LABELS, lang) if key == "state" else _value(value, tz)
        rows.append(f"<tr><th>{_label(zh, en, lang)}</th><td>{shown}</td></tr>")
    return "<table class=\"case\">" + "".join(rows) + "</table>"


def _verdict(entries: Sequence[Entry], lang: str) -> str:
    ok, bad_seq = verify(entries)
    if ok:
        return f'<p class="ok">{_label("案卷完整性校验通过", "Hash chain verified", lang)}</p>'
    text = _label(f"案卷校验失败：第 {bad_seq} 条起不可信",
                  f"Hash chain broken: entries from seq {bad_seq} on cannot be trusted", lang)
    return f'<p class="bad">{text}</p>'


def render_html(case: Mapping[str, Any], entries: Sequence[Entry | Mapping[str, Any]],
                lang: str = "zh-CN", tz: str = "Asia/Shanghai") -> str:
    """A printable page of the whole case file (P5.3.4): the case, the chain's verdict and
    every entry.  Everything from data is HTML-escaped.  ``lang``: ``zh-CN`` (Chinese with
    English labels) or ``en``.  Times are shown on the local clock of ``tz``."""
    if lang not in LANGUAGES:
        raise ValueError(f"lang must be one of {', '.join(LANGUAGES)} (got {lang!r})")
    zone = ZoneInfo(tz)
    items = [_entry(e) for e in entries]
    title = _label("电子案卷", "Electronic case file", lang)
    number = _e(case.get("case_number", ""))
    head = "".join(f"<th>{_label(zh, en, lang)}</th>" for zh, en in _COLUMNS)
    rows = "".join(_row(entry, zone, lang) for entry in items)
    return (
        f'<!DOCTYPE html><html lang="{_e(lang)}"><head><meta charset="utf-8">'
        f"<title>{_e('电子案卷' if lang == 'zh-CN' else 'Case file')} {number}</title>"
        f"<style>{_STYLE}</style></head><body>"
        f"<h1>{title} {number}</h1>{_case_table(case, zone, lang)}"
        f"<h2>{_label('办理过程', 'History', lang)}</h2>{_verdict(items, lang)}"
        f"<table class=\"entries\"><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"
        "</body></html>\n"
    )

"""Circulars' rules (P5.3.5 通报): periods, rates, red/yellow cards and rankings.

Formulas (docs/CIRCULARS.md): ``closure_rate`` = closed / dispatched; ``on_time_rate`` =
closed on time / (closed + overdue open) — the items whose timeliness is already decided
(an item still within its time limit is neither on time nor late yet); None when the
denominator is 0. Cards are rules as data, first match wins.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

from gridgov_common.kernel.errors import Unprocessable

CONTENT_VERSION = 1
KINDS = ("weekly", "monthly", "custom")
MAX_CUSTOM_DAYS = 366
RATE_DIGITS = 4
COUNTS = ("dispatched", "acked_on_time", "closed", "closed_on_time", "overdue_open")
# P5.3.5: cards by rule, in order, the first match wins; each rule's conditions all hold
DEFAULT_CARD_RULES: tuple[dict[str, Any], ...] = (
    {"card": "red", "on_time_rate_below": 0.6},
    {"card": "red", "overdue_at_least": 3},
    {"card": "yellow", "on_time_rate_below": 0.8},
)
CONDITIONS = ("on_time_rate_below", "closure_rate_below", "overdue_at_least")
CARDS = ("red", "yellow")
_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")
_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
_RANGE = re.compile(r"^(\d{4}-\d{2}-\d{2})\.\.(\d{4}-\d{2}-\d{2})$")


def period_bounds(kind: str, period: str) -> tuple[date, date]:
    """[first, last] days of ``period`` ("2026-W48", "2026-11", "2026-11-01..2026-11-15")."""
    try:
        if kind == "weekly" and (m := _WEEK.match(period)):
            first = date.fromisocalendar(int(m[1]), int(m[2]), 1)
            return first, first + timedelta(days=6)
        if kind == "monthly" and (m := _MONTH.match(period)):
            first = date(int(m[1]), int(m[2]), 1)
            nxt = date(first.year + (first.month == 12), first.month % 12 + 1, 1)
            return first, nxt - timedelta(days=1)
        if kind == "custom" and (m := _RANGE.match(period)):
            first, last = date.fromisoformat(m[1]), date.fromisoformat(m[2])
            if first <= last and (last - first).days < MAX_CUSTOM_DAYS:
                return first, last
    except ValueError:
        pass
    raise Unprocessable("bad period", fields={"period": [
        "weekly: YYYY-Www; monthly: YYYY-MM; custom: YYYY-MM-DD..YYYY-MM-DD (≤ 366 days)"]})


def last_complete(kind: str, today: date) -> str:
    """The latest period of ``kind`` that ended before ``today``."""
    if kind == "weekly":
        year, week, _ = (today - timedelta(days=today.isoweekday())).isocalendar()
        return f"{year}-W{week:02d}"
    last = today.replace(day=1) - timedelta(days=1)
    return f"{last.year}-{last.month:02d}"


def rate(part: int, whole: int) -> float | None:
    return round(part / whole, RATE_DIGITS) if whole else None


def check_rules(rules: Any) -> list[dict[str, Any]]:
    """Card rules as data (config): a list of {"card": red|yellow, <condition>: number…}."""
    if not isinstance(rules, list) or not rules:
        raise ValueError("card rules: a non-empty list")
    for rule in rules:
        if not isinstance(rule, dict) or rule.get("card") not in CARDS:
            raise ValueError(f"card rule {rule!r}: card must be one of {CARDS}")
        conditions = set(rule) - {"card"}
        if not conditions or not conditions <= set(CONDITIONS):
            raise ValueError(f"card rule {rule!r}: conditions among {CONDITIONS}")
        if not all(isinstance(rule[c], int | float) for c in conditions):
            raise ValueError(f"card rule {rule!r}: numbers expected")
    return rules


def card_for(row: dict[str, Any], rules: list[dict[str, Any]]) -> str | None:
    """The first rule whose conditions all hold; a rate condition never holds on None."""
    for rule in rules:
        held = []
        for name, bound in rule.items():
            if name == "on_time_rate_below":
                held.append(row["on_time_rate"] is not None and row["on_time_rate"] < bound)
            elif name == "closure_rate_below":
                held.append(row["closure_rate"] is not None and row["closure_rate"] < bound)
            elif name == "overdue_at_least":
                held.append(row["overdue_open"] >= bound)
        if all(held):
            return rule["card"]
    return None


def _rank_key(row: dict[str, Any]) -> tuple:
    return (-(row["on_time_rate"] or 0.0), -(row["closure_rate"] or 0.0), row["overdue_open"])


def ranked(groups: list[dict[str, Any]], rules: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows with rates, card and rank: on-time rate, then closure rate (higher first), then
    fewer overdue; equal keys share a rank (1, 2, 2, 4); rows without an on-time rate (no
    item decided yet) are listed last, unranked."""
    rows = []
    for group in groups:
        row = {"code": group["code"], **{k: int(group[k]) for k in COUNTS}}
        row["closure_rate"] = rate(row["closed"], row["dispatched"])
        row["on_time_rate"] = rate(row["closed_on_time"], row["closed"] + row["overdue_open"])
        row["card"] = card_for(row, rules)
        rows.append(row)
    rated = sorted((r for r in rows if r["on_time_rate"] is not None),
                   key=lambda r: (_rank_key(r), r["code"]))
    for index, row in enumerate(rated):
        same = index and _rank_key(rated[index - 1]) == _rank_key(row)
        row["rank"] = rated[index - 1]["rank"] if same else index + 1
    rest = sorted((r for r in rows if r["on_time_rate"] is None), key=lambda r: r["code"])
    for row in rest:
        row["rank"] = None
    return rated + rest


def summary(departments: list[dict[str, Any]]) -> dict[str, Any]:
    """District-wide totals (every item is in exactly one department row)."""
    total = {k: sum(r[k] for r in departments) for k in COUNTS}
    return {**total, "closure_rate": rate(total["closed"], total["dispatched"]),
            "on_time_rate": rate(total["closed_on_time"],
                                 total["closed"] + total["overdue_open"])}


def build_content(figures: dict[str, Any], rules: list[dict[str, Any]]) -> dict[str, Any]:
    """The stored content of a circular from dispatch's ``handling_figures`` answer."""
    departments = ranked(figures["departments"], rules)
    towns = ranked(figures["towns"], rules)
    cards = {card: sum(r["card"] == card for r in departments + towns) for card in CARDS}
    return {"content_version": CONTENT_VERSION, "as_of": figures["as_of"],
            "start": figures["start"], "end": figures["end"], "card_rules": rules,
            "summary": {**summary(departments), "red_cards": cards["red"],
                        "yellow_cards": cards["yellow"]},
            "departments": departments, "towns": towns, "overdue": figures["overdue"]}


def document_number(prefix: str, year: int, sequence: int) -> str:
    """文号 as government documents write it: 姑网格通〔2026〕12号."""
    return f"{prefix}〔{year}〕{sequence}号"

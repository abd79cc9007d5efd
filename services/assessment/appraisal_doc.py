"""A half-year assessment report (P5.4.6) as the page a town's assessor and the district
print and file, and as the CSV/XLSX they open in Excel (issue 11: "people read names, not
codes"). Labels and layout only: every figure is the stored report's.

The **wide** layout (default) has one row per subject — the person by name, their role in
words, community and grid by name — each indicator of the scheme as a column (the raw value
with its points), then total, grade in words and remarks; a table each for grid staff,
communities, towns and departments (only those the reader may see). Codes appear only where
they help filing: the assessed scope's code beside its name, a grade's letter beside its word,
and a code where the registry had no name. Times are local (Asia/Shanghai), to the minute.

The **long** layout (``?layout=long``, CSV/XLSX only) is the machine format kept for existing
consumers: one row per subject × indicator, English codes, exactly as before.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from gridgov_common.contract import labels
from gridgov_common.kernel.area import Level, parent_or_none
from services.assessment.compliance import TZ
from services.assessment.tabular import Column, Document, Table

LANGS = ("zh-CN", "en")
LAYOUTS = ("wide", "long")

TEXT: dict[str, dict[str, str]] = {
    "zh-CN": {
        "title": "{scope}{half}网格工作考核结果", "H1": "{year}年上半年", "H2": "{year}年下半年",
        "draft_mark": "（草稿）", "scope": "考核范围", "period": "考核期间",
        "period_value": "{first} 至 {last}", "as_of": "统计截至", "working_days": "工作日",
        "days": "{n} 天", "scheme": "考核方案", "version_value": "第 {v} 版",
        "version": "结果版本", "state": "状态", "published": "已发布（{at}）",
        "draft": "草稿，未发布（生成于 {at}）",
        "staff": "网格人员考核结果", "towns": "镇（街道）考核结果",
        "communities": "社区考核结果", "departments": "部门考核结果",
        "name": "姓名", "role": "职务", "town": "镇（街道）", "community": "社区",
        "grid": "网格", "unit": "名称", "department": "部门", "total": "总分",
        "grade": "等次", "remarks": "备注", "missing": "缺数据", "na": "不适用",
        "cell": "{value}（{points}分）", "none": "无",
        "incomplete": "数据不全，未评分（数据覆盖 {coverage}，须达 {minimum}）",
        "missing_list": "缺：{items}", "flagged": "列入调整（社区提出、镇审批）",
        "sep": "；", "list_sep": "、",
        "note_cells": "各指标格内为原始值，括号内为折算得分（0–100 分）；"
                      "总分 = Σ 得分 × 权重 ÷ Σ 计分指标权重。",
        "note_reweight": "缺数据的指标不计分，其权重由有数据的指标分摊；不适用的指标不计。",
        "note_zero": "缺数据的指标按 0 分计；不适用的指标不计，其权重由其他指标分摊。",
        "note_grades": "等次：{bands}。", "band": "{word} {low}–{high} 分",
        "note_weights": "{kind}指标权重：{weights}。", "weight": "{label} {share}",
        "kind_grid_worker": "网格人员", "kind_community": "社区", "kind_town": "镇（街道）",
        "kind_department": "部门",
        "note_basis": "依据：平台运行记录、办结率、办结时效、基础信息准确率（电话及实地抽查）、"
                      "民主测评、量化积分（P5.4.6）；不合格人员按程序调整（P5.4.1）。",
    },
    "en": {
        "title": "Grid work assessment results, {half}{scope}",
        "H1": "first half of {year}", "H2": "second half of {year}",
        "draft_mark": " (draft)", "scope": "Assessed area", "period": "Period",
        "period_value": "{first} to {last}", "as_of": "Figures as of",
        "working_days": "Working days", "days": "{n} days", "scheme": "Scheme",
        "version_value": "version {v}", "version": "Report version", "state": "Status",
        "published": "published ({at})", "draft": "draft, not published (made {at})",
        "staff": "Grid staff", "towns": "Towns", "communities": "Communities",
        "departments": "Departments", "name": "Name", "role": "Role", "town": "Town",
        "community": "Community", "grid": "Grid", "unit": "Name",
        "department": "Department", "total": "Total", "grade": "Grade",
        "remarks": "Remarks", "missing": "no data", "na": "n/a",
        "cell": "{value} ({points} pts)", "none": "none",
        "incomplete": "incomplete, not scored (coverage {coverage}, {minimum} needed)",
        "missing_list": "no data: {items}",
        "flagged": "proposed for adjustment (community proposes, town approves)",
        "sep": "; ", "list_sep": ", ",
        "note_cells": "Each indicator shows the raw value and, in brackets, its points "
                      "(0–100); total = Σ points × weight ÷ Σ weight of the scored indicators.",
        "note_reweight": "An indicator without data is not scored: its weight is shared among "
                         "those with data; indicators that do not apply are not counted.",
        "note_zero": "An indicator without data scores 0; indicators that do not apply are "
                     "not counted and their weight is shared among the others.",
        "note_grades": "Grades: {bands}.", "band": "{word} {low}–{high}",
        "note_weights": "Weights for {kind}: {weights}.", "weight": "{label} {share}",
        "kind_grid_worker": "grid staff", "kind_community": "communities",
        "kind_town": "towns", "kind_department": "departments",
        "note_basis": "Basis: platform records, closure rate, closure timeliness, base-data "
                      "accuracy (phone and field spot checks), democratic appraisal, "
                      "quantified points (P5.4.6); failing staff go to adjustment (P5.4.1).",
    },
}
INDICATORS = {  # key → (zh-CN, en); every key of scoring.INDICATORS
    "closure_rate": ("办结率", "Closure rate"),
    "on_time_closure_rate": ("办结时效（按时办结率）", "On-time closure rate"),
    "rework_rate": ("返工率", "Rework rate"),
    "forwarding_rate": ("转办率", "Forwarding rate"),
    "first_contact_rate": ("一次办结率", "First-contact resolution"),
    "satisfaction": ("满意度（1–5）", "Satisfaction (1–5)"),
    "satisfied_rate": ("满意率", "Satisfied rate"),
    "base_data_accuracy": ("基础信息准确率", "Base-data accuracy"),
    "patrol_compliance": ("巡查达标率", "Patrol compliance"),
    "meeting_compliance": ("例会达标率", "Meeting compliance"),
    "democratic_appraisal": ("民主测评", "Democratic appraisal"),
    "quantified_points": ("量化积分", "Quantified points"),
    "ack_on_time_rate": ("按时签收率", "On-time acknowledgement"),
    "handling_rate": ("处置率", "Handling rate"),
    "on_time_handling_rate": ("按时处置率", "On-time handling rate"),
    "return_rate": ("退回率", "Return rate"),
}
NOT_RATES = frozenset({"satisfaction", "democratic_appraisal", "quantified_points"})
# DOMAIN-REFERENCES §3 bands A–E in words, for schemes whose bands carry no name_zh/name_en
GRADE_WORDS = {
    "zh-CN": {"A": "优秀", "B": "良好", "C": "合格", "D": "基本合格", "E": "不合格"},
    "en": {"A": "Excellent", "B": "Good", "C": "Satisfactory", "D": "Basically satisfactory",
           "E": "Unsatisfactory"},
}
# table order: the people first (the assessment is "of the grid leads at every level")
SECTIONS = (("grid_worker", "staff"), ("community", "communities"), ("town", "towns"),
            ("department", "departments"))


def indicator_label(key: str, lang: str) -> str:
    labels = INDICATORS.get(key)
    return labels[LANGS.index(lang)] if labels else key


def _number(value: float) -> str:
    """57.14, 50, 4.25: two places at most, no trailing zeros."""
    return f"{round(float(value), 2):.2f}".rstrip("0").rstrip(".")


def _percent(value: float) -> str:
    return f"{float(value) * 100:.1f}%"


def raw_text(key: str, raw: float) -> str:
    return _number(raw) if key in NOT_RATES else _percent(raw)


def local_time(value: Any) -> str:
    """An instant (datetime or ISO text) as Asia/Shanghai ``YYYY-MM-DD HH:MM``."""
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment.astimezone(TZ).strftime("%Y-%m-%d %H:%M")


def _day(value: Any) -> str:
    return (value if isinstance(value, date) else date.fromisoformat(str(value)[:10])
            ).isoformat()


def half_year_words(half_year: str, lang: str) -> str:
    year, half = half_year.split("H")
    return TEXT[lang][f"H{half}"].format(year=year)


class Namer:
    """Codes → the registry's names (``content.names``); the code when it gave none."""

    def __init__(self, names: dict[str, Any] | None, lang: str) -> None:
        self.names = names or {}
        self.lang = lang

    def _part(self, part: str) -> dict[str, Any]:
        found = self.names.get(part)
        return found if isinstance(found, dict) else {}

    def place(self, code: str | None) -> str:
        if not code:
            return ""
        part = {6: "districts", 9: "towns", 12: "communities", 15: "grids"}.get(len(code))
        return str(self._part(part).get(code) or code) if part else code

    def person(self, sub: str) -> str:
        return str(self._part("staff").get(sub) or sub)

    def department(self, code: str) -> str:
        entry = self._part("departments").get(code)
        return str((entry or {}).get(self.lang) or code) if isinstance(entry, dict) else code

    def scope(self, scope: str, bracketed: bool = True) -> str:
        """``town:320505001`` → 枫桥街道（320505001）: the code beside the name (filing)."""
        code = scope.partition(":")[2]
        name = self.place(code)
        if name == code or not bracketed:
            return name
        return f"{name}（{code}）" if self.lang == "zh-CN" else f"{name} ({code})"


def _bands(scheme: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {b["grade"]: b for b in scheme.get("grades") or [] if isinstance(b, dict)
            and "grade" in b}


def grade_words(grade: str | None, scheme: dict[str, Any], lang: str) -> str:
    """The grade in words, its letter beside: 优秀（A）. The scheme's own names first."""
    if not grade:
        return ""
    band = _bands(scheme).get(grade, {})
    word = band.get("name_zh" if lang == "zh-CN" else "name_en") or GRADE_WORDS[lang].get(grade)
    if not word:
        return grade
    return f"{word}（{grade}）" if lang == "zh-CN" else f"{word} ({grade})"


def _indicator_keys(scheme: dict[str, Any], kind: str, rows: list[dict]) -> list[str]:
    keys = [i["key"] for i in (scheme.get("kinds") or {}).get(kind) or []]
    for row in rows:  # a report whose scheme is not at hand: the rows' own indicators
        keys += [i["key"] for i in row.get("indicators") or [] if i["key"] not in keys]
    return keys


def _cell(indicator: dict[str, Any], t: dict[str, str]) -> str:
    if indicator.get("status") == "n/a":
        return t["na"]
    if indicator.get("status") != "ok" or indicator.get("raw") is None:
        return t["missing"]
    value = raw_text(indicator["key"], indicator["raw"])
    if indicator.get("points") is None:
        return value
    return t["cell"].format(value=value, points=_number(indicator["points"]))


def _remarks(row: dict[str, Any], scheme: dict[str, Any], lang: str) -> str:
    t = TEXT[lang]
    said = []
    if row.get("flagged"):  # P5.4.1: community proposes, town approves
        said.append(t["flagged"])
    if row.get("score") is None:
        said.append(t["incomplete"].format(
            coverage=_percent(row.get("coverage") or 0),
            minimum=_percent(scheme.get("min_coverage", 0))))
    elif row.get("missing"):
        said.append(t["missing_list"].format(items=t["list_sep"].join(
            indicator_label(k, lang) for k in row["missing"])))
    return t["sep"].join(said)


def _place(namer, code: str, level: Level) -> str:
    """The name of the place at ``level`` holding ``code`` ("" above it)."""
    found = parent_or_none(code, level)
    return namer.place(found) if found else ""


def _grids(row: dict[str, Any], namer: Namer, lang: str) -> str:
    """The grids a person answers for (the registry's), else their own grid."""
    codes = [g for g in row.get("case_grids") or [] if len(g) == 15]
    if not codes and len(row.get("scope_code") or "") == 15:
        codes = [row["scope_code"]]
    return TEXT[lang]["list_sep"].join(namer.place(g) for g in codes)


def _subject_cells(kind: str, row: dict[str, Any], namer: Namer, lang: str
                   ) -> dict[str, Any]:
    if kind == "grid_worker":
        scope_code = row.get("scope_code") or ""
        return {"name": namer.person(row["code"]),
                "role": labels.label("role", row.get("role"), lang),
                "town": _place(namer, scope_code, Level.TOWN),
                "community": _place(namer, scope_code, Level.COMMUNITY),
                "grid": _grids(row, namer, lang)}
    if kind == "department":
        return {"name": namer.department(row["code"])}
    return {"name": namer.place(row["code"]),
            "town": _place(namer, row["code"], Level.TOWN) if kind == "community" else ""}


def _section(kind: str, rows: list[dict], scheme: dict[str, Any], namer: Namer, lang: str,
             district: bool) -> Table:
    t = TEXT[lang]
    keys = _indicator_keys(scheme, kind, rows)
    if kind == "grid_worker":
        lead = [Column("name", t["name"]), Column("role", t["role"])]
        lead += [Column("town", t["town"])] if district else []
        lead += [Column("community", t["community"]), Column("grid", t["grid"])]
    elif kind == "community":
        lead = [Column("name", t["community"])] + ([Column("town", t["town"])] if district
                                                   else [])
    else:
        lead = [Column("name", t["town"] if kind == "town" else t["department"])]
    columns = [*lead, *(Column(f"i:{k}", indicator_label(k, lang)) for k in keys),
               Column("total", t["total"], "number"), Column("grade", t["grade"]),
               Column("remarks", t["remarks"])]
    body = []
    for row in rows:
        by_key = {i["key"]: i for i in row.get("indicators") or []}
        cells = _subject_cells(kind, row, namer, lang)
        for key in keys:
            cells[f"i:{key}"] = _cell(by_key[key], t) if key in by_key else t["na"]
        cells.update(total=row.get("score"), grade=grade_words(row.get("grade"), scheme, lang),
                     remarks=_remarks(row, scheme, lang))
        body.append(cells)
    return Table(t[dict(SECTIONS)[kind]], columns, body, t["none"])


def _weights_note(kind: str, scheme: dict[str, Any], lang: str) -> str | None:
    t = TEXT[lang]
    indicators = (scheme.get("kinds") or {}).get(kind)
    if not indicators:
        return None
    weights = t["list_sep"].join(
        t["weight"].format(label=indicator_label(i["key"], lang),
                           share=f"{i['weight'] * 100:g}%") for i in indicators)
    return t["note_weights"].format(kind=t[f"kind_{kind}"], weights=weights)


def _notes(scheme: dict[str, Any], kinds: list[str], lang: str) -> list[str]:
    t = TEXT[lang]
    notes = [t["note_cells"],
             t["note_zero"] if scheme.get("missing") == "zero" else t["note_reweight"]]
    bands = [t["band"].format(word=grade_words(b["grade"], scheme, lang),
                              low=_number(b["min"]), high=_number(b["max"]))
             for b in _bands(scheme).values() if "min" in b and "max" in b]
    if bands:
        notes.append(t["note_grades"].format(bands=t["sep"].join(bands)))
    notes += [n for n in (_weights_note(k, scheme, lang) for k in kinds) if n]
    return [*notes, t["note_basis"]]


def _state(report: dict[str, Any], t: dict[str, str]) -> str:
    if report.get("state") == "published" and report.get("published_at"):
        return t["published"].format(at=local_time(report["published_at"]))
    return t["draft"].format(at=local_time(report["created_at"]))


def document(report: dict[str, Any], names: dict[str, Any] | None, lang: str) -> Document:
    """The wide, readable report in ``lang`` (module docstring). ``names``: the stored
    ``content.names``, or the registry's answer for a report made without them."""
    t = TEXT[lang]
    content = report["content"]
    scheme = content.get("scheme") or {}
    namer = Namer(names, lang)
    district = report["scope"].startswith("district:")
    scope_name = namer.scope(report["scope"], bracketed=False)
    if scope_name == report["scope"].partition(":")[2]:
        scope_name = ""  # no name: the code is in the facts below, not glued to the title
    half = half_year_words(report["half_year"], lang)
    title = t["title"].format(half=half, scope=(
        scope_name if lang == "zh-CN" or not scope_name else f" — {scope_name}"))
    if report.get("state") != "published":
        title += t["draft_mark"]
    tables, kinds = [], []
    for kind, _ in SECTIONS:
        rows = [r for r in content.get("rows") or [] if r.get("subject_kind") == kind]
        if rows or kind == "grid_worker":
            tables.append(_section(kind, rows, scheme, namer, lang, district))
            kinds.append(kind)
    meta = [(t["scope"], namer.scope(report["scope"])),
            (t["period"], t["period_value"].format(first=_day(report["period_start"]),
                                                   last=_day(report["period_end"]))),
            (t["as_of"], _day(content.get("as_of") or report["period_end"])),
            (t["working_days"], t["days"].format(n=content.get("working_days", "—"))),
            (t["scheme"], t["version_value"].format(v=report["scheme_version"])),
            (t["version"], t["version_value"].format(v=report["version"])),
            (t["state"], _state(report, t))]
    return Document(title=title, lang=lang, meta=meta, tables=tables,
                    notes=_notes(scheme, kinds, lang))


def long_document(report: dict[str, Any]) -> Document:
    """``?layout=long``: one row per subject and indicator, English codes (the format of
    the first exports, kept for the consumers that parse it)."""
    content = report["content"]
    columns = [Column(k, k, kind) for k, kind in (
        ("subject_kind", "text"), ("code", "text"), ("role", "text"), ("town_code", "text"),
        ("indicator", "text"), ("status", "text"), ("raw", "text"), ("points", "text"),
        ("weight", "text"), ("weighted", "text"), ("score", "text"), ("grade", "text"),
        ("coverage", "text"), ("flagged", "text"))]
    rows = []
    for subject in content["rows"]:
        for ind in subject["indicators"]:
            rows.append({**subject, "indicator": ind["key"], "status": ind["status"],
                         "raw": _text(ind["raw"]), "points": _text(ind["points"]),
                         "weight": _text(ind["weight"]), "weighted": _text(ind["weighted"]),
                         "score": _text(subject["score"]), "grade": subject["grade"] or "",
                         "coverage": _text(subject["coverage"]),
                         "flagged": "yes" if subject["flagged"] else ""})
    meta = [("half_year", report["half_year"]), ("scope", report["scope"]),
            ("version", str(report["version"])), ("state", report["state"]),
            ("scheme_version", str(report["scheme_version"])), ("as_of", content["as_of"])]
    return Document(title=f"assessment {report['half_year']} {report['scope']}",
                    lang="en", meta=meta, tables=[Table("subjects", columns, rows)])


def _text(value) -> str:
    return "" if value is None else f"{value:g}" if isinstance(value, float) else str(value)


"""The electronic case file as a person reads it (P5.3.4): what, where, who, photos, and
a timeline in words — names, not codes; local time to the minute, not ISO instants.

The raw entries stay in the JSON export (``file.json``) with the hash chain; this page keeps
the chain's verdict and each entry's short hash, so a printed page can still be matched to
the archive.  The names come in a :class:`PageContext` the service gathers (registry,
department register, catalogue); a name it could not get falls back to the code, shown
as a code, never to nothing.  Everything from data is HTML-escaped.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from gridgov_common.contract.labels import label
from gridgov_common.kernel import area
from services.dispatch.domain.casefile import (
    LANGUAGES,
    STATE_LABELS,
    Entry,
    as_entry,
    parse_instant,
    verify,
)
from services.dispatch.domain.casefile_timeline import timeline

Names = tuple[str, str]  # (zh-CN, en)


@dataclass(frozen=True)
class PageContext:
    """The names a page needs; every part optional (a registry that did not answer costs
    the names, not the page)."""

    subcategory: Names | None = None
    departments: Mapping[str, Names] = field(default_factory=dict)
    place: Mapping[str, Any] | None = None  # registry case_context "place"
    building: Mapping[str, Any] | None = None  # {address, lon, lat}
    staff: Mapping[str, Mapping[str, str]] = field(default_factory=dict)  # sub -> name, role
    assignments: Sequence[Mapping[str, Any]] = ()
    photo_base: str = ""  # where events serves photos ("…/photos/<sha256>")


_STYLE = (
    'body{font-family:"Noto Sans CJK SC","Microsoft YaHei",sans-serif;font-size:13px;'
    "margin:16px;color:#111}h1{font-size:20px}h2{font-size:16px;margin-top:20px}"
    "table{border-collapse:collapse;width:100%}"
    "th,td{border:1px solid #999;padding:4px 6px;vertical-align:top;text-align:left}"
    "th{background:#f0f0f0;width:9em}.bad{color:#a00;font-weight:bold}.ok{color:#060}"
    ".code{color:#444;font-size:90%}.map{width:260px;height:200px;border:1px solid #999}"
    "ol.timeline li{margin:4px 0}.muted{color:#444}.wide{overflow-x:auto}"
    "@media (max-width:600px){body{margin:8px}th{width:auto}}"
    "@media print{body{margin:0}li,tr{page-break-inside:avoid}}"
)


class _Page:
    """One rendering: the language, clock and context every helper needs."""

    def __init__(self, case: Mapping[str, Any], ctx: PageContext, lang: str,
                 zone: ZoneInfo) -> None:
        self.case, self.ctx, self.lang, self.zone = case, ctx, lang, zone

    def t(self, zh: str, en: str) -> str:
        return html.escape(en if self.lang == "en" else zh)

    def paren(self, inner: str) -> str:
        """An aside in the reader's typography: （…） in Chinese, " (…)" in English."""
        return f" ({inner})" if self.lang == "en" else f"（{inner}）"

    def pick(self, names: Names) -> str:
        return names[1] if self.lang == "en" else names[0]

    def when(self, moment: datetime | str | None) -> str:
        """Local time to the minute: what a person writes on a file."""
        if moment is None:
            return ""
        if isinstance(moment, str):
            moment = parse_instant(moment)
        return moment.astimezone(self.zone).strftime("%Y-%m-%d %H:%M")

    def label(self, table: str, code: Any) -> str:
        return html.escape(label(table, code, self.lang))

    def department(self, code: str | None) -> str:
        if not code:
            return ""
        names = self.ctx.departments.get(code)
        if names:
            return html.escape(self.pick(names))
        return f'<span class="code">{html.escape(code)}</span>'

    def state(self, code: str | None) -> str:
        if not code:
            return ""
        names = STATE_LABELS.get(code)
        return html.escape(self.pick(names)) if names else html.escape(code)

    def place_of(self, scope: str | None) -> str:
        """A scope (``town:320505001``) by the name of that place, when it is the case's."""
        level, _, code = (scope or "").partition(":")
        place = self.ctx.place or {}
        for key in ("district", "town", "community", "grid"):
            if place.get(f"{key}_code") == code and place.get(f"{key}_name"):
                return html.escape(place[f"{key}_name"])
        return f'<span class="code">{html.escape(code or level)}</span>'


def _esc(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _rows(rows: Sequence[tuple[str, str]]) -> str:
    return "<table>" + "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows
                               if v) + "</table>"


def _what(p: _Page) -> str:
    c = p.case
    category = p.label("work_category", c.get("work_category"))
    if p.ctx.subcategory:
        category += " · " + _esc(p.pick(p.ctx.subcategory))
    satisfaction = c.get("satisfaction")
    return _rows((
        (p.t("状态", "State"), p.state(c.get("state"))),
        (p.t("类别", "Category"), category),
        (p.t("严重程度", "Severity"), p.label("severity", c.get("severity"))),
        (p.t("优先级", "Priority"), p.label("priority", c.get("priority"))),
        (p.t("办理层级", "Handled at"), p.label("handling_level", c.get("handling_level"))),
        (p.t("来源", "Source"), p.label("source", c.get("source"))),
        (p.t("上报时间", "Reported"), p.when(c.get("reported_at"))),
        (p.t("立案时间", "Filed"), p.when(c.get("filed_at"))),
        (p.t("办结时间", "Resolved"), p.when(c.get("resolved_at"))),
        (p.t("结案时间", "Closed"), p.when(c.get("closed_at"))),
        (p.t("返工次数", "Reworked"), _esc(c.get("rework_count") or "")),
        (p.t("回访满意度", "Satisfaction"),
         f"{satisfaction} / 5" if satisfaction is not None else ""),
        (p.t("案件描述", "Description"), _esc(c.get("description"))),
    ))


def _where(p: _Page) -> str:
    place, building = p.ctx.place or {}, p.ctx.building or {}
    grid_code = p.case.get("grid_code")
    grid = _esc(place.get("grid_name") or "")
    grid += f' <span class="code">{_esc(grid_code)}</span>' if grid_code else ""
    point = _point(p)
    rows = (
        (p.t("区", "District"), _esc(place.get("district_name"))),
        (p.t("镇（街道）", "Town"), _esc(place.get("town_name"))),
        (p.t("社区", "Community"), _esc(place.get("community_name"))),
        (p.t("网格", "Grid"), grid),
        (p.t("地址", "Address"), _esc(building.get("address"))),
        (p.t("位置", "Position"),
         f"{point[0]:.6f}, {point[1]:.6f}{p.paren('WGS84')}" if point else ""),
    )
    return _rows(rows) + _map(p, point)


def _point(p: _Page) -> tuple[float, float] | None:
    location = p.case.get("location") or p.ctx.building
    if not location or location.get("lon") is None:
        return None
    return float(location["lon"]), float(location["lat"])


def _map(p: _Page, point: tuple[float, float] | None) -> str:
    """The grid's boundary with the case's point, drawn inline (no map tiles: the page
    must print and work in an offline government network)."""
    geometry = (p.ctx.place or {}).get("geometry") or {}
    rings = _rings(geometry)
    if not rings:
        return ""
    xs = [x for ring in rings for x, _ in ring] + ([point[0]] if point else [])
    ys = [y for ring in rings for _, y in ring] + ([point[1]] if point else [])
    x0, y0 = min(xs), min(ys)
    # a degree of longitude is cos(latitude) of a degree of latitude on the ground: without
    # it the grid is drawn stretched; the whole drawing fits the 240 × 180 frame, centred
    squeeze = math.cos(math.radians((min(ys) + max(ys)) / 2))
    width, height = (max(xs) - x0) * squeeze, max(ys) - y0
    scale = min(240 / max(width, 1e-9), 180 / max(height, 1e-9))
    left, bottom = 10 + (240 - width * scale) / 2, 190 - (180 - height * scale) / 2

    def xy(lon: float, lat: float) -> str:  # north up
        return f"{left + (lon - x0) * squeeze * scale:.1f},{bottom - (lat - y0) * scale:.1f}"

    shapes = "".join(f'<polygon points="{" ".join(xy(*pt) for pt in ring)}" '
                     'fill="#e8f0fe" stroke="#1a56c4" stroke-width="1.5"/>' for ring in rings)
    if point:
        shapes += f'<circle cx="{xy(*point).split(",")[0]}" cy="{xy(*point).split(",")[1]}" ' \
                  'r="5" fill="#c00" stroke="#fff" stroke-width="1.5"/>'
    title = p.t("网格范围与案件位置", "The grid and where the case is")
    return (f'<svg class="map" viewBox="0 0 260 200" role="img" aria-label="{title}">'
            f"<title>{title}</title>{shapes}</svg>")


def _rings(geometry: Mapping[str, Any]) -> list[list[tuple[float, float]]]:
    if geometry.get("type") == "Polygon":
        polygons = [geometry.get("coordinates") or []]
    elif geometry.get("type") == "MultiPolygon":
        polygons = geometry.get("coordinates") or []
    else:
        return []
    return [[(float(x), float(y)) for x, y, *_ in polygon[0]] for polygon in polygons
            if polygon]


def _who(p: _Page) -> str:
    reporter = p.label("source", p.case.get("source"))
    sub = p.case.get("reporter_sub")
    person = p.ctx.staff.get(sub) if sub else None
    if person:
        reporter = _esc(person["name"]) + p.paren(p.label("role", person["role"]))
    rows = [(p.t("上报人", "Reported by"), reporter)]
    table = _assignments(p)
    return _rows(rows) + table


def _assignments(p: _Page) -> str:
    if not p.ctx.assignments:
        return ""
    head = "".join(f"<th>{p.t(zh, en)}</th>" for zh, en in (
        ("承办部门", "Department"), ("职责", "Role"), ("签收时限", "Report in by"),
        ("签收", "Reported in"), ("办理时限", "Handle by"), ("报告结果", "Result reported")))
    rows = []
    for a in p.ctx.assignments:
        cells = (p.department(a.get("department")), p.label("assignment_role", a.get("role")),
                 p.when(a.get("ack_due_at")),
                 _timely(p, a.get("acked_at"), a.get("ack_on_time")),
                 p.when(a.get("handle_due_at")),
                 _timely(p, a.get("reported_at"), a.get("handle_on_time")))
        rows.append("<tr>" + "".join(f"<td>{cell}</td>" for cell in cells) + "</tr>")
    return (f'<div class="wide" tabindex="0"><table><thead><tr>{head}</tr></thead>'
            f"<tbody>{''.join(rows)}</tbody></table></div>")


def _timely(p: _Page, at: Any, on_time: bool | None) -> str:
    if at is None:
        return p.t("未", "not yet")
    return f"{p.when(at)} {_on_time(p, on_time)}"


def _on_time(p: _Page, flag: bool | None) -> str:
    if flag is None:
        return ""
    if flag:
        return f'<span class="ok">{p.t("按时", "on time")}</span>'
    return f'<span class="bad">{p.t("超时", "late")}</span>'


def _photos(p: _Page) -> str:
    shas = list(p.case.get("photos") or ())
    if not shas:
        return f'<p class="muted">{p.t("无照片", "No photos")}</p>'
    base = p.ctx.photo_base.rstrip("/")
    items = "".join(
        f'<li><a href="{_esc(base)}/photos/{_esc(sha)}">{p.t("照片", "Photo")} {n}</a> '
        f'<span class="code">SHA-256 {_esc(sha[:12])}…</span></li>'
        for n, sha in enumerate(shas, 1))
    return f"<ol>{items}</ol>"


def render_page(case: Mapping[str, Any], entries: Sequence[Entry | Mapping[str, Any]],
                ctx: PageContext | None = None, lang: str = "zh-CN",
                tz: str = area.TZ_NAME) -> str:
    """The whole page: what, where, who, photos, the timeline and the chain's verdict."""
    if lang not in LANGUAGES:
        raise ValueError(f"lang must be one of {', '.join(LANGUAGES)} (got {lang!r})")
    p = _Page(case, ctx or PageContext(), lang, ZoneInfo(tz))
    items = [as_entry(e) for e in entries]
    number = _esc(case.get("case_number", ""))
    title = p.t("电子案卷", "Case file")
    return (
        f'<!DOCTYPE html><html lang="{_esc(lang)}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{title} {number}</title><style>{_STYLE}</style></head><body>"
        f"<h1>{title} {number}</h1>"
        f"<h2>{p.t('案件概况', 'What')}</h2>{_what(p)}"
        f"<h2>{p.t('地点', 'Where')}</h2>{_where(p)}"
        f"<h2>{p.t('人员与部门', 'Who')}</h2>{_who(p)}"
        f"<h2>{p.t('照片', 'Photos')}</h2>{_photos(p)}"
        f"<h2>{p.t('办理过程', 'Timeline')}</h2>{_verdict(p, items)}{timeline(p, items)}"
        "</body></html>\n"
    )


def _verdict(p: _Page, entries: Sequence[Entry]) -> str:
    ok, bad_seq = verify(entries)
    if ok:
        count = p.paren(f'{len(entries)} {p.t("条记录", "entries")}')
        return f'<p class="ok">{p.t("案卷完整性校验通过", "Hash chain verified")}{count}</p>'
    broken = p.t(f"案卷校验失败：第 {bad_seq} 条起不可信",
                 f"Hash chain broken: entries from {bad_seq} on cannot be trusted")
    return f'<p class="bad">{broken}</p>'

"""Tables as HTML, CSV and XLSX: one renderer for every published report of the assessment
service (circulars, P5.3.5; half-year assessments, P5.4.6).

A report is a :class:`Document` — title, a few facts (``meta``), tables of typed columns,
notes — already translated by whoever builds it: this module knows no domain and no
language beyond ``lang`` for the HTML ``lang`` attribute. Why one model for three formats:
the figures a town reads on screen, in Excel and in the printed page must be the same
cells, so they come from one list of rows.

- HTML: one self-contained page (inline CSS, no script, no CDN: it opens offline and
  prints), every value escaped.
- CSV: UTF-8 **with BOM** (Excel guesses the encoding from it and shows Chinese
  correctly), CRLF rows, one block per table separated by an empty row.
- XLSX (openpyxl): a sheet of facts and notes, then one sheet per table; rates are
  numbers in a percent format (sortable in Excel), not text.

Column kinds: ``text``, ``int``, ``rate`` (a fraction 0–1 or None), ``number`` (a score
shown with two decimals, a number in Excel so it sorts), ``card`` (a label with its colour
key in ``Column.colours``).
"""

from __future__ import annotations

import html
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Font, PatternFill

from gridgov_common.kernel import csvsafe

KINDS = ("text", "int", "rate", "number", "card")
CARD_COLOURS = {"red": "F4C7C3", "yellow": "FCE8B2", "green": "D9EAD3"}
SHEET_NAME_MAX = 31  # Excel's limit
FORBIDDEN_IN_SHEET_NAMES = "[]:*?/\\"


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    kind: str = "text"
    # for ``card`` columns: the raw value (e.g. "red") → its label in the document's language
    labels: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"column kind must be one of {KINDS}")


@dataclass(frozen=True)
class Table:
    title: str
    columns: Sequence[Column]
    rows: Sequence[Mapping[str, Any]]
    empty: str = "—"  # what an empty table says


@dataclass(frozen=True)
class Document:
    title: str
    lang: str
    meta: Sequence[tuple[str, str]] = ()
    tables: Sequence[Table] = ()
    notes: Sequence[str] = ()


def cell_text(column: Column, value: Any) -> str:
    """The value as a person reads it (HTML and CSV)."""
    if value is None or value == "":
        return "" if column.kind != "rate" else "—"
    if column.kind == "rate":
        return f"{float(value) * 100:.1f}%"
    if column.kind == "number":
        return f"{float(value):.2f}"
    if column.kind == "card":
        return column.labels.get(str(value), str(value))
    return str(value)


# -- HTML ----------------------------------------------------------------------------------

STYLE = """
body{font-family:"Noto Sans CJK SC","Microsoft YaHei","PingFang SC",sans-serif;margin:24px;
color:#222}h1{font-size:20px}h2{font-size:16px;margin-top:28px}
table{border-collapse:collapse;margin:8px 0;font-size:13px}
th,td{border:1px solid #999;padding:4px 8px}th{background:#eee}
td.num{text-align:right}td.card-red{background:#f4c7c3}td.card-yellow{background:#fce8b2}
dl{display:grid;grid-template-columns:max-content auto;gap:2px 12px}dt{font-weight:bold}
.notes{font-size:12px;color:#555}thead{display:table-header-group}
.wide{overflow-x:auto}
@media (max-width:600px){body{margin:8px}td{white-space:nowrap}}
@media print{body{margin:0}@page{size:A4 landscape}}
"""


def _html_table(table: Table) -> str:
    esc = html.escape
    head = "".join(f'<th scope="col">{esc(c.label)}</th>' for c in table.columns)
    body = []
    for row in table.rows:
        cells = []
        for c in table.columns:
            value = row.get(c.key)
            css = ("num" if c.kind in ("int", "rate", "number")
                   else f"card-{esc(str(value))}" if c.kind == "card" and value else "")
            cls = f' class="{css}"' if css else ""
            cells.append(f"<td{cls}>{esc(cell_text(c, value))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    if not body:
        body.append(f'<tr><td colspan="{len(table.columns)}">{esc(table.empty)}</td></tr>')
    # a wide table scrolls sideways on a phone instead of squeezing the page
    return (f'<h2>{esc(table.title)}</h2><div class="wide" tabindex="0"><table><thead>'
            f"<tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table></div>")


def to_html(doc: Document) -> str:
    esc = html.escape
    meta = "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in doc.meta)
    notes = "".join(f"<p>{esc(n)}</p>" for n in doc.notes)
    tables = "".join(_html_table(t) for t in doc.tables)
    return (f'<!DOCTYPE html><html lang="{esc(doc.lang)}"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{esc(doc.title)}</title><style>{STYLE}</style></head><body>"
            f"<main><h1>{esc(doc.title)}</h1><dl>{meta}</dl>{tables}"
            f'<div class="notes">{notes}</div></main></body></html>')


# -- CSV -----------------------------------------------------------------------------------

def _csv_safe(text: str) -> str:
    """Neutralise spreadsheet formulas (CSV injection), the one rule of every export:
    ``gridgov_common/kernel/csvsafe.py``."""
    return csvsafe.cell(text)


def to_csv(doc: Document) -> bytes:
    out = io.StringIO()
    writer = csvsafe.writer(out)  # every cell neutralised there
    writer.writerow([doc.title])
    for key, value in doc.meta:
        writer.writerow([key, value])
    for table in doc.tables:
        writer.writerow([])
        writer.writerow([table.title])
        writer.writerow([c.label for c in table.columns])
        for row in table.rows:
            writer.writerow([cell_text(c, row.get(c.key)) for c in table.columns])
    for note in doc.notes:
        writer.writerow([])
        writer.writerow([note])
    return csvsafe.BOM.encode() + out.getvalue().encode("utf-8")


# -- XLSX ----------------------------------------------------------------------------------

def _sheet_name(title: str, taken: set[str]) -> str:
    base = "".join("_" if ch in FORBIDDEN_IN_SHEET_NAMES else ch for ch in title)
    base = base[:SHEET_NAME_MAX] or "sheet"
    name, n = base, 2
    while name.lower() in taken:
        suffix = f" ({n})"
        name, n = base[:SHEET_NAME_MAX - len(suffix)] + suffix, n + 1
    taken.add(name.lower())
    return name


def _xlsx_value(column: Column, value: Any) -> Any:
    if value is None:
        return None
    if column.kind == "int":
        return int(value)
    if column.kind in ("rate", "number"):
        return float(value)
    if column.kind == "card":
        return column.labels.get(str(value), str(value))
    return _csv_safe(str(value))


def to_xlsx(doc: Document) -> bytes:
    book = Workbook()
    bold = Font(bold=True)
    first = book.active
    taken: set[str] = set()
    first.title = _sheet_name(doc.title, taken)
    first.append([doc.title])
    first["A1"].font = bold
    for key, value in doc.meta:
        first.append([key, _csv_safe(value)])
    for note in doc.notes:
        first.append([])
        first.append([_csv_safe(note)])
    for table in doc.tables:
        sheet = book.create_sheet(_sheet_name(table.title, taken))
        sheet.append([c.label for c in table.columns])
        for cell in sheet[1]:
            cell.font = bold
        for row in table.rows:
            sheet.append([_xlsx_value(c, row.get(c.key)) for c in table.columns])
        for index, column in enumerate(table.columns, start=1):
            letter = sheet.cell(row=1, column=index).column_letter
            sheet.column_dimensions[letter].width = max(10, len(column.label) * 2 + 2)
            for r, row in enumerate(table.rows, start=2):
                cell = sheet.cell(row=r, column=index)
                if column.kind == "rate":
                    cell.number_format = "0.0%"
                elif column.kind == "number":
                    cell.number_format = "0.00"
                elif column.kind == "card" and str(row.get(column.key)) in CARD_COLOURS:
                    colour = CARD_COLOURS[str(row.get(column.key))]
                    cell.fill = PatternFill("solid", start_color=colour, end_color=colour)
        sheet.freeze_panes = "A2"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


RENDERERS = {
    "html": (to_html, "text/html; charset=utf-8"),
    "csv": (to_csv, "text/csv; charset=utf-8"),
    "xlsx": (to_xlsx, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
}

"""One CSV writer for every export of every service (issue 10 item 6).

A cell a spreadsheet would read as a formula — text starting with ``=``, ``+``, ``-``,
``@``, a tab or a carriage return (``=HYPERLINK(…)``, ``@SUM(…)``) — is written with a
leading apostrophe, so Excel, LibreOffice and WPS show it as text instead of running it
(CSV injection, OWASP). Plain numbers (``-3``, ``+1.5``, ``12%``) are left alone. Any
export of data somebody else typed (a resident's name, a case title) goes through here:
registry's masked residents export, assessment's reports (``services/assessment/tabular.py``).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from typing import Any, TextIO

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n")
_NUMBER = re.compile(r"[+-]?\d+(\.\d+)?%?")
BOM = "\ufeff"


def cell(value: Any) -> Any:
    """``value`` made safe for a spreadsheet cell: text that would start a formula gets a
    leading apostrophe; anything that is not text (numbers, None) is returned as it is."""
    if not isinstance(value, str):
        return value
    if value[:1] in FORMULA_STARTS and not _NUMBER.fullmatch(value):
        return "'" + value
    return value


class Writer:
    """``csv.writer`` whose every cell goes through :func:`cell` (CRLF rows)."""

    def __init__(self, out: TextIO) -> None:
        self._writer = csv.writer(out, lineterminator="\r\n")

    def writerow(self, row: Iterable[Any]) -> None:
        self._writer.writerow([cell(v) for v in row])

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)


def writer(out: TextIO) -> Writer:
    return Writer(out)

"""Values marshmallow accepts but PostgreSQL (or date arithmetic) cannot take.

Found by fuzzing (tests/fuzz/): a string with a NUL character or an unpaired UTF-16
surrogate (JSON allows ``"\\u0000"`` and ``"\\ud800"``), an integer beyond PostgreSQL's
bigint, or a date in year 1 made the database driver or ``date`` arithmetic raise, and the
caller got a 500 instead of a 422. Rather than a bound on every field of every schema, the
HTTP entrypoint (gridgov_common.platform.web) checks every validated query and body once with
:func:`problems`: whatever comes out of it can be stored and computed with.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

BIGINT = (-(2**63), 2**63 - 1)
YEARS = (1900, 2999)  # dates of a district's registry and cases; room for date arithmetic
_UNSTORABLE_TEXT = re.compile("[\x00\ud800-\udfff]")
_WALKED = (str, int, date, dict, list, tuple, set, frozenset)  # what _walk looks into


def problems(value: Any, path: str = "") -> dict[str, list[str]]:
    """Field path -> problems, empty when every value can be stored."""
    if _clean(value):  # nearly always: no paths built (issue 16, every message loaded)
        return {}
    found: dict[str, list[str]] = {}
    _walk(value, path, found)
    return found


def _clean(value: Any) -> bool:
    """True only if :func:`_walk` would find nothing: the plain JSON types and dates are
    checked by exact type, without the field paths; a subclass of them or a tuple answers
    False and the full walk decides, so this never hides a problem."""
    kind = type(value)
    if kind is str:
        return _UNSTORABLE_TEXT.search(value) is None
    if kind is dict:
        for key, item in value.items():
            if not (_clean(key) and _clean(item)):
                return False
        return True
    if kind is list:
        for item in value:
            if not _clean(item):
                return False
        return True
    if kind is int:
        return BIGINT[0] <= value <= BIGINT[1]
    if kind is bool or kind is float or value is None:
        return True
    if kind is datetime or kind is date:
        return YEARS[0] <= value.year <= YEARS[1]
    return not isinstance(value, _WALKED)  # a UUID, a Decimal: nothing the walk checks



def _walk(value: Any, path: str, found: dict[str, list[str]]) -> None:
    message = None
    if isinstance(value, str):
        if _UNSTORABLE_TEXT.search(value):
            message = "text must not contain NUL characters or unpaired surrogates"
    elif isinstance(value, bool):
        return
    elif isinstance(value, int):
        if not BIGINT[0] <= value <= BIGINT[1]:
            message = f"integer out of range [{BIGINT[0]}, {BIGINT[1]}]"
    elif isinstance(value, date):  # datetime too
        if not YEARS[0] <= value.year <= YEARS[1]:
            message = f"year must be within {YEARS[0]}-{YEARS[1]}"
    elif isinstance(value, dict):
        for key, item in value.items():
            _walk(key, f"{path}.{key}" if path else str(key), found)
            _walk(item, f"{path}.{key}" if path else str(key), found)
    elif isinstance(value, list | tuple | set | frozenset):
        for index, item in enumerate(value):
            _walk(item, f"{path}.{index}" if path else str(index), found)
    if message:
        found.setdefault(path or "_schema", []).append(message)

"""The department register's first version (P4.2's ten units), kept as data in
``departments.json`` beside this module: the registry's first migration loads it, and the
demo district takes its department list from it (broker users, compose passwords, the
simulated department systems). One list instead of four; a district changes its register
over the registry's API (docs/DEPARTMENTS.md), never here.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

FILE = Path(__file__).with_name("departments.json")


@cache
def entries() -> tuple[dict[str, Any], ...]:
    """Each department: code, name_zh, name_en, unit, work_categories, remit."""
    return tuple(json.loads(FILE.read_text(encoding="utf-8"))["departments"])


def codes() -> tuple[str, ...]:
    """The seed's codes, sorted (a stable order for definitions and .env)."""
    return tuple(sorted(entry["code"] for entry in entries()))

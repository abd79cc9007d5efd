"""The demo district a seed makes, held to a committed record of it.

Why: tests, benchmarks, the demo and every district rebuilt from ``load-demo --seed N``
rely on the same seed giving the same district (the same grids, households, residents and
staff, byte for byte); ``test_deterministic_for_a_seed`` only proves that two runs in one
process agree.  A record written once and reviewed catches any change to what a seed
makes, and says which part changed: structure, buildings, households, residents or staff.
The record (tests/unit/golden/demo_district.json) keeps a digest per part, the counts, and
the first records of each part in full for a reviewer to read.

Rewrite after an intended change: ``GRIDGOV_WRITE_GOLDEN=1 pytest
tests/unit/test_generator_golden.py`` writes the record and fails (a run that writes never
passes); review ``git diff tests/unit/golden`` and commit.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from collections.abc import Iterable
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from services.registry.domain import generator

GOLDEN = Path(__file__).parent / "golden" / "demo_district.json"
SAMPLE = 3

# Configurations that between them take every branch: base and exclusive grids (also
# empty ones: offices only), 小区 split in two, households of one person (mean 1: no
# Poisson draw), a district above and below ten grids, a custom district and date.
CONFIGS: dict[str, dict[str, Any]] = {
    "seed42_2x2x3": {"seed": 42, "towns": 2, "communities_per_town": 2,
                     "grids_per_community": 3},
    "seed7_1x1x9_small": {"seed": 7, "towns": 1, "communities_per_town": 1,
                          "grids_per_community": 9, "households_per_grid": 60,
                          "people_per_household": 1.0, "exclusive_share": 0.3},
    "seed3_3x1x4_custom": {"seed": 3, "towns": 3, "communities_per_town": 1,
                           "grids_per_community": 4, "households_per_grid": 120,
                           "people_per_household": 4.5, "district_code": "110105",
                           "district_name": "朝阳区", "bbox": (116.3, 39.9, 116.4, 39.95),
                           "as_of": date(2025, 1, 1)},
    # every grid exclusive, one of them empty; towns (镇) after streets (街道)
    "seed6_12x1x2_exclusive": {"seed": 6, "towns": 12, "communities_per_town": 1,
                               "grids_per_community": 2, "households_per_grid": 50,
                               "exclusive_share": 1.0},
}


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)
                if f.name != "params"}
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, date):
        return value.isoformat()
    return value


def _part(items: Iterable[Any]) -> dict[str, Any]:
    rows = [_plain(item) for item in items]
    digest = hashlib.sha256()
    for row in rows:
        digest.update(json.dumps(row, ensure_ascii=False, sort_keys=True).encode() + b"\n")
    return {"count": len(rows), "sha256": digest.hexdigest(), "first": rows[:SAMPLE]}


def _record(config: dict[str, Any]) -> dict[str, Any]:
    district = generator.generate_district(**config)
    grids = list(district.iter_grids())
    towns = [{"code": t.code, "name": t.name, "kind": t.kind, "bbox": list(t.bbox),
              "communities": [{"code": c.code, "name": c.name, "bbox": list(c.bbox)}
                              for c in t.communities]} for t in district.towns]
    return {
        "district": {"code": district.code, "name": district.name, "seed": district.seed,
                     "grid_count": district.grid_count, "towns": towns},
        "grids": _part(grids),
        "neighbourhoods": _part(n for g in grids for n in generator.neighbourhoods(g)),
        "households": _part(h for g in grids for h in generator.iter_households(g)),
        "residents": _part(district.iter_residents()),
        "staff": _part(district.iter_staff()),
    }


def _as_json(value: Any) -> Any:
    return json.loads(json.dumps(value, ensure_ascii=False))


def test_each_seed_makes_the_recorded_district():
    made = _as_json({name: _record(config) for name, config in CONFIGS.items()})
    if os.environ.get("GRIDGOV_WRITE_GOLDEN") == "1":
        GOLDEN.write_text(json.dumps(made, ensure_ascii=False, indent=1, sort_keys=True)
                          + "\n", encoding="utf-8")
        pytest.fail(f"wrote {GOLDEN}: review the diff and commit; then run without "
                    f"GRIDGOV_WRITE_GOLDEN")
    recorded = json.loads(GOLDEN.read_text(encoding="utf-8"))
    assert sorted(made) == sorted(recorded)
    for name in CONFIGS:  # part by part, so a failure names what changed
        for part in ("district", "grids", "neighbourhoods", "households", "residents",
                     "staff"):
            assert made[name][part] == recorded[name][part], f"{name}: {part} changed"

"""Point → grid lookup over an immutable in-memory STRtree snapshot.

Cases, patrol check-ins and addresses are located in their grid (P3.1: every point lies in
exactly one grid) many thousands of times a second, so lookups never touch the database.

Snapshot design: a ``GridIndex`` is never modified after ``build``.  A holder rebuilds a
new index when the grids change and swaps its reference in one assignment (atomic in
CPython); readers that already hold the old index finish with it, unaffected.

Determinism: a point on an edge shared by two grids (or a corner shared by four) belongs
to the grid with the lowest grid code.  Grids are stored sorted by code, so "lowest code"
is simply "lowest tree index".
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import shapely
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

_NONE = np.iinfo(np.int64).max


def _as_geometry(geom: BaseGeometry | Mapping[str, Any]) -> BaseGeometry:
    """Accept shapely geometries or GeoJSON dicts (as stored in the grid table)."""
    return geom if isinstance(geom, BaseGeometry) else shape(geom)


class GridIndex:
    """Immutable spatial index of the currently valid grids."""

    __slots__ = ("_codes", "_geoms", "_tree")

    def __init__(self, codes: tuple[str, ...], geoms: np.ndarray) -> None:
        """Use ``GridIndex.build``; this trusts its inputs (sorted, unique, prepared)."""
        object.__setattr__(self, "_codes", codes)
        object.__setattr__(self, "_geoms", geoms)
        object.__setattr__(self, "_tree", shapely.STRtree(geoms))

    def __setattr__(self, name: str, value: object) -> None:
        """Snapshots are read concurrently: build a new one instead of changing this one."""
        raise AttributeError("GridIndex is immutable; build a new index and swap it in")

    @classmethod
    def build(cls, items: Iterable[tuple[str, BaseGeometry | Mapping[str, Any]]]) -> GridIndex:
        """Index ``(grid_code, geometry)`` pairs; raises ValueError on a duplicate code.

        Geometries are copied before being prepared, so the caller's objects are untouched.
        """
        pairs = sorted(((code, _as_geometry(geom)) for code, geom in items),
                       key=lambda pair: pair[0])
        codes = tuple(code for code, _ in pairs)
        duplicates = sorted({a for a, b in zip(codes, codes[1:], strict=False) if a == b})
        if duplicates:
            raise ValueError(f"duplicate grid codes in index: {duplicates[:5]}")
        originals = np.array([g for _, g in pairs], dtype=object)
        geoms = shapely.from_wkb(shapely.to_wkb(originals)) if len(pairs) else originals
        shapely.prepare(geoms)
        return cls(codes, geoms)

    def __len__(self) -> int:
        return len(self._codes)

    def __contains__(self, grid_code: object) -> bool:
        if not isinstance(grid_code, str):
            return False
        i = bisect_left(self._codes, grid_code)
        return i < len(self._codes) and self._codes[i] == grid_code

    @property
    def codes(self) -> tuple[str, ...]:
        """Indexed grid codes, sorted."""
        return self._codes

    def lookup(self, lon: float, lat: float) -> str | None:
        """The grid containing the point (boundary included), lowest code on a shared edge."""
        candidates = self._tree.query(shapely.Point(lon, lat))
        if len(candidates) == 0:
            return None
        candidates.sort()  # P3.1: a point on a shared edge goes to the lowest grid code
        geoms = self._geoms
        for i in candidates:
            if shapely.intersects_xy(geoms[i], lon, lat):
                return self._codes[i]
        return None

    def lookup_many(self, points: Sequence[tuple[float, float]] | np.ndarray) -> list[str | None]:
        """Vectorised ``lookup`` for many (lon, lat) points, in input order."""
        coords = np.asarray(points, dtype=float).reshape(-1, 2)
        if len(coords) == 0 or len(self._codes) == 0:
            return [None] * len(coords)
        pts = shapely.points(coords)
        point_idx, tree_idx = self._tree.query(pts, predicate="intersects")
        best = np.full(len(coords), _NONE, dtype=np.int64)
        np.minimum.at(best, point_idx, tree_idx)
        codes = self._codes
        return [None if i == _NONE else codes[i] for i in best.tolist()]

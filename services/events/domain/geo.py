"""Distances on the WGS84 sphere, for duplicate detection (P5.3.1: one problem, one case).

A haversine on a sphere of the mean Earth radius is within 0.5 % of the ellipsoidal
distance: plenty for "within 100 m".  The bounding box lets the database pre-filter with
plain comparisons before the exact distance is computed here.
"""

from __future__ import annotations

import math
from typing import NamedTuple

EARTH_RADIUS_M = 6_371_008.8  # mean radius (IUGG)
METRES_PER_DEGREE_LAT = math.pi * EARTH_RADIUS_M / 180


class Box(NamedTuple):
    min_lon: float
    min_lat: float
    max_lon: float
    max_lat: float


def haversine_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Great-circle distance in metres between two WGS84 points."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi = phi2 - phi1
    dlmb = math.radians(lon2 - lon1)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlmb / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


BOX_MARGIN = 1.01  # a parallel is not a great circle: at the box's edge it is a bit longer


def box_around(lon: float, lat: float, metres: float) -> Box:
    """A lon/lat box that contains every point within ``metres`` of (lon, lat)."""
    metres *= BOX_MARGIN
    dlat = metres / METRES_PER_DEGREE_LAT
    cos_lat = max(math.cos(math.radians(lat)), 1e-6)
    dlon = min(metres / (METRES_PER_DEGREE_LAT * cos_lat), 180.0)
    return Box(lon - dlon, lat - dlat, lon + dlon, lat + dlat)

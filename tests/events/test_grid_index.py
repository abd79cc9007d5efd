"""Events' copy of the grids (services/events/grid_index.py) places a whole intake batch in
one statement, exactly as it places one point: inside an outline, not in its hole, only
grids valid that day, the first grid by code where two overlap, None outside them all."""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import Session

from services.events import grid_index

DAY = date(2026, 12, 7)


def _square(x0: float, y0: float, size: float) -> list[list[float]]:
    return [[x0, y0], [x0 + size, y0], [x0 + size, y0 + size], [x0, y0 + size], [x0, y0]]


def _feature(code: str, rings: list, valid_to: str | None = None) -> dict:
    return {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": rings},
            "properties": {"grid_code": code, "valid_from": "2026-01-01", "valid_to": valid_to}}


def test_a_batch_is_placed_as_each_point_would_be(db_engine, clean_db):
    features = [
        _feature("320505001001001", [_square(120.0, 31.0, 1.0), _square(120.4, 31.4, 0.2)]),
        _feature("320505001001002", [_square(121.0, 31.0, 1.0)]),
        _feature("320505001001003", [_square(121.5, 31.5, 1.0)]),  # overlaps ...002
        _feature("320505001001004", [_square(123.0, 31.0, 1.0)], valid_to="2026-12-01"),
    ]
    points = [(120.1, 31.1),  # in 001
              (120.5, 31.5),  # in 001's hole
              (121.2, 31.2),  # in 002 only
              (121.7, 31.7),  # in 002 and 003: the first by code
              (122.2, 32.2),  # in 003 only
              (123.5, 31.5),  # in 004, retired before the day
              (0.0, 0.0)]     # nowhere
    with Session(db_engine) as db, db.begin():
        assert grid_index.replace(db, features) == 4
        one_by_one = [grid_index.locate(db, lon, lat, DAY) for lon, lat in points]
        batch = grid_index.locate_many(db, points, DAY)
        assert grid_index.locate_many(db, [], DAY) == []
        statements: list[str] = []

        def record(conn, cursor, statement, *rest) -> None:
            statements.append(statement)

        sa.event.listen(db_engine, "before_cursor_execute", record)
        try:
            many = grid_index.locate_many(db, points * 50, DAY)
        finally:
            sa.event.remove(db_engine, "before_cursor_execute", record)
    assert one_by_one == ["320505001001001", None, "320505001001002", "320505001001002",
                          "320505001001003", None, None]
    assert batch == one_by_one
    assert many == one_by_one * 50 and len(statements) == 1  # 350 points, one round trip

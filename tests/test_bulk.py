"""``insert_rows`` (gridgov_common/platform/bulk.py) against the real PostgreSQL: every
column type the services write in bulk (text, timestamps, UUIDs, JSONB, text and integer
arrays, NULLs) stored as one row-at-a-time INSERT would store it, ON CONFLICT and RETURNING,
and the same statement text whatever the row count (the reason it exists: issue 16)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

from gridgov_common.platform import bulk

metadata = sa.MetaData(schema="public")
things = sa.Table(
    "bulk_test_things", metadata,
    sa.Column("thing_id", sa.Uuid(as_uuid=False), primary_key=True),
    sa.Column("name", sa.String(20), nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("count", sa.BigInteger, nullable=False, server_default="7"),
    sa.Column("data", JSONB, nullable=True),
    sa.Column("tags", ARRAY(sa.Text), nullable=True),
    sa.Column("scores", ARRAY(sa.Integer), nullable=False, server_default="{}"),
)


@pytest.fixture
def connection(db_engine):
    with db_engine.connect() as conn:
        metadata.drop_all(conn)
        metadata.create_all(conn)
        yield conn
        conn.rollback()
        metadata.drop_all(conn)
        conn.commit()


def _stored(connection) -> dict[str, dict]:
    return {row.thing_id: row._asdict() for row in connection.execute(sa.select(things))}


def test_every_type_stored_as_given(connection):
    at = datetime(2026, 12, 7, 8, 30, tzinfo=UTC)
    rows = [
        {"thing_id": str(uuid.uuid4()), "name": "楼道堆物", "at": at,
         "data": {"a": [1, "二"], "b": None}, "tags": ["x", "带,逗号", 'quote"d', "{brace}"],
         "scores": [3, 1]},
        {"thing_id": str(uuid.uuid4()), "name": "empty", "at": None, "data": None,
         "tags": [], "scores": []},
        {"thing_id": str(uuid.uuid4()), "name": "nulls", "at": None, "data": [],
         "tags": None, "scores": [0]},
    ]
    bulk.insert_rows(connection, things, rows)
    stored = _stored(connection)
    assert set(stored) == {row["thing_id"] for row in rows}
    for row in rows:
        assert stored[row["thing_id"]] == {**row, "count": 7}


def test_on_conflict_and_returning(connection):
    first = {"thing_id": str(uuid.uuid4()), "name": "first"}
    bulk.insert_rows(connection, things, [first])
    second = {"thing_id": str(uuid.uuid4()), "name": "second"}
    result = bulk.insert_rows(connection, things, [{**first, "name": "again"}, second],
                              on_conflict="(thing_id) DO NOTHING",
                              returning=["thing_id", "name", "scores"])
    assert [tuple(row) for row in result] == [(second["thing_id"], "second", [])]
    assert _stored(connection)[first["thing_id"]]["name"] == "first"


def test_one_statement_text_for_any_row_count(connection):
    seen: list[str] = []
    sa.event.listen(connection, "before_cursor_execute",
                    lambda conn, cursor, statement, *args: seen.append(statement))
    for size in (1, 5, 50):
        bulk.insert_rows(connection, things, [
            {"thing_id": str(uuid.uuid4()), "name": f"n{i}", "tags": [str(i)]}
            for i in range(size)])
    assert len(seen) == 3 and len(set(seen)) == 1
    assert len(_stored(connection)) == 56


def test_by_columns_groups_rows_by_their_keys_in_order():
    rows = [{"a": 1}, {"a": 2, "b": 1}, {"b": 2, "a": 3}, {"a": 4}]
    assert bulk.by_columns(rows) == [[{"a": 1}, {"a": 4}], [{"a": 2, "b": 1}, {"b": 2, "a": 3}]]


def test_no_rows_is_refused(connection):
    with pytest.raises(ValueError, match="at least one row"):
        bulk.insert_rows(connection, things, [])


def test_update_rows_sets_each_rows_own_values(connection):
    ids = [str(uuid.uuid4()) for _ in range(3)]
    bulk.insert_rows(connection, things, [{"thing_id": i, "name": "old", "tags": ["a"]}
                                          for i in ids])
    bulk.update_rows(connection, things, "thing_id", [
        {"thing_id": ids[0], "name": "一", "data": {"k": 1}, "tags": ["b", "c"]},
        {"thing_id": ids[2], "name": "三", "data": None, "tags": None},
    ])
    stored = _stored(connection)
    assert (stored[ids[0]]["name"], stored[ids[0]]["data"], stored[ids[0]]["tags"]) == (
        "一", {"k": 1}, ["b", "c"])
    assert (stored[ids[1]]["name"], stored[ids[1]]["tags"]) == ("old", ["a"])
    assert (stored[ids[2]]["name"], stored[ids[2]]["data"], stored[ids[2]]["tags"]) == (
        "三", None, None)

"""Many rows in one INSERT over arrays: ``INSERT … SELECT * FROM unnest(:col1, :col2, …)``.

Why not ``session.execute(insert, rows)``: psycopg turns that executemany into one
statement per row (pipelined), or SQLAlchemy's "insertmanyvalues" into one statement with
rows × columns parameters whose text changes with the row count — and psycopg parses such
a long statement again on every call (its conversion cache keeps short statements only).
With one array per column the SQL text is short and the same for any number of rows: built
and converted once, prepared by the server after a few runs, and the rows travel as a
handful of parameters.  In bench_07 (notify, 200 requests per consumer batch) the
executemany pipelines were about a fifth of the service's CPU.

Every row must have the same keys (the columns written); a column left out takes its
server default.  Values are what the driver takes for the column's type; JSON columns take
any JSON-able value (encoded here).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg

_DIALECT = pg.dialect()
_QUOTE = _DIALECT.identifier_preparer


def _is_json(column: sa.Column) -> bool:
    return isinstance(column.type, sa.JSON)


@lru_cache(maxsize=128)
def _statement(table: sa.Table, columns: tuple[str, ...], on_conflict: str,
               returning: tuple[str, ...]) -> sa.TextClause | sa.TextualSelect:
    arrays = ", ".join(
        f"CAST(:{name} AS {table.c[name].type.compile(dialect=_DIALECT)}[])" for name in columns)
    names = ", ".join(_QUOTE.quote(name) for name in columns)
    sql = (f"INSERT INTO {_QUOTE.format_table(table)} ({names}) "
           f"SELECT * FROM unnest({arrays})")
    if on_conflict:
        sql += f" ON CONFLICT {on_conflict}"
    if not returning:
        return sa.text(sql)
    sql += " RETURNING " + ", ".join(_QUOTE.quote(name) for name in returning)
    # typed result columns: values come back as the table's types give them (str UUIDs…)
    return sa.text(sql).columns(*[table.c[name] for name in returning])


def insert_rows(connection, table: sa.Table, rows: Sequence[Mapping[str, Any]], *,
                on_conflict: str = "", returning: Sequence[str] = ()) -> sa.CursorResult:
    """Insert ``rows`` into ``table`` in one statement; ``on_conflict`` is the SQL after
    ``ON CONFLICT`` (``"(cause_id) DO NOTHING"``), ``returning`` column names.
    ``connection``: a Session or a Connection.  Raises ValueError for no rows."""
    if not rows:
        raise ValueError("insert_rows needs at least one row")
    columns = tuple(rows[0])
    statement = _statement(table, columns, on_conflict, tuple(returning))
    params = {}
    for name in columns:
        values = [row[name] for row in rows]
        if _is_json(table.c[name]):
            values = [None if v is None else json.dumps(v, ensure_ascii=False) for v in values]
        params[name] = values
    return connection.execute(statement, params)

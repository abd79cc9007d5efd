"""Many rows in one INSERT over arrays: ``INSERT … SELECT * FROM unnest(:col1, :col2, …)``
(and as many updates in one ``UPDATE … FROM unnest(…)``).

Why not ``session.execute(insert, rows)``: psycopg turns that executemany into one
statement per row (pipelined), or SQLAlchemy's "insertmanyvalues" into one statement with
rows × columns parameters whose text changes with the row count — and psycopg parses such
a long statement again on every call (its conversion cache keeps short statements only).
With one array per column the SQL text is short and the same for any number of rows: built
and converted once, prepared by the server after a few runs, and the rows travel as a
handful of parameters.  In bench_07 (notify, 200 requests per consumer batch) the
executemany pipelines were about a fifth of the service's CPU.

Every row must have the same keys (the columns written; ``by_columns`` groups rows that
differ); a column left out takes its server default.  Values are what the driver takes for
the column's type; JSON and array columns take any JSON-able value (encoded here).
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


class JsonText(str):
    """A JSON column's value already encoded as JSON text: written as it is."""


def _is_json(column: sa.Column) -> bool:
    return isinstance(column.type, sa.JSON)


def _is_array(column: sa.Column) -> bool:
    return isinstance(column.type, sa.ARRAY)


def _travels_as_json(column: sa.Column) -> bool:
    return _is_json(column) or _is_array(column)


def _selected(table: sa.Table, name: str) -> str:
    """The value written into column ``name`` from ``u``, the unnested row.  An array
    column cannot travel as an array of arrays (unnest would flatten it, and PostgreSQL's
    arrays must be rectangular): its values travel as JSON and are rebuilt here."""
    quoted = "u." + _QUOTE.quote(name)
    column = table.c[name]
    if not _is_array(column):
        return quoted
    type_ = column.type.compile(dialect=_DIALECT)
    return (f"CASE WHEN {quoted} IS NULL THEN NULL ELSE CAST(ARRAY(SELECT "
            f"jsonb_array_elements_text({quoted})) AS {type_}) END")


def _parameter(table: sa.Table, name: str) -> str:
    """The array of column ``name``'s values, from its parameter.  JSON and array columns
    travel as one JSON document, the list of the rows' values (a JSON null for SQL NULL):
    as an array of JSON texts, psycopg escaped every quote of every value with a regular
    expression, a tenth of dispatch's CPU with the outbox's bodies (issue 16)."""
    column = table.c[name]
    if _travels_as_json(column):
        return (f"ARRAY(SELECT NULLIF(j.e, 'null'::jsonb) FROM jsonb_array_elements("
                f"CAST(:{name} AS jsonb)) WITH ORDINALITY AS j(e, n) ORDER BY j.n)")
    return f"CAST(:{name} AS {column.type.compile(dialect=_DIALECT)}[])"


@lru_cache(maxsize=128)
def _statement(table: sa.Table, columns: tuple[str, ...], on_conflict: str,
               returning: tuple[str, ...]) -> sa.TextClause | sa.TextualSelect:
    arrays = ", ".join(_parameter(table, name) for name in columns)
    names = ", ".join(_QUOTE.quote(name) for name in columns)
    selected = ", ".join(_selected(table, name) for name in columns)
    sql = (f"INSERT INTO {_QUOTE.format_table(table)} ({names}) "
           f"SELECT {selected} FROM unnest({arrays}) AS u({names})")
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
    return connection.execute(statement, _arrays(table, columns, rows))


def _arrays(table: sa.Table, columns: Sequence[str],
            rows: Sequence[Mapping[str, Any]]) -> dict[str, list[Any]]:
    """One array per column; JSON and array columns' values as one JSON text each."""
    params: dict[str, Any] = {}
    for name in columns:
        values = [row[name] for row in rows]
        if _travels_as_json(table.c[name]):
            values = "[" + ",".join(
                v if isinstance(v, JsonText) else json.dumps(v, ensure_ascii=False)
                for v in values) + "]"
        params[name] = values
    return params


def by_columns(rows: Sequence[Mapping[str, Any]]) -> list[list[Mapping[str, Any]]]:
    """``rows`` grouped by the set of keys they have, each group in the order given: one
    ``insert_rows`` per group writes rows that leave different columns to their defaults."""
    groups: dict[frozenset[str], list[Mapping[str, Any]]] = {}
    for row in rows:
        groups.setdefault(frozenset(row), []).append(row)
    return list(groups.values())


@lru_cache(maxsize=64)
def _update_statement(table: sa.Table, key: str, columns: tuple[str, ...]) -> sa.TextClause:
    names = (key, *columns)
    arrays = ", ".join(_parameter(table, name) for name in names)
    assigned = ", ".join(f"{_QUOTE.quote(name)} = {_selected(table, name)}" for name in columns)
    quoted_key = _QUOTE.quote(key)
    return sa.text(
        f"UPDATE {_QUOTE.format_table(table)} AS t SET {assigned} "
        f"FROM unnest({arrays}) AS u({', '.join(_QUOTE.quote(name) for name in names)}) "
        f"WHERE t.{quoted_key} = u.{quoted_key}")


def update_rows(connection, table: sa.Table, key: str,
                rows: Sequence[Mapping[str, Any]]) -> sa.CursorResult:
    """Set the columns of ``rows`` (every row the same keys, ``key`` among them) on the
    rows of ``table`` whose ``key`` matches, in one statement whatever their number. A key
    given twice updates its row once, with one of the values: give each key once."""
    if not rows:
        raise ValueError("update_rows needs at least one row")
    columns = tuple(name for name in rows[0] if name != key)
    return connection.execute(_update_statement(table, key, columns),
                              _arrays(table, (key, *columns), rows))

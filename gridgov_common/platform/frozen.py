"""Hot-path statements built and compiled once: :func:`frozen`.

Why: building a SQLAlchemy construct is Python work on every call (events' grid lookup for
a batch: 1.1 ms to build and 0.3 ms for its cache key on a 2-core machine, issue 16), and
even a construct built once is walked again at every execution to compute its cache key.
A statement that a consumer runs once per batch pays that per batch, and at a few cases a
second a batch is one case. ``frozen`` compiles the construct once into SQL text with the
same named parameters, so an execution only binds values (a ``TextClause``'s cache key is
its string). Constant values of the construct (``ring = 0``, ``LIMIT 1``) stay bound to
what they were; the named ``bindparam``s are the statement's parameters.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql.base import PGDialect

# plain PostgreSQL with ``:name`` parameters and no casts after them (``:day::DATE`` would
# not parse as text): the text is bound again by the engine's own dialect (psycopg),
# which adds its casts then
_NAMED = PGDialect(paramstyle="named")


def frozen(statement: sa.Executable, *parameters: str) -> sa.TextClause | sa.TextualSelect:
    """``statement`` as SQL text compiled once; ``parameters`` name the ``bindparam``s
    the caller gives at each execution (every other value is fixed). Rows come back with
    the statement's column names and types."""
    compiled = statement.compile(dialect=_NAMED)
    if "POSTCOMPILE" in compiled.string:
        raise ValueError("frozen: an expanding parameter (IN with a list) changes the SQL "
                         "per call; compare with = ANY(array) instead")
    names = {name: bind for bind, name in compiled.bind_names.items()}
    unknown = set(parameters) - set(names)
    if unknown:
        raise ValueError(f"frozen: no parameters {sorted(unknown)} in the statement")
    values = compiled.construct_params(_check=False)
    binds = [sa.bindparam(name, type_=bind.type) if name in parameters
             else sa.bindparam(name, values[name], type_=bind.type)
             for name, bind in names.items()]
    text = sa.text(compiled.string).bindparams(*binds)
    # what the compiler will read back: (key, name as rendered, objects, type) per column
    columns = compiled._result_columns
    if not columns:
        return text
    if any("%(" in name for _key, name, _objects, _type in columns):
        raise ValueError("frozen: label every column the statement returns")
    return text.columns(*[sa.column(name, type_) for _key, name, _objects, type_ in columns])

"""Statements compiled once (gridgov_common/platform/frozen.py) against the real PostgreSQL:
the frozen text gives what the construct gives, with the caller's parameters bound at each
execution and the construct's own constants kept."""

import uuid
from datetime import date

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg

from gridgov_common.platform.frozen import frozen

metadata = sa.MetaData()
items = sa.Table("frozen_probe", metadata,
                 sa.Column("id", sa.BigInteger, primary_key=True),
                 sa.Column("ref", pg.UUID(as_uuid=False), nullable=False),
                 sa.Column("day", sa.Date, nullable=False),
                 sa.Column("kind", sa.Text, nullable=False),
                 sa.Column("body", pg.JSONB, nullable=False))


@pytest.fixture
def probe_table(db_engine):
    metadata.drop_all(db_engine)
    metadata.create_all(db_engine)
    rows = [{"id": n, "ref": str(uuid.uuid4()), "day": date(2026, 12, n % 3 + 1),
             "kind": "a" if n % 2 else "b", "body": {"type": f"t{n}"}} for n in range(1, 11)]
    with db_engine.begin() as conn:
        conn.execute(items.insert(), rows)
    yield rows
    metadata.drop_all(db_engine)


def _query() -> sa.Select:
    return (sa.select(items.c.id, items.c.ref, items.c.day,
                      items.c.body["type"].astext.label("type"))
            .where(items.c.kind == "a", items.c.day <= sa.bindparam("until", type_=sa.Date))
            .order_by(items.c.id).limit(3))


def test_a_frozen_select_returns_what_its_construct_returns(db_engine, probe_table):
    statement = frozen(_query(), "until")
    with db_engine.connect() as conn:
        for until in (date(2026, 12, 1), date(2026, 12, 2), date(2026, 12, 3)):
            expected = conn.execute(_query(), {"until": until}).all()
            got = conn.execute(statement, {"until": until}).all()
            assert got == expected
            assert [row._mapping["type"] for row in got] == [row.type for row in expected]
    assert any(got), "the probe rows match the last day"
    assert isinstance(got[0].ref, str) and isinstance(got[0].day, date)


def test_the_constants_of_the_construct_are_bound_with_it(db_engine, probe_table):
    """``kind = 'a'`` and ``LIMIT 3`` were values of the construct: the caller gives only
    ``until``."""
    statement = frozen(_query(), "until")
    with db_engine.connect() as conn:
        rows = conn.execute(statement, {"until": date(2026, 12, 31)}).all()
    assert [row.id for row in rows] == [1, 3, 5]


def test_a_frozen_delete_takes_an_array_parameter(db_engine, probe_table):
    statement = frozen(sa.delete(items).where(items.c.id == sa.any_(
        sa.bindparam("ids", type_=pg.ARRAY(sa.BigInteger)))).returning(items.c.id), "ids")
    with db_engine.begin() as conn:
        deleted = conn.execute(statement, {"ids": [2, 4, 99]}).scalars().all()
        left = conn.execute(sa.select(sa.func.count()).select_from(items)).scalar()
    assert sorted(deleted) == [2, 4]
    assert left == 8


@pytest.mark.parametrize("statement, parameters, message", [
    (sa.select(items.c.id).where(items.c.id.in_([1, 2])), (), "ANY"),
    (sa.select(items.c.id), ("nothing",), "no parameters"),
    (sa.select(sa.select(items.c.id).limit(1).scalar_subquery()), (), "label"),
])
def test_what_cannot_be_frozen_is_refused_when_built(statement, parameters, message):
    with pytest.raises(ValueError, match=message):
        frozen(statement, *parameters)

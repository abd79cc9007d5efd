"""The department register as a service that follows it keeps it: one table shape, one way
to apply ``registry.department.changed`` (the newest state per code wins; a late, older
message changes nothing) and one way to read names.  The registry owns the register
(services/registry/departments.py); events, dispatch and notify follow it, so no service
keeps a hand-written list of departments and every name people read comes from one place.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB, insert

from gridgov_common.platform.messaging import claim_message

MESSAGE_TYPE = "registry.department.changed"


def departments_table(metadata: sa.MetaData) -> sa.Table:
    """The follower's copy of the register, in its own schema."""
    return sa.Table(
        "departments", metadata,
        sa.Column("code", sa.Text, primary_key=True),
        sa.Column("name_zh", sa.Text, nullable=False),
        sa.Column("name_en", sa.Text, nullable=False),
        sa.Column("work_categories", JSONB, nullable=False,
                  server_default=sa.text("'[]'::jsonb")),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def apply(session, table: sa.Table, envelope, consumer: str) -> bool:
    """Store one department state; False for a duplicate or an older state."""
    if not claim_message(session, envelope.message_id, consumer):
        return False
    p = envelope.payload
    values = {"name_zh": p["name_zh"], "name_en": p["name_en"],
              "work_categories": list(p["work_categories"]), "active": p["active"],
              "updated_at": p["updated_at"]}
    applied = session.execute(
        insert(table).values(code=p["code"], **values)
        .on_conflict_do_update(index_elements=["code"], set_=values,
                               where=table.c.updated_at <= p["updated_at"])
        .returning(table.c.code)).first()
    return applied is not None


def name_map(session, table: sa.Table, lang: str) -> dict[str, str]:
    """Every known department's name in ``lang`` (zh-CN or en), by code."""
    column = table.c.name_en if lang == "en" else table.c.name_zh
    return dict(session.execute(sa.select(table.c.code, column)).all())


def names_both(session, table: sa.Table, codes) -> dict[str, tuple[str, str]]:
    """(zh-CN, en) names of the given codes that are known."""
    rows = session.execute(sa.select(table.c.code, table.c.name_zh, table.c.name_en)
                           .where(table.c.code.in_(list(codes))))
    return {row.code: (row.name_zh, row.name_en) for row in rows}

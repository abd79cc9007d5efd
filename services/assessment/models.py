"""Tables of the assessment schema for field work: grid polygons (a local copy), patrols and
their GPS track points, the audit of track reads, meetings and work logs (P5.1.2–P5.1.4,
P5.4.3, P5.4.5). See docs/FIELD-WORK.md."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB, UUID

from gridgov_common.messaging import messaging_tables

SCHEMA = "assessment"
metadata = sa.MetaData(schema=SCHEMA)
messaging_tables(metadata)
NOW = sa.text("now()")


class PgPolygon(sa.types.UserDefinedType):
    """PostgreSQL's built-in ``polygon`` (PostGIS is not installed): ``polygon @> point``
    does point-in-polygon inside the database. Bound as the text ``((x,y),…)``."""

    cache_ok = True

    def get_col_spec(self, **kw) -> str:
        return "polygon"

    def bind_expression(self, bindvalue):
        return sa.cast(bindvalue, sa.Text).op("::")(sa.literal_column("polygon"))


def _ts(name: str, nullable: bool = True, **kw) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable, **kw)


# One row per ring of a grid's (multi)polygon; a hole ring excludes its area from its
# polygon (``part``). Filled by PUT /patrol-grids (admin) from the registry's GeoJSON.
grid_rings = sa.Table(
    "grid_rings", metadata,
    sa.Column("grid_code", sa.String(15), primary_key=True),
    sa.Column("part", sa.Integer, primary_key=True),
    sa.Column("ring", sa.Integer, primary_key=True),  # 0 = outer, > 0 = hole
    sa.Column("area", PgPolygon, nullable=False),
    _ts("updated_at", False, server_default=NOW),
)

patrols = sa.Table(
    "patrols", metadata,
    sa.Column("patrol_id", UUID(as_uuid=False), primary_key=True),
    sa.Column("staff_sub", sa.Text, nullable=False),
    sa.Column("role", sa.Text, nullable=False),
    sa.Column("scope_code", sa.String(15), nullable=False),  # the grids it patrols
    _ts("started_at", False),
    _ts("stopped_at"),
    sa.Index("ix_patrols_staff_started", "staff_sub", "started_at"),
    sa.Index("ix_patrols_scope", "scope_code"),
)

# P5.4.3: one row per GPS fix; (patrol_id, client_point_id) unique so a re-sent batch adds
# nothing; order is recorded_at (the device's clock), never arrival.
track_points = sa.Table(
    "track_points", metadata,
    sa.Column("patrol_id", UUID(as_uuid=False), sa.ForeignKey("patrols.patrol_id",
              ondelete="CASCADE"), primary_key=True),
    sa.Column("client_point_id", sa.Text, primary_key=True),
    sa.Column("staff_sub", sa.Text, nullable=False),
    _ts("recorded_at", False),
    sa.Column("lon", sa.Float, nullable=False),
    sa.Column("lat", sa.Float, nullable=False),
    _ts("received_at", False, server_default=NOW),
    sa.Index("ix_track_points_staff_time", "staff_sub", "recorded_at"),
    sa.Index("ix_track_points_recorded", "recorded_at"),
)

# Who read whose tracks (location data is sensitive, P5.4.4): append-only.
track_audit = sa.Table(
    "track_audit", metadata,
    sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=True),
    sa.Column("actor_sub", sa.Text, nullable=False),
    sa.Column("actor_role", sa.Text, nullable=False),
    sa.Column("action", sa.Text, nullable=False),
    sa.Column("subject", sa.Text, nullable=False),
    sa.Column("detail", JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
    _ts("at", False, server_default=NOW),
)

meetings = sa.Table(
    "meetings", metadata,
    sa.Column("meeting_id", UUID(as_uuid=False), primary_key=True),
    sa.Column("kind", sa.Text, nullable=False),  # meetings.KINDS
    sa.Column("convener_sub", sa.Text, nullable=False),
    sa.Column("convener_role", sa.Text, nullable=False),
    sa.Column("scope_code", sa.String(15), nullable=False),
    sa.Column("held_on", sa.Date, nullable=False),
    sa.Column("attendees", JSONB, nullable=False),
    sa.Column("minutes", sa.Text, nullable=False),
    _ts("created_at", False, server_default=NOW),
    sa.Index("ix_meetings_convener_day", "convener_sub", "held_on"),
)

# Reminders sent, so that one (person, rule, period) is reminded once.
meeting_reminders = sa.Table(
    "meeting_reminders", metadata,
    sa.Column("convener_sub", sa.Text, primary_key=True),
    sa.Column("kind", sa.Text, primary_key=True),
    sa.Column("period_start", sa.Date, primary_key=True),
    _ts("sent_at", False, server_default=NOW),
)

# The people the meeting rules apply to (sub, role, scope), as known from their tokens.
field_staff = sa.Table(
    "field_staff", metadata,
    sa.Column("staff_sub", sa.Text, primary_key=True),
    sa.Column("role", sa.Text, nullable=False),
    sa.Column("scope_code", sa.String(15), nullable=False),
    _ts("last_seen_at", False, server_default=NOW),
)

work_logs = sa.Table(
    "work_logs", metadata,
    sa.Column("log_id", UUID(as_uuid=False), primary_key=True),
    sa.Column("author_sub", sa.Text, nullable=False),
    sa.Column("author_role", sa.Text, nullable=False),
    sa.Column("grid_code", sa.String(15), nullable=False, index=True),
    sa.Column("day", sa.Date, nullable=False),
    sa.Column("content", sa.Text, nullable=False),
    sa.Column("review_state", sa.Text, nullable=False, server_default="pending"),
    sa.Column("reviewer_sub", sa.Text, nullable=True),
    sa.Column("review_comment", sa.Text, nullable=True),
    _ts("reviewed_at"),
    _ts("created_at", False, server_default=NOW),
    sa.UniqueConstraint("author_sub", "grid_code", "day", name="uq_work_logs_author_day"),
)

"""Tables of the assessment schema for field work: grid polygons (a local copy), patrols and
their GPS track points, the audit of track reads, meetings and work logs (P5.1.2–P5.1.4,
P5.4.3, P5.4.5). See docs/FIELD-WORK.md."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB, UUID

from gridgov_common.platform.messaging import messaging_tables

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
# polygon (``part``). Kept current from registry.grid.changed (registry_sync.py); PUT
# /patrol-grids (admin) is the override and the backfill.
grid_rings = sa.Table(
    "grid_rings", metadata,
    sa.Column("grid_code", sa.String(15), primary_key=True),
    sa.Column("part", sa.Integer, primary_key=True),
    sa.Column("ring", sa.Integer, primary_key=True),  # 0 = outer, > 0 = hole
    sa.Column("area", PgPolygon, nullable=False),
    _ts("updated_at", False, server_default=NOW),
    sa.Column("valid_from", sa.Date, nullable=True),  # null: always (operator's PUT)
    sa.Column("valid_to", sa.Date, nullable=True),  # first day no longer valid (retired)
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
    sa.Column("kind", sa.Text, nullable=False),  # meeting_rules.KINDS
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

# The people the patrol and meeting rules apply to (sub, role, scope): from the registry's
# registry.staff.changed (migration 0004) and from the tokens of people using the app.
field_staff = sa.Table(
    "field_staff", metadata,
    sa.Column("staff_sub", sa.Text, primary_key=True),
    sa.Column("role", sa.Text, nullable=False),
    sa.Column("scope_code", sa.String(15), nullable=False),
    _ts("last_seen_at", False, server_default=NOW),
    sa.Column("staff_id", sa.BigInteger, nullable=True, index=True),  # the registry's id
    sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("grid_codes", JSONB, nullable=False, server_default=sa.text("'[]'::jsonb")),
    _ts("registry_at"),  # occurred_at of the newest registry message applied
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

# Circulars (P5.3.5 通报): immutable (a trigger refuses UPDATE and DELETE), versioned per
# (kind, period, scope); a schedule's circular exists at most once per period (the partial
# unique index), whichever replica's timer gets there first. docs/CIRCULARS.md.
circulars = sa.Table(
    "circulars", metadata,
    sa.Column("circular_id", UUID(as_uuid=False), primary_key=True),
    sa.Column("kind", sa.Text, nullable=False),  # weekly | monthly | custom
    sa.Column("period", sa.Text, nullable=False),  # 2026-W48 | 2026-11 | 2026-11-01..2026-11-15
    sa.Column("scope", sa.Text, nullable=False),  # district:320505 | town:320505001
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("origin", sa.Text, nullable=False),  # schedule | demand
    sa.Column("period_start", sa.Date, nullable=False),
    sa.Column("period_end", sa.Date, nullable=False),
    sa.Column("generated_by", sa.Text, nullable=False),
    sa.Column("content", JSONB, nullable=False),
    _ts("created_at", False, server_default=NOW),
    # a document people file (0007): who issues it and its number, 姑网格通〔2026〕12号
    sa.Column("issuer", sa.Text, nullable=False, server_default=""),
    sa.Column("document_number", sa.Text, nullable=True, unique=True),
    sa.UniqueConstraint("kind", "period", "scope", "version", name="uq_circulars_version"),
    sa.Index("uq_circulars_scheduled", "kind", "period", "scope", unique=True,
             postgresql_where=sa.text("origin = 'schedule'")),
    sa.Index("ix_circulars_created", "created_at"),
)

# Half-year assessment (P5.4.6, docs/ASSESSMENT.md; migration 0003_appraisal).
# Base-data spot checks (基础信息准确率): ids of the checked records only, never their data.
spot_checks = sa.Table(
    "spot_checks", metadata,
    sa.Column("check_id", UUID(as_uuid=False), primary_key=True),
    sa.Column("grid_code", sa.String(15), nullable=False),
    sa.Column("record_kind", sa.Text, nullable=False),  # resident | household | building …
    sa.Column("record_id", sa.Text, nullable=False),  # the registry's id, no personal data
    sa.Column("field_class", sa.Text, nullable=False),  # spotchecks.FIELD_CLASSES (P5.4.4)
    sa.Column("method", sa.Text, nullable=False),  # phone | field
    sa.Column("correct", sa.Boolean, nullable=False),
    sa.Column("note", sa.Text, nullable=False, server_default=""),
    sa.Column("checked_by", sa.Text, nullable=False),
    sa.Column("checker_role", sa.Text, nullable=False),
    _ts("checked_at", False),
    _ts("created_at", False, server_default=NOW),
    sa.Index("ix_spot_checks_grid_checked", "grid_code", "checked_at"),
)

# Versioned assessment schemes (indicators, weights, mappings, grade bands): immutable rows.
appraisal_schemes = sa.Table(
    "appraisal_schemes", metadata,
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("body", JSONB, nullable=False),
    sa.Column("note", sa.Text, nullable=False, server_default=""),
    sa.Column("created_by", sa.Text, nullable=False),
    _ts("created_at", False, server_default=NOW),
)

# The only hand-entered figures: democratic appraisal and quantified points (P5.4.6).
appraisal_inputs = sa.Table(
    "appraisal_inputs", metadata,
    sa.Column("half_year", sa.String(6), primary_key=True),  # 2026H2
    sa.Column("subject_kind", sa.Text, primary_key=True),  # town|community|staff|department
    sa.Column("subject_code", sa.Text, primary_key=True),  # code, staff sub or department
    sa.Column("town_code", sa.String(9), nullable=True),  # who may edit it (None: district)
    sa.Column("democratic_appraisal", sa.Numeric(6, 2), nullable=True),
    sa.Column("quantified_points", sa.Numeric(8, 2), nullable=True),
    sa.Column("entered_by", sa.Text, nullable=False),
    _ts("entered_at", False, server_default=NOW),
)

# Reports: a trigger refuses DELETE and every UPDATE but draft -> published (content frozen).
appraisal_reports = sa.Table(
    "appraisal_reports", metadata,
    sa.Column("report_id", UUID(as_uuid=False), primary_key=True),
    sa.Column("half_year", sa.String(6), nullable=False),
    sa.Column("scope", sa.Text, nullable=False),  # town:320505001 | district:320505
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("scheme_version", sa.Integer, nullable=False),
    sa.Column("state", sa.Text, nullable=False, server_default="draft"),  # draft | published
    sa.Column("period_start", sa.Date, nullable=False),
    sa.Column("period_end", sa.Date, nullable=False),
    sa.Column("created_by", sa.Text, nullable=False),
    _ts("created_at", False, server_default=NOW),
    sa.Column("published_by", sa.Text, nullable=True),
    _ts("published_at"),
    sa.Column("content", JSONB, nullable=False),
    sa.UniqueConstraint("half_year", "scope", "version", name="uq_appraisal_reports_version"),
)

# P5.2.7, P6.2 (issue 14): a major event acknowledged on the operations wall — once, by
# whom and when — so every wall (every screen, every replica) removes its pin and says so
major_acknowledgements = sa.Table(
    "major_acknowledgements", metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("case_id", UUID(as_uuid=False), nullable=False, unique=True),
    sa.Column("case_number", sa.Text, nullable=False),
    sa.Column("grid_code", sa.String(15), nullable=False),  # whose walls are told
    sa.Column("acknowledged_by", sa.Text, nullable=False),
    sa.Column("acknowledged_name", sa.Text, nullable=False, server_default=""),
    sa.Column("acknowledged_role", sa.Text, nullable=False),
    sa.Column("note", sa.Text, nullable=True),
    _ts("acknowledged_at", False, server_default=NOW),
)

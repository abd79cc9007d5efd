"""Tables of the events schema: cases, photos, the daily case-number counters.

P5.3.1 "collect and archive by class": every case is filed once, with its P5.2 work
category, P5.4.4 information class and subcategory, whoever reported it and however it
came in (app, hotline, Open311, department).  Nothing is ever deleted here: a duplicate is
linked, not dropped; a case handled on the spot is filed closed, still counted (P5.1.5).
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

from gridgov_common.contract import InfoClass, Severity, WorkCategory
from gridgov_common.contract.cases import Source
from gridgov_common.platform.department_register import departments_table
from gridgov_common.platform.messaging import messaging_tables

SCHEMA = "events"
metadata = sa.MetaData(schema=SCHEMA)
messaging_tables(metadata)

NOW = sa.text("now()")
DUPLICATE_STATUSES = ("suggested", "confirmed", "undone")
STATUSES = ("open", "closed")  # Open311's two states; dispatch keeps the detailed ones
ALERT_FOLLOW_UPS = ("update", "cancel")  # CAP 1.2 msgType after the first "alert"


def _one_of(column: str, values, name: str) -> sa.CheckConstraint:
    quoted = ", ".join(f"'{value}'" for value in values)
    return sa.CheckConstraint(f"{column} IN ({quoted})", name=name)


cases = sa.Table(
    "cases", metadata,
    sa.Column("case_id", sa.Uuid(as_uuid=False), primary_key=True),
    sa.Column("case_number", sa.String(32), nullable=False, unique=True),
    sa.Column("reported_at", sa.DateTime(timezone=True), nullable=False),  # as the reporter says
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
    sa.Column("source", sa.Text, nullable=False),
    # who sent it: "app", "open311", or the hotline/department system code
    sa.Column("source_system", sa.Text, nullable=False),
    # the sender's own reference (hotline ticket, the app's retry key); one case per sender+ref
    sa.Column("external_ref", sa.Text, nullable=True),
    sa.Column("grid_code", sa.String(15), nullable=False),
    sa.Column("town_code", sa.String(9), nullable=False),
    sa.Column("lon", sa.Float, nullable=True),  # WGS84
    sa.Column("lat", sa.Float, nullable=True),
    sa.Column("building_id", sa.BigInteger, nullable=True),  # registry building, no FK across
    sa.Column("work_category", sa.Text, nullable=False),  # P5.2
    sa.Column("info_class", sa.Text, nullable=False),  # P5.4.4
    sa.Column("subcategory", sa.Text, nullable=False),
    sa.Column("severity", sa.Text, nullable=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("photos", JSONB, nullable=False, server_default=sa.text("'[]'::jsonb")),  # sha256
    sa.Column("attributes", JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
    sa.Column("resident_id", sa.BigInteger, nullable=True),  # reported on behalf of
    sa.Column("handled_on_spot", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("duplicate_of", sa.Uuid(as_uuid=False), sa.ForeignKey("cases.case_id"),
              nullable=True),
    sa.Column("duplicate_status", sa.Text, nullable=True),
    sa.Column("private", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("reporter_sub", sa.Text, nullable=False),
    sa.Column("reporter_role", sa.Text, nullable=False),
    sa.Column("status", sa.Text, nullable=False, server_default="open"),  # Open311
    sa.Column("status_notes", sa.Text, nullable=True),
    # followed from dispatch.case.changed (services/events/following.py): the dispatch state,
    # when it was reached (orders out-of-order deliveries), the departments responsible
    sa.Column("dispatch_state", sa.Text, nullable=True),
    sa.Column("dispatch_state_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("departments", JSONB, nullable=False, server_default=sa.text("'[]'::jsonb")),
    # a major event's last CAP message on gridgov.alerts after the first alert (P5.2.7):
    # NULL while only the alert was sent; what GET /cases/{n}/cap.xml renders
    sa.Column("alert_msg_type", sa.Text, nullable=True),
    sa.Column("alert_sent_at", sa.DateTime(timezone=True), nullable=True),
    # Open311 (0004): the reporter's own media_url (kept and shown, never fetched) and the
    # address they gave; the deadline dispatch last announced (dispatch.case.changed v2)
    sa.Column("media_url", sa.Text, nullable=True),
    sa.Column("address", sa.Text, nullable=True),
    sa.Column("expected_at", sa.DateTime(timezone=True), nullable=True),
    _one_of("source", [s.value for s in Source], "case_source"),
    _one_of("work_category", [w.value for w in WorkCategory], "case_work_category"),
    _one_of("info_class", [i.value for i in InfoClass], "case_info_class"),
    _one_of("severity", [s.value for s in Severity], "case_severity"),
    _one_of("status", STATUSES, "case_status"),
    _one_of("duplicate_status", DUPLICATE_STATUSES, "case_duplicate_status"),
    _one_of("alert_msg_type", ALERT_FOLLOW_UPS, "case_alert_msg_type"),
    sa.CheckConstraint("(dispatch_state IS NULL) = (dispatch_state_at IS NULL)",
                       name="case_dispatch_state_pair"),
    sa.CheckConstraint("(alert_msg_type IS NULL) = (alert_sent_at IS NULL)",
                       name="case_alert_pair"),
    sa.CheckConstraint("(duplicate_of IS NULL) = (duplicate_status IS NULL)",
                       name="case_duplicate_link"),
    sa.CheckConstraint("duplicate_of <> case_id", name="case_not_own_duplicate"),
    sa.CheckConstraint("(lon IS NULL) = (lat IS NULL)", name="case_location_pair"),
    sa.CheckConstraint("char_length(description) BETWEEN 1 AND 4000",
                       name="case_description_length"),
    sa.Index("ux_cases_external_ref", "source_system", "external_ref", unique=True,
             postgresql_where=sa.text("external_ref IS NOT NULL")),
    sa.Index("ix_cases_grid_reported", "grid_code", "reported_at"),
    sa.Index("ix_cases_reported_at", "reported_at"),
    # duplicate search of a report without a place (by building): same subcategory, open,
    # recent (with a place: ix_cases_open_place below)
    sa.Index("ix_cases_duplicate_search", "subcategory", "reported_at",
             postgresql_where=sa.text("status = 'open'")),
    sa.Index("ix_cases_photos", "photos", postgresql_using="gin"),
)
# duplicate search by place (issue 16): the open cases in a report's box, whatever their
# number; the window and the subcategory are then read from those few rows
sa.Index("ix_cases_open_place", sa.func.point(cases.c.lon, cases.c.lat),
         postgresql_using="gist", postgresql_where=sa.text("status = 'open'"))

# Stored by content hash: a photo attached twice (or re-uploaded after a lost reply) is one
# row.  Bytes live in PostgreSQL; 5 MiB at most each (see domain.media).
photos = sa.Table(
    "photos", metadata,
    sa.Column("sha256", sa.String(64), primary_key=True),
    sa.Column("content_type", sa.Text, nullable=False),
    sa.Column("size", sa.Integer, nullable=False),
    sa.Column("bytes", sa.LargeBinary, nullable=False),
    sa.Column("uploaded_by", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
    _one_of("content_type", ["image/jpeg", "image/png", "image/webp"], "photo_content_type"),
    sa.CheckConstraint("size = octet_length(bytes)", name="photo_size"),
)

# One row per district day; the filing transaction locks it, so case numbers are unique
# across replicas and gapless (a rolled-back filing rolls its increment back too).
case_number_counters = sa.Table(
    "case_number_counters", metadata,
    sa.Column("day", sa.Date, primary_key=True),
    sa.Column("last_value", sa.Integer, nullable=False),
)

# The subcategory catalogue as data: one row per published version, never changed once
# stored (a case names its subcategory code; codes are never removed or reused). Version 1
# is the packaged catalogue (domain/catalogue.py), stored on first use.
catalogue_versions = sa.Table(
    "catalogue_versions", metadata,
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("catalogue", JSONB, nullable=False),
    sa.Column("created_by", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
    sa.Column("note", sa.Text, nullable=False, server_default=""),
    sa.CheckConstraint("version >= 1", name="catalogue_version_positive"),
)

# The department register as the registry announces it (registry.department.changed), for
# the names people read (Open311 agency_responsible): gridgov_common.platform.department_register.
departments = departments_table(metadata)

# Issue 12: proof-of-work challenges of the residents' report page (domain/challenge.py)
# already spent: a solution counts once. Kept until it expires, then purged
# (CHALLENGE_PURGE_SECONDS); an expired one is refused by its signed expiry anyway.
spent_challenges = sa.Table(
    "spent_challenges", metadata,
    sa.Column("nonce", sa.String(32), primary_key=True),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False, index=True),
    sa.Column("spent_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
)


class PgPolygon(sa.types.UserDefinedType):
    """PostgreSQL's built-in ``polygon`` (no PostGIS): ``polygon @> point`` is
    point-in-polygon inside the database. Bound as the text ``((x,y),…)``."""

    cache_ok = True

    def get_col_spec(self, **kw) -> str:
        return "polygon"

    def bind_expression(self, bindvalue):
        return sa.cast(bindvalue, sa.Text).op("::")(sa.literal_column("polygon"))


# Issue 15.5: events' own copy of the registry's grids (grid_index.py), kept current from
# registry.grid.changed, so a report is placed while the registry or the broker is down.
# A district has a few thousand rings: containment is scanned, no index needed.
grid_rings = sa.Table(
    "grid_rings", metadata,
    sa.Column("grid_code", sa.String(15), primary_key=True),
    sa.Column("part", sa.Integer, primary_key=True),
    sa.Column("ring", sa.Integer, primary_key=True),  # 0 = outer, > 0 = hole
    sa.Column("area", PgPolygon, nullable=False),
    sa.Column("valid_from", sa.Date, nullable=True),
    sa.Column("valid_to", sa.Date, nullable=True),  # first day no longer valid (retired)
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
)

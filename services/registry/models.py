"""Tables of the registry schema: places, people, staff, departments, audit.

Personal data (ID numbers, phones, special-group tags) is stored only as AES-GCM
ciphertext plus a keyed blind index for exact lookup (P5.4.4; GB/T 35273 §6.3).  The
audit log is append-only, enforced by a trigger in the migration.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

from gridgov_common.platform.messaging import messaging_tables

SCHEMA = "registry"
metadata = sa.MetaData(schema=SCHEMA)
messaging_tables(metadata)

NOW = sa.text("now()")


def _created() -> sa.Column:
    return sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW)


def _validity() -> list[sa.Column]:
    """P3.1/P4.1: a division (district, town, community) has a validity like a grid: the
    day it came into being and the first day it no longer exists (administrative-division
    adjustment: towns merged, communities split).  The row and its code stay for ever, so
    old case files keep naming it and the code is never given to another place."""
    return [sa.Column("valid_from", sa.Date, nullable=False,
                      server_default=sa.text("CURRENT_DATE")),
            sa.Column("valid_to", sa.Date, nullable=True),
            sa.Column("retired_reason", sa.Text, nullable=True),
            sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False,
                      server_default=NOW)]


# ``name`` of districts, towns and communities is the newest recorded name; the name valid
# on a given day is in ``division_names`` (services/registry/divisions.py).
districts = sa.Table(
    "districts", metadata,
    sa.Column("code", sa.String(6), primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
    _created(),
    *_validity(),
)

towns = sa.Table(
    "towns", metadata,
    sa.Column("code", sa.String(9), primary_key=True),
    sa.Column("district_code", sa.String(6), sa.ForeignKey("districts.code"), nullable=False),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("kind", sa.Text, nullable=False),
    _created(),
    *_validity(),
)

communities = sa.Table(
    "communities", metadata,
    sa.Column("code", sa.String(12), primary_key=True),
    sa.Column("town_code", sa.String(9), sa.ForeignKey("towns.code"), nullable=False,
              index=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("boundary", JSONB, nullable=True),  # GeoJSON, WGS84
    _created(),
    *_validity(),
)

# The versioned division-code table (GB/T 2260 / GB/T 10114 / statistical codes kept as
# data, DOMAIN-REFERENCES §2): one row per name a division has had, with the days it was
# valid [valid_from, valid_to).  A renaming closes the current row and adds the next
# version; the code never changes, so a case filed before a renaming still prints the
# old name when asked for its day.
division_names = sa.Table(
    "division_names", metadata,
    sa.Column("code", sa.String(12), primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("level", sa.Text, nullable=False),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("valid_from", sa.Date, nullable=False),
    sa.Column("valid_to", sa.Date, nullable=True),
    sa.Column("reason", sa.Text, nullable=False, server_default=""),
    sa.Column("recorded_by", sa.Text, nullable=True),  # token subject; NULL: migration/seed
    sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
    sa.CheckConstraint("level IN ('district', 'town', 'community')", name="division_level"),
    sa.CheckConstraint("valid_to IS NULL OR valid_to > valid_from",
                       name="division_name_validity"),
)

# P4.1: grids are issued centrally (15-digit code), drawn on the map, fixed once drawn;
# valid_from/valid_to keep history across a redivision.
grids = sa.Table(
    "grids", metadata,
    sa.Column("grid_code", sa.String(15), primary_key=True),
    sa.Column("community_code", sa.String(12), sa.ForeignKey("communities.code"),
              nullable=False, index=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("kind", sa.Text, nullable=False),  # base | exclusive
    sa.Column("owner_org", sa.Text, nullable=True),  # exclusive grids: employer / property co.
    sa.Column("geometry", JSONB, nullable=False),
    sa.Column("min_lon", sa.Float, nullable=False),
    sa.Column("min_lat", sa.Float, nullable=False),
    sa.Column("max_lon", sa.Float, nullable=False),
    sa.Column("max_lat", sa.Float, nullable=False),
    sa.Column("supervision_phone", sa.Text, nullable=True),  # P5.4.2, a public number
    sa.Column("valid_from", sa.Date, nullable=False),
    sa.Column("valid_to", sa.Date, nullable=True),
    sa.Column("flags", JSONB, nullable=False, server_default=sa.text("'[]'::jsonb")),
    _created(),
    sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
    sa.CheckConstraint("kind IN ('base', 'exclusive')", name="grid_kind"),
    sa.CheckConstraint("kind = 'base' OR owner_org IS NOT NULL", name="exclusive_has_owner"),
    sa.Index("ix_grids_bbox", "min_lon", "max_lon", "min_lat", "max_lat"),
)

neighbourhoods = sa.Table(
    "neighbourhoods", metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("grid_code", sa.String(15), sa.ForeignKey("grids.grid_code"), nullable=False,
              index=True),
    sa.Column("name", sa.Text, nullable=False),
    _created(),
)

buildings = sa.Table(
    "buildings", metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("grid_code", sa.String(15), sa.ForeignKey("grids.grid_code"), nullable=False,
              index=True),
    sa.Column("neighbourhood_id", sa.BigInteger, sa.ForeignKey("neighbourhoods.id"),
              nullable=True),
    sa.Column("address", sa.Text, nullable=False),
    sa.Column("lon", sa.Float, nullable=False),
    sa.Column("lat", sa.Float, nullable=False),
    _created(),
    sa.Index("ix_buildings_address_trgm", "address", postgresql_using="gin",
             postgresql_ops={"address": "gin_trgm_ops"}),
)

households = sa.Table(
    "households", metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("building_id", sa.BigInteger, sa.ForeignKey("buildings.id"), nullable=False,
              index=True),
    sa.Column("grid_code", sa.String(15), nullable=False, index=True),  # scope checks
    sa.Column("unit", sa.Text, nullable=False),  # e.g. "2单元301"
    _created(),
    sa.UniqueConstraint("building_id", "unit", name="household_unit"),
)

residents = sa.Table(
    "residents", metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("household_id", sa.BigInteger, sa.ForeignKey("households.id"), nullable=True,
              index=True),
    sa.Column("grid_code", sa.String(15), nullable=False, index=True),  # P3.1: one grid
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("sex", sa.String(1), nullable=False),
    sa.Column("birth_year", sa.SmallInteger, nullable=False),
    sa.Column("relationship", sa.Text, nullable=False, server_default="member"),
    sa.Column("id_number_enc", sa.LargeBinary, nullable=False),
    sa.Column("id_number_bidx", sa.LargeBinary, nullable=False),
    sa.Column("id_number_masked", sa.Text, nullable=False),  # display form, GB/T 35273 §7.2
    sa.Column("phone_enc", sa.LargeBinary, nullable=True),
    sa.Column("phone_bidx", sa.LargeBinary, nullable=True, index=True),
    sa.Column("phone_masked", sa.Text, nullable=True),
    sa.Column("special_groups_enc", sa.LargeBinary, nullable=True),  # P5.2.5
    sa.Column("status", sa.Text, nullable=False, server_default="active"),
    sa.Column("moved_out_on", sa.Date, nullable=True),
    _created(),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
    sa.CheckConstraint("status IN ('active', 'moved_out', 'deceased')", name="resident_status"),
    # one active registration per person (dedupe on the blind index, P3.1)
    sa.Index("ux_residents_active_id", "id_number_bidx", unique=True,
             postgresql_where=sa.text("status = 'active'")),
    sa.Index("ix_residents_name", "name"),
)

# The department register (P4.2): the registry is its one owner. A district admin adds,
# renames and retires departments over the API (services/registry/departments.py); every
# change is announced as registry.department.changed, which dispatch, notify and the
# dashboard follow; the whole register is announced again at start and every hour, so a
# consumer with a fresh database converges without a replay.
departments = sa.Table(
    "departments", metadata,
    sa.Column("code", sa.Text, primary_key=True),  # e.g. public_security; never reused
    sa.Column("name_zh", sa.Text, nullable=False),
    sa.Column("name_en", sa.Text, nullable=False),
    sa.Column("work_categories", JSONB, nullable=False),
    sa.Column("unit", sa.Text, nullable=True),  # which P4.2 unit; NULL: brought in locally
    sa.Column("contact_phone", sa.Text, nullable=True),  # the duty line, not a person's
    sa.Column("contact_email", sa.Text, nullable=True),
    sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
)

staff = sa.Table(
    "staff", metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("role", sa.Text, nullable=False),
    sa.Column("scope_code", sa.Text, nullable=False, index=True),  # town/community/grid/dept
    # P5.4.2: the work phone printed on the grid's public notice board; staff's private
    # numbers are not collected.
    sa.Column("work_phone", sa.Text, nullable=True),
    sa.Column("duties", sa.Text, nullable=False, server_default=""),
    sa.Column("lifecycle_state", sa.Text, nullable=False),
    sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
    _created(),
    # the ``sub`` of the person's tokens, unique among active staff (migration 0003)
    sa.Column("subject", sa.Text, nullable=True),
    sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
    sa.Index("ux_staff_active_subject", "subject", unique=True,
             postgresql_where=sa.text("active AND subject IS NOT NULL")),
)

# P5.1.4/P5.1.5: the grids a staff member answers for (a neighbourhood grid worker's one
# grid; the few grids a community grid worker leads). docs/FIELD-WORK.md "Who and where".
staff_grids = sa.Table(
    "staff_grids", metadata,
    sa.Column("staff_id", sa.BigInteger, sa.ForeignKey("staff.id"), primary_key=True),
    sa.Column("grid_code", sa.String(15), sa.ForeignKey("grids.grid_code"), primary_key=True),
    sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
    sa.Index("ix_staff_grids_grid", "grid_code"),
)

staff_transitions = sa.Table(
    "staff_transitions", metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("staff_id", sa.BigInteger, sa.ForeignKey("staff.id"), nullable=False,
              index=True),
    sa.Column("action", sa.Text, nullable=False),
    sa.Column("from_state", sa.Text, nullable=False),
    sa.Column("to_state", sa.Text, nullable=False),
    sa.Column("actor_sub", sa.Text, nullable=False),
    sa.Column("actor_role", sa.Text, nullable=False),
    sa.Column("reason", sa.Text, nullable=False, server_default=""),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
)

# P4.3: one Party branch or Party group per grid; its secretary is also a grid worker.
party_branches = sa.Table(
    "party_branches", metadata,
    sa.Column("grid_code", sa.String(15), sa.ForeignKey("grids.grid_code"), primary_key=True),
    sa.Column("kind", sa.Text, nullable=False),  # branch | group
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("secretary_staff_id", sa.BigInteger, sa.ForeignKey("staff.id"), nullable=False),
    sa.CheckConstraint("kind IN ('branch', 'group')", name="party_kind"),
)

# P5.4.4 / PIPL Art. 51 / Cybersecurity Law Art. 21: every read of personal data is
# recorded; rows are never updated or deleted (trigger in the migration).
audit_log = sa.Table(
    "audit_log", metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False, server_default=NOW, index=True),
    sa.Column("actor_sub", sa.Text, nullable=False, index=True),
    sa.Column("actor_role", sa.Text, nullable=False),
    sa.Column("actor_scope", sa.Text, nullable=False),
    sa.Column("action", sa.Text, nullable=False),
    sa.Column("subject_type", sa.Text, nullable=False),
    sa.Column("subject_id", sa.Text, nullable=False),
    sa.Column("fields", JSONB, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
)

# Issue 12: a staff member's account (migration 0009; services/registry/accounts.py). Keyed
# by the staff record: role and scope are never stored here, they are read from the staff
# record at every sign-in and refresh. Only the argon2id hash of the password is kept.
accounts = sa.Table(
    "accounts", metadata,
    sa.Column("staff_id", sa.BigInteger, sa.ForeignKey("staff.id"), primary_key=True),
    sa.Column("password_hash", sa.Text, nullable=False),
    sa.Column("must_change", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("failed_count", sa.Integer, nullable=False, server_default="0"),
    sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
    sa.Column("password_changed_at", sa.DateTime(timezone=True), nullable=False,
              server_default=NOW),
    _created(),
    # migration 0010: the SMS second factor of administrators (domain/second_factor.py);
    # the phone encrypted like every phone (P5.4.4), the pending code as an HMAC keyed by
    # the sign-in ticket, whose SHA-256 finds the account
    sa.Column("sign_in_phone_enc", sa.LargeBinary, nullable=True),
    sa.Column("sign_in_phone_masked", sa.Text, nullable=True),
    sa.Column("code_ticket_hash", sa.String(64), nullable=True),
    sa.Column("code_hash", sa.String(64), nullable=True),
    sa.Column("code_expires_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("code_sent_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("code_attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Index("ux_accounts_code_ticket_hash", "code_ticket_hash", unique=True,
             postgresql_where=sa.text("code_ticket_hash IS NOT NULL")),
)

# A browser's refresh session: the SHA-256 of its random id (the id itself lives only in
# the HttpOnly cookie), the role and scope it was opened under, idle and absolute expiry.
account_sessions = sa.Table(
    "account_sessions", metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("staff_id", sa.BigInteger, sa.ForeignKey("staff.id"), nullable=False),
    sa.Column("token_hash", sa.String(64), nullable=False),
    sa.Column("role", sa.Text, nullable=False),
    sa.Column("scope_code", sa.Text, nullable=False),
    sa.Column("subject", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("revoked_reason", sa.Text, nullable=True),
    sa.Index("ux_account_sessions_token_hash", "token_hash", unique=True),
    sa.Index("ix_account_sessions_open", "staff_id",
             postgresql_where=sa.text("revoked_at IS NULL")),
)

# P5.4.1: those failing the half-year assessment (P5.4.6, ``assessment.staff.flagged``)
# are adjusted: the community proposes a measure, the town approves it (migration 0005;
# services/registry/adjustments.py). One row per flagged subject and half-year; a later
# report version updates it.
staff_adjustments = sa.Table(
    "staff_adjustments", metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("staff_sub", sa.Text, nullable=False),
    sa.Column("staff_id", sa.BigInteger, sa.ForeignKey("staff.id"), nullable=True,
              index=True),  # null while unmatched
    sa.Column("half_year", sa.String(6), nullable=False),
    sa.Column("report_id", sa.Uuid(as_uuid=False), nullable=False),
    sa.Column("report_version", sa.Integer, nullable=False),
    sa.Column("grade", sa.Text, nullable=False),
    sa.Column("score", sa.Float, nullable=False),
    sa.Column("flag_grades", JSONB, nullable=False),
    sa.Column("role", sa.Text, nullable=False),
    sa.Column("scope_code", sa.Text, nullable=False, index=True),  # for scoped reads
    sa.Column("town_code", sa.String(9), nullable=False),
    sa.Column("state", sa.Text, nullable=False),
    sa.Column("measure", sa.Text, nullable=True),
    sa.Column("grid_codes", JSONB, nullable=True),  # the new grids of a reassignment
    sa.Column("reason", sa.Text, nullable=True),  # of the latest proposal
    sa.Column("decision_reason", sa.Text, nullable=True),
    _created(),
    sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
    sa.UniqueConstraint("staff_sub", "half_year", name="ux_staff_adjustment_half_year"),
    sa.CheckConstraint("state IN ('unmatched', 'flagged', 'proposed', 'approved', "
                       "'rejected', 'applied')", name="staff_adjustment_state"),
    sa.CheckConstraint("measure IS NULL OR measure IN ('keep_with_training', 'reassign', "
                       "'dismiss')", name="staff_adjustment_measure"),
)

# every step of an adjustment: who, when, what (P5.4.1; the flag itself included)
staff_adjustment_steps = sa.Table(
    "staff_adjustment_steps", metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("adjustment_id", sa.BigInteger, sa.ForeignKey("staff_adjustments.id"),
              nullable=False, index=True),
    sa.Column("action", sa.Text, nullable=False),
    sa.Column("from_state", sa.Text, nullable=True),
    sa.Column("to_state", sa.Text, nullable=False),
    sa.Column("actor_sub", sa.Text, nullable=False),
    sa.Column("actor_role", sa.Text, nullable=False),
    sa.Column("measure", sa.Text, nullable=True),
    sa.Column("reason", sa.Text, nullable=False, server_default=""),
    sa.Column("detail", JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
)

# Issue 12: the call-back phone a resident may leave on the public report page (events'
# /report). Events never keeps it (it holds no PII keys); it hands it here at once. Stored
# like every phone (P5.4.4): AES-256-GCM ciphertext, a masked display; the case's grid
# decides who may unmask it (services/registry/callback_phones.py).
callback_phones = sa.Table(
    "callback_phones", metadata,
    sa.Column("case_number", sa.String(32), primary_key=True),
    sa.Column("grid_code", sa.String(15), nullable=False, index=True),
    sa.Column("phone_enc", sa.LargeBinary, nullable=False),
    sa.Column("phone_masked", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
    # set when events says the case was committed (migration 0012); unconfirmed ones go
    sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
    sa.Index("ix_callback_phones_unconfirmed", "created_at",
             postgresql_where=sa.text("confirmed_at IS NULL")),
)

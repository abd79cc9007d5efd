"""Tables of the dispatch schema: cases, department assignments, the electronic case file,
escalations, versioned triage rules and calendar overrides (P2.2, P5.3, P6.2)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID

from gridgov_common.platform.department_register import departments_table
from gridgov_common.platform.messaging import messaging_tables

SCHEMA = "dispatch"
metadata = sa.MetaData(schema=SCHEMA)
messaging_tables(metadata)
NOW = sa.text("now()")


def _ts(name: str, nullable: bool = True) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


cases = sa.Table(
    "cases", metadata,
    sa.Column("case_id", UUID(as_uuid=False), primary_key=True),
    sa.Column("case_number", sa.Text, nullable=False, unique=True),
    sa.Column("state", sa.Text, nullable=False, index=True),
    sa.Column("handling_level", sa.Text, nullable=False),  # grid|community|town|district
    sa.Column("grid_code", sa.String(15), nullable=False, index=True),
    sa.Column("town_code", sa.String(9), nullable=False, index=True),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("work_category", sa.Text, nullable=False),
    sa.Column("info_class", sa.Text, nullable=False),
    sa.Column("subcategory", sa.Text, nullable=False),
    sa.Column("severity", sa.Text, nullable=False),
    sa.Column("priority", sa.Text, nullable=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("location", JSONB, nullable=True),
    sa.Column("private", sa.Boolean, nullable=False),
    sa.Column("handled_on_spot", sa.Boolean, nullable=False),
    sa.Column("duplicate_of", UUID(as_uuid=False), nullable=True),
    sa.Column("rule_id", sa.Text, nullable=True),
    sa.Column("rule_version", sa.Integer, nullable=True),  # a running case keeps its rules
    sa.Column("rework_count", sa.Integer, nullable=False, server_default="0"),
    sa.Column("satisfaction", sa.SmallInteger, nullable=True),  # return visit 1–5
    sa.Column("escalation_version", sa.Integer, nullable=True),  # P6.2 ladder it runs under
    sa.Column("handled_locally", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("return_count", sa.Integer, nullable=False, server_default="0"),  # 退办 count
    _ts("handle_due_at"),  # P5.3.3: own-level handling deadline (departments: per assignment)
    _ts("cancelled_at"),
    _ts("suspended_at"),
    _ts("reported_at", False),
    _ts("filed_at", False),
    _ts("resolved_at"),
    _ts("closed_at"),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
    # P6.2 timer (escalating.py, 0003): next ladder step ahead, and the updated_at it was
    # computed from; a case is looked at only when that step is due or the case changed
    _ts("next_escalation_at"),
    _ts("escalation_basis_at"),
    sa.Index("ix_cases_next_escalation", "next_escalation_at",
             postgresql_where=sa.text("next_escalation_at IS NOT NULL")),
    sa.Index("ix_cases_escalation_unseen", "case_id",
             postgresql_where=sa.text("escalation_basis_at IS DISTINCT FROM updated_at")),
    # events.case.reported v2: the grid staff member who reported it (0007; KPIS.md)
    sa.Column("reporter_sub", sa.Text, nullable=True),
    sa.Index("ix_cases_reporter_sub", "reporter_sub",
             postgresql_where=sa.text("reporter_sub IS NOT NULL")),
    # events.case.reported v3 (0010): the subcategory reveals special-group membership
    # (P5.2.5): seen by SPECIAL_GROUP_READERS and the departments assigned, else counted
    sa.Column("sensitive", sa.Boolean, nullable=False, server_default=sa.false()),
    # where and what was seen, for the case file page (0013): the building the reporter
    # chose and the photos' SHA-256 (the photos themselves stay with events)
    sa.Column("building_id", sa.BigInteger, nullable=True),
    sa.Column("photos", ARRAY(sa.Text), nullable=False, server_default="{}"),
    # the catalogue version it was filed under (0015): its subcategory's handling defaults
    # stay those of that version, as its rules stay those of rule_version
    sa.Column("catalogue_version", sa.Integer, nullable=True),
    # the wall's queries (0017): the latest changes (statistics.recent_cases sorts by
    # updated_at) and the major events of the last days (statistics.major_cases)
    sa.Index("ix_cases_updated_at", "updated_at"),
    sa.Index("ix_cases_major_reported", "reported_at", postgresql_where=sa.text(
        "work_category = 'major_event' OR severity = 'critical'")),
    # P5.3.1 (0014): a confirmed duplicate merged into its original's flow — which case,
    # since when, the state it left (an undo returns there); counted in no closure KPI
    sa.Column("merged_into", UUID(as_uuid=False), nullable=True),
    _ts("merged_at"),
    sa.Column("merged_from_state", sa.Text, nullable=True),
    _ts("duplicate_decided_at"),  # the last events.case.duplicate_decided applied
    sa.Index("ix_cases_merged_into", "merged_into",
             postgresql_where=sa.text("merged_into IS NOT NULL")),
)

# Grid staff and their grids from registry.staff.changed (0007), for by=grid_worker KPIs.
grid_workers = sa.Table(
    "grid_workers", metadata,
    sa.Column("staff_id", sa.BigInteger, primary_key=True),
    sa.Column("subject", sa.Text, nullable=True),
    sa.Column("role", sa.Text, nullable=False),
    sa.Column("scope_code", sa.Text, nullable=False),
    sa.Column("active", sa.Boolean, nullable=False),
    _ts("registry_at", False),
    sa.Index("ix_grid_workers_subject", "subject"),
)

grid_worker_grids = sa.Table(
    "grid_worker_grids", metadata,
    sa.Column("staff_id", sa.BigInteger,
              sa.ForeignKey("grid_workers.staff_id", ondelete="CASCADE"), primary_key=True),
    sa.Column("grid_code", sa.String(15), primary_key=True),
    sa.Index("ix_grid_worker_grids_grid", "grid_code"),
)

assignments = sa.Table(
    "assignments", metadata,
    sa.Column("assignment_id", UUID(as_uuid=False), primary_key=True),
    sa.Column("case_id", UUID(as_uuid=False), sa.ForeignKey("cases.case_id"), nullable=False,
              index=True),
    sa.Column("department", sa.Text, nullable=False, index=True),
    sa.Column("role", sa.Text, nullable=False),  # lead | assist
    sa.Column("state", sa.Text, nullable=False),  # sent|acked|reported|returned|withdrawn
    sa.Column("routing_key", sa.Text, nullable=False),
    sa.Column("rework", sa.Integer, nullable=False, server_default="0"),
    _ts("sent_at", False),
    _ts("ack_due_at", False),
    _ts("acked_at"),
    sa.Column("ack_on_time", sa.Boolean, nullable=True),  # frozen when the stage ends
    _ts("handle_due_at", False),
    _ts("reported_at"),
    sa.Column("handle_on_time", sa.Boolean, nullable=True),
    sa.Column("resolved", sa.Boolean, nullable=True),
    sa.Column("department_ref", sa.Text, nullable=True),  # their own reference
    sa.Column("unroutable", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Index("ix_assignments_open_due", "state", "ack_due_at", "handle_due_at"),
    sa.Index("ix_assignments_unroutable", "case_id", postgresql_where=sa.text("unroutable")),
    # statistics.late_results: only the late ones, read without the table (migration 0008)
    sa.Index("ix_assignments_late", "case_id",
             postgresql_where=sa.text("handle_on_time IS FALSE")),
)

# P5.3.3: reminders at shares of a department's handling time, once per due time (0005)
deadline_reminders = sa.Table(
    "deadline_reminders", metadata,
    sa.Column("assignment_id", UUID(as_uuid=False), primary_key=True),
    sa.Column("percent", sa.Integer, primary_key=True),
    sa.Column("due_at", sa.DateTime(timezone=True), primary_key=True),
    sa.Column("case_id", UUID(as_uuid=False), nullable=False),
    sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False,
              server_default=NOW),
)

# Daily digests sent (digests.py): one per recipient scope and local day, whichever
# replica's timer claims it first.
daily_digests = sa.Table(
    "daily_digests", metadata,
    sa.Column("scope", sa.Text, primary_key=True),  # department:<code> | town:<code>
    sa.Column("day", sa.Date, primary_key=True),
    sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
)

# P5.3.4: every step of a case is kept; append-only and hash-chained (trigger + casefile).
case_file = sa.Table(
    "case_file", metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("case_id", UUID(as_uuid=False), nullable=False),
    sa.Column("seq", sa.Integer, nullable=False),
    sa.Column("entry", JSONB, nullable=False),
    sa.Column("prev_hash", sa.Text, nullable=False),
    sa.Column("hash", sa.Text, nullable=False),
    sa.UniqueConstraint("case_id", "seq", name="case_file_seq"),
)

# Entries that arrived before their case was filed (a major event's page can reach dispatch
# before the case it is about, alerts go first): appended when the case is filed.
waiting_file_entries = sa.Table(
    "waiting_file_entries", metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("case_id", UUID(as_uuid=False), nullable=False, index=True),
    sa.Column("action", sa.Text, nullable=False),
    sa.Column("actor_sub", sa.Text, nullable=False),
    sa.Column("actor_role", sa.Text, nullable=False),
    _ts("at", False),
    sa.Column("data", JSONB, nullable=False),
    sa.Column("waiting_since", sa.DateTime(timezone=True), nullable=False,
              server_default=NOW),
)

escalations = sa.Table(
    "escalations", metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("case_id", UUID(as_uuid=False), nullable=False, index=True),
    sa.Column("assignment_id", UUID(as_uuid=False), nullable=True),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("level", sa.Integer, nullable=False),
    sa.Column("card", sa.Text, nullable=True),
    sa.Column("target_role", sa.Text, nullable=False),
    sa.Column("target_scope", sa.Text, nullable=False),
    sa.Column("department", sa.Text, nullable=True),
    sa.Column("reason", sa.Text, nullable=False, server_default=""),
    sa.Column("policy_version", sa.Integer, nullable=True),
    _ts("due_at"),  # the missed due time
    _ts("at", False),  # the instant it was scheduled for
    # a card issued by hand (kind ``manual``, 0016): who issued it; NULL for the timer's
    sa.Column("issued_by", sa.Text, nullable=True),
    sa.Column("issued_role", sa.Text, nullable=True),
    # the same escalation is never raised twice for the same deadline, whichever replica's
    # timer finds it; a deadline moved by an approved delay re-arms the ladder (0004)
    sa.Index("ux_escalation_once_per_due", "case_id",
             sa.text("coalesce(assignment_id::text, '')"), "kind", "level",
             sa.text("coalesce(due_at, '-infinity'::timestamptz)"), unique=True),
)

# P6.2: supervision ladders, versioned like the rule sets; a case keeps the version it began with
escalation_policies = sa.Table(
    "escalation_policies", metadata,
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("policy", JSONB, nullable=False),
    sa.Column("created_by", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
)

# P5.3.3: a department asks for more time; town staff approve or deny
delay_requests = sa.Table(
    "delay_requests", metadata,
    sa.Column("request_id", UUID(as_uuid=False), primary_key=True),
    sa.Column("case_id", UUID(as_uuid=False), nullable=False, index=True),
    sa.Column("assignment_id", UUID(as_uuid=False), nullable=False),
    sa.Column("department", sa.Text, nullable=False),
    _ts("requested_due_at", False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("message_id", sa.Text, nullable=True),
    sa.Column("state", sa.Text, nullable=False, server_default="pending"),  # approved|denied
    _ts("requested_at", False),
    sa.Column("decided_by", sa.Text, nullable=True),
    sa.Column("decided_role", sa.Text, nullable=True),
    _ts("decided_at"),
    sa.Column("decision_note", sa.Text, nullable=True),
    sa.Index("ix_delay_requests_pending", "state", "requested_at"),
)

rule_sets = sa.Table(
    "rule_sets", metadata,
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("rules", JSONB, nullable=False),
    sa.Column("created_by", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
)

calendar_overrides = sa.Table(
    "calendar_overrides", metadata,
    sa.Column("day", sa.Date, primary_key=True),
    sa.Column("is_workday", sa.Boolean, nullable=False),
    sa.Column("note", sa.Text, nullable=False, server_default=""),
)

# Master data dispatch follows from its owners, to check rule sets against (issue 11): the
# department register (registry.department.changed, newest ``updated_at`` per code) and the
# subcategory catalogue (events.catalogue.published, every version; the highest is current).
departments = departments_table(metadata)  # gridgov_common.platform.department_register

catalogue_versions = sa.Table(
    "catalogue_versions", metadata,
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("subcategories", JSONB, nullable=False),
    sa.Column("published_by", sa.Text, nullable=False),
    sa.Column("received_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
)

# Years whose State Council holiday notice an operator entered (M12): the notice's days off
# and make-up working days are calendar_overrides rows; every other date of the year is an
# ordinary weekday or weekend (WorkCalendar complete_years), and no estimate is used.
calendar_years = sa.Table(
    "calendar_years", metadata,
    sa.Column("year", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("notice", sa.Text, nullable=False),  # title and document number (文号)
    sa.Column("entered_by", sa.Text, nullable=False),
    sa.Column("entered_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
)

# One reminder a day per district while next year's notice is missing (claimed here, so
# that with several replicas one sends it).
calendar_reminders = sa.Table(
    "calendar_reminders", metadata,
    sa.Column("district", sa.Text, primary_key=True),
    sa.Column("day", sa.Date, primary_key=True),
)

"""Tables of the notify schema: notifications (one per cause), deliveries (one per cause,
recipient and channel: the idempotency and retry ledger), the app inbox with per-user read
marks, and subscriptions (contact points of roles and department systems)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB, UUID

from gridgov_common.platform.department_register import departments_table
from gridgov_common.platform.messaging import messaging_tables

SCHEMA = "notify"
metadata = sa.MetaData(schema=SCHEMA)
messaging_tables(metadata)
NOW = sa.text("now()")


def _ts(name: str, nullable: bool = True, **kwargs) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable, **kwargs)


notifications = sa.Table(
    "notifications", metadata,
    sa.Column("notification_id", UUID(as_uuid=False), primary_key=True),
    sa.Column("cause_id", sa.Text, nullable=False, unique=True),
    sa.Column("case_id", UUID(as_uuid=False), nullable=True, index=True),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("template", sa.Text, nullable=False),
    sa.Column("locale", sa.Text, nullable=False),
    sa.Column("params", JSONB, nullable=False),
    sa.Column("priority", sa.SmallInteger, nullable=False),  # 0 = major-event alert
    sa.Column("producer", sa.Text, nullable=False),
    _ts("created_at", False, server_default=NOW),
)

# One row per (cause, recipient, channel): inserting it twice does nothing, so a cause is
# never notified twice; the sender marks it sent after the channel accepted it.
deliveries = sa.Table(
    "deliveries", metadata,
    sa.Column("delivery_id", sa.BigInteger, sa.Identity(always=False), primary_key=True),
    sa.Column("notification_id", UUID(as_uuid=False),
              sa.ForeignKey(f"{SCHEMA}.notifications.notification_id"), nullable=False),
    sa.Column("cause_id", sa.Text, nullable=False),
    sa.Column("channel", sa.Text, nullable=False),
    sa.Column("recipient", sa.Text, nullable=False),  # inbox:<role>@<scope> | subscription:<id>
    sa.Column("subscription_id", sa.BigInteger, nullable=True),
    sa.Column("priority", sa.SmallInteger, nullable=False),
    sa.Column("state", sa.Text, nullable=False),  # pending | sent | dead
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    _ts("next_attempt_at", False, server_default=NOW),
    sa.Column("last_error", sa.Text, nullable=True),
    _ts("created_at", False, server_default=NOW),
    _ts("sent_at"),
    sa.UniqueConstraint("cause_id", "recipient", "channel", name="deliveries_once"),
    sa.Index("ix_deliveries_due", "priority", "next_attempt_at",
             postgresql_where=sa.text("state = 'pending'")),
    sa.Index("ix_deliveries_dead", "delivery_id", postgresql_where=sa.text("state = 'dead'")),
)

inbox = sa.Table(
    "inbox", metadata,
    sa.Column("message_id", sa.BigInteger, sa.Identity(always=False), primary_key=True),
    sa.Column("notification_id", UUID(as_uuid=False), nullable=False),
    sa.Column("case_id", UUID(as_uuid=False), nullable=True),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("role", sa.Text, nullable=False),
    sa.Column("scope_level", sa.Text, nullable=False),
    sa.Column("scope_code", sa.Text, nullable=False),
    sa.Column("priority", sa.SmallInteger, nullable=False),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    _ts("created_at", False, server_default=NOW),
    sa.Index("ix_inbox_role_scope", "role", "scope_code", "message_id"),
)

inbox_reads = sa.Table(
    "inbox_reads", metadata,
    sa.Column("message_id", sa.BigInteger, sa.ForeignKey(f"{SCHEMA}.inbox.message_id"),
              primary_key=True),
    sa.Column("sub", sa.Text, primary_key=True),
    _ts("read_at", False, server_default=NOW),
)

# Addresses and webhook secrets are encrypted (AES-GCM, services/registry's PiiCipher):
# P5.4.4, GB/T 35273 §6.3; shown masked only.
subscriptions = sa.Table(
    "subscriptions", metadata,
    sa.Column("subscription_id", sa.BigInteger, sa.Identity(always=False), primary_key=True),
    sa.Column("role", sa.Text, nullable=False),
    sa.Column("scope_level", sa.Text, nullable=False),
    sa.Column("scope_code", sa.Text, nullable=False),
    sa.Column("channel", sa.Text, nullable=False),
    sa.Column("address_enc", sa.LargeBinary, nullable=False),
    sa.Column("address_masked", sa.Text, nullable=False),
    sa.Column("secret_enc", sa.LargeBinary, nullable=True),
    # rotation: the previous secret still signs (a second signature) until this time
    sa.Column("previous_secret_enc", sa.LargeBinary, nullable=True),
    _ts("previous_secret_until"),
    sa.Column("locale", sa.Text, nullable=False),
    sa.Column("kinds", JSONB, nullable=True),  # null: every kind
    sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("label", sa.Text, nullable=False, server_default=""),
    sa.Column("created_by", sa.Text, nullable=False),
    _ts("created_at", False, server_default=NOW),
    sa.Index("ix_subscriptions_role", "role", "scope_code",
             postgresql_where=sa.text("active")),
)

# The department register as the registry announces it (registry.department.changed): the
# names people read in messages (accepting.with_names; gridgov_common.platform.department_register).
departments = departments_table(metadata)

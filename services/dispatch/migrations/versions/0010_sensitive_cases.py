"""sensitive cases: special-group membership through cases (P5.2.5, issue 10)

Revision ID: 0010_sensitive_cases
Revises: 0009_waiting_file_entries

``events.case.reported`` v3 carries ``sensitive``: the case's subcategory reveals that a
resident belongs to a special group. Dispatch keeps it on the case and shows such a case
only to the special-group readers in scope and to the departments assigned
(``queries.scope_filter``); elsewhere it is only counted. Cases filed before are marked
from their work category: every special-group-assistance subcategory is sensitive in the
catalogue (services/events/domain/catalogue.py refuses one that is not).
"""

import sqlalchemy as sa
from alembic import op

revision = '0010_sensitive_cases'
down_revision = '0009_waiting_file_entries'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("cases", sa.Column("sensitive", sa.Boolean(), nullable=False,
                                     server_default=sa.false()), schema="dispatch")
    op.execute("UPDATE dispatch.cases SET sensitive = true "
               "WHERE work_category = 'special_group_assistance'")


def downgrade() -> None:
    op.drop_column("cases", "sensitive", schema="dispatch")

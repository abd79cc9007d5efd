"""A lead's result that overtook its ack on the bus (services/dispatch/reports.py): it waits
while its reported_at is recent (ORDER_GRACE) and, whatever its age, for its first
ORDER_ATTEMPTS deliveries, then it is refused and told. Straight on the real PostgreSQL:
which delivery a report is comes from the broker's count (Report.attempt)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from gridgov_common.contract import parse_envelope
from services.dispatch import filing, reports
from tests.dispatch.conftest import reported_envelope

NOW = datetime(2026, 12, 7, 2, 30, tzinfo=UTC)


def lead_result(session: Session, reported_at: datetime, attempt: int) -> reports.Report:
    case = filing.file_reported(session, parse_envelope(reported_envelope()), now=NOW)
    lead = session.execute(sa.text(
        "SELECT assignment_id::text FROM dispatch.assignments WHERE case_id = :c "
        "AND role = 'lead'"), {"c": case["case_id"]}).scalar_one()
    payload = {"assignment_id": lead, "case_id": case["case_id"], "department": "fire",
               "kind": "result", "resolved": True, "reported_at": reported_at}
    return reports.Report(payload, "00000000-0000-4000-8000-000000000001", attempt=attempt)


@pytest.mark.parametrize("attempt", [0, reports.ORDER_ATTEMPTS - 1])
def test_a_late_result_waits_for_its_first_deliveries(db_engine, clean_db, attempt):
    with Session(db_engine, info={"db_schema": "dispatch"}) as session:
        report = lead_result(session, NOW - timedelta(minutes=5), attempt)
        with pytest.raises(reports.AheadOfAck):
            reports.apply(session, report, NOW)
        session.rollback()


def test_then_it_is_refused_and_told(db_engine, clean_db):
    with Session(db_engine, info={"db_schema": "dispatch"}) as session:
        report = lead_result(session, NOW - timedelta(minutes=5), reports.ORDER_ATTEMPTS)
        with pytest.raises(reports.Refused) as refused:
            reports.apply(session, report, NOW)
        session.rollback()
    assert (refused.value.code, refused.value.department) == ("wrong_state", "fire")


def test_a_recent_result_waits_whatever_the_delivery(db_engine, clean_db):
    with Session(db_engine, info={"db_schema": "dispatch"}) as session:
        report = lead_result(session, NOW - timedelta(seconds=2), 9)
        with pytest.raises(reports.AheadOfAck):
            reports.apply(session, report, NOW)
        session.rollback()

"""Hot queries can use their partial indexes under a *generic* plan (issue 17, soak).

psycopg prepares a statement after a few runs, and PostgreSQL may then plan it once for any
parameter values. A constant sent as a parameter (``state = $1``) cannot prove a partial
index's predicate (``state = 'pending'``), so that plan never uses the index: in a 40-minute
soak notify's sender scanned every delivery ~20 times a second and events' duplicate search
read its whole 72-hour window per intake. Each test runs the real query code, captures the
statement it sends, prepares it with the same parameters and asks PostgreSQL for the generic
plan (``plan_cache_mode = force_generic_plan``; sequential scans priced out, so the plan shows
which indexes are *usable*, not which the planner prefers on a nearly empty table).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import psycopg.sql
import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from services.assessment.circulars import scheduled_exists
from services.dispatch.statistics import major_cases, recent_cases
from services.events import batch_filing, duplicate_search
from services.events.cases import Report, find_duplicate
from services.events.dependencies import Settings as EventsSettings
from services.notify.reading import list_deliveries
from services.notify.sending import Settings as NotifySettings
from services.notify.sending import claim

PG_TYPES: list[tuple[type, str]] = [
    (bool, "boolean"), (int, "bigint"), (float, "double precision"), (str, "text"),
    (datetime, "timestamptz"), (date, "date"), (timedelta, "interval")]


@contextmanager
def captured(engine: sa.Engine) -> Iterator[list[tuple[str, dict[str, Any]]]]:
    """Every (statement, parameters) the engine sends while the block runs."""
    sent: list[tuple[str, dict[str, Any]]] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        sent.append((statement, dict(parameters or {})))

    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)


def _pg_type(value: Any) -> str:
    if isinstance(value, list):  # an array parameter: by its first element
        return _pg_type(value[0]) + "[]"
    for python_type, name in PG_TYPES:
        if isinstance(value, python_type):
            return name
    raise AssertionError(f"no PostgreSQL type for {value!r}")


def generic_plan(engine: sa.Engine, statement: str, parameters: dict[str, Any]) -> str:
    """The plan PostgreSQL would reuse for every execution of this prepared statement."""
    names: list[str] = []

    def placeholder(match: re.Match) -> str:
        if match.group(1) not in names:
            names.append(match.group(1))
        return f"${names.index(match.group(1)) + 1}"

    # "%%" (a literal %, as in LIKE 'x' || '%') stays escaped: exec_driver_sql reads it
    sql = re.sub(r"%\((\w+)\)s", placeholder, statement)
    with engine.connect() as conn:
        raw = conn.connection.driver_connection
        types = ", ".join(_pg_type(parameters[name]) for name in names)
        args = ", ".join(psycopg.sql.Literal(parameters[name]).as_string(raw) for name in names)
        conn.exec_driver_sql("SET plan_cache_mode = force_generic_plan")
        conn.exec_driver_sql("SET enable_seqscan = off")
        conn.exec_driver_sql(f"PREPARE hot ({types}) AS {sql}" if names
                             else f"PREPARE hot AS {sql}")
        plan = "\n".join(row[0] for row in conn.exec_driver_sql(
            f"EXPLAIN EXECUTE hot ({args})" if names else "EXPLAIN EXECUTE hot"))
        conn.exec_driver_sql("DEALLOCATE hot")
        conn.rollback()
    return plan


def plan_of(engine: sa.Engine, run: Callable[[Session], Any], table: str) -> str:
    """Run the query code, then the generic plan of its one statement on ``table``."""
    with captured(engine) as sent, Session(bind=engine) as session:
        run(session)
        session.rollback()
    ours = [(sql, params) for sql, params in sent if table in sql]
    assert len(ours) == 1, ours
    return generic_plan(engine, *ours[0])


def test_notify_sender_claims_due_deliveries_through_the_pending_index(db_engine):
    plan = plan_of(db_engine, lambda s: claim(s, NotifySettings()), "notify.deliveries")
    assert "ix_deliveries_due" in plan, plan


def test_operators_dead_letter_list_reads_the_dead_index(db_engine):
    plan = plan_of(db_engine, lambda s: list_deliveries(s, {"state": "dead", "limit": 50}),
                   "notify.deliveries")
    assert "ix_deliveries_dead" in plan, plan


DUPLICATES = EventsSettings(case_number_prefix="GS", duplicate_distance_m=50,
                            duplicate_window_hours=72, open311_api_keys=(), cap_sender="t",
                            open311_contact="", registry_timeout=5)
LOCATED = Report(source="app", source_system="app", reporter_sub="w-1",
                 reporter_role="neighbourhood_grid_worker",
                 work_category="public_security_prevention", subcategory="fire_hazard",
                 description="x", lon=120.6, lat=31.3,
                 reported_at=datetime(2026, 12, 5, 8, tzinfo=UTC))


@pytest.fixture
def district_of_open_cases(db_engine):
    """3,000 cases of four subcategories, a third of them open, spread over 20 km × 20 km
    around LOCATED, with statistics: on an empty table every index costs the same, and
    the planner's choice shows nothing."""
    with db_engine.begin() as conn:
        conn.execute(sa.text("""
            INSERT INTO events.cases (case_id, case_number, reported_at, source, source_system,
                grid_code, town_code, lon, lat, work_category, info_class, subcategory,
                severity, description, reporter_sub, reporter_role, status)
            SELECT gen_random_uuid(), 'PI20261205-' || lpad(n::text, 6, '0'),
                   timestamptz '2026-12-05 08:00+00' - n * interval '1 minute', 'app', 'app',
                   '320505001001001', '320505001', 120.5 + random() * 0.2,
                   31.2 + random() * 0.2, 'public_security_prevention',
                   'stability_governance', (ARRAY['fire_hazard', 'electric_bike_charging',
                   'fire_hazard_corridor', 'other'])[n % 4 + 1], 'minor', 'x', 'w', 'w',
                   CASE WHEN n % 3 = 0 THEN 'open' ELSE 'closed' END
            FROM generate_series(1, 3000) AS n"""))
        conn.execute(sa.text("ANALYZE events.cases"))
    yield
    with db_engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM events.cases WHERE case_number LIKE 'PI2026%'"))


def test_duplicate_search_reads_the_open_cases_in_the_box_by_place(db_engine,
                                                                  district_of_open_cases):
    plan = plan_of(db_engine, lambda s: find_duplicate(s, DUPLICATES, LOCATED), "events.cases")
    assert "ix_cases_open_place" in plan, plan
    assert "ix_cases_reported_at" not in plan, plan  # the window is read from the few rows


def test_a_crowded_box_is_searched_in_the_subcategorys_window(db_engine, monkeypatch,
                                                              district_of_open_cases):
    monkeypatch.setattr(duplicate_search, "DENSE_BOX", -1)  # every box counts as crowded
    with captured(db_engine) as sent, Session(bind=db_engine) as session:
        find_duplicate(session, DUPLICATES, LOCATED)
        session.rollback()
    by_time = [(sql, params) for sql, params in sent
               if "events.cases" in sql and "<@" not in sql]
    assert len(by_time) == 1, sent
    plan = generic_plan(db_engine, *by_time[0])
    assert "ix_cases_duplicate_search" in plan, plan


def test_the_cases_filed_meanwhile_are_read_by_number(db_engine, district_of_open_cases):
    plan = plan_of(db_engine, lambda s: duplicate_search.search(
        s, DUPLICATES, [LOCATED], among=["GS20261205-000001", "GS20261205-000002"]),
        "events.cases")
    assert "cases_case_number_key" in plan, plan


def test_a_batchs_references_are_looked_up_in_the_reference_index(db_engine,
                                                                  district_of_open_cases):
    with db_engine.begin() as conn:  # a hotline's tickets: every case has a reference
        conn.execute(sa.text("UPDATE events.cases SET source_system = '12345', "
                             "external_ref = 'T-' || case_number "
                             "WHERE case_number LIKE 'PI2026%'"))
        conn.execute(sa.text("ANALYZE events.cases"))
    reports = [replace(LOCATED, source_system="12345", external_ref=f"T-PI20261205-00000{n}")
               for n in range(1, 4)]
    plan = plan_of(db_engine, lambda s: batch_filing._by_external_refs(s, reports),
                   "events.cases")
    probe = plan.split("ux_cases_external_ref", 1)
    assert len(probe) == 2, plan
    assert "Index Cond: ((source_system = p.s) AND (external_ref = p.r))" in probe[1], plan


def test_scheduled_circular_check_uses_the_schedule_index(db_engine):
    plan = plan_of(db_engine, lambda s: scheduled_exists(s, "weekly", "2026-W49", "320505"),
                   "assessment.circulars")
    assert "uq_circulars_scheduled" in plan, plan


def test_the_walls_major_events_read_the_major_index(db_engine):
    """Every second per watched scope (issue 14): the scope's major events of the week."""
    plan = plan_of(db_engine, lambda s: major_cases(s, ["320505"], datetime.now(UTC)),
                   "dispatch.cases")
    assert "ix_cases_major_reported" in plan, plan


def test_the_walls_latest_changes_walk_the_updated_at_index(db_engine):
    """Every second per watched scope: the 20 cases changed last, read from the index's
    newest end instead of sorting every case of the scope."""
    plan = plan_of(db_engine, lambda s: recent_cases(s, ["320505"]), "dispatch.cases")
    assert "ix_cases_updated_at" in plan, plan

"""The demo district's history (issue 11, M21; docs/DEMO.md) on the real PostgreSQL, each
loader as its service's own role: deterministic, idempotent, marked, valid under dispatch's
rules, and giving the KPIs and the half-year assessment real values."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime
from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from gridgov_common.contract.envelope import parse_envelope
from gridgov_common.kernel.work_calendar import WorkCalendar
from gridgov_common.platform import db_roles
from gridgov_common.platform.db import make_engine, transaction
from services.assessment import appraisal_reports
from services.assessment import demo_history as assessment_history
from services.assessment.models import field_staff, meetings, patrols, spot_checks
from services.dispatch import config_store, kpis
from services.dispatch import demo_history as dispatch_history
from services.dispatch.domain import casefile
from services.dispatch.domain.states import CaseState
from services.dispatch.models import assignments, case_file, grid_worker_grids, grid_workers
from services.dispatch.models import cases as dispatch_cases
from services.events import demo_history as events_history
from services.events import following
from services.events.models import cases as events_cases
from tools import demo_history as plan

UNTIL = date(2026, 12, 6)  # a fixed day: the same history on every run
LOADERS = {"events": events_history, "dispatch": dispatch_history,
           "assessment": assessment_history}
TABLES = ("events.cases", "dispatch.cases", "dispatch.assignments", "dispatch.case_file",
          "dispatch.escalations", "dispatch.outbox", "dispatch.rule_sets",
          "dispatch.escalation_policies", "dispatch.grid_workers",
          "assessment.patrols", "assessment.track_points", "assessment.meetings",
          "assessment.spot_checks", "assessment.field_staff", "assessment.appraisal_reports")


@pytest.fixture(scope="module")
def district():
    return plan.demo_district()


@pytest.fixture(scope="module")
def engines(db_url):
    """One engine per service, as its own role (db_roles: its schema only)."""
    made = {svc: make_engine(db_roles.service_url(db_url, svc, env={})) for svc in LOADERS}
    yield made
    for engine in made.values():
        engine.dispose()


def _wipe(db_engine) -> None:
    with db_engine.begin() as conn:
        conn.execute(sa.text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE"))
    config_store.forget()


def _load(engines, district, seed: int = plan.SEED, **kw) -> dict[str, dict]:
    """Events first, then dispatch, then assessment: the order of scripts/up.sh."""
    out = {}
    for svc, module in LOADERS.items():
        with transaction(engines[svc]) as session:
            out[svc] = module.load(session, district, seed=seed, until=UNTIL, **kw)
    return out


@pytest.fixture(scope="module")
def loaded(db_engine, engines, district):
    _wipe(db_engine)
    summary = _load(engines, district)
    yield summary
    _wipe(db_engine)


def _fingerprint(engines) -> dict[str, str]:
    """A digest of what each service holds, to compare two loads."""
    queries = {
        "events": "SELECT md5(string_agg(case_id::text || case_number || reported_at::text "
                  "|| subcategory || reporter_sub, ',' ORDER BY case_number)) FROM events.cases",
        "dispatch": "SELECT md5(string_agg(hash, ',' ORDER BY case_id, seq)) "
                    "FROM dispatch.case_file",
        "assessment": "SELECT md5(string_agg(patrol_id::text || client_point_id || "
                      "recorded_at::text || lon::text, ',' ORDER BY patrol_id, "
                      "client_point_id)) FROM assessment.track_points",
    }
    out = {}
    for svc, sql in queries.items():
        with engines[svc].connect() as conn:
            out[svc] = conn.execute(sa.text(sql)).scalar()
    return out


# --- the plan alone ------------------------------------------------------------------------

def test_the_plan_is_deterministic_and_marked(district):
    first, last = plan.window(UNTIL)
    one = plan.reports(district, first, last, seed=plan.SEED)
    assert one == plan.reports(plan.demo_district(), first, last, seed=plan.SEED)
    other = plan.reports(district, first, last, seed=7)
    assert [r.case_number for r in one] != [r.case_number for r in other] or \
        [r.grid_code for r in one] != [r.grid_code for r in other]
    assert all(plan.is_demo_id(r.case_id) and r.case_number.startswith("DEMO")
               and r.description.startswith(plan.MARK) for r in one)
    # a few cases a week per grid (24 grids, 26 weeks)
    assert 2 * 24 * 26 <= len(one) <= 8 * 24 * 26
    assert (first, last) == (date(2026, 6, 6), date(2026, 12, 5))
    assert not any(r.work_category == "major_event" for r in one)


def test_the_window_covers_the_whole_half_year():
    """P5.4.6: the half-year assessment of January counts from 1 January, of a long
    half-year from its first day; always at least six months."""
    assert plan.window(date(2027, 1, 10)) == (date(2026, 7, 11), date(2027, 1, 9))
    assert plan.window(date(2026, 12, 31))[0] == date(2026, 7, 1)


# --- loaded ----------------------------------------------------------------------------

def test_loading_twice_adds_nothing(loaded, engines, district):
    assert loaded["events"]["cases"] == loaded["dispatch"]["cases"] > 1000
    before = _fingerprint(engines)
    again = _load(engines, district)
    assert {svc: s["loaded"] for svc, s in again.items()} == dict.fromkeys(LOADERS, False)
    with transaction(engines["events"]) as session:
        assert events_history.demo_cases(session) == loaded["events"]["cases"]
    assert _fingerprint(engines) == before


def test_if_empty_leaves_a_service_with_data_alone(loaded, engines, district):
    with transaction(engines["dispatch"]) as session:
        result = dispatch_history.load(session, district, seed=99, until=UNTIL,
                                       if_empty=True)
    assert result["loaded"] is False and result["cases"] == 0


def test_every_row_is_marked_demo(loaded, engines):
    with engines["events"].connect() as conn:
        rows = conn.execute(sa.select(events_cases.c.case_id, events_cases.c.case_number,
                                      events_cases.c.source_system)).all()
    assert rows and all(plan.is_demo_id(r.case_id) and r.case_number.startswith("DEMO")
                        and r.source_system == plan.SOURCE_SYSTEM for r in rows)
    with engines["dispatch"].connect() as conn:
        assert not conn.execute(sa.select(dispatch_cases.c.case_id).where(
            ~dispatch_cases.c.case_number.startswith("DEMO"))).first()
        ids = conn.execute(sa.select(assignments.c.assignment_id)).scalars().all()
        assert ids and all(plan.is_demo_id(i) for i in ids)
        unmarked = conn.execute(sa.select(sa.func.count()).select_from(case_file).where(
            case_file.c.entry["data"]["demo_history"].astext != str(plan.SEED))).scalar()
        assert unmarked == 0
    with engines["assessment"].connect() as conn:
        for column, text in ((patrols.c.patrol_id, None),
                             (meetings.c.meeting_id, meetings.c.minutes),
                             (spot_checks.c.check_id, spot_checks.c.note)):
            found = conn.execute(sa.select(column, *(t for t in [text] if t is not None))
                                 ).all()
            assert found and all(plan.is_demo_id(r[0]) for r in found)
            assert text is None or all(r[1].startswith(plan.MARK) for r in found)


def test_events_and_dispatch_name_the_same_cases(loaded, engines):
    def pairs(svc, table):
        with engines[svc].connect() as conn:
            return set(conn.execute(sa.select(table.c.case_id, table.c.case_number)).all())

    assert pairs("events", events_cases) == pairs("dispatch", dispatch_cases)
    # and dispatch tells events where each case stands, once (outbox, following.py)
    with engines["dispatch"].connect() as conn:
        last = dict(conn.execute(sa.text(
            "SELECT body->'payload'->>'case_id', body->'payload'->>'to_state' "
            "FROM dispatch.outbox WHERE routing_key = 'dispatch.case.changed'")).all())
        states = dict(conn.execute(sa.select(dispatch_cases.c.case_id,
                                             dispatch_cases.c.state)).all())
    assert last == states


def test_events_follows_the_announced_changes(loaded, engines):
    """Events' own follower (following.apply_change, as its consumer calls it) accepts
    dispatch's last change of each case: Open311 status and dispatch state agree."""
    with engines["dispatch"].connect() as conn:
        bodies = conn.execute(sa.text(
            "SELECT body FROM dispatch.outbox WHERE routing_key = 'dispatch.case.changed' "
            "ORDER BY id")).scalars().all()[::10]
        states = dict(conn.execute(sa.select(dispatch_cases.c.case_id,
                                             dispatch_cases.c.state)).all())
    with transaction(engines["events"]) as session:
        results = {following.apply_change(session, parse_envelope(b)) for b in bodies}
    assert results == {"applied"}
    ids = [b["payload"]["case_id"] for b in bodies]
    with engines["events"].connect() as conn:
        rows = conn.execute(sa.select(events_cases.c.case_id, events_cases.c.dispatch_state,
                                      events_cases.c.status)
                            .where(events_cases.c.case_id.in_(ids))).all()
    assert len(rows) == len(ids)
    for row in rows:
        assert row.dispatch_state == states[row.case_id]
        assert (row.status == "closed") == (row.dispatch_state == "closed")


def test_every_case_file_verifies_and_follows_the_state_machine(loaded, engines):
    """P5.3.4: each chain holds; the states entries move through are the case's, one after
    the other, ending where the case is; deadlines and on-time flags agree."""
    files: dict[str, list[dict]] = defaultdict(list)
    with engines["dispatch"].connect() as conn:
        for row in conn.execute(sa.select(case_file.c.case_id, case_file.c.entry,
                                          case_file.c.prev_hash, case_file.c.hash)
                                .order_by(case_file.c.case_id, case_file.c.seq)):
            files[row.case_id].append({**row.entry, "prev_hash": row.prev_hash,
                                       "hash": row.hash})
        final = dict(conn.execute(sa.select(dispatch_cases.c.case_id,
                                            dispatch_cases.c.state)).all())
    assert set(files) == set(final)
    legal = {s.value for s in CaseState}
    for case_id, entries in files.items():
        assert casefile.verify(entries) == (True, None), case_id
        state = None
        for entry in entries:
            if entry["to_state"] is None:
                continue
            assert entry["from_state"] == state and entry["to_state"] in legal, case_id
            state = entry["to_state"]
            if entry["on_time"] is not None and entry["deadline"]:
                assert entry["on_time"] == (entry["at"] <= entry["deadline"])
        assert state == final[case_id]


def test_kpis_over_the_half_year_are_plausible(loaded, engines):
    """docs/KPIS.md by the real code: most cases closed, most on time, residents mostly
    satisfied, a few reworked and returned; departments report in mostly on time."""
    start, end = kpis.local_period(date(2026, 7, 1), date(2026, 12, 5))
    with transaction(engines["dispatch"]) as session:
        towns = kpis.kpis(session, ["320505"], start, end, "town")["rows"]
        depts = kpis.kpis(session, ["320505"], start, end, "department")["rows"]
    assert len(towns) == 2 and len(depts) >= 5
    for row in towns:
        assert 0.9 <= row["closure_rate"] < 1
        assert 0.75 <= row["on_time_closure_rate"] < row["closure_rate"]
        assert 4.0 <= row["satisfaction"] <= 5
        assert 0 < row["rework_rate"] < 0.15 and 0 < row["forwarding_rate"] < 0.1
    for row in depts:
        assert row["handling_rate"] > 0.8 and 0.5 < row["ack_on_time_rate"] <= 1


class _LocalKpis:
    """dispatch's ``kpis`` RPC (service.py) answered in-process, as dispatch's role."""

    def __init__(self, engine) -> None:
        self.engine = engine

    def kpis(self, scope: str, first: str, last: str, by: str) -> dict:
        start, end = kpis.local_period(date.fromisoformat(first), date.fromisoformat(last))
        with transaction(self.engine) as session:
            return kpis.kpis(session, [scope.partition(":")[2]], start, end, by)


def _staff_known(engines, district) -> None:
    """What registry.staff.changed leaves in dispatch and assessment (registry_sync)."""
    now = datetime.now(UTC)
    with transaction(engines["dispatch"]) as session:
        for n, p in enumerate(district.staff, start=1):
            session.execute(grid_workers.insert().values(
                staff_id=n, subject=p.subject, role=p.role, scope_code=p.scope_code,
                active=True, registry_at=now))
            for code in p.grid_codes:
                session.execute(grid_worker_grids.insert().values(staff_id=n, grid_code=code))
    with transaction(engines["assessment"]) as session:
        session.execute(field_staff.insert(), [
            {"staff_sub": p.subject, "role": p.role, "scope_code": p.scope_code,
             "staff_id": n, "active": True, "grid_codes": list(p.grid_codes),
             "registry_at": now} for n, p in enumerate(district.staff, start=1)])


def test_the_half_year_assessment_grades_the_demo_staff(loaded, engines, district):
    """P5.4.6 by the real appraisal run: every grid staff member of the demo gets a score
    and a grade from patrols, meetings, spot checks and the case KPIs."""
    _staff_known(engines, district)
    calendar = WorkCalendar()
    with transaction(engines["assessment"]) as session:
        report = appraisal_reports.run(session, _LocalKpis(engines["dispatch"]),
                                       SimpleNamespace(sub="tester"), "2026H2",
                                       "district:320505", None, UNTIL, calendar.is_workday)
    rows = [r for r in report["content"]["rows"] if r["subject_kind"] == "grid_worker"]
    assert {r["code"] for r in rows} == {p.subject for p in district.staff}
    assert all(r["complete"] and r["grade"] in "ABCDE" for r in rows)
    values = {i["key"]: i for r in rows for i in r["indicators"] if i["status"] == "ok"}
    assert {"closure_rate", "on_time_closure_rate", "base_data_accuracy",
            "patrol_compliance"} <= set(values)
    patrol = [i["raw"] for r in rows for i in r["indicators"]
              if i["key"] == "patrol_compliance"]
    assert 0.3 < min(patrol) and max(patrol) <= 1
    assert len({r["grade"] for r in rows}) > 1  # people differ
    towns = [r for r in report["content"]["rows"] if r["subject_kind"] == "town"]
    assert len(towns) == 2 and all(r["grade"] for r in towns)


def test_the_same_seed_gives_the_same_history(loaded, db_engine, engines, district):
    """Wiped and loaded again: byte for byte the same (hashes, tracks, cases); another seed
    gives another history."""
    before = _fingerprint(engines)
    _wipe(db_engine)
    _load(engines, district)
    assert _fingerprint(engines) == before
    _wipe(db_engine)
    _load(engines, district, seed=7, days=30)
    assert _fingerprint(engines)["dispatch"] != before["dispatch"]

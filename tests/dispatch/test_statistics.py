"""Case statistics (services/dispatch/statistics.py), ``GET /statistics``, the RPC and the
Prometheus collector, against a hand-built set of cases inserted with SQL.

The fixture (times relative to ``now``; T1/T2 towns, fire/police departments):

| case | town/grid | state          | assignments                                          |
| C1   | T1 / G1a  | dispatched     | fire lead sent, due +2d                              |
| C2   | T1 / G1a  | in_progress    | fire lead acked on time (1 h), due −1d;          |
|      |           |                | police assist sent, due −1d                      |
| C3   | T1 / G1b  | closed         | police lead reported on time, acked late (30 h)      |
| C4   | T1 / G1b  | handling_local | — (own deadline −3 h: overdue)                       |
| C9   | T1 / G1a  | closed         | — handled locally, resolved 1 d after its deadline   |
| C5   | T2 / G2   | closed         | fire lead acked on time (2 h), reported late         |
| C6   | T2 / G2   | cancelled      | —                                                    |
| C7   | T2 / G2   | closed         | — closed on the spot                                 |
| C8   | T2 / G2   | suspended      | police lead withdrawn (due −5d, acked 60 d ago in 100 s) |
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from nameko.exceptions import RemoteError
from nameko.standalone.rpc import ServiceRpcProxy
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from services.dispatch import statistics
from services.dispatch.metrics import CaseMetricsCollector
from services.dispatch.models import assignments, cases, catalogue_versions, escalations
from services.dispatch.service import DispatchService

T1, T2 = "320505001", "320505002"
G1A, G1B, G2 = f"{T1}001001", f"{T1}001002", f"{T2}001001"
HOUR, DAY = timedelta(hours=1), timedelta(days=1)
ORDER = ["C1", "C2", "C3", "C4", "C5", "C6", "C7", "C8", "C9"]  # updated last → first


def _case(now, name, grid, state, **extra):
    return {"case_id": str(uuid.uuid4()), "case_number": f"N-{name}", "state": state,
            "handling_level": "town", "grid_code": grid, "town_code": grid[:9],
            "source": "app", "work_category": "safety", "info_class": "event",
            "subcategory": "fire_hazard", "severity": "general", "priority": "normal",
            "description": name, "private": False, "handled_on_spot": False,
            "reported_at": now - 20 * DAY, "filed_at": now - 20 * DAY,
            "updated_at": now - (ORDER.index(name) + 1) * timedelta(minutes=1), **extra}


def _assignment(case, department, state, sent, due, role="lead", **extra):
    return {"assignment_id": str(uuid.uuid4()), "case_id": case["case_id"],
            "department": department, "role": role, "state": state,
            "routing_key": f"{department}.{case['town_code']}.safety.normal", "sent_at": sent,
            "ack_due_at": sent + 2 * HOUR, "handle_due_at": due, **extra}


def build(now: datetime) -> dict:
    c = {
        "C1": _case(now, "C1", G1A, "dispatched"),
        "C2": _case(now, "C2", G1A, "in_progress"),
        "C3": _case(now, "C3", G1B, "closed", closed_at=now - DAY),
        "C4": _case(now, "C4", G1B, "handling_local", handled_locally=True,
                    handle_due_at=now - 3 * HOUR),
        "C9": _case(now, "C9", G1A, "closed", handled_locally=True,
                    handle_due_at=now - 2 * DAY, resolved_at=now - DAY, closed_at=now - DAY),
        "C5": _case(now, "C5", G2, "closed", closed_at=now - DAY),
        "C6": _case(now, "C6", G2, "cancelled", cancelled_at=now - DAY),
        "C7": _case(now, "C7", G2, "closed", handled_on_spot=True, closed_at=now - 19 * DAY),
        "C8": _case(now, "C8", G2, "suspended", suspended_at=now - DAY),
    }
    sent2, sent3, sent5 = now - 2 * DAY, now - 10 * DAY - 30 * HOUR, now - 5 * DAY
    rows = [
        _assignment(c["C1"], "fire", "sent", now - HOUR, now + 2 * DAY),
        _assignment(c["C2"], "fire", "acked", sent2, now - DAY, acked_at=sent2 + HOUR,
                    ack_on_time=True),
        _assignment(c["C2"], "police", "sent", sent2, now - DAY, role="assist"),
        _assignment(c["C3"], "police", "reported", sent3, now - 3 * DAY, acked_at=now - 10 * DAY,
                    ack_on_time=False, reported_at=now - 4 * DAY, handle_on_time=True,
                    resolved=True),
        _assignment(c["C5"], "fire", "reported", sent5, now - 3 * DAY,
                    acked_at=sent5 + 2 * HOUR, ack_on_time=True, reported_at=now - 2 * DAY,
                    handle_on_time=False, resolved=True),
        _assignment(c["C8"], "police", "withdrawn", now - 60 * DAY, now - 5 * DAY,
                    acked_at=now - 60 * DAY + timedelta(seconds=100), ack_on_time=True),
    ]
    ladder = [
        {"case_id": c["C2"]["case_id"], "kind": "overdue", "level": 1, "card": None,
         "department": "fire", "target_role": "town_grid_chief",
         "target_scope": f"town:{T1}", "at": now - HOUR},
        {"case_id": c["C4"]["case_id"], "kind": "overdue", "level": 1, "card": "yellow",
         "department": None, "target_role": "town_grid_chief",
         "target_scope": f"town:{T1}", "at": now - 2 * HOUR},
        {"case_id": c["C8"]["case_id"], "kind": "ack_timeout", "level": 2, "card": "red",
         "department": "police", "target_role": "district_admin",
         "target_scope": "district:320505", "at": now - 30 * timedelta(minutes=1)},
    ]
    return {"cases": c, "assignments": rows, "escalations": ladder}


@pytest.fixture
def fixture_cases(db_engine, clean_db):
    now = datetime.now(UTC)
    built = build(now)
    with db_engine.begin() as conn:
        for row in built["cases"].values():  # each insert names only the columns it sets
            conn.execute(sa.insert(cases).values(**row))
        for row in built["assignments"]:
            conn.execute(sa.insert(assignments).values(**row))
        for row in built["escalations"]:
            conn.execute(sa.insert(escalations).values(**row))
    return {"now": now, **built}


FIRE_ALL = {"department": "fire", "assigned": 3, "acked": 2, "acked_on_time": 2, "overdue": 1,
            "closed": 1, "closure_rate": 0.3333}
POLICE_ALL = {"department": "police", "assigned": 3, "acked": 2, "acked_on_time": 1,
              "overdue": 1, "closed": 1, "closure_rate": 0.3333}
TOWN1 = {"town_code": T1, "total": 5, "open": 3, "overdue": 2, "closed": 2,
         "closure_rate": 0.4, "on_time_rate": 0.5}
TOWN2 = {"town_code": T2, "total": 4, "open": 0, "overdue": 0, "closed": 2,
         "closure_rate": 0.5, "on_time_rate": 0.5}


def _numbers(found: dict) -> dict:
    return {key: found[key] for key in ("by_grid", "by_department", "by_town")}


def test_statistics_of_the_whole_district_match_the_hand_counts(db_engine, fixture_cases):
    with db_engine.connect() as conn:
        found = statistics.case_statistics(conn, None, fixture_cases["now"])
    assert _numbers(found) == {
        "by_grid": [{"grid_code": G1A, "open": 2, "overdue": 1},
                    {"grid_code": G1B, "open": 1, "overdue": 1}],  # G2: nothing open
        "by_department": [FIRE_ALL, POLICE_ALL],
        "by_town": [TOWN1, TOWN2],
    }
    assert found["generated_at"] == fixture_cases["now"].isoformat()
    assert [r["case_number"] for r in found["recent"]] == [f"N-{n}" for n in ORDER]
    c1 = fixture_cases["cases"]["C1"]
    assert found["recent"][0] == {
        "case_id": c1["case_id"], "case_number": "N-C1", "state": "dispatched",
        "town_code": T1, "grid_code": G1A, "work_category": "safety", "severity": "general",
        "subcategory": "fire_hazard", "subcategory_name": None,  # no catalogue followed yet
        "updated_at": c1["updated_at"].isoformat()}


def test_recent_cases_carry_the_subcategorys_names(db_engine, fixture_cases):
    """Issue 11: the live feed names what a case is about, from the catalogue dispatch
    follows (events.catalogue.published)."""
    with db_engine.begin() as conn:
        conn.execute(sa.insert(catalogue_versions).values(
            version=1, published_by="admin-1", subcategories=[
                {"code": "fire_hazard", "name_zh": "消防隐患", "name_en": "Fire hazard"}]))
    with db_engine.connect() as conn:
        found = statistics.case_statistics(conn, None, fixture_cases["now"])
    named = {r["subcategory_name"]["zh-CN"] for r in found["recent"]
             if r["subcategory"] == "fire_hazard"}
    assert named == {"消防隐患"}
    assert found["recent"][0]["subcategory_name"] == {"zh-CN": "消防隐患",
                                                      "en": "Fire hazard"}
    assert [(e["case_number"], e["kind"], e["card"], e["level"], e["department"],
             e["target_role"]) for e in found["escalations"]] == [
        ("N-C8", "ack_timeout", "red", 2, "police", "district_admin"),
        ("N-C2", "overdue", None, 1, "fire", "town_grid_chief"),
        ("N-C4", "overdue", "yellow", 1, None, "town_grid_chief")]


def test_statistics_of_one_town_count_only_its_cases(db_engine, fixture_cases):
    with db_engine.connect() as conn:
        found = statistics.case_statistics(conn, [T1], fixture_cases["now"])
    assert _numbers(found) == {
        "by_grid": [{"grid_code": G1A, "open": 2, "overdue": 1},
                    {"grid_code": G1B, "open": 1, "overdue": 1}],
        "by_department": [
            {"department": "fire", "assigned": 2, "acked": 1, "acked_on_time": 1,
             "overdue": 1, "closed": 0, "closure_rate": 0.0},
            {"department": "police", "assigned": 2, "acked": 1, "acked_on_time": 0,
             "overdue": 1, "closed": 1, "closure_rate": 0.5}],
        "by_town": [TOWN1],
    }
    assert [r["case_number"] for r in found["recent"]] == ["N-C1", "N-C2", "N-C3", "N-C4",
                                                           "N-C9"]
    assert [e["case_number"] for e in found["escalations"]] == ["N-C2", "N-C4"]


def test_an_empty_scope_or_another_district_sees_nothing(db_engine, fixture_cases):
    with db_engine.connect() as conn:
        for scope in ([], ["320506"]):
            found = statistics.case_statistics(conn, scope, fixture_cases["now"])
            assert [found[k] for k in ("by_grid", "by_department", "by_town", "recent",
                                       "escalations")] == [[]] * 5


@pytest.fixture
def dispatch_quiet(container_factory, service_config, clean_db):
    """The service with its escalation timer idle, so the fixture's rows stay as built."""
    container = container_factory(DispatchService, service_config(
        "dispatch", ESCALATION_POLL_SECONDS=3600))
    container.start()
    return container


def test_http_statistics_are_scoped_by_the_token(dispatch_quiet, fixture_cases, web_session,
                                                 token):
    admin = web_session.get("/statistics", headers=token("district_admin", "district:320505"))
    assert admin.status_code == 200, admin.text
    assert _numbers(admin.json()) == _numbers(
        {"by_grid": [{"grid_code": G1A, "open": 2, "overdue": 1},
                     {"grid_code": G1B, "open": 1, "overdue": 1}],
         "by_department": [FIRE_ALL, POLICE_ALL], "by_town": [TOWN1, TOWN2]})
    ops = web_session.get("/statistics", headers=token("ops_viewer", "district:320505"))
    assert ops.json()["by_town"] == [TOWN1, TOWN2]
    chief = web_session.get("/statistics", headers=token("town_grid_chief", f"town:{T2}"))
    assert chief.status_code == 200, chief.text
    assert chief.json()["by_town"] == [TOWN2]
    assert chief.json()["by_grid"] == []
    assert [e["case_number"] for e in chief.json()["escalations"]] == ["N-C8"]
    for role, scope in (("community_grid_chief", f"community:{T1}001"),
                        ("department_officer", "department:fire")):
        refused = web_session.get("/statistics", headers=token(role, scope))
        assert refused.status_code == 403, refused.text
        assert "by_town" not in refused.json()


def test_rpc_statistics_take_a_geographic_scope(dispatch_quiet, fixture_cases, rabbit_config):
    with ServiceRpcProxy("dispatch", rabbit_config) as dispatch_rpc:
        found = dispatch_rpc.case_statistics(f"town:{T1}")
        assert found["by_town"] == [TOWN1]
        assert dispatch_rpc.case_statistics("district:320505")["by_town"] == [TOWN1, TOWN2]
        for bad in ("department:fire", "town:3205", "320505001", "town:32050500x",
                    "town:320505"):
            with pytest.raises(RemoteError) as refused:
                dispatch_rpc.case_statistics(bad)
            assert refused.value.exc_type in ("ValidationError", "Unprocessable"), bad


DOMAIN_FAMILIES = frozenset({  # the case-file waiting gauges have tests of their own
    "gridgov_cases_open", "gridgov_cases_overdue", "gridgov_closure_ratio",
    "gridgov_assignments_overdue", "gridgov_ack_latency_seconds",
    "gridgov_domain_metrics_up"})


def _samples(text: str) -> dict[tuple, float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            # the domain collector's families only: the process-wide registry also holds
            # other services' counters (events' gridgov_cases_reported_total) when their
            # tests ran first in the same process
            if sample.name in DOMAIN_FAMILIES:
                found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


EXPECTED_SAMPLES = {
    ("gridgov_cases_open", (("town", T1),)): 3.0,
    ("gridgov_cases_open", (("town", T2),)): 0.0,
    ("gridgov_cases_overdue", (("town", T1),)): 2.0,
    ("gridgov_cases_overdue", (("town", T2),)): 0.0,
    ("gridgov_closure_ratio", (("town", T1),)): 0.4,
    ("gridgov_closure_ratio", (("town", T2),)): 0.5,
    ("gridgov_assignments_overdue", (("department", "fire"),)): 1.0,
    ("gridgov_assignments_overdue", (("department", "police"),)): 1.0,
    # fire acks in the window: 3600 s and 7200 s (percentile_cont interpolates)
    ("gridgov_ack_latency_seconds", (("department", "fire"), ("percentile", "50"))): 5400.0,
    ("gridgov_ack_latency_seconds", (("department", "fire"), ("percentile", "90"))): 6840.0,
    ("gridgov_ack_latency_seconds", (("department", "fire"), ("percentile", "99"))): 7164.0,
    # police: the 30 h ack of C3; C8's 100 s ack is 60 days old, outside the window
    ("gridgov_ack_latency_seconds", (("department", "police"), ("percentile", "50"))): 108000.0,
    ("gridgov_ack_latency_seconds", (("department", "police"), ("percentile", "90"))): 108000.0,
    ("gridgov_ack_latency_seconds", (("department", "police"), ("percentile", "99"))): 108000.0,
    ("gridgov_domain_metrics_up", ()): 1.0,
}


def test_collector_exports_the_expected_samples(db_engine, fixture_cases):
    collector = CaseMetricsCollector(ttl=3600)
    collector.attach(db_engine)
    text = "".join(_exposition(collector))
    assert _samples(text) == pytest.approx(EXPECTED_SAMPLES)


def test_collector_caches_between_scrapes_and_reports_a_failing_database(db_engine,
                                                                         fixture_cases):
    ticks = iter([0.0, 5.0, 20.0, 20.0])
    collector = CaseMetricsCollector(ttl=10, clock=lambda: next(ticks))
    collector.attach(db_engine)
    first = _samples("".join(_exposition(collector)))
    with db_engine.begin() as conn:  # C1 closes: the cached answer still says 3 open
        conn.execute(sa.update(cases).where(cases.c.case_number == "N-C1")
                     .values(state="closed"))
    assert _samples("".join(_exposition(collector))) == first
    third = _samples("".join(_exposition(collector)))  # ttl passed: queried again
    assert third[("gridgov_cases_open", (("town", T1),))] == 2.0
    missing = sa.create_engine("postgresql+psycopg://postgres@127.0.0.1:5432/no_such_db")
    broken = CaseMetricsCollector(ttl=0)
    broken.attach(missing)
    assert _samples("".join(_exposition(broken))) == {("gridgov_domain_metrics_up", ()): 0.0}
    missing.dispose()


def _exposition(collector) -> list[str]:
    registry = CollectorRegistry()
    registry.register(collector)
    return [generate_latest(registry).decode()]


def test_metrics_endpoint_serves_the_domain_metrics(dispatch_quiet, fixture_cases,
                                                    web_session):
    response = web_session.get("/metrics")
    assert response.status_code == 200
    assert _samples(response.text) == pytest.approx(EXPECTED_SAMPLES)

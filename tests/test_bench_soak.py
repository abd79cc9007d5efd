"""The arithmetic behind bench/soak.py's verdicts (issue 17), with fixed numbers: a slope of
1 MB/h or a drift of 10 % decides "met", so how they are computed is pinned here rather than
trusted to a 40-minute run nobody repeats.

Not in tests/unit: `make mutation` runs tests/unit inside a copy of services/ and
gridgov_common/ only, where the bench package does not exist.
"""

import json
import math

import pytest

from bench import _soak


def test_slope_is_a_least_squares_fit_in_units_per_hour():
    # 0.5 MB per 30 s is 60 MB/h; one outlier sample moves a fit, not the verdict alone
    points = [(t, 100 + 0.5 * t / 30) for t in range(0, 601, 30)]
    assert _soak.slope_per_hour(points) == pytest.approx(60.0)
    flat_with_spike = [(0, 100.0), (30, 100.0), (60, 130.0), (90, 100.0), (120, 100.0)]
    assert _soak.slope_per_hour(flat_with_spike) == pytest.approx(0.0)
    assert math.isnan(_soak.slope_per_hour([(30, 1.0)]))
    assert math.isnan(_soak.slope_per_hour([(30, 1.0), (30, 2.0)]))


def test_warm_up_samples_are_left_out_of_the_slope():
    points = [(0, 50.0), (30, 90.0), (60, 100.0), (90, 100.0), (120, 100.0)]
    assert _soak.slope_per_hour(_soak.after(points, 60)) == pytest.approx(0.0)
    assert _soak.slope_per_hour(points) > 100


def test_edge_windows_are_the_first_and_last_five_minutes_or_thirds():
    first, last = _soak.edge_windows(2400)
    assert (first.start, first.end, last.start, last.end) == (0, 300, 2100, 2400)
    first, last = _soak.edge_windows(300)  # a 5-minute run: thirds, never overlapping
    assert (first.start, first.end, last.start, last.end) == (0, 100, 200, 300)


def test_per_case_and_drift_use_only_the_samples_inside_each_window():
    # cumulative CPU seconds and cases, sampled every 30 s over 10 minutes
    times = range(0, 601, 30)
    cases = [(t, 5.0 * t) for t in times]  # 5 cases/s
    cpu = [(t, 0.01 * 5 * t if t <= 300 else 15 + 0.011 * 5 * (t - 300)) for t in times]
    first, last = _soak.edge_windows(600, edge=120)
    assert _soak.per_case(cpu, cases, first) == pytest.approx(0.010)
    assert _soak.per_case(cpu, cases, last) == pytest.approx(0.011)
    assert _soak.drift(0.010, 0.011) == pytest.approx(0.10)
    assert _soak.within(_soak.drift(0.010, 0.011), 0.10 + 1e-9)
    assert not _soak.within(_soak.drift(0.010, 0.0125), 0.10)
    assert math.isnan(_soak.per_case(cpu, [(t, 7.0) for t in times], first))  # no cases
    assert math.isnan(_soak.delta_in(cpu, _soak.Window(31, 59)))  # no two samples inside
    assert not _soak.within(math.nan, 1.0)


def test_latencies_are_taken_by_when_the_case_was_offered():
    records = [(10, 0.1), (50, 0.3), (99, 0.2), (250, 0.9), (290, 0.5)]
    first, last = _soak.edge_windows(300)
    assert _soak.latencies_in(records, first) == [0.1, 0.2, 0.3]
    assert _soak.latencies_in(records, last) == [0.5, 0.9]


def _log(level, logger="x", exc=None, msg="m"):
    entry = {"ts": "2026-12-05T12:00:00.000+00:00", "level": level, "logger": logger,
             "msg": msg, "call_id": None}
    if exc:
        entry["exc"] = exc
    return json.dumps(entry)


def test_error_lines_are_grouped_by_exception_class_else_logger():
    traceback = ("Traceback (most recent call last):\n  File \"x.py\", line 1, in f\n"
                 "psycopg.errors.UniqueViolation: duplicate key value violates unique "
                 "constraint \"case_file_seq\"")
    wrapped = (  # SQLAlchemy's message runs over several lines after the class
        "Traceback (most recent call last):\n  File \"base.py\", line 1977, in execute\n"
        "    cursor.execute(statement, parameters)\n    ^^^^^^^^^^^^^^\n"
        "sqlalchemy.exc.OperationalError: (psycopg.errors.DeadlockDetected) deadlock "
        "detected\nDETAIL:  Process 2 waits for ExclusiveLock on advisory lock.\n"
        "[SQL: SELECT pg_advisory_xact_lock(%(cls)s, hashtext(%(case_id)s))]\n"
        "(Background on this error at: https://sqlalche.me/e/21/e3q8)")
    lines = [
        _log("ERROR", "nameko.containers", wrapped),
        _log("INFO"), _log("WARNING", "gridgov_common.platform.batching"),
        _log("ERROR", "gridgov_common.platform.messaging", traceback),
        _log("ERROR", "gridgov_common.platform.messaging", traceback),
        _log("CRITICAL", "nameko.containers"),
        "starting services: events",
        "Traceback (most recent call last):", "not json {", "{broken json",
    ]
    assert _soak.error_classes(lines) == {
        "psycopg.errors.UniqueViolation": 2, "logger nameko.containers": 1,
        "sqlalchemy.exc.OperationalError (psycopg.errors.DeadlockDetected)": 1,
        "Traceback (plain text)": 1}
    assert _soak.warning_loggers(lines) == {"gridgov_common.platform.batching": 1}

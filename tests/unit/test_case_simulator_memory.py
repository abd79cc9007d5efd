"""The simulated district remembers a bounded amount (issue 17: `make up` runs it for days
and it grew 6.5 MB/h): cases it no longer sees waiting are forgotten, and return visits
are remembered for the last ``REMEMBERED_VISITS`` cases only. A fake platform (plain data,
no HTTP) stands in for the services: what is tested is the simulator's own bookkeeping."""

from __future__ import annotations

import random
from typing import Any

from tools.case_simulator import simulator as sim
from tools.case_simulator.scenario import Scenario


class FakePlatform:
    """Each pass shows a fresh batch of resolved cases; every visit succeeds."""

    def __init__(self) -> None:
        self.batch = 0
        self.acted: list[tuple[str, str]] = []

    def cases(self, state: str) -> list[dict[str, Any]]:
        if state != "resolved":
            return []
        return [{"case_id": f"c{self.batch}-{n}", "case_number": f"GS-{self.batch}-{n}",
                 "grid_code": "320505001001001", "handling_level": "grid"}
                for n in range(10)]

    def act(self, case, action, role, scope, body) -> dict[str, Any]:
        self.acted.append((case["case_id"], action))
        return {}


def test_a_long_run_keeps_bounded_memory(monkeypatch):
    monkeypatch.setattr(sim, "REMEMBERED_VISITS", 50)
    platform = FakePlatform()
    now = [0.0]
    simulator = sim.Simulator(platform, Scenario(rng=random.Random(7)), handle_after=0,
                              clock=lambda: now[0])
    for batch in range(500):  # 5,000 cases, each visited once
        platform.batch = batch
        now[0] += 1
        simulator.answer_open_cases()
    assert len(platform.acted) == 5000
    assert len(simulator.first_seen) == 10  # only the last pass's waiting cases
    assert len(simulator.visits) == 50
    assert next(reversed(simulator.visits)) == "c499-9"  # the most recent are kept


def test_a_case_waits_before_it_is_answered_and_a_second_visit_knows_the_first():
    platform = FakePlatform()
    now = [0.0]
    simulator = sim.Simulator(platform, Scenario(rng=random.Random(7), unsatisfied_share=1.0),
                              handle_after=20, clock=lambda: now[0])
    simulator.answer_open_cases()
    assert platform.acted == []  # first seen now: waits handle_after
    now[0] = 25
    simulator.answer_open_cases()
    assert len(platform.acted) == 10
    first = simulator._answer(platform.cases("resolved")[0], "return_visit")
    assert first["satisfied"] is True  # the second visit of c0-0 after its rework
    assert simulator.visits["c0-0"] == 2

"""One simulated district: report cases at a rate, and answer for the grid staff, the
communities and the towns (the departments are tools/department_adapter)."""

from __future__ import annotations

import logging
import time
from collections import Counter, OrderedDict
from collections.abc import Callable
from typing import Any

from tools.case_simulator.platform import Platform, PlatformError
from tools.case_simulator.scenario import Scenario, actor_scope

log = logging.getLogger("case_simulator")

# state → (action, how the scenario answers); FILED: a case no rule triaged on its own
ANSWERS: dict[str, tuple[str, str]] = {
    "filed": ("triage", "triage"),
    "handling_local": ("local-result", "local_result"),
    "resolved": ("return-visit", "return_visit"),
}


# Return visits remembered per case: enough for a reworked case to come back (hours),
# bounded because `make up` runs the simulator for days (issue 17: it grew 6.5 MB/h).
REMEMBERED_VISITS = 5000


class Simulator:
    """``handle_after``: seconds a case waits in each state before the simulated person
    acts (seen by this process, so a restart only delays).

    What it remembers is bounded: ``first_seen`` holds only the cases waiting in the last
    pass, ``visits`` the last ``REMEMBERED_VISITS`` cases visited."""

    def __init__(self, platform: Platform, scenario: Scenario, handle_after: float = 20.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.platform = platform
        self.scenario = scenario
        self.handle_after = handle_after
        self.clock = clock
        self.grids: list[dict[str, Any]] = []
        self.first_seen: dict[tuple[str, str], float] = {}
        self.counts: Counter[str] = Counter()
        self.visits: OrderedDict[str, int] = OrderedDict()  # return visits made, by case

    def load_grids(self) -> int:
        self.grids = self.platform.grids()
        return len(self.grids)

    def report_one(self) -> dict[str, Any]:
        report = self.scenario.next_report(self.grids)
        case = self.platform.report(report.grid_code, report.body)
        self.counts["reported"] += 1
        if report.body.get("handled_on_spot"):
            self.counts["on_spot"] += 1
        return case

    def answer_open_cases(self) -> Counter[str]:
        """One pass over the cases waiting for a person; what was done, by action."""
        done: Counter[str] = Counter()
        now = self.clock()
        waiting: dict[tuple[str, str], float] = {}
        for state, (action, answer) in ANSWERS.items():
            for case in self.platform.cases(state):
                key = (case["case_id"], state)
                seen = waiting[key] = self.first_seen.get(key, now)
                if now - seen < self.handle_after:
                    continue
                if self._act(case, action, self._answer(case, answer)):
                    done[action] += 1
        self.first_seen = waiting  # a case that left the state is forgotten
        self.counts.update(done)
        return done

    def _answer(self, case: dict[str, Any], answer: str) -> dict[str, Any]:
        if answer == "return_visit":
            earlier = self.visits.pop(case["case_id"], 0)
            self.visits[case["case_id"]] = earlier + 1  # now the most recent
            while len(self.visits) > REMEMBERED_VISITS:
                self.visits.popitem(last=False)
            return self.scenario.return_visit(case, earlier)
        return getattr(self.scenario, answer)(case)

    def _act(self, case: dict[str, Any], action: str, body: dict[str, Any]) -> bool:
        # P5.2.1: the return visit is the grid staff's, whatever level handled the case
        level = "community" if action == "return-visit" else case["handling_level"]
        role, scope = actor_scope(level, case)
        try:
            self.platform.act(case, action, role, scope, body)
        except PlatformError as exc:  # e.g. the case moved on meanwhile (409): next pass
            log.info("%s on %s not done: %s", action, case["case_number"], exc)
            self.counts["refused"] += 1
            return False
        return True

    def run(self, per_minute: float, running: Callable[[], bool], count: int | None = None,
            poll_seconds: float = 5.0) -> Counter[str]:
        """Report ``per_minute`` cases a minute (``count`` in all, or until ``running()``
        is false) and answer open cases every ``poll_seconds``."""
        interval = 60.0 / per_minute if per_minute > 0 else None
        next_report = next_poll = self.clock()
        while running():
            now = self.clock()
            if interval and (count is None or self.counts["reported"] < count) \
                    and now >= next_report:
                self._guarded(self.report_one)
                next_report += interval
            if now >= next_poll:
                self._guarded(self.answer_open_cases)
                next_poll = now + poll_seconds
            time.sleep(max(0.05, min(next_poll, next_report if interval else next_poll)
                           - self.clock()))
        return self.counts

    def _guarded(self, step: Callable[[], Any]) -> None:
        """A service restarting must not end the simulation: log, count, go on."""
        try:
            step()
        except (PlatformError, OSError) as exc:
            log.warning("simulation step failed: %s", exc)
            self.counts["errors"] += 1

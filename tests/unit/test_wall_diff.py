"""What the operations wall is sent after its snapshot (services/assessment/dashboard/wall.py):
only what changed, and a major event (P5.2.7) once per wall."""

from __future__ import annotations

import time
from datetime import date, timedelta

from services.assessment.dashboard.wall import Hub, diff, event, is_major


def _stats(grids, recent, escalations=()):
    return {"generated_at": "t", "by_grid": grids, "by_town": [], "by_department": [],
            "recent": list(recent), "escalations": list(escalations)}


G1 = {"grid_code": "g1", "open": 1, "overdue": 0}
G2 = {"grid_code": "g2", "open": 2, "overdue": 1}
R1 = {"case_id": "c1", "case_number": "N1", "state": "filed", "updated_at": "1",
      "work_category": "city_management", "severity": "minor"}
MAJOR = {"case_id": "c2", "case_number": "N2", "state": "filed", "updated_at": "2",
         "work_category": "major_event", "severity": "major"}


def test_nothing_changed_nothing_sent():
    assert diff(_stats([G1], [R1]), _stats([G1], [R1])) == {}


def test_changed_and_cleared_grids_new_cases_and_escalations():
    old = _stats([G1, G2], [R1], [{"case_number": "N1", "kind": "overdue", "level": 1,
                                   "at": "1"}])
    escalation = {"case_number": "N2", "kind": "overdue", "level": 1, "at": "2"}
    new = _stats([{**G1, "open": 2}], [MAJOR, R1], [escalation, *old["escalations"]])
    changes = diff(old, new)
    assert changes["grids"] == [{**G1, "open": 2}] and changes["grids_cleared"] == ["g2"]
    assert changes["recent"] == [MAJOR] and changes["escalations"] == [escalation]


def test_major_events_are_p527_major_events_or_critical():
    assert is_major(MAJOR) and is_major({**R1, "severity": "critical"}) and not is_major(R1)


def test_a_major_event_is_sent_once_to_each_wall_of_its_scope_then_remembered():
    hub = Hub()
    district = hub.subscribe("district:1", _stats([G1], [R1]))
    town = hub.subscribe("town:2", _stats([], []))
    assert hub.publish("district:1", _stats([G1], [MAJOR, R1])) == 2  # major + change
    first = district.queue.get_nowait()
    assert first.startswith(b"id: ") and b"event: major\n" in first and b'"N2"' in first
    assert b"event: change\n" in district.queue.get_nowait()
    assert town.queue.empty()
    assert hub.publish("district:1", _stats([G1], [MAJOR, R1])) == 0
    later = hub.subscribe("district:1", _stats([G1], [MAJOR, R1]))
    assert [m["case_id"] for m in hub.major_events("district:1")] == ["c2"]
    assert hub.publish("district:1", _stats([G1], [MAJOR, R1])) == 0 and later.queue.empty()


def test_an_event_is_one_json_line():
    assert event("change", {"a": "x\ny"}, 3) == b'id: 3\nevent: change\ndata: {"a":"x\\ny"}\n\n'


def test_the_day_figures_are_sent_when_they_change():
    trend = {"days": [{"day": "2026-12-06", "reported": 1, "closed": 0}]}
    old = {**_stats([G1], [R1]), "trend": trend}
    assert diff(old, {**old}) == {}
    newer = {"days": [{"day": "2026-12-06", "reported": 2, "closed": 0}]}
    assert diff(old, {**old, "trend": newer}) == {"trend": newer}
    assert diff(old, {**old, "trend": None}) == {}  # the source failed: keep what is shown


def test_a_slow_scope_is_asked_less_often_and_only_watched_scopes_are_asked():
    hub = Hub()
    assert hub.tick(lambda scope: 1 / 0) == 0  # no wall open: nothing asked
    hub.subscribe("district:1", _stats([G1], [R1]))
    asked = []

    def slow(scope):
        asked.append(scope)
        time.sleep(0.05)
        return _stats([G1], [R1])

    hub.tick(slow)
    assert asked == ["district:1"]
    hub.tick(slow)  # 5 × 50 ms have not passed
    assert asked == ["district:1"]


def test_a_major_event_from_dispatchs_own_list_is_pinned_however_old_the_changes():
    hub = Hub()
    wall = hub.subscribe("district:1", _stats([G1], [R1]))
    older = {**MAJOR, "case_id": "c9", "case_number": "N9", "grid_code": "1001"}
    assert hub.publish("district:1", {**_stats([G1], [R1]), "majors": [older]}) == 1
    sent = wall.queue.get_nowait()
    assert b"event: major\n" in sent and b'"N9"' in sent and b'"acknowledged":null' in sent


def test_an_acknowledgement_reaches_every_wall_of_its_area_once_and_unpins_for_good():
    hub = Hub()
    major = {**MAJOR, "grid_code": "1001001"}
    district = hub.subscribe("district:1", _stats([G1], [R1]))
    town = hub.subscribe("town:1001", _stats([], []))
    other = hub.subscribe("town:1002", _stats([], []))
    ack = {"id": 7, "case_id": "c2", "case_number": "N2", "grid_code": "1001001",
           "acknowledged_by": "ops-1", "acknowledged_name": "值班员", "acknowledged_at": "t"}
    assert hub.take_acknowledgements([ack]) == 2 and hub.ack_cursor == 7
    for wall in (district, town):
        told = wall.queue.get_nowait()
        assert b"event: acknowledged\n" in told and "值班员".encode() in told
    assert other.queue.empty()
    assert hub.take_acknowledgements([]) == 0  # told once
    # acknowledged: not pinned on a wall, now or opened later, and listed with who did it
    assert hub.publish("district:1", {**_stats([G1], [R1]), "majors": [major]}) == 0
    later = hub.subscribe("district:1", {**_stats([G1], [R1]), "majors": [major]})
    assert later.acked == {"c2"}
    [shown] = hub.major_events("district:1")
    assert shown["acknowledged"]["acknowledged_name"] == "值班员"


def test_the_tick_reads_acknowledgements_after_the_last_it_saw():
    hub = Hub()
    hub.subscribe("district:1", _stats([], []))
    asked = []

    def acks(after):
        asked.append(after)
        return [{"id": after + 1, "case_id": f"c{after}", "grid_code": "1001"}]

    hub.tick(lambda scope: None, acknowledgements=acks)
    hub.tick(lambda scope: None, acknowledgements=acks)
    assert asked == [0, 1]


class _Days:
    """A trend source: today's figures as set, the days before counted by calls."""

    def __init__(self, today: str = "2026-12-07") -> None:
        self.today, self.reported, self.past_calls, self.fail = today, 0, 0, False

    def __call__(self, scope: str, today: bool = False) -> dict:
        if self.fail:
            raise ConnectionError("dispatch is down")
        day = date.fromisoformat(self.today)
        if today:
            return {"days": [{"day": self.today, "reported": self.reported, "closed": 0}]}
        self.past_calls += 1
        return {"days": [{"day": (day - timedelta(days=n)).isoformat(), "reported": 3,
                          "closed": 1} for n in range(7, 0, -1)]}


def test_today_is_asked_every_time_and_the_days_before_once_a_minute():
    hub, source = Hub(), _Days()
    first = hub.trend("district:320505", source)
    assert [d["day"] for d in first["days"]][-2:] == ["2026-12-06", "2026-12-07"]
    assert len(first["days"]) == 8 and first["days"][-1]["reported"] == 0
    source.reported = 1  # a case reported now: on the wall at the next tick
    assert hub.trend("district:320505", source)["days"][-1]["reported"] == 1
    assert source.past_calls == 1  # the days before were not asked again


def test_a_new_day_asks_the_days_before_again():
    hub, source = Hub(), _Days()
    hub.trend("district:320505", source)
    source.today = "2026-12-08"  # midnight has passed
    days = hub.trend("district:320505", source)["days"]
    assert source.past_calls == 2 and days[-2]["day"] == "2026-12-07"
    assert [d["day"] for d in days] == sorted(d["day"] for d in days) and len(days) == 8


def test_a_failing_trend_source_keeps_the_last_answer():
    hub, source = Hub(), _Days()
    shown = hub.trend("district:320505", source)
    assert len(shown["days"]) == 8
    source.fail = True
    assert hub.trend("district:320505", source) == shown
    assert Hub().trend("district:320505", source) is None  # nothing known yet

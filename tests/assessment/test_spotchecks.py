"""Base-data accuracy spot checks (基础信息准确率, P5.4.6) on the REAL assessment service and
PostgreSQL: recording (ids only, P5.4.4), accuracy = correct / checked by grid, community,
town and grid worker in SQL against the hand counts below, scopes and roles.

Checks (community C = 320505001001 with grids A, B; community OC = 320505001002, grid O):
| grid | when       | checks | correct | by                    |
| A    | 2026-11-05 | 3      | 2       | community grid chief  |
| A    | 2026-10-15 | 1      | 0       | (outside the period)  |
| B    | 2026-11-06 | 2      | 0       | grid instructor       |
| O    | 2026-11-07 | 4      | 4       | town grid chief       |

Period 2026-11-01 … 2026-11-30:
- by grid: A 2/3 = 0.6667, B 0/2 = 0.0, O 4/4 = 1.0
- by community: C 2/5 = 0.4, OC 4/4 = 1.0; by town: 6/9 = 0.6667
- by grid worker (the staff answering for the grid): nw (grid A) 2/3 = 0.6667, cc (C)
  2/5 = 0.4, ow (grid O) 1.0, tc (the town) 6/9 = 0.6667; nx (grid C003, never checked)
  has no row: no check is missing data, not 0 %.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from tests.assessment.conftest import ADMIN, COMMUNITY, GRID_A, GRID_B, OTHER_COMMUNITY, TOWN

GRID_O = OTHER_COMMUNITY + "001"
CHIEF = ("community_grid_chief", f"community:{COMMUNITY}")
INSTRUCTOR = ("grid_instructor", f"community:{COMMUNITY}")
TOWN_CHIEF = ("town_grid_chief", f"town:{TOWN}")
PERIOD = {"from": "2026-11-01", "to": "2026-11-30"}


def check(grid: str, correct: bool, when: str, n: int) -> dict:
    return {"grid_code": grid, "record_kind": "household", "record_id": f"hh-{grid}-{n}",
            "field_class": "population_family_planning", "method": "phone",
            "correct": correct, "checked_at": f"{when}T09:30:00+08:00",
            "note": "" if correct else "household size differs"}


@pytest.fixture
def checks(assessment, web_session, token, db_engine):
    plan = [(CHIEF, GRID_A, [True, True, False], "2026-11-05"),
            (CHIEF, GRID_A, [False], "2026-10-15"),
            (INSTRUCTOR, GRID_B, [False, False], "2026-11-06"),
            (TOWN_CHIEF, GRID_O, [True] * 4, "2026-11-07")]
    n = 0
    for who, grid, results, when in plan:
        for correct in results:
            n += 1
            response = web_session.post("/spot-checks", json=check(grid, correct, when, n),
                                        headers=token(*who, sub=who[0]))
            assert response.status_code == 201, response.text
    with db_engine.begin() as conn:
        for sub, role, scope in (("nw", "neighbourhood_grid_worker", GRID_A),
                                 ("cc", "community_grid_chief", COMMUNITY),
                                 ("ow", "neighbourhood_grid_worker", GRID_O),
                                 ("tc", "town_grid_chief", TOWN),
                                 ("nx", "neighbourhood_grid_worker", COMMUNITY + "003")):
            conn.execute(sa.text("INSERT INTO assessment.field_staff (staff_sub, role, "
                                 "scope_code) VALUES (:s, :r, :c)"),
                         {"s": sub, "r": role, "c": scope})


def accuracy(web_session, token, who, by: str, **extra) -> list:
    response = web_session.get("/spot-checks/accuracy", params={**PERIOD, "by": by, **extra},
                               headers=token(*who))
    assert response.status_code == 200, response.text
    return response.json()["rows"]


def test_accuracy_by_grid_community_town_and_grid_worker(checks, web_session, token):
    def areas(by):
        return [(r["code"], r["checked"], r["correct"], r["accuracy"])
                for r in accuracy(web_session, token, ADMIN, by)]

    assert areas("grid") == [(GRID_A, 3, 2, 0.6667), (GRID_B, 2, 0, 0.0), (GRID_O, 4, 4, 1.0)]
    assert areas("community") == [(COMMUNITY, 5, 2, 0.4), (OTHER_COMMUNITY, 4, 4, 1.0)]
    assert areas("town") == [(TOWN, 9, 6, 0.6667)]
    workers = [(r["staff_sub"], r["role"], r["checked"], r["accuracy"])
               for r in accuracy(web_session, token, ADMIN, "grid_worker")]
    assert workers == [("cc", "community_grid_chief", 5, 0.4),
                       ("nw", "neighbourhood_grid_worker", 3, 0.6667),
                       ("ow", "neighbourhood_grid_worker", 4, 1.0),
                       ("tc", "town_grid_chief", 9, 0.6667)]  # nx: never checked, no row


def test_reads_stay_in_the_callers_scope(checks, web_session, token):
    # the chief of C sees the town's figure made of C's checks only
    assert [(r["code"], r["checked"]) for r in accuracy(web_session, token, CHIEF, "town")] == [
        (TOWN, 5)]
    outside = web_session.get("/spot-checks/accuracy", headers=token(*CHIEF),
                              params={**PERIOD, "scope": OTHER_COMMUNITY})
    assert outside.status_code == 403
    worker = token("neighbourhood_grid_worker", f"grid:{GRID_A}", sub="nw")
    assert web_session.get("/spot-checks/accuracy", params=PERIOD,
                           headers=worker).status_code == 403
    listed = web_session.get("/spot-checks", params=PERIOD, headers=token(*CHIEF)).json()
    assert len(listed) == 5 and {c["grid_code"] for c in listed} == {GRID_A, GRID_B}
    assert {c["checked_by"] for c in listed} == {"community_grid_chief", "grid_instructor"}


def test_recording_is_scoped_validated_and_keeps_ids_only(assessment, web_session, token,
                                                          db_engine):
    other_chief = token("community_grid_chief", f"community:{OTHER_COMMUNITY}", sub="oc")
    assert web_session.post("/spot-checks", json=check(GRID_A, True, "2026-11-05", 1),
                            headers=other_chief).status_code == 403
    worker = token("neighbourhood_grid_worker", f"grid:{GRID_A}", sub="nw")
    assert web_session.post("/spot-checks", json=check(GRID_A, True, "2026-11-05", 1),
                            headers=worker).status_code == 403  # nobody checks themselves
    bad = {**check(GRID_A, True, "2026-11-05", 1), "record_id": "张三 13800001234",
           "field_class": "everything", "method": "letter", "grid_code": "3205"}
    response = web_session.post("/spot-checks", json=bad, headers=token(*CHIEF))
    assert response.status_code == 422
    assert {"record_id", "field_class", "method", "grid_code"} <= set(
        response.json()["error"]["fields"])
    future = web_session.post("/spot-checks", json=check(GRID_A, True, "2999-01-01", 1),
                              headers=token(*CHIEF))
    assert future.status_code == 422
    with db_engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM assessment.spot_checks")).scalar() == 0

"""Work logs on the real service (P5.1.4 kept by grid workers; P5.1.3 checked by the
community grid chief of that community)."""

from __future__ import annotations

from tests.assessment.conftest import COMMUNITY, GRID_A, GRID_B, OTHER_COMMUNITY

WORKER_A = ("neighbourhood_grid_worker", f"grid:{GRID_A}")
CHIEF = ("community_grid_chief", f"community:{COMMUNITY}")


def log(grid: str, day: str = "2026-11-26") -> dict:
    return {"grid_code": grid, "day": day, "content": "Visited 12 households; one dispute."}


def test_worker_writes_own_grid_once(assessment, web_session, token):
    worker = token(*WORKER_A, sub="wa")

    created = web_session.post("/work-logs", json=log(GRID_A), headers=worker)
    again = web_session.post("/work-logs", json=log(GRID_A), headers=worker)
    elsewhere = web_session.post("/work-logs", json=log(GRID_B), headers=worker)
    by_chief = web_session.post("/work-logs", json=log(GRID_A), headers=token(*CHIEF))

    assert created.status_code == 201 and created.json()["review_state"] == "pending"
    assert again.status_code == 409 and elsewhere.status_code == 403
    assert by_chief.status_code == 403


def test_chief_of_the_community_reviews_once(assessment, web_session, token):
    worker = token(*WORKER_A, sub="wa")
    log_id = web_session.post("/work-logs", json=log(GRID_A), headers=worker).json()["log_id"]
    web_session.post("/work-logs", json=log(GRID_B),
                     headers=token("neighbourhood_grid_worker", f"grid:{GRID_B}", sub="wb"))
    review = {"state": "approved", "comment": "ok"}

    foreign = web_session.post(f"/work-logs/{log_id}/review", json=review, headers=token(
        "community_grid_chief", f"community:{OTHER_COMMUNITY}", sub="c2"))
    done = web_session.post(f"/work-logs/{log_id}/review", json=review,
                            headers=token(*CHIEF, sub="c1"))
    twice = web_session.post(f"/work-logs/{log_id}/review", json=review,
                             headers=token(*CHIEF, sub="c1"))

    assert foreign.status_code == 403 and twice.status_code == 409
    assert done.status_code == 200
    assert (done.json()["review_state"], done.json()["reviewer_sub"]) == ("approved", "c1")
    own = web_session.get("/work-logs", headers=worker).json()
    in_scope = web_session.get("/work-logs", headers=token(*CHIEF, sub="c1")).json()
    assert [e["author_sub"] for e in own] == ["wa"]
    assert sorted(e["author_sub"] for e in in_scope) == ["wa", "wb"]

"""Staff, their lifecycle (P5.1.5, P5.4.1), Party branches (P4.3), the notice board (P5.4.2)."""


from tests.html_headers import assert_html_security_headers
from tests.registry.conftest import COMMUNITY, GRID_A, TOWN


def appoint(web_session, headers, name, role, scope, **extra):
    response = web_session.post("/staff", headers=headers, json={
        "name": name, "role": role, "scope": scope, **extra})
    assert response.status_code == 201, response.text
    return response.json()


def test_neighbourhood_worker_lifecycle(district, web_session, token, admin):
    chief = token("community_grid_chief", f"community:{COMMUNITY}", sub="chief")
    town = token("town_grid_chief", f"town:{TOWN}", sub="town")
    worker = appoint(web_session, chief, "钱小红", "neighbourhood_grid_worker",
                     f"grid:{GRID_A}", work_phone="13900000001", duties="3幢—5幢")
    assert worker["lifecycle_state"] == "recruited"

    def step(headers, action):
        return web_session.post(f"/staff/{worker['id']}/transitions", headers=headers,
                                json={"action": action, "reason": "考核"})

    # the town reviews and hires (P5.1.5); the community may not
    assert step(chief, "review").status_code == 409
    # P5.1.5: reviewed and hired by the town, filed with the Social Affairs Bureau
    for who, action, state in [(town, "review", "reviewed"), (town, "hire", "hired"),
                               (admin, "file", "filed")]:
        response = step(who, action)
        assert response.status_code == 200, response.text
        assert response.json()["lifecycle_state"] == state
    # P5.4.1: community proposes an adjustment, the town approves
    assert step(chief, "propose_adjustment").json()["lifecycle_state"] == "adjustment_proposed"
    dismissed = step(town, "approve_adjustment").json()
    assert dismissed["lifecycle_state"] == "dismissed" and dismissed["active"] is False
    history = web_session.get(f"/staff/{worker['id']}/history", headers=town).json()
    assert [h["to_state"] for h in history] == ["reviewed", "hired", "filed",
                                                "adjustment_proposed", "dismissed"]


def test_scope_must_fit_role_and_appointer(district, web_session, token, admin):
    chief = token("community_grid_chief", f"community:{COMMUNITY}")
    wrong_scope = web_session.post("/staff", headers=admin, json={
        "name": "x", "role": "neighbourhood_grid_worker", "scope": f"community:{COMMUNITY}"})
    assert wrong_scope.status_code == 422
    not_allowed = web_session.post("/staff", headers=chief, json={
        "name": "x", "role": "town_grid_chief", "scope": f"town:{TOWN}"})
    assert not_allowed.status_code == 403
    other_grid = web_session.post("/staff", headers=chief, json={
        "name": "x", "role": "neighbourhood_grid_worker", "scope": "grid:320505001002001"})
    assert other_grid.status_code == 403


def test_notice_board_and_party_branch(district, web_session, admin):
    appoint(web_session, admin, "周指导", "grid_instructor", f"community:{COMMUNITY}",
            work_phone="0512-6000001", duties="每月巡查")
    appoint(web_session, admin, "吴网格长", "community_grid_chief", f"community:{COMMUNITY}",
            work_phone="0512-6000002")
    worker = appoint(web_session, admin, "郑网格员", "neighbourhood_grid_worker",
                     f"grid:{GRID_A}", work_phone="13900000003")
    branch = web_session.put(f"/grids/{GRID_A}/party-branch", headers=admin, json={
        "kind": "group", "name": "锦绣一网格党小组", "secretary_staff_id": worker["id"]})
    assert branch.status_code == 200, branch.text

    board = web_session.get(f"/grids/{GRID_A}/notice-board")  # public: posted in the grid
    assert board.status_code == 200
    assert_html_security_headers(board)  # issue 10: CSP and nosniff on every HTML answer
    assert board.headers["Content-Type"].startswith("text/html")
    html = board.text
    for text in ("网格公示牌", "周指导", "网格指导员", "0512-6000002", "郑网格员", "0512-12345",
                 "锦绣一网格党小组", "?lang=en", "锦绣社区 · 枫桥街道"):
        assert text in html  # issue 11: the community and town by name, not by code
    english = web_session.get(f"/grids/{GRID_A}/notice-board", params={"lang": "en"}).text
    assert "Grid instructor" in english and "Supervision phone" in english
    assert web_session.get(f"/grids/{GRID_A}/notice-board",
                           params={"lang": "fr"}).status_code == 422


def test_departments_are_seeded(registry, web_session, admin):
    codes = {d["code"] for d in web_session.get("/departments", headers=admin).json()}
    assert codes == {"organization", "comprehensive_governance", "civil_affairs",
                     "public_security", "human_resources", "health", "ecology_environment",
                     "emergency_management", "veterans_affairs", "fire"}


def test_the_staff_list_names_places_and_offers_the_readers_steps(district, web_session,
                                                                  token, admin):
    """Issue 14: a workbench shows where each person works by name and only the lifecycle
    steps the reader may take; /place-names gives the names under the reader's scope."""
    chief = token("community_grid_chief", f"community:{COMMUNITY}", sub="chief")
    town = token("town_grid_chief", f"town:{TOWN}", sub="town")
    appoint(web_session, chief, "钱小红", "neighbourhood_grid_worker", f"grid:{GRID_A}")
    appoint(web_session, town, "孙指导", "grid_instructor", f"community:{COMMUNITY}")

    def listed(headers, lang="zh-CN"):
        answer = web_session.get("/staff", params={"prefix": TOWN},
                                 headers={**headers, "Accept-Language": lang})
        assert answer.status_code == 200, answer.text
        return {p["name"]: p for p in answer.json()}

    as_town = listed(town)
    assert as_town["钱小红"]["place"] == "锦绣一网格" and as_town["孙指导"]["place"] == "锦绣社区"
    assert as_town["钱小红"]["actions"] == ["reject", "review"]  # P5.1.5: the town reviews
    assert listed(chief)["钱小红"]["actions"] == []  # the community may not

    names = web_session.get("/place-names", params={"prefix": COMMUNITY, "grids": "true"},
                            headers=chief).json()
    assert names["communities"] == {COMMUNITY: "锦绣社区"}
    assert names["grids"] == {GRID_A: "锦绣一网格", GRID_A[:-1] + "2": "锦绣二网格"}
    other = token("town_grid_chief", "town:320506001", sub="elsewhere")  # another district
    elsewhere = web_session.get("/place-names", params={"prefix": COMMUNITY},
                                headers=other).json()
    assert elsewhere == {"districts": {}, "towns": {}, "communities": {}}
    bad = web_session.get("/place-names", params={"prefix": "32x"}, headers=chief)
    assert bad.status_code == 422 and "prefix" in bad.json()["error"]["fields"]

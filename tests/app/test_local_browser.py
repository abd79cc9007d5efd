"""The community's and the town's workbench and the one case page (issue 14) in a real
browser, through the real reverse proxy and the five real services (P5.3.1–P5.3.3, P5.2.1).

(a) The rules send a blocked fire exit to the fire department, whistled by the town
(default_rules.json: handling_level town). Fire returns it (退办): it waits for the town's
triage again. A town grid chief signs in with a password, finds it named on the workbench,
opens its case page (what, where and the departments in names, the reporter's photo), is
refused a report up without a reason in words, and dispatches it to Emergency Management
picked by its name. The case file says the town chief did, with that department.

(b) A neighbour dispute is the community's (handled at its own level). A community grid
chief reports the result, then records the return visit that closes it; the case file
says the chief did both. zh-CN first, then en; axe-core finds no serious violation on any
screen."""

from __future__ import annotations

import struct
import zlib

import requests
import sqlalchemy as sa

from gridgov_common.platform.db import make_engine, transaction
from services.dispatch import place_names
from services.registry import accounts
from tests.amqp import wait_until
from tests.app.conftest import PASSWORD
from tests.app.test_app_browser import drive, point_in, steps_of
from tests.app.test_desk_browser import department_queues  # noqa: F401 (a fixture)
from tests.dispatch.test_actions import entries
from tests.events.conftest import case_body

LOCAL = "tests.app.playwright_local"
WAIT = 30.0  # seconds, a bound for conditions across the bus
TOWN_CHIEF = "town-chief-local"
COMMUNITY_CHIEF = "community-chief-local"
REASON = "消防部门退回：属应急管理职责，改由应急管理局牵头"
NOTE = "社区调解员上门调解，双方达成协议"
VISIT_NOTE = "回访双方，均表示满意"


def _person(proxy, token, db_url, district: str, name: str, role: str, scope: str,
            subject: str) -> dict:
    """Grid staff on the register (role and scope as the registry issues them), with a
    password to sign in with."""
    admin = token("district_admin", f"district:{district}", sub="admin-1")
    made = requests.post(f"{proxy['base']}/api/registry/staff", headers=admin, timeout=10,
                         json={"name": name, "role": role, "scope": scope, "subject": subject})
    assert made.status_code == 201, made.text
    engine = make_engine(db_url)
    try:
        with transaction(engine) as session:
            accounts.set_password(session, subject, PASSWORD, operator="test")
    finally:
        engine.dispose()
    return {"login": subject, "password": PASSWORD}


def _report(proxy, token, worker, **overrides) -> dict:
    """A grid worker reports a case in their grid (the app's path: photo, then case)."""
    headers = token("neighbourhood_grid_worker", f"grid:{worker['grid']}", sub=worker["login"])
    grid = requests.get(f"{proxy['base']}/api/registry/grids/{worker['grid']}",
                        headers=headers, timeout=10)
    assert grid.status_code == 200, grid.text
    lon, lat = point_in(grid.json())
    filed = requests.post(f"{proxy['base']}/api/events/cases", headers=headers, timeout=10,
                          json=case_body(location={"lon": lon, "lat": lat}, **overrides))
    assert filed.status_code == 201, filed.text
    return filed.json()


def _png(width: int = 48, height: int = 32) -> bytes:
    """A real (decodable) PNG, so the browser shows the thumbnail: a blue rectangle."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    rows = b"".join(b"\x00" + bytes((29, 59, 107)) * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


PHOTO = _png()


def _photo(proxy, token, worker) -> str:
    headers = token("neighbourhood_grid_worker", f"grid:{worker['grid']}", sub=worker["login"])
    stored = requests.post(f"{proxy['base']}/api/events/photos", data=PHOTO, timeout=10,
                           headers={**headers, "Content-Type": "image/png"})
    assert stored.status_code == 201, stored.text
    return stored.json()["sha256"]


def _case(db_engine, case_id: str) -> dict:
    with db_engine.connect() as conn:
        row = conn.execute(sa.text("SELECT state, handling_level FROM dispatch.cases "
                                   "WHERE case_id = :id"), {"id": case_id}).mappings().first()
    return dict(row) if row else {}


def _fire_returns(proxy, token, case_id: str) -> None:
    """The fire department says the case is not theirs (退办) on its workbench."""
    fire = token("department_officer", "department:fire", sub="fire-officer")
    listed = requests.get(f"{proxy['base']}/api/dispatch/assignments", headers=fire,
                          timeout=10).json()
    [mine] = [a for a in listed if a["case_id"] == case_id]
    back = requests.post(f"{proxy['base']}/api/dispatch/assignments/"
                         f"{mine['assignment_id']}/reports", headers=fire, timeout=10,
                         json={"kind": "return", "reason": "堆物属危化品，应由应急管理处置"})
    assert back.status_code == 200, back.text


def _names(db_engine, grid: str) -> dict:
    with db_engine.connect() as conn:
        return dict(conn.execute(sa.text(
            "SELECT (SELECT name FROM registry.towns WHERE code = :t) AS town, "
            "(SELECT name FROM registry.communities WHERE code = :c) AS community, "
            "(SELECT name FROM registry.grids WHERE grid_code = :g) AS grid"),
            {"t": grid[:9], "c": grid[:12], "g": grid}).mappings().one())


def test_a_town_chief_triages_a_returned_case_to_a_department_picked_by_name(
        department_queues, proxy, worker, token, db_engine, db_url, demo_district):  # noqa: F811
    place_names.forget()  # another test's district of the same code may be cached
    town = worker["grid"][:9]
    chief = _person(proxy, token, db_url, demo_district["code"], "李镇长", "town_grid_chief",
                    f"town:{town}", TOWN_CHIEF)
    sha = _photo(proxy, token, worker)
    case = _report(proxy, token, worker, photos=[sha])
    assert wait_until(lambda: _case(db_engine, case["case_id"]).get("state") == "dispatched",
                      WAIT)
    _fire_returns(proxy, token, case["case_id"])
    # P5.3.2: the rule leaves it with the town; returned, it waits for the town's triage
    assert _case(db_engine, case["case_id"]) == {"state": "filed", "handling_level": "town"}
    shown = requests.get(f"{proxy['base']}/api/events/photos/{sha}", timeout=10,
                         headers=token("town_grid_chief", f"town:{town}", sub=TOWN_CHIEF))
    assert shown.status_code == 200 and shown.content == PHOTO  # the town may see it

    steps = steps_of(drive(LOCAL, {
        "base": proxy["base"], **chief, "case_number": case["case_number"],
        "department_name": "应急管理", "reason": REASON}, "town"))
    names = _names(db_engine, worker["grid"])
    bench = steps["town_bench"]["text"]
    assert "分流交办工作台" in bench and "待分流交办" in bench and "李镇长" in bench
    assert "楼道堆物堵塞消防通道" in bench and "已立案" in bench
    assert names["town"] in bench and names["grid"] in bench and worker["grid"] not in bench
    page = steps["town_case"]["text"]
    assert "社会治安防控 · 楼道堆物堵塞消防通道" in page and "镇（街道）" in page
    assert f"{names['town']} {names['community']} {names['grid']}" in page
    assert "消防" in page and "已退回" in page and "应急管理" in page and "已撤回" in page
    assert "退办" in page and "fire_hazard_corridor" not in page and worker["grid"] not in page
    for offered in ("本级处置", "交办部门", "上报上级", "交办下级", "注销", "挂账"):
        assert offered in page, offered
    refused = steps["town_refused"]["text"]
    assert "请检查填写内容" in refused and "理由" in refused
    dispatched = steps["town_dispatched"]["text"]
    assert "已派遣" in dispatched and "派遣（吹哨） → 已派遣（经办 镇网格长）" in dispatched
    english = steps["town_english"]
    assert english["lang"] == "en" and "Stairwell or fire exit blocked" in english["text"]
    assert "Emergency Management" in english["text"]
    assert "Dispatched to departments → Dispatched (by Town grid chief)" in english["text"]
    assert "Suspend" in english["text"]  # what the town may still do: 挂账 (P5.3.2)

    journal = entries(db_engine, case["case_id"])
    assert [e["action"] for e in journal if e["action"] in ("dispatch", "department_return")] \
        == ["dispatch", "department_return", "dispatch"]
    triaged = [e for e in journal if e["action"] == "dispatch"][-1]
    assert (triaged["actor_sub"], triaged["actor_role"]) == (TOWN_CHIEF, "town_grid_chief")
    assert triaged["reason"] == REASON
    assert triaged["data"]["departments"] == ["emergency_management"]
    assert triaged["data"]["chosen_by"] == "person"
    assert _case(db_engine, case["case_id"])["state"] == "dispatched"


def test_a_community_chief_reports_a_local_result_and_closes_it_by_a_return_visit(
        proxy, worker, token, db_engine, db_url, demo_district):
    place_names.forget()
    community = worker["grid"][:12]
    chief = _person(proxy, token, db_url, demo_district["code"], "周网格长",
                    "community_grid_chief", f"community:{community}", COMMUNITY_CHIEF)
    case = _report(proxy, token, worker, work_category="dispute_mediation",
                   subcategory="neighbour_dispute", description="5幢两户因漏水发生争执")
    # P5.3.2: the rule leaves a neighbour dispute with the community, handled at its level
    assert wait_until(lambda: _case(db_engine, case["case_id"]) == {
        "state": "handling_local", "handling_level": "community"}, WAIT)

    steps = steps_of(drive(LOCAL, {
        "base": proxy["base"], **chief, "case_number": case["case_number"], "note": NOTE,
        "visit_note": VISIT_NOTE}, "community"))
    bench = steps["community_bench"]["text"]
    assert "本级办理中" in bench and "待回访" in bench and "周网格长" in bench
    assert "邻里纠纷" in bench and "本级办理中" in bench and worker["grid"] not in bench
    page = steps["community_case"]["text"]
    assert "矛盾纠纷调处 · 邻里纠纷" in page and "社区" in page and "未交办部门" in page
    assert "反馈办理结果" in page and "本级办理" in page
    assert "回访" not in page.split("可办理操作")[1].split("部门交办")[0]  # not yet
    assert "已办结待回访" in steps["community_resolved"]["text"]
    closed = steps["community_closed"]["text"]
    assert "已结案" in closed and "回访满意，结案" in closed and "本级办结" in closed
    assert case["case_number"] not in steps["community_bench_after"]["text"]
    english = steps["community_english"]
    assert english["lang"] == "en" and "Triage workbench" in english["text"]
    assert "Handled at own level" in english["text"]

    journal = {e["action"]: e for e in entries(db_engine, case["case_id"])}
    result = journal["local_result"]
    assert (result["actor_sub"], result["actor_role"]) == (COMMUNITY_CHIEF,
                                                           "community_grid_chief")
    assert result["data"] == {"note": NOTE, "resolved": True}
    visit = journal["return_visit_satisfied"]
    assert (visit["actor_sub"], visit["actor_role"]) == (COMMUNITY_CHIEF,
                                                         "community_grid_chief")
    assert visit["to_state"] == "closed"
    assert _case(db_engine, case["case_id"])["state"] == "closed"

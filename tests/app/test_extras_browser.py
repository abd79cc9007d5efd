"""The town's and the department's extra desk pages (issue 14) in a real browser, through
the real reverse proxy and the five real services.

A grid worker reports a blocked fire exit; the fire department, working on its
workbench, misses its sign-for deadline (one run of the supervision timer raises the
card), then signs for it and asks for two more days (the workbench API, as its page
does). The town grid chief of that town signs in, finds the request named (subcategory,
department, reason, both due times), grants it with a note and sees the decision with
their own name; dispatch moved the assignment's handling due time and the case file says
the chief granted it. The same chief issues a red supervision card by hand on the case
page (督办, an instruction): the timeline names the chief (the case page's map shows the
case's point inside its grid's outline, named), dispatch stored it with its issuer and
the fire department's inbox has it (the timer's path through notify); the chief reads
the town's work logs and meetings by names and both supervision cards — the timer's,
followed up, and the hand-issued one with its issuer's name — and the month's meeting
compliance (the community chief's meeting held: 1 / 1, met). The community grid chief
approves the work log with a comment. The fire officer then reads its second tab: its
own figures, its standing in a circular the district published and its notices, all in
words. zh-CN, then en; axe-core finds no serious violation on any screen."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import requests
import sqlalchemy as sa

from gridgov_common.contract.labels import label
from gridgov_common.platform.db import make_engine, transaction
from services.dispatch import escalating, place_names
from services.registry import accounts
from tests.amqp import wait_until
from tests.app.conftest import PASSWORD
from tests.app.test_app_browser import drive, steps_of
from tests.app.test_desk_browser import (  # noqa: F401 (a fixture)
    OFFICER,
    WAIT,
    _officer,
    _reported_case,
    department_queues,
)
from tests.dispatch.test_actions import entries

NOTE = "同意延期，请于新时限前办结并上传照片"
REASON = "需协调物业清运大件杂物，申请延期两天"
SHANGHAI = ZoneInfo("Asia/Shanghai")
WORK_LOG = "巡查三号楼楼道，发现杂物堵塞消防通道，已上报"
MINUTES = "本月例会：通报楼道堆物整治进展，部署下周巡查"
COMMENT = "记录清楚，继续跟进清运情况"
INSTRUCTION = "请消防今日内清运完毕并上传现场照片"


def _chief(db_url: str, town: str) -> dict:
    """The demo district's town grid chief of ``town``, with a password; their name."""
    engine = make_engine(db_url)
    try:
        with transaction(engine) as session:
            subject, name = session.execute(sa.text(
                "SELECT subject, name FROM registry.staff WHERE role = 'town_grid_chief' "
                "AND scope_code = :town AND subject IS NOT NULL AND active ORDER BY id LIMIT 1"),
                {"town": town}).one()
            accounts.set_password(session, subject, PASSWORD, operator="test")
    finally:
        engine.dispose()
    return {"login": subject, "name": name}


def _fire_assignment(proxy, fire: dict, case_id: str) -> dict | None:
    listed = requests.get(f"{proxy['base']}/api/dispatch/assignments", headers=fire, timeout=10)
    if listed.status_code != 200:
        return None
    return next((a for a in listed.json() if a["case_id"] == case_id), None)


def _report(proxy, fire: dict, assignment_id: str, body: dict) -> dict:
    done = requests.post(f"{proxy['base']}/api/dispatch/assignments/{assignment_id}/reports",
                         headers=fire, json=body, timeout=10)
    assert done.status_code == 200, done.text
    return done.json()


def _handle_due(db_engine, assignment_id: str) -> datetime:
    with db_engine.connect() as conn:
        return conn.execute(sa.text(
            "SELECT handle_due_at FROM dispatch.assignments WHERE assignment_id = :id"),
            {"id": assignment_id}).scalar_one()


def row_of(step: dict, first: str) -> list[str]:
    """The table row (its cells' texts) whose first cell starts with ``first``."""
    [row] = [r for r in step["rows"] if r and r[0].startswith(first)]
    return row


def _dispatch_knows_fire(db_engine) -> bool:
    """dispatch follows the register (registry.department.changed, announced at start)."""
    with db_engine.connect() as conn:
        return conn.execute(sa.text(
            "SELECT name_zh FROM dispatch.departments WHERE code = 'fire'")).scalar() == "消防"


def _staff(db_url: str, role: str, scope: str) -> dict:
    """A demo staff member of ``role`` over ``scope``: subject and name."""
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            subject, name = conn.execute(sa.text(
                "SELECT subject, name FROM registry.staff WHERE role = :role AND scope_code = "
                ":scope AND subject IS NOT NULL AND active ORDER BY id LIMIT 1"),
                {"role": role, "scope": scope}).one()
    finally:
        engine.dispose()
    return {"login": subject, "name": name}


def _fieldwork(proxy, token, worker: dict, community_chief: dict) -> tuple[dict, dict]:
    """The grid worker writes today's work log; the community grid chief records the
    month's meeting (P5.4.5) with the worker among those present."""
    grid, today = worker["grid"], datetime.now(SHANGHAI).date().isoformat()
    mine = token("neighbourhood_grid_worker", f"grid:{grid}", sub=worker["login"])
    log = requests.post(f"{proxy['base']}/api/assessment/work-logs", headers=mine, timeout=10,
                        json={"grid_code": grid, "day": today, "content": WORK_LOG})
    assert log.status_code == 201, log.text
    chief = token("community_grid_chief", f"community:{grid[:12]}",
                  sub=community_chief["login"])
    meeting = requests.post(f"{proxy['base']}/api/assessment/meetings", headers=chief,
                            timeout=10, json={"kind": "community_chief", "held_on": today,
                                              "attendees": [community_chief["login"],
                                                            worker["login"]],
                                              "minutes": MINUTES})
    assert meeting.status_code == 201, meeting.text
    return log.json(), meeting.json()


def with_password(db_url: str, subject: str) -> None:
    engine = make_engine(db_url)
    try:
        with transaction(engine) as session:
            accounts.set_password(session, subject, PASSWORD, operator="test")
    finally:
        engine.dispose()


def _review(db_engine, content: str) -> tuple:
    with db_engine.connect() as conn:
        return tuple(conn.execute(sa.text(
            "SELECT review_state, reviewer_sub, review_comment FROM assessment.work_logs "
            "WHERE content = :c"), {"c": content}).one())


def _grid_name(db_url: str, grid: str) -> str:
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text("SELECT name FROM registry.grids WHERE grid_code = :g"),
                                {"g": grid}).scalar_one()
    finally:
        engine.dispose()


def _inbox(proxy, headers) -> list[dict]:
    found = requests.get(f"{proxy['base']}/api/notify/inbox", headers=headers, timeout=10)
    assert found.status_code == 200, found.text
    return found.json()["items"]


def _case_state(db_engine, case_id: str) -> str:
    with db_engine.connect() as conn:
        return conn.execute(sa.text("SELECT state FROM dispatch.cases WHERE case_id = :id"),
                            {"id": case_id}).scalar_one()


def _missed_sign_for(db_engine, db_url: str, case_id: str, assignment_id: str) -> list[dict]:
    """The sign-for deadline passed a minute ago (the case marked changed, as every writer
    does); one run of the supervision timer (escalating.run_due) raises what is due: the
    first card only, whatever the hour (the second waits one working hour more; an hour
    ago, in working time, raised both)."""
    with db_engine.begin() as conn:
        conn.execute(sa.text(
            "UPDATE dispatch.assignments SET ack_due_at = now() - interval '1 minute' "
            "WHERE assignment_id = :id"), {"id": assignment_id})
        conn.execute(sa.text("UPDATE dispatch.cases SET updated_at = clock_timestamp() "
                             "WHERE case_id = :id"), {"id": case_id})
    engine = make_engine(db_url)
    try:
        with transaction(engine) as session:
            session.info["db_schema"] = "dispatch"  # its outbox, as the service's own session
            assert escalating.run_due(session) >= 1
    finally:
        engine.dispose()
    with db_engine.connect() as conn:
        return [dict(r) for r in conn.execute(sa.text(
            "SELECT kind, level, card, department, target_role FROM dispatch.escalations "
            "WHERE case_id = :id"), {"id": case_id}).mappings()]


def test_a_town_chief_grants_a_departments_delay_and_the_department_reads_its_standing(
        department_queues, proxy, worker, token, db_engine, db_url, demo_district):  # noqa: F811
    place_names.forget()  # another test's district of the same code may be cached
    officer = _officer(proxy, token, demo_district["code"], db_url)
    town = worker["grid"][:9]
    chief = _chief(db_url, town)
    case = _reported_case(proxy, token, worker)
    fire = token("department_officer", "department:fire", sub=OFFICER)
    assignment = wait_until(lambda: _fire_assignment(proxy, fire, case["case_id"]), WAIT)

    # the registry announced its register when it started, before dispatch's queue was
    # there (the hourly announcement would repair it): the district admin's update of the
    # fire department announces it again, and dispatch names it from then on
    admin = token("district_admin", f"district:{demo_district['code']}", sub="admin-1")
    renamed = requests.patch(f"{proxy['base']}/api/registry/departments/fire", headers=admin,
                             json={"name_zh": "消防", "name_en": "Fire and Rescue"}, timeout=10)
    assert renamed.status_code == 200, renamed.text
    assert wait_until(lambda: _dispatch_knows_fire(db_engine), WAIT)

    # fire did not sign for it in time: the supervision timer's own run raises the card
    # (the stack's timer ticks hourly; its deadline is moved into the past as a late day)
    [card] = _missed_sign_for(db_engine, db_url, case["case_id"], assignment["assignment_id"])
    assert card["kind"] == "ack_timeout" and card["department"] == "fire"

    # the department signs for it and asks for two more days on its workbench
    _report(proxy, fire, assignment["assignment_id"], {"kind": "ack", "client_ref": "ack-1"})
    current = _handle_due(db_engine, assignment["assignment_id"])
    wanted = (current + timedelta(days=2)).replace(microsecond=0)
    asked = _report(proxy, fire, assignment["assignment_id"], {
        "kind": "delay_request", "client_ref": "delay-1", "reason": REASON,
        "requested_due_at": wanted.isoformat()})
    assert asked["replayed"] is False

    # the district publishes a circular of today: the fire department is in it
    today = datetime.now(SHANGHAI).date().isoformat()
    period = f"{today}..{today}"
    published = requests.post(f"{proxy['base']}/api/assessment/circulars", headers=admin,
                              json={"kind": "custom", "period": period}, timeout=30)
    assert published.status_code == 201, published.text
    [fire_row] = [r for r in published.json()["content"]["departments"] if r["code"] == "fire"]
    assert (fire_row["dispatched"], fire_row["rank"], fire_row["card"]) == (1, None, None)

    # the town's field work to review: a work log and a community meeting
    community_chief = _staff(db_url, "community_grid_chief", worker["grid"][:12])
    worker_name = _staff(db_url, "neighbourhood_grid_worker", worker["grid"])["name"]
    _fieldwork(proxy, token, worker, community_chief)

    steps = steps_of(drive("tests.app.playwright_extras", {
        "base": proxy["base"], "password": PASSWORD, "chief": chief["login"],
        "case_number": case["case_number"], "note": NOTE, "supervision": True,
        "work_review": True, "work_log": WORK_LOG, "minutes": MINUTES,
        "instruction": INSTRUCTION, "community_chief_name": community_chief["name"]},
        "chief"))
    assert steps["signin"]["lang"] == "zh-CN"
    listed = steps["delays"]["text"]
    assert "延时审批" in listed and chief["name"] in listed
    assert case["case_number"] in listed and REASON in listed
    row = row_of(steps["delays"], case["case_number"])
    assert row[:4] == [case["case_number"], "楼道堆物堵塞消防通道", "消防", REASON], row
    assert row[5].endswith("\n延长 2天") and row[6] == "同意延时\n不同意延时", row
    assert "fire_hazard_corridor" not in listed and "\tfire\t" not in listed
    assert "延长 2天" in listed and "同意延时" in listed and "不同意延时" in listed
    decided = steps["decided"]["text"]
    assert f"已同意 · {chief['name']}" in decided and NOTE in decided
    assert row_of(steps["decided"], case["case_number"])[6].startswith(
        f"已同意 · {chief['name']}\n")
    opened = steps["case_page"]["text"]
    assert case["case_number"] in opened and "申请延时" in opened and "同意延时" in opened
    grid_name = _grid_name(db_url, worker["grid"])
    mapped = steps["case_page"]  # the case's point inside its grid's outline, named
    assert mapped["map_inside"] is True and mapped["map_grid"] == grid_name
    assert mapped["map_title"] == f"{grid_name}的网格范围与案件位置"
    mapped = steps["case_page_english"]
    assert mapped["map_inside"] is True
    assert mapped["map_title"] == f"The outline of {grid_name} and where the case is"
    review = steps["work_review"]
    assert "工作检查 · " in review["text"]
    assert worker["login"] not in review["text"]  # names, not subjects
    [log_row] = [r for r in review["rows"] if WORK_LOG in r]
    assert log_row[1:] == [worker_name, _grid_name(db_url, worker["grid"]), WORK_LOG, "待审核"]
    [meeting] = [r for r in review["meetings"] if MINUTES in r]
    assert meeting[1:] == ["社区网格长例会", community_chief["name"],
                           f"{community_chief['name']}、{worker_name}", MINUTES], meeting
    # the month's meeting compliance (P5.4.5): the community chief held this month's one
    [standing] = [r for r in review["compliance"] if r[0] == community_chief["name"]]
    assert standing[1:4] == [label("role", "community_grid_chief"), "社区网格长例会", "1 / 1"]
    assert standing[5] == "达标", standing
    cards = steps["supervision"]["text"]
    assert "督办 · " in cards and "超时未签收" in cards
    [supervised] = [r for r in steps["supervision"]["rows"]
                    if r[0].startswith(case["case_number"]) and r[1] == "超时未签收"]
    assert supervised[:5] == [f"{case['case_number']}\n楼道堆物堵塞消防通道", "超时未签收",
                              f"{label('card', card['card'])}\n第 {card['level']} 级", "消防",
                              label("role", card["target_role"])], supervised
    assert "消防未在签收时限内报到" in supervised[5]
    state = label("case_state", _case_state(db_engine, case["case_id"]))
    assert supervised[-1] == f"{state} · 消防：已签收，办理中"  # followed: fire signed for it
    [by_hand] = [r for r in steps["supervision"]["rows"]
                 if r[0].startswith(case["case_number"]) and r[1] == "人工督办"]
    assert by_hand[2:6] == [f"{label('card', 'red')}\n第 1 次人工督办", "消防",
                            label("role", "town_grid_chief"), INSTRUCTION], by_hand
    assert f"督办人：{chief['name']}" in by_hand[6], by_hand
    timeline = steps["supervised"]["text"]
    red = label("card", "red")
    assert f"督办 · {red}：{INSTRUCTION}（督办人 {chief['name']}）" in timeline
    cards_en = steps["supervision_english"]
    [by_hand] = [r for r in cards_en["rows"] if r[1] == "Issued by hand"]
    assert by_hand[2] == f"{label('card', 'red', 'en')}\nissued by hand, no. 1", by_hand
    assert f"Issued by: {chief['name']}" in by_hand[6] and by_hand[3] == "Fire and Rescue"
    # the timer's card says why in English, from its codes (dispatch stored a Chinese
    # sentence for the bus and the case file)
    [timer_en] = [r for r in cards_en["rows"]
                  if r[0].startswith(case["case_number"]) and r[1] == "Not reported in on time"]
    assert timer_en[5].startswith("Fire and Rescue did not sign for it in time (due by "), timer_en
    assert f"level {card['level']}: {label('card', card['card'], 'en')}" in timer_en[5], timer_en
    assert not any("\u4e00" <= ch <= "\u9fff" for ch in timer_en[5]), timer_en
    assert "Fire and Rescue did not sign for it in time" in steps["case_page_english"]["text"]
    # dispatch stored it with its issuer; the case file names the chief; notify told fire
    with db_engine.connect() as conn:
        stored = conn.execute(sa.text(
            "SELECT card, level, department, issued_by, issued_role, reason FROM "
            "dispatch.escalations WHERE case_id = :id AND kind = 'manual'"),
            {"id": case["case_id"]}).one()
    assert tuple(stored) == ("red", 1, "fire", chief["login"], "town_grid_chief", INSTRUCTION)
    [issued] = [e for e in entries(db_engine, case["case_id"])
                if e["action"] == "escalation" and e["data"]["kind"] == "manual"]
    assert (issued["actor_sub"], issued["actor_role"]) == (chief["login"], "town_grid_chief")
    told = wait_until(lambda: [m for m in _inbox(proxy, fire) if INSTRUCTION in m["body"]],
                      WAIT)
    assert told[0]["kind"] == "escalation" and told[0]["title"] == (
        f"督办红牌：{case['case_number']}")
    english = steps["english"]
    assert english["lang"] == "en" and "Delay decisions" in english["text"]
    assert "Stairwell or fire exit blocked" in english["text"]
    assert row_of(english, case["case_number"])[1:3] == [
        "Stairwell or fire exit blocked", "Fire and Rescue"]
    assert f"Granted · {chief['name']}" in english["text"]

    # dispatch moved the handling due time; the case file says who granted it, and why
    assert _handle_due(db_engine, assignment["assignment_id"]) == wanted
    [granted] = [e for e in entries(db_engine, case["case_id"]) if e["action"] == "delay_granted"]
    assert (granted["actor_sub"], granted["actor_role"]) == (chief["login"], "town_grid_chief")
    assert granted["reason"] == NOTE
    assert datetime.fromisoformat(granted["deadline"]) == wanted

    # the community grid chief reviews the log (P5.1.3): approved, by name, with a comment
    with_password(db_url, community_chief["login"])
    steps = steps_of(drive("tests.app.playwright_extras", {
        "base": proxy["base"], "password": PASSWORD, "community_chief": community_chief["login"],
        "work_log": WORK_LOG, "comment": COMMENT}, "community"))
    [pending] = [r for r in steps["to_review"]["rows"] if WORK_LOG in r]
    assert pending[1] == worker_name and pending[4] == "通过\n退回", pending
    [approved] = [r for r in steps["reviewed"]["rows"] if WORK_LOG in r]
    assert approved[4] == f"已通过 · {community_chief['name']}\n{COMMENT}", approved
    [english] = [r for r in steps["reviewed_english"]["rows"] if WORK_LOG in r]
    assert english[4] == f"Approved · {community_chief['name']}\n{COMMENT}", english
    assert _review(db_engine, WORK_LOG) == ("approved", community_chief["login"], COMMENT)

    steps = steps_of(drive("tests.app.playwright_extras", {
        "base": proxy["base"], "password": PASSWORD, "officer": officer["login"],
        "circular_period": period}, "officer"))
    standing = steps["standing"]["text"]
    assert "部门通知与考核" in standing and "王消防" in standing
    # one assignment, signed for after its deadline (the card above): 0 % on time
    assert "交办件数\t1\t按时签收率\t0%\t处置率\t0%" in standing
    # the circular's row, cell by cell: nothing decided yet, so unranked, no card, sent 1
    circular = row_of(steps["standing"], f"专项通报 {period} · 网格通〔")
    assert circular[1:] == ["未排名", "无", "1", "—", "0%", "0"], circular
    assert "本期间没有交办任务" not in standing
    assert "派遣通知" in standing and f"交办：{case['case_number']}" in standing  # its inbox
    english = steps["standing_english"]["text"]
    assert "Handling figures" in english and "Signed for on time" in english
    assert "Special circular " + period in english

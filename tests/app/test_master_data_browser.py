"""The district admin keeps the master data on the desk (issue 14) in a real browser,
through the real reverse proxy and the five real services: in zh-CN and then in en, the
admin adds a subcategory (events' catalogue), edits a department (the registry; a wrong
duty line is refused beside its field, in the page's language), and publishes a new
triage rule-set version (dispatch) after a confirmation saying what changes (a rule for
the same cases twice is refused at the rule; a version another admin published meanwhile
is never overwritten); each list shows the change at once, and the services hold it.
axe-core finds no serious violation on any screen, the dialogs included."""

from __future__ import annotations

import pytest
import requests
import sqlalchemy as sa

from gridgov_common.platform.db import make_engine, transaction
from tests.amqp import wait_until
from tests.app.conftest import staff_with_password
from tests.app.test_app_browser import drive, steps_of

ADMIN = "master-data-admin"
SUBS = {"zh": {"name_zh": "共享单车乱停放", "name_en": "Shared bicycles parked badly",
               "code": "shared_bicycles_parked_badly"},
        "en": {"name_zh": "遛狗不牵绳", "name_en": "Dog walked off the lead",
               "code": "dog_walked_off_the_lead"}}
DEPTS = {"zh": {"code": "fire", "phone": "0512-68001119"},
         "en": {"code": "emergency_management", "phone": "0512-68002220"}}
HANDLE_DAYS = 2
WAIT = 30.0  # seconds, a bound for conditions across the bus


def _dispatch_knows(db_url: str) -> set[str]:
    engine = make_engine(db_url)
    try:
        with transaction(engine) as session:
            return set(session.execute(sa.text(
                "SELECT code FROM dispatch.departments WHERE active")).scalars())
    finally:
        engine.dispose()


@pytest.fixture
def register_kept(proxy, token, demo_district, db_url):
    """The departments as they were, put back afterwards (the registry's data outlives
    this test: other tests read the register). Dispatch checks a rule set's departments
    against its copy of the register, which the registry announces at start and hourly:
    the test's registry started before dispatch listened, so each department is announced
    once more (an unchanged PATCH announces it) and the test waits until dispatch has them."""
    admin = token("district_admin", f"district:{demo_district['code']}", sub="admin-1")
    before = {d["code"]: d for d in requests.get(f"{proxy['base']}/api/registry/departments",
                                                 headers=admin, timeout=10).json()}
    for code, dept in before.items():
        again = requests.patch(f"{proxy['base']}/api/registry/departments/{code}",
                               headers=admin, timeout=10, json={"name_zh": dept["name_zh"]})
        assert again.status_code == 200, again.text
    active = {code for code, dept in before.items() if dept["active"]}
    assert wait_until(lambda: active <= _dispatch_knows(db_url), WAIT)
    yield before
    for dept in DEPTS.values():
        was = before[dept["code"]]
        back = requests.patch(
            f"{proxy['base']}/api/registry/departments/{dept['code']}", headers=admin,
            timeout=10, json={k: was[k] for k in ("contact_phone", "work_categories")})
        assert back.status_code == 200, back.text


def test_a_district_admin_adds_a_subcategory_edits_a_department_and_publishes_rules(
        proxy, token, db_url, demo_district, register_kept):
    district = demo_district["code"]
    login = staff_with_password(proxy, token, district, db_url, ADMIN, "王区管",
                                "district_admin", f"district:{district}")
    names = {code: (d["name_zh"], d["name_en"]) for code, d in register_kept.items()}
    steps = steps_of(drive("tests.app.playwright_master_data", {
        "base": proxy["base"], **login, "names": names, "handle_days": HANDLE_DAYS,
        "sub_zh": SUBS["zh"], "sub_en": SUBS["en"], "dept_zh": DEPTS["zh"],
        "dept_en": DEPTS["en"], "version_zh": 2, "version_en": 4}))

    # zh-CN: the code made from the English name, the subcategory listed by its name
    assert steps["catalogue_zh"]["lang"] == "zh-CN"
    assert steps["sub_form_zh"]["code"] == SUBS["zh"]["code"]
    # offered to residents first: the catalogue's rule (P5.4.4) beside the field, in Chinese
    assert steps["sub_refused_zh"]["error"] == "此类事项不向居民公开（P5.4.4），请取消“居民可报”。"
    assert "城市管理" in steps["sub_added_zh"]["row"]
    assert "居民可报" not in steps["sub_added_zh"]["row"]
    # the wrong duty line: the registry's refusal beside the field, in Chinese
    assert steps["dept_refused_zh"]["error"] == "不是有效的电话号码。"
    assert "重大事件报告" in steps["dept_saved_zh"]["row"]
    # the draft marks what changed; the confirmation says it by name; the new version shows
    draft = {row[0].split("\n")[0]: row for row in steps["rules_draft_zh"]["rows"]}
    assert "已修改" in draft["楼道堆物堵塞消防通道"][0], draft
    assert "新增" in draft[SUBS["zh"]["name_zh"]][0], draft
    # a second rule for the same cases: refused at the rule, naming the other by name
    assert steps["rule_twice_zh"]["error"] == (
        f"已有一条规则适用于同样的事项、等级和范围：「{SUBS['zh']['name_zh']}」，请修改那一条")
    confirm = steps["publish_confirm_zh"]["confirm"]
    assert "将发布第 2 版分拨规则" in confirm
    assert "修改 1 条：楼道堆物堵塞消防通道" in confirm
    assert f"新增 1 条：{SUBS['zh']['name_zh']}" in confirm
    published = steps["published_zh"]
    assert "版本 2" in published["version"] and "现行版本" in published["version"]
    rows = {row[0].split("\n")[0]: row for row in published["rows"]}
    corridor = rows["楼道堆物堵塞消防通道"]
    assert corridor[5] == f"{HANDLE_DAYS} 个工作日", corridor
    assert names["public_security"][0] in corridor[2] and names["fire"][0] in corridor[2]
    assert f"主办：{names['public_security'][0]}" in rows[SUBS["zh"]["name_zh"]][2]
    newest = published["sets"][0]
    assert (newest[0], newest[1], newest[3]) == ("2", ADMIN, "共享单车纳入分拨"), newest

    # en: the same three tasks in English
    assert steps["sub_form_en"]["lang"] == "en"
    assert steps["sub_form_en"]["code"] == SUBS["en"]["code"]
    assert "Stability and governance" in steps["sub_added_en"]["row"]
    assert "residents may report" in steps["sub_added_en"]["row"]
    assert steps["dept_refused_en"]["error"] == "a telephone number"
    assert "Dispute mediation" in steps["dept_saved_en"]["row"]
    # another admin published version 3 while the draft was open: refused, not overwritten
    assert "Version 3 of the triage rules will be published" in steps[
        "publish_refused_en"]["confirm"]
    assert "Another administrator has just published a new version" in steps[
        "version_taken_en"]["refused"]
    confirm = steps["publish_confirm_en"]["confirm"]
    assert "Version 4 of the triage rules will be published" in confirm
    assert f"Added (1): {SUBS['en']['name_en']}" in confirm
    published = steps["published_en"]
    assert "Version 4" in published["version"] and "Current version" in published["version"]
    rows = {row[0].split("\n")[0]: row for row in published["rows"]}
    assert f"lead: {names['civil_affairs'][1]}" in rows[SUBS["en"]["name_en"]][2]

    # the services hold what the page showed
    admin = token("district_admin", f"district:{district}", sub=ADMIN)
    catalogue = requests.get(f"{proxy['base']}/api/events/catalogue", headers=admin,
                             timeout=10).json()
    subs = {s["code"]: s for s in catalogue["subcategories"]}
    assert (subs[SUBS["zh"]["code"]]["work_category"], subs[SUBS["zh"]["code"]]["info_class"],
            subs[SUBS["zh"]["code"]]["public"]) == ("livelihood_service", "urban_management", False)
    assert (subs[SUBS["en"]["code"]]["work_category"], subs[SUBS["en"]["code"]]["public"]) == (
        "public_security_prevention", True)
    departments = {d["code"]: d for d in requests.get(
        f"{proxy['base']}/api/registry/departments", headers=admin, timeout=10).json()}
    assert departments["fire"]["contact_phone"] == DEPTS["zh"]["phone"]
    assert "major_event" in departments["fire"]["work_categories"]
    assert departments["emergency_management"]["contact_phone"] == DEPTS["en"]["phone"]
    sets = requests.get(f"{proxy['base']}/api/dispatch/config/rule-sets", headers=admin,
                        timeout=10).json()
    assert [s["version"] for s in sets] == [4, 3, 2, 1] and sets[0]["created_by"] == ADMIN
    assert sets[1]["description"] == "another admin"
    current = requests.get(f"{proxy['base']}/api/dispatch/config/rule-sets/4", headers=admin,
                           timeout=10).json()["rules"]["rules"]
    by_id = {r["id"]: r for r in current}
    corridor = by_id["public_security_prevention.fire_hazard_corridor"]
    assert corridor["handle_limit"] == {"amount": HANDLE_DAYS, "unit": "working_days"}
    assert sorted(corridor["assist"]) == ["emergency_management", "public_security"]
    assert by_id[SUBS["zh"]["code"]]["lead"] == "public_security"
    dogs = by_id[SUBS["en"]["code"]]
    assert (dogs["lead"], dogs["handling_level"], dogs["outcome"]) == (
        "civil_affairs", "community", "dispatch"), dogs

"""Drive the district admin's master-data page (issue 14) in headless Chromium (Debian's)
through the reverse proxy, and print what was seen as JSON. Run as its own process by
test_master_data_browser.py (Playwright's sync API must not share a process with
eventlet); the run's settings as JSON in ``GRIDGOV_APP_RUN``. axe-core on every screen,
the dialogs open included.

The scenario, once in zh-CN and once in en, every choice made by its name: add a
subcategory (its code made from the English name; in zh-CN first offered to residents,
which the catalogue refuses for its work category, said beside the field); edit a
department — a wrong duty line first, refused beside the field, then a right one and one
more work category; edit the
triage rules — change a rule's handling limit and assisting departments, route the new
subcategory to a lead department (in zh-CN a second rule for the same cases is refused at
the rule) — and publish them, after the confirmation that says what changes, as the next
version, which the page then shows as current. In en another admin publishes a version
while the draft is open: the page's publication is refused (never overwriting it), the
draft discarded and made again on the new version.
"""

from __future__ import annotations

import json
import os
import sys

from tests.app.playwright_app import keep_screenshot, run_in_browser
from tests.app.playwright_district import table_rows
from tests.assessment_dashboard.playwright_run import axe_violations

WAIT_MS = 60_000  # a safety net for a slow machine, not a timing assertion


def snapshot(page, label: str, **more) -> dict:
    keep_screenshot(page, f"master-{label}")
    return {"label": label, "url": page.url, "lang": page.get_attribute("html", "lang"),
            "text": page.inner_text("body")[:8000], "axe": axe_violations(page), **more}


def messages_gone(page) -> None:
    """Toasts fade: wait until none is left, so that axe never reads one mid-fade."""
    page.wait_for_function("() => !document.querySelector('.el-message')", timeout=WAIT_MS)


def dialog_closed(page) -> None:
    page.wait_for_function(
        "() => ![...document.querySelectorAll('.el-overlay')].some(o => o.offsetParent)",
        timeout=WAIT_MS)


# another district admin (the same session here) publishes the current rules again as the
# next version, through the API, while this page has a draft open
ANOTHER_ADMIN = """async () => {
  const csrf = decodeURIComponent(document.cookie.split('; ')
    .find((c) => c.startsWith('gridgov_csrf=')).slice('gridgov_csrf='.length))
  const sets = await (await fetch('/api/dispatch/config/rule-sets')).json()
  const newest = Math.max(...sets.map((s) => s.version))
  const current = await (await fetch(`/api/dispatch/config/rule-sets/${newest}`)).json()
  const made = await fetch('/api/dispatch/config/rule-sets', { method: 'POST',
    headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': csrf },
    body: JSON.stringify({ description: 'another admin', rules: current.rules.rules }) })
  return made.status
}"""


def add_rule(page, sub_name: str, w: dict, keep: bool = True) -> None:
    page.locator("[data-test=rule-add]").click()
    page.wait_for_selector("#rule-category", state="visible", timeout=WAIT_MS)
    page.select_option("#rule-category", label=w["category"])
    page.select_option("#rule-sub", label=sub_name)
    page.select_option("#rule-level", label=w["level"])
    page.select_option("#rule-lead", label=w["lead"])
    page.fill("#rule-closing", w["closing"])
    page.fill("#rule-basis", w["basis"])
    if keep:
        page.locator("[data-test=rule-keep]").click()
        dialog_closed(page)


def publish(page, steps: list, w: dict, label: str) -> None:
    """发布为新版本, the confirmation read (with a note), confirmed."""
    page.locator("[data-test=rules-publish]").click()
    confirm = page.locator("[data-test=publish-confirm]")
    confirm.wait_for(timeout=WAIT_MS)
    page.fill("#publish-note", w["note"])
    steps.append(snapshot(page, label, confirm=confirm.inner_text()))
    page.locator("[data-test=publish-confirm-button]").click()
    dialog_closed(page)


def one_round(page, run: dict, steps: list, w: dict) -> None:
    """One language's round; ``w`` the words the person reads (and ``suffix`` its steps)."""
    tag = w["suffix"]
    page.locator("[data-test=master-part]").get_by_text(w["catalogue"], exact=True).click()
    page.locator("[data-test=catalogue] .el-table__body tr").first.wait_for(timeout=WAIT_MS)

    # a subcategory, added by name
    sub = run[f"sub_{tag}"]
    page.locator("[data-test=sub-add]").click()
    page.wait_for_selector("#sub-name-zh", state="visible", timeout=WAIT_MS)
    page.select_option("#sub-category", label=w["category"])
    page.fill("#sub-name-zh", sub["name_zh"])
    page.fill("#sub-name-en", sub["name_en"])
    page.select_option("#sub-info", label=w["info_class"])
    page.check("#sub-public")
    steps.append(snapshot(page, f"sub_form_{tag}", code=page.input_value("#sub-code")))
    page.locator("[data-test=sub-save]").click()
    if w.get("never_public"):  # the catalogue's rule, said beside the field; then corrected
        error = page.locator("[data-test=sub-form] .el-form-item__error").first
        error.wait_for(timeout=WAIT_MS)
        messages_gone(page)
        steps.append(snapshot(page, f"sub_refused_{tag}", error=error.inner_text()))
        page.uncheck("#sub-public")
        page.locator("[data-test=sub-save]").click()
    added = page.locator("[data-test=catalogue] .el-table__body tr", has_text=sub[w["name"]])
    added.wait_for(timeout=WAIT_MS)
    dialog_closed(page)
    messages_gone(page)
    steps.append(snapshot(page, f"sub_added_{tag}", row=added.inner_text()))

    # a department: a wrong duty line refused beside the field, then a right one
    dept = run[f"dept_{tag}"]
    page.locator("[data-test=master-part]").get_by_text(w["departments"], exact=True).click()
    page.locator(f"[data-test=dept-edit-{dept['code']}]").click()
    page.wait_for_selector("#dept-phone", state="visible", timeout=WAIT_MS)
    page.fill("#dept-phone", "12ab")
    page.locator("[data-test=dept-save]").click()
    error = page.locator("[data-test=dept-form] .el-form-item__error").first
    error.wait_for(timeout=WAIT_MS)
    messages_gone(page)
    steps.append(snapshot(page, f"dept_refused_{tag}", error=error.inner_text()))
    page.fill("#dept-phone", dept["phone"])
    page.locator("[data-test=dept-form] label", has_text=w["extra_category"]).locator(
        "input").check()
    page.locator("[data-test=dept-save]").click()
    row = page.locator("[data-test=departments] .el-table__body tr", has_text=dept["phone"])
    row.wait_for(timeout=WAIT_MS)
    dialog_closed(page)
    messages_gone(page)
    steps.append(snapshot(page, f"dept_saved_{tag}", row=row.inner_text()))

    # the triage rules: edit a copy, publish it as the next version
    page.locator("[data-test=master-part]").get_by_text(w["rules"], exact=True).click()
    page.locator("[data-test=rules-edit]").click()
    page.locator("[data-test=draft-rules] .el-table__body tr").first.wait_for(timeout=WAIT_MS)
    if w.get("change_rule"):
        page.get_by_role("button", name=f"{w['edit']} {w['change_rule']}").click()
        page.wait_for_selector("#rule-handle-amount", state="visible", timeout=WAIT_MS)
        page.fill("#rule-handle-amount", str(run["handle_days"]))
        page.press("#rule-handle-amount", "Tab")
        page.locator("[data-test=rule-assist] label", has_text=w["assist_add"]).locator(
            "input").check()
        steps.append(snapshot(page, f"rule_form_{tag}"))
        page.locator("[data-test=rule-keep]").click()
        dialog_closed(page)
    add_rule(page, sub[w["name"]], w)
    steps.append(snapshot(page, f"rules_draft_{tag}", rows=table_rows(page, "draft-rules")))
    if w.get("twice"):  # the same cases twice: said at the rule, by the other rule's name
        add_rule(page, sub[w["name"]], w, keep=False)
        page.locator("[data-test=rule-keep]").click()
        error = page.locator("[data-test=rule-form] .el-form-item__error").first
        error.wait_for(timeout=WAIT_MS)
        steps.append(snapshot(page, f"rule_twice_{tag}", error=error.inner_text()))
        page.get_by_role("dialog").get_by_role("button", name=w["cancel"]).click()
        dialog_closed(page)
    if w.get("someone_else"):  # another admin publishes meanwhile: refused, not overwritten
        status = page.evaluate(ANOTHER_ADMIN)
        assert status == 201, status
        publish(page, steps, w, f"publish_refused_{tag}")
        refused = page.locator("[data-test=draft-errors]")
        refused.wait_for(timeout=WAIT_MS)
        messages_gone(page)
        steps.append(snapshot(page, f"version_taken_{tag}", refused=refused.inner_text()))
        page.locator("[data-test=rules-discard]").click()
        page.locator("[data-test=rules-edit]").click()
        page.locator("[data-test=draft-rules] .el-table__body tr").first.wait_for(
            timeout=WAIT_MS)
        add_rule(page, sub[w["name"]], w)
    publish(page, steps, w, f"publish_confirm_{tag}")
    version = page.locator("[data-test=rule-set-version]", has_text=w["current"])
    version.wait_for(timeout=WAIT_MS)
    page.wait_for_function(
        f"() => document.querySelector('[data-test=rule-set-version]').innerText"
        f".includes({json.dumps(w['version_of'](run[f'version_{tag}']))})", timeout=WAIT_MS)
    dialog_closed(page)
    messages_gone(page)
    steps.append(snapshot(page, f"published_{tag}", version=version.inner_text(),
                          rows=table_rows(page, "rules"), sets=table_rows(page, "rule-sets")))


def master_data(page, context, run: dict, steps: list) -> None:
    page.goto(f"{run['base']}/desk/")
    page.wait_for_selector("#login", timeout=WAIT_MS)
    page.fill("#login", run["login"])
    page.fill("#password", run["password"])
    page.get_by_role("button", name="登录").click()
    page.locator("[data-test=tab-master-data]").click()
    page.locator("[data-test=catalogue] .el-table__body tr").first.wait_for(timeout=WAIT_MS)
    steps.append(snapshot(page, "catalogue_zh"))
    names = run["names"]
    one_round(page, run, steps, {
        "suffix": "zh", "name": "name_zh", "never_public": True, "twice": True, "cancel": "取消",
        "catalogue": "事项目录",
        "departments": "部门",
        "rules": "分拨规则", "category": "民生服务", "info_class": "城市管理",
        "extra_category": "重大事件报告", "edit": "修改", "change_rule": "楼道堆物堵塞消防通道",
        "assist_add": names["public_security"][0], "level": "镇（街道）",
        "lead": names["public_security"][0], "closing": "车辆清理归位，现场复核",
        "basis": "本区城镇社区网格化服务管理实施方案（试行） P5.3.2", "note": "共享单车纳入分拨",
        "current": "现行版本", "version_of": lambda v: f"版本 {v}"})
    page.get_by_role("button", name="English").click()
    page.get_by_role("heading", name="Master data").wait_for(timeout=WAIT_MS)
    one_round(page, run, steps, {
        "suffix": "en", "name": "name_en", "someone_else": True, "catalogue": "Events catalogue",
        "departments": "Departments", "rules": "Triage rules",
        "category": "Public-security prevention", "info_class": "Stability and governance",
        "extra_category": "Dispute mediation", "edit": "Edit",
        "level": "Community", "lead": names["civil_affairs"][1],
        "closing": "Dog owner spoken to; checked on the next patrol",
        "basis": "District dog-keeping regulations", "note": "Dogs off the lead routed",
        "current": "Current version", "version_of": lambda v: f"Version {v}"})


def main() -> int:
    run = json.loads(os.environ["GRIDGOV_APP_RUN"])
    seen = run_in_browser(master_data, run, locale="zh-CN",
                          viewport={"width": 1440, "height": 900})
    print(json.dumps(seen, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())

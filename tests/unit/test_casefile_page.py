"""The case file page as a person reads it (P5.3.4, issue 11): names, not codes; local time
to the minute; a timeline in words; every value escaped; codes where no name is known."""

from __future__ import annotations

import dataclasses
import html
import re
from datetime import UTC, datetime, timedelta

import pytest

from services.dispatch.domain.casefile import Entry, chain
from services.dispatch.domain.casefile_page import PageContext, render_page

T0 = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
SNAKE_CODE = re.compile(r"\b[a-z]+(?:_[a-z0-9]+)+\b")
ISO_INSTANT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")
SQUARE = {"type": "Polygon", "coordinates": [[[120.0, 31.0], [120.01, 31.0], [120.01, 31.01],
                                              [120.0, 31.01], [120.0, 31.0]]]}

CASE = {
    "case_number": "GS20261126-000042", "state": "closed",
    "work_category": "public_security_prevention", "subcategory": "fire_hazard_corridor",
    "severity": "major", "priority": "urgent", "handling_level": "town", "source": "app",
    "town_code": "320505001", "grid_code": "320505001001003", "reporter_sub": "gw-7",
    "reported_at": T0 - timedelta(minutes=3), "filed_at": T0,
    "resolved_at": T0 + timedelta(days=1), "closed_at": T0 + timedelta(days=2),
    "rework_count": 1, "satisfaction": 4, "description": "3幢楼道堆放杂物",
    "location": {"lon": 120.005, "lat": 31.005}, "photos": ["ab" * 32, "cd" * 32],
}

CONTEXT = PageContext(
    subcategory=("楼道堆物堵塞消防通道", "Stairwell or fire exit blocked"),
    departments={"fire": ("区消防救援大队", "Fire and Rescue Brigade"),
                 "emergency_management": ("区应急管理局", "Emergency Management Bureau")},
    place={"district_code": "320505", "district_name": "虎丘区",
           "town_code": "320505001", "town_name": "枫桥街道",
           "community_code": "320505001001", "community_name": "锦绣社区",
           "grid_code": "320505001001003", "grid_name": "锦绣三网格", "geometry": SQUARE},
    building={"address": "锦绣花园3幢", "lon": 120.005, "lat": 31.005},
    staff={"gw-7": {"name": "钱小红", "role": "neighbourhood_grid_worker"},
           "chief-1": {"name": "周建国", "role": "town_grid_chief"}},
    assignments=[
        {"department": "fire", "role": "lead", "ack_due_at": T0 + timedelta(hours=1),
         "acked_at": T0 + timedelta(minutes=40), "ack_on_time": True,
         "handle_due_at": T0 + timedelta(days=3), "reported_at": T0 + timedelta(days=1),
         "handle_on_time": True},
        {"department": "emergency_management", "role": "assist",
         "ack_due_at": T0 + timedelta(hours=1), "acked_at": T0 + timedelta(hours=2),
         "ack_on_time": False, "handle_due_at": T0 + timedelta(days=3), "reported_at": None,
         "handle_on_time": None}],
    photo_base="/api/events/")


def entries() -> list[Entry]:
    """One of each kind of step a case file holds."""
    return chain([
        Entry(1, T0, "system", "system", "filed", None, "filed", data={"source": "app"}),
        Entry(2, T0 + timedelta(minutes=5), "chief-1", "town_grid_chief", "dispatch",
              "filed", "dispatched", deadline=T0 + timedelta(hours=1),
              notifications=[{"channel": "amqp", "department": "fire", "role": "lead"}],
              data={"departments": ["fire", "emergency_management"]}),
        Entry(3, T0 + timedelta(minutes=40), "fire", "department", "ack", "dispatched",
              "in_progress", deadline=T0 + timedelta(hours=1), on_time=True,
              data={"department": "fire"}),
        Entry(4, T0 + timedelta(hours=2), "system", "system", "escalation",
              deadline=T0 + timedelta(hours=3),
              reason="区应急管理局未在签收时限内报到",
              notifications=[{"channel": "amqp", "to": "town_grid_chief@town:320505001"}],
              data={"kind": "ack_timeout", "card": "yellow", "target_role": "town_grid_chief",
                    "target_scope": "town:320505001"}),
        Entry(5, T0 + timedelta(hours=2, minutes=1), "notify", "notify", "notification_sent",
              data={"kind": "escalation", "channel": "sms",
                    "recipient": {"role": "town_grid_chief", "scope": "town:320505001"}}),
        Entry(6, T0 + timedelta(hours=5), "system", "system", "report_up",
              data={"from_level": "community", "to_level": "town"}),
        Entry(7, T0 + timedelta(days=1), "fire", "department", "department_result",
              "in_progress", "resolved", deadline=T0 + timedelta(days=3), on_time=False,
              data={"department": "fire", "note": "杂物已清理", "resolved": True}),
        Entry(8, T0 + timedelta(days=1, hours=1), "ops-1", "district_admin", "delay_granted",
              data={"department": "emergency_management",
                    "handle_due_at": "2026-12-01T02:00:00.000000Z"}),
        Entry(9, T0 + timedelta(days=2), "gw-7", "neighbourhood_grid_worker",
              "return_visit_satisfied", "resolved", "closed"),
    ])


def visible(page: str) -> str:
    text = re.sub(r"<(style|title)>.*?</\1>", " ", page, flags=re.S)
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", text))).strip()


@pytest.fixture
def zh() -> str:
    return render_page(CASE, entries(), CONTEXT)


def test_what_is_told_by_name(zh):
    text = visible(zh)
    for words in ("案件概况", "已结案", "社会治安防控 · 楼道堆物堵塞消防通道", "重大", "紧急",
                  "镇（街道）", "网格员上报", "3幢楼道堆放杂物", "4 / 5"):
        assert words in text, words
    assert "上报时间 2026-11-26 09:57" in text and "结案时间 2026-11-28 10:00" in text


def test_where_is_told_by_name_with_the_grid_drawn(zh):
    text = visible(zh)
    assert "区 虎丘区 镇（街道） 枫桥街道 社区 锦绣社区 网格 锦绣三网格 320505001001003" in text
    assert "地址 锦绣花园3幢" in text and "120.005000, 31.005000" in text
    svg = zh[zh.index("<svg"):zh.index("</svg>")]
    assert 'role="img"' in svg and "网格范围与案件位置" in svg
    assert svg.count("<polygon") == 1 and svg.count("<circle") == 1
    # the square is drawn north up, inside the frame, centred, a degree of longitude
    # cos(31°) of a degree of latitude wide, with the point in its middle
    assert 'points="52.9,190.0 207.1,190.0 207.1,10.0 52.9,10.0 52.9,190.0"' in svg
    assert 'cx="130.0" cy="100.0"' in svg


def test_who_is_told_by_name(zh):
    text = visible(zh)
    assert "上报人 钱小红（小区网格员）" in text
    assert ("区消防救援大队 主办 2026-11-26 11:00 2026-11-26 10:40 按时 2026-11-29 10:00 "
            "2026-11-27 10:00 按时") in text
    assert "区应急管理局 协办 2026-11-26 11:00 2026-11-26 12:00 超时 2026-11-29 10:00 未" in text


def test_photos_are_linked_through_events(zh):
    assert f'href="/api/events/photos/{"ab" * 32}">照片 1</a>' in zh
    assert f'href="/api/events/photos/{"cd" * 32}">照片 2</a>' in zh
    empty = render_page({**CASE, "photos": []}, entries(), CONTEXT)
    assert "无照片" in visible(empty)


def test_a_delivery_is_told_as_notify_records_it():
    """notify.sent names the recipient as a string (inbox:<role>@<scope>,
    subscription:<id>; gridgov_common/contract/notify.py): the page named it only in the
    {"role", "scope"} form and answered 500 for every case notify had told someone about
    (found by tests/compose on the real stack)."""
    told = [Entry(1, T0, "system", "system", "filed", None, "filed"),
            Entry(2, T0 + timedelta(minutes=1), "notify", "notify", "notification_sent",
                  data={"kind": "escalation", "channel": "sms",
                        "recipient": "inbox:town_grid_chief@town:320505001"}),
            Entry(3, T0 + timedelta(minutes=2), "notify", "notify", "notification_sent",
                  data={"kind": "escalation", "channel": "webhook",
                        "recipient": "subscription:12"})]
    lines = [visible(item) for item in render_page(CASE, chain(told), CONTEXT).split("<li>")[3:]]
    assert "消息服务：已发送通知（督办通知，短信，枫桥街道镇网格长）" in lines[1]
    assert "订阅 12" in lines[2]


def test_the_timeline_is_in_words(zh):
    lines = [visible(item) for item in zh.split("<li>")[3:]]  # after the two photos
    assert len(lines) == 9
    assert lines[0].startswith("2026-11-26 10:00 系统：立案，案件已立案")
    assert "周建国（镇网格长）：派遣（吹哨）（区消防救援大队（主办）、区应急管理局），案件已派遣" \
        in lines[1]
    assert "时限：2026-11-26 11:00" in lines[1]
    assert "已发送至 区消防救援大队 部门消息队列" in lines[1]
    assert "区消防救援大队：部门签收（报到），案件办理中" in lines[2] and "按时" in lines[2]
    assert "系统：督办（超时未签收，黄牌督办，送枫桥街道镇网格长）" in lines[3]
    assert "意见：区应急管理局未在签收时限内报到" in lines[3]
    assert "已通知枫桥街道镇网格长" in lines[3]
    assert "消息服务：已发送通知（督办通知，短信，枫桥街道镇网格长）" in lines[4]
    assert "上报（社区 → 镇（街道））" in lines[5]
    assert "部门办结（杂物已清理；已解决），案件已办结待回访" in lines[6]
    assert "超时" in lines[6] and "按时" not in lines[6]
    assert "同意延时（区应急管理局；新时限 2026-12-01 10:00）" in lines[7]
    assert "钱小红（小区网格员）：回访满意，结案，案件已结案" in lines[8]
    for n, (entry, line) in enumerate(zip(entries(), lines, strict=True), 1):
        assert line.endswith(f"#{n} {entry.hash[:12]}")


def test_the_chain_verdict_is_kept(zh):
    assert "案卷完整性校验通过（9 条记录）" in visible(zh)
    tampered = entries()
    tampered[2] = dataclasses.replace(tampered[2], on_time=False)
    assert "案卷校验失败：第 3 条起不可信" in visible(render_page(CASE, tampered, CONTEXT))


def test_no_code_and_no_iso_instant_is_shown(zh):
    en = render_page(CASE, entries(), CONTEXT, lang="en")
    for page in (zh, en):
        text = visible(page)
        assert not SNAKE_CODE.search(text), SNAKE_CODE.search(text).group(0)
        assert not ISO_INSTANT.search(text)


def test_english_page(zh):
    text = visible(render_page(CASE, entries(), CONTEXT, lang="en"))
    assert "电子" not in text and "Case file GS20261126-000042" in text
    for words in ("Public-security prevention · Stairwell or fire exit blocked",
                  "Reported by 钱小红 (Neighbourhood grid worker)",
                  "Fire and Rescue Brigade Lead", "Emergency Management Bureau Assisting",
                  "Escalated (Not reported in on time, Yellow card, to Town grid chief, 枫桥街道)",
                  "Hash chain verified (9 entries)", "not yet", "late", "on time"):
        assert words in text, words
    assert "Departments' result (杂物已清理; resolved); case Resolved" in text


def test_without_names_the_codes_show_as_codes():
    """A registry that did not answer: the page still prints, the codes in their place."""
    page = render_page(CASE, entries(), PageContext())
    text = visible(page)
    assert '<span class="code">fire</span>' in page
    assert "emergency_management" in text and "town_grid_chief" not in text  # roles named
    assert '<span class="code">320505001</span>' in page  # a scope without a name
    assert "<svg" not in page and "地址" not in text  # nothing to draw, no address
    assert "上报人 网格员上报" in text  # the source, when the reporter has no name
    assert "镇网格长 chief-1" in text  # the role, and the account beside it


def test_everything_from_data_is_escaped():
    nasty = "<img src=x onerror=1>"
    case = {**CASE, "description": nasty, "photos": ['"><script>']}
    context = dataclasses.replace(
        CONTEXT, departments={"fire": (nasty, nasty)}, building={"address": nasty},
        staff={"gw-7": {"name": nasty, "role": "x"}}, place={"grid_name": nasty})
    items = chain([Entry(1, T0, "fire", "department", "ack", reason=nasty,
                         data={"note": nasty}),
                   Entry(2, T0, nasty, nasty, nasty)])
    page = render_page(case, items, context)
    assert "<img" not in page and "<script>" not in page
    assert "&lt;img src=x onerror=1&gt;" in page


def test_languages_and_clock():
    with pytest.raises(ValueError):
        render_page(CASE, entries(), CONTEXT, lang="fr")
    utc = visible(render_page(CASE, entries(), CONTEXT, tz="UTC"))
    assert "上报时间 2026-11-26 01:57" in utc


def test_stored_rows_and_unknown_actions_are_shown():
    extra = Entry(10, T0 + timedelta(days=3), "ops-1", "district_admin", "archived_offsite")
    rows = [e.to_dict() for e in chain([*entries(), extra])]
    page = render_page({"case_number": "GS-1", "state": "odd"}, rows, CONTEXT)
    assert '<span class="code">archived_offsite</span>' in page
    assert "状态 odd" in visible(page)
    assert "案卷完整性校验通过（10 条记录）" in visible(page)


def test_the_map_draws_every_part_of_a_grid_and_only_a_drawable_one():
    """A grid in two parts (a MultiPolygon) is drawn whole; a geometry that is not an
    area draws nothing; without the case's own point the building's is used."""
    two = {"type": "MultiPolygon", "coordinates": [
        SQUARE["coordinates"],
        [[[120.02, 31.0], [120.03, 31.0], [120.03, 31.01], [120.02, 31.0]]]]}
    context = dataclasses.replace(CONTEXT, place={**CONTEXT.place, "geometry": two})
    page = render_page({**CASE, "location": None}, entries(), context)
    svg = page[page.index("<svg"):page.index("</svg>")]
    assert svg.count("<polygon") == 2 and svg.count("<circle") == 1  # the building's point
    assert "120.005000, 31.005000" in visible(page)
    line = dataclasses.replace(CONTEXT, place={**CONTEXT.place, "geometry": {
        "type": "LineString", "coordinates": [[120.0, 31.0], [120.01, 31.01]]}})
    assert "<svg" not in render_page(CASE, entries(), line)
    bare = dataclasses.replace(CONTEXT, building=None)
    nowhere = render_page({**CASE, "location": None}, entries(), bare)
    assert "<circle" not in nowhere and "WGS84" not in nowhere


def test_photo_links_and_labels_in_english():
    context = dataclasses.replace(CONTEXT, photo_base="https://gov.example/api/events//")
    page = render_page(CASE, entries(), context, lang="en")
    assert f'href="https://gov.example/api/events/photos/{"ab" * 32}">Photo 1</a>' in page
    text = visible(page)
    for words in ("State Closed", "Source Reported by a grid worker", "Closed 2026-11-28 10:00",
                  "Satisfaction 4 / 5", "Reworked 1", "Position 120.005000, 31.005000 (WGS84)"):
        assert words in text, words


def test_a_scope_is_named_only_when_it_is_the_cases_own_place():
    """Escalations name whom they went to by place; a scope elsewhere stays a code."""
    elsewhere = chain([Entry(1, T0, "system", "system", "escalation", data={
        "kind": "overdue", "target_role": "district_admin", "target_scope": "district:320506"})])
    page = render_page(CASE, elsewhere, CONTEXT)
    assert '<span class="code">320506</span>网格化服务管理中心' in page
    own = chain([Entry(1, T0, "system", "system", "escalation", data={
        "kind": "overdue", "target_role": "district_admin", "target_scope": "district:320505"})])
    assert "虎丘区网格化服务管理中心" in visible(render_page(CASE, own, CONTEXT))


def test_a_tall_or_wide_grid_stays_inside_the_frame():
    """Screenshot finding: a grid taller than wide was drawn past the top of the frame."""
    for w, h in ((0.01, 0.05), (0.05, 0.01)):
        shape = {"type": "Polygon", "coordinates": [[[120.0, 31.0], [120.0 + w, 31.0],
                                                      [120.0 + w, 31.0 + h], [120.0, 31.0]]]}
        context = dataclasses.replace(CONTEXT, place={**CONTEXT.place, "geometry": shape})
        page = render_page({**CASE, "location": {"lon": 120.0 + w / 2, "lat": 31.0 + h / 2}},
                           entries(), context)
        svg = page[page.index("<polygon"):page.index("</svg>")]
        drawn = " ".join(re.findall(r'(?:points|cx|cy)="([^"]+)"', svg))
        numbers = [float(n) for n in re.findall(r"-?\d+\.\d", drawn)]
        assert numbers and all(10.0 <= n <= 250.0 for n in numbers), (w, h, numbers)

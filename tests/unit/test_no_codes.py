"""Issue 11, "done when": every person-facing output, rendered in zh-CN and in en, shows
names — no raw snake_case code and no ISO instant in what a person reads.

One place that renders each output from what its producer really sends: notifications
(every template, through the causes that build their parameters from the bus samples), the
case file page, a circular, the half-year assessment, the grid's notice board, the public
status notes of Open311, and the code names the dashboard loads. The browser-level checks of
the live dashboard feed and the flows across real services are in
tests/assessment_dashboard/test_dashboard_browser.py and tests/flow/test_case_file_page.py.
"""

from __future__ import annotations

import html
import json
import re

import pytest

from gridgov_common.contract.envelope import load_sample, parse_envelope
from services.assessment import circular_doc, tabular
from services.assessment.dashboard.page import labels_script
from services.dispatch.domain.casefile_page import render_page
from services.events.domain import status_notes
from services.notify.domain import causes, templates
from services.registry import noticeboard
from tests.unit.test_casefile_page import CASE, CONTEXT, entries
from tests.unit.test_notify_templates import PRODUCED

SNAKE_CODE = re.compile(r"\b[a-z]+(?:_[a-z0-9]+)+\b")  # public_security, water_affairs …
ISO_INSTANT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")
LOCALES = ("zh-CN", "en")


def visible(page: str) -> str:
    """What a reader sees of an HTML page: no style, title or tags, entities decoded."""
    text = re.sub(r"<(style|script)[^>]*>.*?</\1>", " ", page, flags=re.S)
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", text)))


def assert_named(text: str, what: str) -> None:
    code, instant = SNAKE_CODE.search(text), ISO_INSTANT.search(text)
    assert code is None, f"{what} shows the code {code.group(0)!r}: {text[:300]}"
    assert instant is None, f"{what} shows an ISO instant {instant.group(0)!r}"


def _from_bus() -> dict[str, tuple]:
    """Notifications whose parameters notify builds itself, from the bus samples."""
    return {
        "major_event": (causes.from_alert, ("alert.major_event", 1)),
        "meeting_due": (causes.from_meeting_reminder, ("assessment.meeting.reminder", 1)),
        "circular_published": (causes.from_circular, ("assessment.circular.published", 1)),
        "escalation": (causes.from_escalation, ("dispatch.escalation", 1)),
    }


@pytest.mark.parametrize("locale", LOCALES)
def test_every_notification(locale):
    rendered = set()
    for template, (build, (kind, version)) in _from_bus().items():
        request = build(parse_envelope(load_sample(kind, version)), locale)
        assert request.template == template
        params = {**request.params, "names": {"department": {"zh-CN": "区应急管理局",
                                                            "en": "Emergency Management"}}}
        assert_named("\n".join(templates.render(template, locale, params)), template)
        rendered.add(template)
    by_hand = parse_envelope(load_sample("dispatch.escalation", 1))  # a card issued by hand
    by_hand.payload["kind"] = "manual"
    request = causes.from_escalation(by_hand, locale)
    assert request.template == "escalation_manual"
    assert_named("\n".join(templates.render(request.template, locale, request.params)),
                 request.template)
    rendered.add(request.template)
    for template, params in PRODUCED.items():  # what dispatch's notices and digests send
        assert_named("\n".join(templates.render(template, locale, params)), template)
        rendered.add(template)
    people = {"meeting_reminder", "circular", "daily_digest"}  # free text from their senders
    assert rendered | people == set(templates.TEMPLATES)


@pytest.mark.parametrize("locale", LOCALES)
def test_the_case_file_page(locale):
    assert_named(visible(render_page(CASE, entries(), CONTEXT, lang=locale)), "case file")


@pytest.mark.parametrize("locale", LOCALES)
def test_a_circular(locale):
    content = {"as_of": "2026-11-29T00:00:00.000000+00:00",
               "card_rules": [{"card": "red", "overdue_at_least": 3},
                              {"card": "yellow", "on_time_rate_below": 0.8}],
               "summary": {"dispatched": 5, "closed": 3, "overdue_open": 1},
               "departments": [{"rank": 1, "code": "emergency_management", "dispatched": 5,
                                "card": "yellow"}],
               "towns": [{"rank": 1, "code": "320505001", "dispatched": 5}],
               "overdue": [{"case_number": "GS20261120-000007",
                            "department": "emergency_management", "town_code": "320505001",
                            "due_at": "2026-11-25T09:30:00+00:00", "days_overdue": 3}],
               "names": {"departments": {"emergency_management": {
                   "zh-CN": "区应急管理局", "en": "Emergency Management Bureau"}},
                   "towns": {"320505001": "枫桥街道"}, "districts": {"320505": "虎丘区"}}}
    circular = {"kind": "weekly", "period": "2026-W48", "period_start": "2026-11-23",
                "period_end": "2026-11-29", "scope": "district:320505", "version": 1,
                "generated_by": "schedule", "content": content,
                "issuer": "虎丘区网格化服务管理中心", "document_number": "虎网格通〔2026〕48号"}
    page = tabular.to_html(circular_doc.document(circular, locale))
    text = visible(page)
    assert_named(text, "circular")
    assert "2026-11-29 08:00" in text and "2026-11-25 17:30" in text  # local, to the minute


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_notice_board(lang):
    grid = {"grid_code": "320505001001003", "name": "锦绣三网格",
            "community_code": "320505001001", "supervision_phone": "0512-12345"}
    staff = [{"role": "neighbourhood_grid_worker", "name": "钱小红", "work_phone": "0512-1",
              "duties": "3幢—5幢"}, {"role": "grid_instructor", "name": "周指导"}]
    place = {"community_name": "锦绣社区", "town_name": "枫桥街道"}
    assert_named(visible(noticeboard.render(grid, staff, None, lang, place)), "notice board")


@pytest.mark.parametrize("locale", LOCALES)
def test_public_status_notes(locale):
    for state in status_notes.NOTES:
        assert_named(status_notes.note(state, False, locale) or "", f"status note {state}")
        assert "P5" not in (status_notes.note(state, False, locale) or "")  # no clauses
    assert_named(status_notes.note("closed", True, locale) or "", "on-the-spot note")


def test_the_names_the_dashboard_loads_are_names():
    script = labels_script().decode()
    tables = json.loads(script[script.index("=") + 1:].strip().rstrip(";"))
    for lang, by_table in tables.items():
        for table, names in by_table.items():
            for code, name in names.items():
                assert name != code and not SNAKE_CODE.search(name), (lang, table, code)

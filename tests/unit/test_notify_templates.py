"""Templates render in zh-CN and en; a request that cannot render is refused up front."""

from __future__ import annotations

import re

import pytest

from services.notify.channels import sign, verify
from services.notify.domain import templates

ESCALATION = {"case_number": "GS20261128-000123", "kind": "ack_timeout", "card": "yellow",
              "level": 2, "reason": "消防部门超过1小时未签收", "department": "fire",
              "at": "2026-11-28T03:16:00.000Z"}


def test_escalation_renders_in_chinese_with_translated_labels():
    title, body = templates.render("escalation", "zh-CN", ESCALATION)
    assert title == "督办黄牌：GS20261128-000123"
    assert body == ("案件 GS20261128-000123超时未签收，已升级至第 2 级。"
                    "原因：消防部门超过1小时未签收")


def test_escalation_renders_in_english_with_translated_labels():
    title, body = templates.render("escalation", "en", ESCALATION)
    assert title == "Supervision yellow card: GS20261128-000123"
    assert "not acknowledged in time; escalated to level 2" in body


def test_every_template_has_both_locales_with_the_same_placeholders():
    for name, by_locale in templates.TEMPLATES.items():
        assert set(by_locale) == set(templates.LOCALES), name
        zh, en = (templates.placeholders(" ".join(by_locale[loc])) for loc in templates.LOCALES)
        assert zh == en, name


def test_a_missing_parameter_is_named():
    with pytest.raises(templates.TemplateError) as info:
        templates.check("deadline_reminder", {"case_number": "GS1"})
    assert info.value.code == "missing_params"
    assert info.value.fields == {"missing": ["due_at"]}


def test_an_unknown_template_is_refused():
    with pytest.raises(templates.TemplateError) as info:
        templates.render("birthday", "en", {})
    assert info.value.code == "unknown_template"


def test_webhook_signature_verifies_only_the_exact_body():
    body = b'{"title":"x"}'
    header = sign("s3cret-s3cret-s3cret", body)
    assert header.startswith("sha256=")
    assert verify("s3cret-s3cret-s3cret", body, header)
    assert not verify("s3cret-s3cret-s3cret", body + b" ", header)
    assert not verify("another-secret-value", body, header)


def test_a_department_is_named_in_the_readers_language_and_by_code_until_known():
    """Issue 11: people read 消防 / Fire and Rescue, not ``fire`` (the register's names,
    added on acceptance as ``names``); a department notify has not heard of stays a code."""
    params = {"case_number": "GS20261205-000001", "department": "fire",
              "ack_due_at": "2026-12-05 16:00",
              "names": {"department": {"zh-CN": "消防", "en": "Fire and Rescue"}}}
    assert "已交办给消防，" in templates.render("assignment", "zh-CN", params)[1]
    assert "assigned to Fire and Rescue;" in templates.render("assignment", "en", params)[1]
    unknown = {**params, "department": "water_affairs", "names": {}}
    assert "已交办给water_affairs，" in templates.render("assignment", "zh-CN", unknown)[1]
    without = {k: v for k, v in params.items() if k != "names"}
    assert "assigned to fire;" in templates.render("assignment", "en", without)[1]


SNAKE_CODE = re.compile(r"\b[a-z]+(?:_[a-z0-9]+)+\b")  # public_security, water_affairs …
ISO_INSTANT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")

# what the producers send (dispatch's notices and digests, notify's own escalation cause),
# with the register's names notify adds on acceptance (accepting.with_names)
PRODUCED = {
    "assignment": {"case_number": "GS20261205-000001", "department": "public_security",
                   "ack_due_at": "2026-12-05 16:00",
                   "names": {"department": {"zh-CN": "公安", "en": "Public Security"}}},
    "escalation": {**ESCALATION, "kind": "overdue", "card": "red",
                   "department": "emergency_management", "reason": "超期未办结"},
    "deadline_reminder": {"case_number": "GS20261205-000001", "due_at": "2026-12-08 17:30"},
    "return_visit": {"case_number": "GS20261205-000001", "due_at": "2026-12-09 12:00"},
    "open_cases_digest": {"day": "2026-12-05", "recipient": "320505001",
                          "recipient_name": "枫桥街道", "open": 2, "overdue": 1,
                          "listed": 2, "lines": "! GS20261205-000001  130%  12-04 17:30"},
    "calendar_notice_missing": {"year": 2027},
}


@pytest.mark.parametrize("locale", ["zh-CN", "en"])
def test_person_facing_messages_show_names_not_codes(locale):
    """Issue 11: what people read names departments and towns, never a snake_case code
    or an ISO timestamp. Covers the messages this platform's services send about cases;
    the dashboard feed and the case file are not covered yet (docs/NOTIFY.md)."""
    for template, params in PRODUCED.items():
        title, body = templates.render(template, locale, params)
        text = f"{title}\n{body}"
        assert not SNAKE_CODE.search(text), (template, text)
        assert not ISO_INSTANT.search(text), (template, text)
    zh_digest = templates.render("open_cases_digest", "zh-CN", PRODUCED["open_cases_digest"])
    assert zh_digest[1].startswith("枫桥街道的未办结案件")

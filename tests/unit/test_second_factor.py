"""The pure rules of the SMS second factor (issue 12): who is asked, the code and its
hash, the verdict on a typed code, the resend wait; and the SMS text notify sends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.notify import sign_in_codes
from services.registry.domain import second_factor as factor

NOW = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)


def pending(code="042917", ticket="t" * 43, attempts=0, ttl=300) -> factor.Pending:
    return factor.Pending(factor.code_hash(ticket, code), NOW + timedelta(seconds=ttl),
                          attempts)


@pytest.mark.parametrize(("role", "asked"), [
    ("district_admin", True), ("town_grid_chief", True), ("community_grid_chief", True),
    ("grid_instructor", False), ("community_grid_worker", False),
    ("neighbourhood_grid_worker", False), ("department_officer", False),
    ("ops_viewer", False)])
def test_only_the_staff_managers_are_asked_and_only_when_on(role, asked):
    assert factor.needs_second_factor(role, True) is asked
    assert factor.needs_second_factor(role, False) is False


def test_codes_are_six_digits_and_kept_only_keyed_by_the_ticket():
    codes = {factor.new_code() for _ in range(200)}
    assert all(factor.is_well_formed(c) for c in codes) and len(codes) > 150
    ticket = factor.new_ticket()
    assert len(ticket) >= 40 and factor.ticket_hash(ticket) != ticket
    assert factor.code_hash(ticket, "042917") != factor.code_hash("other", "042917")
    assert "042917" not in factor.code_hash(ticket, "042917")
    assert not factor.is_well_formed("12345") and not factor.is_well_formed("１２３４５６")


def test_the_verdict_on_a_typed_code():
    ticket = "t" * 43
    judge = factor.judge
    assert judge(pending(), ticket, "042917", NOW, 3) == factor.Verdict.ACCEPTED
    assert judge(pending(), ticket, "042918", NOW, 3) == factor.Verdict.WRONG
    assert judge(pending(), "u" * 43, "042917", NOW, 3) == factor.Verdict.WRONG
    assert judge(pending(), ticket, "04291", NOW, 3) == factor.Verdict.WRONG
    assert judge(pending(attempts=3), ticket, "042917", NOW, 3) == factor.Verdict.SPENT
    late = NOW + timedelta(seconds=300)
    assert judge(pending(), ticket, "042917", late, 3) == factor.Verdict.EXPIRED
    assert judge(pending(), ticket, "042917", late - timedelta(seconds=1), 3) == \
        factor.Verdict.ACCEPTED


def test_the_resend_wait():
    minute = timedelta(seconds=60)
    assert factor.resend_wait(None, NOW, minute) == 0
    assert factor.resend_wait(NOW - timedelta(seconds=20), NOW, minute) == 40
    assert factor.resend_wait(NOW - timedelta(seconds=61), NOW, minute) == 0


def test_the_sms_text_is_chinese_first_and_carries_the_code():
    title, body = sign_in_codes.text("042917", "zh-CN")
    assert title == "登录验证码" and "042917" in body and "请勿告诉他人" in body
    assert sign_in_codes.text("042917", "fr") == (title, body)
    title, body = sign_in_codes.text("042917", "en")
    assert title == "Sign-in code" and "042917" in body


def test_settings_of_the_second_factor():
    from services.registry.accounts import Settings

    assert Settings.from_config({}).second_factor is False
    on = Settings.from_config({"AUTH_SECOND_FACTOR": "on", "AUTH_CODE_TTL_SECONDS": "120",
                               "AUTH_CODE_MAX_ATTEMPTS": "5", "AUTH_CODE_RESEND_SECONDS": "30"})
    assert (on.second_factor, on.code_ttl, on.code_max_attempts, on.code_resend) == (
        True, 120, 5, 30)
    with pytest.raises(RuntimeError, match="AUTH_SECOND_FACTOR"):
        Settings.from_config({"AUTH_SECOND_FACTOR": "maybe"})
    with pytest.raises(RuntimeError, match="AUTH_CODE_TTL_SECONDS"):
        Settings.from_config({"AUTH_CODE_TTL_SECONDS": "0"})

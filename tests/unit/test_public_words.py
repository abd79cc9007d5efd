"""What the public reads: the language it asked for, and words, not codes (issue 11)."""

from __future__ import annotations

import re

import pytest

from gridgov_common.kernel.languages import negotiate
from services.events.domain import status_notes


@pytest.mark.parametrize(("header", "expected"), [
    (None, "zh-CN"), ("", "zh-CN"), ("zh-CN,zh;q=0.9,en;q=0.8", "zh-CN"), ("zh-Hans", "zh-CN"),
    ("en", "en"), ("en-GB,en;q=0.9", "en"), ("fr-FR,en;q=0.5", "en"), ("fr, de", "zh-CN"),
    ("en;q=0.2, zh;q=0.8", "zh-CN"), ("zh;q=0, en", "en"), ("*", "zh-CN"),
    ("en;q=oops, zh", "zh-CN"), ("EN-us", "en"), ("zh;q=0.5, en;q=0.5", "zh-CN"),
])
def test_the_language_asked_for(header, expected):
    assert negotiate(header) == expected


CODE = re.compile(r"[a-z]+_[a-z_]+|\bP\d+(\.\d+)+|[A-Z]\d\.\d")


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_every_status_note_is_words_in_the_language(lang):
    notes = [status_notes.note(state, False, lang) for state in status_notes.NOTES]
    notes.append(status_notes.note(None, True, lang))
    for text in notes:
        assert text and not CODE.search(text), text
        chinese = bool(re.search(r"[\u4e00-\u9fff]", text))
        assert chinese is (lang == "zh-CN"), text
    assert len(set(notes)) == len(notes)  # each stage says something of its own


def test_the_on_the_spot_note_holds_from_report_to_close():
    for state in (None, "filed", "closed"):
        assert status_notes.note(state, True) == "网格员已现场处置完毕"
    assert status_notes.note("dispatched", True) == status_notes.NOTES["dispatched"][0]
    assert status_notes.note(None, False) is None
    assert status_notes.note("no_such_state", False, "en") is None


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_a_merged_duplicate_names_the_request_it_was_merged_into(lang):
    """P5.3.1/P5.3.3 (issue 11 M9): the reporter of a confirmed duplicate reads, in words,
    which request theirs was merged into and that it finished with it."""
    number = "GS20261128-000123"
    notes = {state: status_notes.note(state, False, lang, merged_into=number)
             for state in ("merged", "closed", "cancelled")}
    for text in notes.values():
        assert number in text
        assert not CODE.search(text.replace(number, "")), text
        assert bool(re.search(r"[\u4e00-\u9fff]", text)) is (lang == "zh-CN"), text
    assert len(set(notes.values())) == 3
    # without a confirmed link, or in a working state, the usual notes stand
    assert status_notes.note("closed", False, lang) == status_notes.NOTES["closed"][
        lang == "en"]
    assert status_notes.note("dispatched", False, lang, merged_into=number) == \
        status_notes.NOTES["dispatched"][lang == "en"]

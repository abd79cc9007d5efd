"""The half-year assessment as people read it (P5.4.6, issue 11), without services: every
indicator and role has words in both languages, grades read in words (the scheme's own
first), times are local to the minute, a report whose names or scheme are missing still
renders (codes instead of names), and the names cache asks the registry once."""

from __future__ import annotations

import re

import pytest

from gridgov_common.contract import labels
from gridgov_common.kernel.errors import ServiceUnavailable
from gridgov_common.kernel.roles import GRID_ROLES
from services.assessment import appraisal_doc, appraisal_names, appraisal_scheme, tabular
from services.assessment.domain import scoring

SNAKE_CODE = re.compile(r"\b[a-z]+(?:_[a-z0-9]+)+\b")
ISO_INSTANT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:")


def _row(code: str, **extra) -> dict:
    indicators = [{"key": i["key"], "status": "ok", "raw": 0.9, "points": 80.0,
                   "weight": i["weight"], "weighted": None}
                  for i in scoring.DEFAULT_SCHEME["kinds"]["grid_worker"]]
    return {"subject_kind": "grid_worker", "code": code, "role": "community_grid_worker",
            "scope_code": "320505001001", "town_code": "320505001",
            "case_grids": ["320505001001001", "320505001001002"], "indicators": indicators,
            "coverage": 1.0, "score": 80.0, "grade": "B", "missing": [], "complete": True,
            "flagged": False, **extra}


def _report(rows: list[dict], scheme: dict | None = None, **extra) -> dict:
    return {"report_id": "r", "half_year": "2026H2", "scope": "district:320505",
            "version": 1, "scheme_version": 1, "state": "draft",
            "period_start": "2026-07-01", "period_end": "2026-12-31",
            "created_at": "2026-12-02T16:30:59.123456+00:00", "published_at": None,
            "content": {"as_of": "2026-12-01", "working_days": 100,
                        "scheme": scoring.DEFAULT_SCHEME if scheme is None
                        else scheme, "rows": rows}, **extra}


def test_every_indicator_and_role_has_words_in_both_languages():
    keys = {k for keys in scoring.INDICATORS.values() for k in keys}
    assert keys <= set(appraisal_doc.INDICATORS)
    for lang in appraisal_doc.LANGS:
        for role in GRID_ROLES:  # the platform's words (gridgov_common/contract/labels.py)
            assert labels.label("role", role, lang) != str(role)
        for key in keys:
            assert not SNAKE_CODE.search(appraisal_doc.indicator_label(key, lang))


def test_times_are_local_to_the_minute():
    assert appraisal_doc.local_time("2026-12-02T16:30:59.123456+00:00") == "2026-12-03 00:30"
    assert appraisal_doc.half_year_words("2026H2", "zh-CN") == "2026年下半年"
    assert appraisal_doc.half_year_words("2026H1", "en") == "first half of 2026"


def test_grades_in_words_the_schemes_own_first():
    scheme = {"grades": [{"grade": "A", "min": 60, "max": 100, "name_zh": "称职",
                          "name_en": "Competent"},
                         {"grade": "F", "min": 0, "max": 60}]}
    assert appraisal_doc.grade_words("A", scheme, "zh-CN") == "称职（A）"
    assert appraisal_doc.grade_words("A", scheme, "en") == "Competent (A)"
    assert appraisal_doc.grade_words("F", scheme, "zh-CN") == "F"  # no word: the letter
    default = scoring.DEFAULT_SCHEME
    assert [appraisal_doc.grade_words(g, default, "zh-CN") for g in "ABCDE"] == [
        "优秀（A）", "良好（B）", "合格（C）", "基本合格（D）", "不合格（E）"]
    assert appraisal_doc.grade_words(None, default, "en") == ""


def test_band_names_pass_scheme_validation():
    body = {**scoring.DEFAULT_SCHEME, "grades": [
        {**b, "name_zh": w} for b, w in zip(scoring.DEFAULT_SCHEME["grades"],
                                            ("优秀", "良好", "合格", "基本合格", "不合格"),
                                            strict=True)]}
    assert appraisal_scheme.check(body)["grades"][3]["name_zh"] == "基本合格"


@pytest.mark.parametrize("lang", appraisal_doc.LANGS)
def test_a_district_report_names_everything_and_shows_no_code(lang):
    names = {"districts": {"320505": "姑苏区"}, "towns": {"320505001": "枫桥街道"},
             "communities": {"320505001001": "锦绣社区"},
             "grids": {"320505001001001": "锦绣一网格", "320505001001002": "锦绣二网格"},
             "staff": {"cw-1": "丁一"}}
    doc = appraisal_doc.document(_report([_row("cw-1"), _row("cw-2", score=None,
                                                             grade=None, coverage=0.3)]),
                                 names, lang)
    staff = doc.tables[0]
    assert [c.label for c in staff.columns][:5] == (
        ["姓名", "职务", "镇（街道）", "社区", "网格"] if lang == "zh-CN"
        else ["Name", "Role", "Town", "Community", "Grid"])
    first = staff.rows[0]
    assert (first["name"], first["town"], first["community"]) == ("丁一", "枫桥街道",
                                                                  "锦绣社区")
    assert first["grid"] in ("锦绣一网格、锦绣二网格", "锦绣一网格, 锦绣二网格")
    assert staff.rows[1]["name"] == "cw-2"  # the registry had no name: the subject
    assert staff.rows[1]["total"] is None and staff.rows[1]["remarks"]
    page = tabular.to_html(doc)
    assert ("2026年下半年" if lang == "zh-CN" else "second half of 2026") in page
    assert "2026-12-03 00:30" in page  # made at 00:30 Shanghai time
    assert not SNAKE_CODE.search(page.split("</style>")[1])
    assert not ISO_INSTANT.search(page)


def test_a_report_without_names_or_full_scheme_still_renders():
    """Reports stored before issue 11, or by hand (tests/authz/test_districts.py): codes
    instead of names, the rows' own indicators, an unknown grade as it is."""
    row = {"code": "worker-b", "subject_kind": "grid_worker", "role":
           "neighbourhood_grid_worker", "scope_code": "110105001001001", "town_code":
           "110105001", "score": 41.5, "grade": "poor", "flagged": True, "coverage": 1.0,
           "indicators": []}
    doc = appraisal_doc.document(_report([row], scheme={"flag_grades": ["poor"]},
                                         scope="district:110105"), None, "zh-CN")
    assert doc.title == "2026年下半年网格工作考核结果（草稿）"
    cells = doc.tables[0].rows[0]
    assert (cells["name"], cells["grid"], cells["grade"]) == ("worker-b", "110105001001001",
                                                              "poor")
    assert "110105" in dict(doc.meta)["考核范围"]
    tabular.to_html(doc), tabular.to_csv(doc), tabular.to_xlsx(doc)


def test_long_layout_is_the_first_exports_format():
    doc = appraisal_doc.long_document(_report([_row("cw-1")]))
    assert [c.key for c in doc.tables[0].columns][:5] == [
        "subject_kind", "code", "role", "town_code", "indicator"]
    assert len(doc.tables[0].rows) == 8


class _Rpc:
    def __init__(self, down: bool = False) -> None:
        self.calls: list[tuple] = []
        self.down = down

    def call(self, method, *args):
        self.calls.append((method, *args))
        if self.down:
            raise ServiceUnavailable("registry is not running", code="registry_unavailable")
        return {"place_names": {"towns": {"320505001": "枫桥街道"}, "communities": {},
                                "districts": {}, "grids": {}},
                "list_departments": [{"code": "fire", "name_zh": "消防", "name_en": "Fire"}],
                "staff_names": {"w1": "钱小红"}}[method]


def test_names_are_asked_once_and_a_silent_registry_costs_only_the_names():
    appraisal_names.forget()
    rpc = _Rpc()
    client = appraisal_names.NamesClient(rpc)
    first = client.for_report("town:320505001", ["w1", "w2"], "2026-06-30")
    assert first["staff"] == {"w1": "钱小红"} and first["towns"] == {"320505001": "枫桥街道"}
    assert first["departments"] == {"fire": {"zh-CN": "消防", "en": "Fire"}}
    assert client.for_report("town:320505001", ["w1", "w2"], "2026-06-30") == first
    assert [c[0] for c in rpc.calls] == ["place_names", "list_departments", "staff_names"]
    assert rpc.calls[0] == ("place_names", "320505001", True, "2026-06-30")  # names that day
    client.for_report("town:320505001", ["w1", "w2"], "2026-12-31")  # another day: asked
    assert rpc.calls[-1] == ("place_names", "320505001", True, "2026-12-31")
    appraisal_names.forget()
    down = _Rpc(down=True)
    names = appraisal_names.NamesClient(down).for_report("town:320505001", ["w1"])
    assert not any(names.values())
    appraisal_names.NamesClient(down).for_report("town:320505001", ["w1"])
    assert len(down.calls) == 3  # not asked again within the minute
    appraisal_names.forget()

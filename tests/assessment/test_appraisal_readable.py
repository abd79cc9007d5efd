"""The half-year assessment as people print and file it (P5.4.6; issue 11 "people read names,
not codes"): ``GET /appraisals/<id>.html`` and the wide CSV/XLSX in zh-CN and en, on the REAL
dispatch and assessment services, PostgreSQL and RabbitMQ, with the hand-built half-year of
appraisal_cases.py and the scheme of test_appraisal.py (w1 A, w2 E flagged, chief D flagged,
w3 incomplete).

The registry here is a small service on the same broker answering the three RPCs the
assessment asks (``place_names``, ``list_departments``, ``staff_names``) with the
registry's answer shapes; tests/registry checks the real ones. One person's name is hostile
(markup and a spreadsheet formula): it must come out escaped and neutralised.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import sys
from html.parser import HTMLParser
from pathlib import Path

import openpyxl
import pytest
import sqlalchemy as sa
from eventlet.green import subprocess
from nameko.rpc import rpc

from services.assessment import appraisal_names
from tests.assessment.appraisal_cases import (  # noqa: F401  (fixtures, used by name)
    ADMIN,
    C2,
    G1,
    G2,
    HALF,
    TOWN_CHIEF,
    C,
    T,
    appraisal_services,
    half_year,
)
from tests.assessment.test_appraisal import prepared  # noqa: F401  (fixture)
from tests.html_headers import assert_html_security_headers

ROOT = Path(__file__).resolve().parents[2]

HOSTILE = '<script>alert(1)</script>&"王'
FORMULA = '=HYPERLINK("http://x","y")'
NAMES = {"w1": "钱小红", "w2": HOSTILE, "chief": FORMULA, "w3": "孙三"}
PLACES = {"districts": {"320505": "姑苏区"}, "towns": {T: "枫桥街道"},
          "communities": {C: "锦绣社区", C2: "和平社区"},
          "grids": {G1: "锦绣一网格", G2: "锦绣二网格"}}
# issue 11: what people read has no snake_case code and no ISO instant
SNAKE_CODE = re.compile(r"\b[a-z]+(?:_[a-z0-9]+)+\b")
ISO_INSTANT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:")


class NamingRegistry:
    """The registry's name RPCs, as the real one answers them (tests/registry)."""

    name = "registry"
    asked: list[tuple] = []
    days: list[str | None] = []  # the day each place_names call asked the names of

    @rpc
    def place_names(self, scope_code, grids=False, on=None):
        NamingRegistry.asked.append(("place_names", scope_code, grids))
        NamingRegistry.days.append(on)
        found = {part: {c: n for c, n in names.items() if c.startswith(scope_code)}
                 for part, names in PLACES.items()}
        return found if grids else {k: v for k, v in found.items() if k != "grids"}

    @rpc
    def list_departments(self):
        return [{"code": "fire", "name_zh": "消防救援大队", "name_en": "Fire and Rescue",
                 "unit": "fire", "work_categories": ["fire_safety"], "active": True}]

    @rpc
    def staff_names(self, subjects):
        NamingRegistry.asked.append(("staff_names", tuple(subjects)))
        return {s: NAMES[s] for s in subjects if s in NAMES}


@pytest.fixture
def registry_names(container_factory, rabbit_config):
    NamingRegistry.asked, NamingRegistry.days = [], []
    container_factory(NamingRegistry, dict(rabbit_config)).start()
    return NamingRegistry


@pytest.fixture
def http(appraisal_services):  # noqa: F811
    """The assessment service's HTTP session (dispatch runs beside it)."""
    return appraisal_services


@pytest.fixture
def named_report(registry_names, prepared, token):  # noqa: F811
    response = prepared.post("/appraisals", json={"half_year": HALF},
                             headers=token(*TOWN_CHIEF, sub="town-1"))
    assert response.status_code == 201, response.text
    return response.json()


class _Text(HTMLParser):
    """The text a reader sees (no <style>, no tags), and the tables' header cells."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self.headers: list[str] = []
        self._skip = self._in_th = False

    def handle_starttag(self, tag, attrs):
        self._skip = tag in ("style", "script")
        self._in_th = tag == "th"
        if tag == "th":
            self.headers.append("")

    def handle_endtag(self, tag):
        self._skip = self._in_th = False

    def handle_data(self, data):
        if not self._skip:
            self.parts.append(data)
            if self._in_th:
                self.headers[-1] += data


def visible(page: str) -> tuple[str, list[str]]:
    parser = _Text()
    parser.feed(page)
    return "\n".join(parser.parts), parser.headers


def assert_no_codes(text: str) -> None:
    assert not SNAKE_CODE.findall(text), SNAKE_CODE.findall(text)
    assert not ISO_INSTANT.search(text), ISO_INSTANT.search(text)


def csv_rows(content: bytes) -> list[list[str]]:
    assert content.startswith("\ufeff".encode())  # Excel reads the BOM as UTF-8
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))


def table_after(rows: list[list[str]], title: str) -> list[dict[str, str]]:
    """The CSV block under ``title``: its header row, then rows until an empty one."""
    start = rows.index([title]) + 1
    block = []
    for row in rows[start + 1:]:
        if not row:
            break
        block.append(dict(zip(rows[start], row, strict=True)))
    return block


def test_the_printable_page_names_people_places_and_grades_in_chinese(
        named_report, registry_names, http, token):
    rid = named_report["report_id"]
    response = http.get(f"/appraisals/{rid}.html", headers=token(*ADMIN))
    assert_html_security_headers(response)  # the same headers as every HTML answer
    page = response.text
    assert page.startswith('<!DOCTYPE html><html lang="zh-CN">')
    assert "<script" not in page and "http" not in page.split("<body>")[0]  # nothing loaded
    text, headers = visible(page)
    assert "枫桥街道2026年上半年网格工作考核结果（草稿）" in text
    assert "枫桥街道（320505001）" in text  # the scope's code beside its name, for filing
    assert "考核方案" in text and "第 2 版" in text
    assert "草稿，未发布（生成于 " in text
    for label in ("姓名", "职务", "社区", "网格", "办结率", "基础信息准确率", "民主测评",
                  "总分", "等次"):
        assert label in headers, label
    for words in ("钱小红", "小区网格员", "社区网格长", "社区网格员", "锦绣社区", "和平社区",
                  "锦绣一网格", "锦绣二网格", "优秀（A）", "不合格（E）", "基本合格（D）",
                  "94.72", "8.89", "消防救援大队", "列入调整（社区提出、镇审批）",
                  "数据不全，未评分", "90.0%（80分）", "不适用"):
        assert words in text, words
    assert HOSTILE in text  # shown as text…
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&amp;&quot;王" in page  # …because escaped
    assert_no_codes(text)
    # only what the registry was asked: names of the report's own people and places
    assert ("place_names", T, True) in registry_names.asked
    assert ("staff_names", ("chief", "w1", "w2", "w3")) in registry_names.asked
    # the places as named on the last day the report counts (division codes are dated)
    assert registry_names.days and all(
        day is not None and re.fullmatch(r"\d{4}-\d\d-\d\d", day) for day in registry_names.days)


def test_english_page_and_accept_language(named_report, http, token):
    rid, headers = named_report["report_id"], token(*ADMIN)
    english = http.get(f"/appraisals/{rid}.html?lang=en", headers=headers)
    assert_html_security_headers(english)
    text, headers_en = visible(english.text)
    assert english.text.startswith('<!DOCTYPE html><html lang="en">')
    assert ("Grid work assessment results, first half of 2026 — 枫桥街道 (draft)" in text)
    for words in ("Neighbourhood grid worker", "Community grid chief", "Excellent (A)",
                  "Unsatisfactory (E)", "Fire and Rescue", "Closure rate",
                  "proposed for adjustment", "钱小红", "锦绣一网格"):
        assert words in text, words
    assert "Base-data accuracy" in headers_en
    assert_no_codes(text)
    # no lang: the browser's Accept-Language decides; zh-CN when it names neither
    asked_en = http.get(f"/appraisals/{rid}.html", headers={
        **headers, "Accept-Language": "en-GB,en;q=0.9"})
    assert asked_en.text.startswith('<!DOCTYPE html><html lang="en">')
    asked_fr = http.get(f"/appraisals/{rid}.html", headers={
        **headers, "Accept-Language": "fr"})
    assert asked_fr.text.startswith('<!DOCTYPE html><html lang="zh-CN">')
    # ?lang wins over the header
    assert http.get(f"/appraisals/{rid}.html?lang=zh-CN", headers={
        **headers, "Accept-Language": "en"}).text.startswith('<!DOCTYPE html><html lang="zh-CN">')


@pytest.mark.parametrize("path", [".html?lang=fr", ".csv?lang=de", ".xlsx?lang=zh",
                                  ".csv?layout=diagonal"])
def test_a_bad_lang_or_layout_is_a_structured_error(named_report, http, token,
                                                    path):
    """The project's shape for invalid query values (as dispatch's file.html?lang=fr):
    422 validation_failed naming the parameter — in Chinese when the browser asks."""
    response = http.get(f"/appraisals/{named_report['report_id']}{path}",
                                      headers={**token(*ADMIN), "Accept-Language": "zh-CN"})
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "validation_failed" and error["message"] == "输入有误，请检查标出的字段"
    assert set(error["fields"]) == {path.split("?")[1].split("=")[0]}


def test_wide_csv_has_one_row_per_person_with_names_in_both_languages(
        named_report, http, token):
    rid, headers = named_report["report_id"], token(*ADMIN)
    response = http.get(f"/appraisals/{rid}.csv", headers=headers)
    assert response.status_code == 200 and "attachment" in response.headers[
        "Content-Disposition"]
    rows = csv_rows(response.content)
    assert rows[0] == ["枫桥街道2026年上半年网格工作考核结果（草稿）"]
    staff = table_after(rows, "网格人员考核结果")
    assert [r["姓名"] for r in staff] == ["'" + FORMULA, "钱小红", HOSTILE, "孙三"]  # by sub
    w1 = staff[1]
    assert (w1["职务"], w1["社区"], w1["网格"]) == ("小区网格员", "锦绣社区", "锦绣一网格")
    assert (w1["总分"], w1["等次"]) == ("94.72", "优秀（A）")
    assert w1["办结率"] == "100.0%（100分）" and w1["例会达标率"] == "不适用"
    assert staff[0]["备注"].startswith("列入调整") and staff[3]["总分"] == ""
    assert [r["社区"] for r in table_after(rows, "社区考核结果")] == ["锦绣社区", "和平社区"]
    assert [r["部门"] for r in table_after(rows, "部门考核结果")] == ["消防救援大队"]
    cells = [c for row in rows for c in row]
    assert not [c for c in cells if c[:1] in ("=", "+", "@")]  # neutralised (csvsafe)
    assert_no_codes("\n".join(cells))

    english = csv_rows(http.get(f"/appraisals/{rid}.csv?lang=en",
                                              headers=headers).content)
    staff_en = table_after(english, "Grid staff")
    assert list(staff_en[0])[:5] == ["Name", "Role", "Community", "Grid", "Closure rate"]
    assert (staff_en[1]["Name"], staff_en[1]["Grade"]) == ("钱小红", "Excellent (A)")
    assert_no_codes("\n".join(c for row in english for c in row))


def test_wide_xlsx_matches_the_csv_with_scores_as_numbers(named_report, http,
                                                          token):
    rid, headers = named_report["report_id"], token(*ADMIN)
    for lang, sheet_title, name, total, grade in (
            ("zh-CN", "网格人员考核结果", "姓名", "总分", "等次"),
            ("en", "Grid staff", "Name", "Total", "Grade")):
        response = http.get(f"/appraisals/{rid}.xlsx?lang={lang}",
                                          headers=headers)
        assert response.status_code == 200, response.text
        book = openpyxl.load_workbook(io.BytesIO(response.content))
        sheet = book[sheet_title]
        header = [c.value for c in sheet[1]]
        cells = [dict(zip(header, (c.value for c in row), strict=True))
                 for row in sheet.iter_rows(min_row=2)]
        by_name = {c[name]: c for c in cells}
        assert by_name["钱小红"][total] == pytest.approx(94.72)  # a number: it sorts
        assert by_name["钱小红"][grade].startswith(("优秀", "Excellent"))
        assert "'" + FORMULA in by_name and HOSTILE in by_name
        seen = "\n".join(str(c.value) for s in book.worksheets for row in s.iter_rows()
                         for c in row if c.value is not None)
        assert_no_codes(seen)


def test_a_grid_worker_sees_only_their_own_row_and_name(named_report, http,
                                                        token):
    http, rid = http, named_report["report_id"]
    assert http.post(f"/appraisals/{rid}/publish",
                     headers=token(*TOWN_CHIEF, sub="town-1")).status_code == 200
    w1 = token("neighbourhood_grid_worker", f"grid:{G1}", sub="w1")
    own = http.get(f"/appraisals/{rid}", headers=w1).json()
    assert own["content"]["names"]["staff"] == {"w1": "钱小红"}  # no one else's name
    text, _ = visible(http.get(f"/appraisals/{rid}.html", headers=w1).text)
    assert "钱小红" in text and "孙三" not in text and "王" not in text
    assert "已发布（" in text and "（草稿）" not in text
    published = re.search(r"已发布（(\d{4}-\d\d-\d\d \d\d:\d\d)）", text)
    assert published, text  # local time to the minute: no T, no Z, no microseconds
    assert_no_codes(text)


def test_a_report_made_without_names_is_named_when_read(prepared,  # noqa: F811
                                                        token, container_factory,
                                                        rabbit_config, db_engine):
    """A run while the registry is away stores no names (the codes stay); reading it once
    the registry answers names everyone. No registry at all: codes, never an error."""
    report = prepared.post("/appraisals", json={"half_year": HALF},
                           headers=token(*TOWN_CHIEF, sub="town-1")).json()
    rid = report["report_id"]
    assert not any(report["content"]["names"].values())
    text, _ = visible(prepared.get(f"/appraisals/{rid}.html", headers=token(*ADMIN)).text)
    assert "2026年上半年网格工作考核结果" in text and "320505001" in text and "w1" in text
    appraisal_names.forget()  # the "registry down" mark would hold for a minute
    NamingRegistry.asked = []
    container_factory(NamingRegistry, dict(rabbit_config)).start()
    text, _ = visible(prepared.get(f"/appraisals/{rid}.html", headers=token(*ADMIN)).text)
    assert "钱小红" in text and "锦绣一网格" in text
    with db_engine.connect() as conn:  # the stored report is never changed by reading it
        stored = conn.execute(sa.text("SELECT content->'names' FROM assessment."
                                      "appraisal_reports WHERE report_id = :r"),
                              {"r": rid}).scalar()
    assert not any(stored.values())


def _axe(url: str, bearer_header: dict) -> dict:
    """axe-core on the real page in headless Chromium (tests/assessment/axe_page.py)."""
    env = {**os.environ, "GRIDGOV_AXE_TOKEN": bearer_header["Authorization"].split(" ")[1]}
    process = subprocess.Popen([sys.executable, "-m", "tests.assessment.axe_page", url],
                               cwd=ROOT, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)
    try:
        out, err = process.communicate(timeout=240)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        raise AssertionError("axe_page did not finish") from None
    assert process.returncode == 0, err.decode()[-4000:]
    return json.loads(out)


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_the_page_passes_axe_in_a_real_browser(named_report, http, token, lang):
    url = f"{http.base}appraisals/{named_report['report_id']}.html?lang={lang}"
    seen = _axe(url, token(*ADMIN))
    assert seen["status"] == 200 and seen["lang"] == lang
    assert seen["title"].startswith("枫桥街道" if lang == "zh-CN" else "Grid work")
    assert seen["requests"] == [url]  # self-contained: no font, script or style fetched
    assert seen["axe"] == [], seen["axe"]

"""The one CSV writer of every export (issue 10 item 6): formula-looking text is written as
text, numbers stay numbers, and assessment's reports use the same rule as the registry."""

import csv
import io

import pytest

from gridgov_common.kernel import csvsafe
from services.assessment import tabular


@pytest.mark.parametrize("text", ['=HYPERLINK("http://x","y")', "@SUM(A1:A9)", "+1+2",
                                  "-2+3", "\t=1", "\r=1", "-inf", "=1"])
def test_formulas_become_text(text):
    assert csvsafe.cell(text) == "'" + text


@pytest.mark.parametrize("value", ["张三", "-3", "+1.5", "12%", "", None, 7, 1.5, "a=b"])
def test_plain_values_are_left_alone(value):
    assert csvsafe.cell(value) == value


def test_writer_neutralises_every_cell():
    out = io.StringIO()
    csvsafe.writer(out).writerows([["name", "n"], ["@SUM(1)", -1], ["王五", 2]])
    assert out.getvalue() == "name,n\r\n'@SUM(1),-1\r\n王五,2\r\n"


def test_assessment_reports_use_the_same_writer():
    doc = tabular.Document(title="=cmd|' /C calc'!A0", lang="en", meta=[("@k", "-v")],
                           tables=[tabular.Table("t", [tabular.Column("name", "+name")],
                                                 [{"name": '=HYPERLINK("x")'}])])
    rows = list(csv.reader(io.StringIO(tabular.to_csv(doc).decode("utf-8-sig"))))
    cells = [c for row in rows for c in row]
    assert "'=HYPERLINK(\"x\")" in cells and "'+name" in cells and "'@k" in cells
    assert not any(c[:1] in "=+-@" for c in cells)

"""The app's names of fixed codes (web/shared/labels.json) are gridgov_common/contract/labels.py's,
in both languages (issue 12: one set of words for pages, files and messages).
Regenerate after a change to labels.py:

    .venv/bin/python -c "import json; from gridgov_common import labels; print(json.dumps(
      {l: labels.as_json(l) for l in labels.LANGUAGES}, ensure_ascii=False, indent=1,
      sort_keys=True))" > web/shared/labels.json
"""

from __future__ import annotations

import json
from pathlib import Path

from gridgov_common.contract import labels

APP_LABELS = Path(__file__).resolve().parents[2] / "web" / "shared" / "labels.json"


def test_the_apps_labels_are_the_platforms():
    shipped = json.loads(APP_LABELS.read_text(encoding="utf-8"))
    assert shipped == {lang: labels.as_json(lang) for lang in labels.LANGUAGES}
    assert shipped["zh-CN"]["work_category"]["major_event"] == "重大事件报告"


def test_every_p42_unit_has_a_name_in_both_languages():
    """The district admin picks a department's unit by name (the master-data page)."""
    from gridgov_common.contract.messages import P42_UNITS
    for lang in labels.LANGUAGES:
        names = labels.as_json(lang)["department_unit"]
        assert set(names) == set(P42_UNITS)
        assert all(names[unit] != unit for unit in P42_UNITS)

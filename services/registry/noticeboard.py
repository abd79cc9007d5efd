"""The grid's public notice board (P5.4.2): a printable page, zh-CN with an en switch.

It lists the grid instructor, the community grid chief and the grid workers with name,
work phone and duties, plus the supervision phone — the contacts the policy requires to
be posted in every grid.  Nothing on it is private: it shows work phones only.
"""

from __future__ import annotations

from html import escape
from typing import Any

from gridgov_common.contract import labels
from gridgov_common.kernel.roles import Role

LABELS = {
    "zh": {
        "title": "网格公示牌", "grid": "网格", "code": "网格编码", "community": "社区",
        "name": "姓名", "role": "职务", "phone": "联系电话", "duties": "职责",
        "supervision": "监督电话", "party": "网格党组织", "secretary": "书记",
        "switch": "English", "none": "暂无",
    },
    "en": {
        "title": "Grid public notice board", "grid": "Grid", "code": "Grid code",
        "community": "Community", "name": "Name", "role": "Role", "phone": "Phone",
        "duties": "Duties", "supervision": "Supervision phone", "party": "Party organisation",
        "secretary": "Secretary", "switch": "中文", "none": "none",
    },
}
# P5.4.2: instructor, chief and workers are posted
POSTED_ROLES = (Role.GRID_INSTRUCTOR, Role.COMMUNITY_GRID_CHIEF, Role.COMMUNITY_GRID_WORKER,
                Role.NEIGHBOURHOOD_GRID_WORKER)

STYLE = """body{font-family:"Noto Sans CJK SC","Microsoft YaHei",sans-serif;margin:2em}
table{border-collapse:collapse;width:100%}td,th{border:1px solid #333;padding:.4em}
h1{color:#b30000}.meta{margin:.5em 0}@media print{.switch{display:none}}"""


def render(grid: dict[str, Any], staff: list[dict[str, Any]], party: dict | None,
           lang: str = "zh", place: dict[str, Any] | None = None) -> str:
    """``place``: the grid's community and town names (case_context), else their codes."""
    t = LABELS[lang]
    place = place or {}
    community = escape(" · ".join(filter(None, (place.get("community_name"),
                                                place.get("town_name"))))
                       or grid["community_code"])
    rows = "".join(_staff_row(s, lang) for s in staff if s["role"] in POSTED_ROLES)
    other = "en" if lang == "zh" else "zh"
    party_line = (f"{escape(party['name'])} — {t['secretary']}: {escape(party['secretary_name'])}"
                  if party else t["none"])
    supervision = escape(grid.get("supervision_phone") or "")
    return f"""<!doctype html>
<html lang="{'zh-CN' if lang == 'zh' else 'en'}"><head><meta charset="utf-8">
<title>{t['title']} {escape(grid['name'])}</title><style>{STYLE}</style></head><body>
<a class="switch" href="?lang={other}">{t['switch']}</a>
<h1>{t['title']}</h1>
<div class="meta">{t['grid']}: <strong>{escape(grid['name'])}</strong></div>
<div class="meta">{t['code']}: <code>{grid['grid_code']}</code></div>
<div class="meta">{t['community']}: {community}</div>
<table><thead><tr><th>{t['role']}</th><th>{t['name']}</th><th>{t['phone']}</th>
<th>{t['duties']}</th></tr></thead><tbody>{rows}</tbody></table>
<p class="meta">{t['party']}: {party_line}</p>
<p class="meta"><strong>{t['supervision']}: {supervision}</strong></p>
</body></html>"""


def _staff_row(member: dict[str, Any], lang: str) -> str:
    role = escape(labels.label("role", Role(member["role"]), "en" if lang == "en" else "zh-CN"))
    return (f"<tr><td>{role}</td><td>{escape(member['name'])}</td>"
            f"<td>{escape(member.get('work_phone') or '')}</td>"
            f"<td>{escape(member.get('duties') or '')}</td></tr>")

"""Circulars (P5.3.5) end to end on the real dispatch and assessment services: figures,
cards and rankings against the hand counts of ``circular_cases``, the HTML/CSV/XLSX
renderings read back cell by cell, scopes, immutability, and once per scheduled period."""

from __future__ import annotations

import csv
import io
import json
import time
from datetime import date, datetime

import openpyxl
import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from services.assessment import circular_doc, circulars
from services.assessment.compliance import TZ
from services.assessment.domain import circular_rules
from services.assessment.models import circulars as circulars_table
from services.assessment.service import AssessmentService
from services.dispatch.service import DispatchService
from tests.amqp import wait_until
from tests.assessment.circular_cases import (  # noqa: F401  (fixtures, used by name)
    RULES,
    T1,
    T2,
    circular_services,
    custom_period,
    seeded,
    start_on_free_port,
)
from tests.html_headers import assert_html_security_headers

ADMIN = ("district_admin", "district:320505")


def _row(code, rank, counts, closure, on_time, card):
    keys = ("dispatched", "acked_on_time", "closed", "closed_on_time", "overdue_open")
    return {"code": code, "rank": rank, **dict(zip(keys, counts, strict=True)),
            "closure_rate": closure, "on_time_rate": on_time, "card": card}


WATER = _row("water", 1, (1, 1, 1, 1, 0), 1.0, 1.0, None)
POLICE = _row("police", 2, (3, 2, 1, 1, 1), 0.3333, 0.5, "yellow")
FIRE = _row("fire", 3, (3, 2, 2, 1, 1), 0.6667, 0.3333, "red")
TOWN1 = _row(T1, 1, (4, 3, 3, 2, 1), 0.75, 0.5, "yellow")
TOWN2 = _row(T2, 2, (3, 2, 1, 1, 1), 0.3333, 0.5, "yellow")
SUMMARY = {"dispatched": 7, "acked_on_time": 5, "closed": 4, "closed_on_time": 3,
           "overdue_open": 2, "closure_rate": 0.5714, "on_time_rate": 0.5, "red_cards": 1,
           "yellow_cards": 3}


@pytest.fixture
def made(circular_services, seeded, token):  # noqa: F811
    http = circular_services
    response = http.post("/circulars", json={"kind": "custom", "period": custom_period(seeded)},
                         headers=token(*ADMIN, sub="admin-1"))
    assert response.status_code == 201, response.text
    return response.json()


def test_figures_cards_and_rankings_match_the_hand_counts(made):
    content = made["content"]
    assert made["version"] == 1 and made["origin"] == "demand" and made["scope"] == ADMIN[1]
    assert content["departments"] == [WATER, POLICE, FIRE]
    assert content["towns"] == [TOWN1, TOWN2]
    assert content["summary"] == SUMMARY
    assert content["card_rules"] == RULES
    assert [(o["case_number"], o["department"], o["days_overdue"])
            for o in content["overdue"]] == [("N-C7", "water", 35), ("N-C5", "police", 3),
                                             ("N-C3", "fire", 2)]


def test_xlsx_csv_and_html_carry_the_same_cells(circular_services, made, token):  # noqa: F811
    http, headers, cid = circular_services, token(*ADMIN), made["circular_id"]
    xlsx = http.get(f"/circulars/{cid}.xlsx", headers=headers)
    assert xlsx.status_code == 200 and "attachment" in xlsx.headers["Content-Disposition"]
    book = openpyxl.load_workbook(io.BytesIO(xlsx.content))
    departments = book["部门办理情况"]
    assert [c.value for c in departments[1]] == [
        "排名", "部门", "交办", "按时签收", "办结", "按时办结", "超期未办结", "办结率",
        "按时率", "亮牌"]  # departments by name only (issue 11); towns keep their code
    # no registry runs here: the name column falls back to the code
    assert [c.value for c in departments[4]] == [3, "fire", 3, 2, 2, 1, 1, 0.6667,
                                                 0.3333, "红牌"]
    assert [c.value for c in departments[2]][-1] is None  # water: no card
    assert departments["I4"].number_format == "0.0%"
    overdue = book["超期未办结清单"]
    assert [(r[0].value, r[4].value) for r in overdue.iter_rows(min_row=2)] == [
        ("N-C7", 35), ("N-C5", 3), ("N-C3", 2)]

    raw = http.get(f"/circulars/{cid}.csv", headers=headers, params={"lang": "en"}).content
    assert raw.startswith(b"\xef\xbb\xbf")  # the BOM: Excel reads the UTF-8 as such
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert ["2", "police", "3", "2", "1", "1", "1", "33.3%", "50.0%", "yellow"] in rows
    towns = rows.index(["Towns"])
    assert rows[towns + 1][:4] == ["Rank", "Town", "Code", "Dispatched"]
    assert rows[towns + 2] == ["1", T1, T1, "4", "3", "3", "2", "1", "75.0%", "50.0%",
                               "yellow"]

    page = http.get(f"/circulars/{cid}.html", headers=headers)
    assert page.headers["Content-Type"].startswith("text/html")
    assert_html_security_headers(page)  # issue 10: CSP and nosniff on every HTML answer
    text = page.text
    assert "<td>N-C5</td>" in text and '<td class="card-red">红牌</td>' in text
    assert "http" not in text.split("<body>")[1].replace("http-equiv", "")  # no CDN, no link
    english = http.get(f"/circulars/{cid}.html", headers=headers, params={"lang": "en"}).text
    assert 'lang="en"' in english and "On-time rate" in english and "<td>fire</td>" in english


def test_names_the_registry_gave_are_shown_beside_the_codes():
    """Circulars are read by people: the names (stored with the content when it was made,
    from the registry) stand beside the codes; a code without a name stays a code."""
    content = {"as_of": "2026-11-29T08:00:00+08:00", "card_rules": [], "summary": {},
               "departments": [{"rank": 1, "code": "fire"}, {"rank": 2, "code": "water"}],
               "towns": [{"rank": 1, "code": T1}],
               "overdue": [{"case_number": "N-1", "department": "fire", "town_code": T1,
                            "due_at": "2026-11-01", "days_overdue": 3}],
               "names": {"departments": {"fire": {"zh-CN": "消防救援", "en": "Fire"}},
                         "towns": {T1: "金阊街道"}}}
    circular = {"kind": "weekly", "period": "2026-W48", "period_start": "2026-11-23",
                "period_end": "2026-11-29", "scope": "district:320505", "version": 1,
                "generated_by": "schedule", "content": content}
    zh = circular_doc.document(circular, "zh-CN").tables
    assert [(r["name"], r["code"]) for r in zh[1].rows] == [("消防救援", "fire"),
                                                            ("water", "water")]
    assert zh[2].rows[0]["name"] == "金阊街道"
    assert (zh[3].rows[0]["department_name"], zh[3].rows[0]["town_name"]) == ("消防救援",
                                                                              "金阊街道")
    assert circular_doc.document(circular, "en").tables[1].rows[0]["name"] == "Fire"


def test_a_circular_says_who_issued_it_its_number_and_its_scope_by_name():
    """A document people file (issue 11): issuing body, 文号, the scope's name."""
    content = {"as_of": "2026-11-29T08:00:00+08:00", "card_rules": [], "summary": {},
               "departments": [], "towns": [], "overdue": [],
               "names": {"districts": {"320505": "姑苏区"}, "towns": {T1: "金阊街道"}}}
    circular = {"kind": "monthly", "period": "2026-11", "period_start": "2026-11-01",
                "period_end": "2026-11-30", "scope": "district:320505", "version": 1,
                "generated_by": "schedule", "content": content,
                "issuer": "姑苏区网格化服务管理中心", "document_number": "姑网格通〔2026〕12号"}
    meta = dict(circular_doc.document(circular, "zh-CN").meta)
    assert meta["发文单位"] == "姑苏区网格化服务管理中心"
    assert meta["文号"] == "姑网格通〔2026〕12号"
    assert meta["范围"] == "姑苏区（320505）"
    english = dict(circular_doc.document({**circular, "scope": f"town:{T1}"}, "en").meta)
    assert english["Scope"] == f"金阊街道 ({T1})" and english["Document number"]
    before = {k: v for k, v in circular.items() if k not in ("issuer", "document_number")}
    assert "文号" not in dict(circular_doc.document(before, "zh-CN").meta)


def test_scopes_versions_and_reading_rights(circular_services, made, seeded, token):  # noqa: F811
    http, period = circular_services, custom_period(seeded)
    chief = token("town_grid_chief", f"town:{T1}", sub="chief-1")
    mine = http.post("/circulars", json={"kind": "custom", "period": period}, headers=chief)
    assert mine.status_code == 201, mine.text
    assert mine.json()["scope"] == f"town:{T1}"
    assert [r["code"] for r in mine.json()["content"]["towns"]] == [T1]
    assert [r["code"] for r in mine.json()["content"]["departments"]] == ["water", "fire"]
    other = http.post("/circulars", json={"kind": "custom", "period": period,
                                          "scope": f"town:{T2}"}, headers=chief)
    assert other.status_code == 403
    again = http.post("/circulars", json={"kind": "custom", "period": period},
                      headers=token(*ADMIN))
    assert again.json()["version"] == 2  # a new version; version 1 unchanged
    bad = http.post("/circulars", json={"kind": "weekly", "period": "2026-11"},
                    headers=token(*ADMIN))
    assert bad.status_code == 422 and "period" in bad.json()["error"]["fields"]
    worker = token("community_grid_worker", "community:320505001001")
    assert http.get("/circulars", headers=worker).status_code == 403
    # the T2 chief sees the district's circulars, not T1's own
    seen = http.get("/circulars", headers=token("town_grid_chief", f"town:{T2}")).json()
    assert sorted((r["scope"], r["version"]) for r in seen) == [(ADMIN[1], 1), (ADMIN[1], 2)]
    officer = token("department_officer", "department:fire")
    assert http.get(f"/circulars/{mine.json()['circular_id']}.csv",
                    headers=officer).status_code == 200
    hidden = http.get(f"/circulars/{mine.json()['circular_id']}",
                      headers=token("town_grid_chief", f"town:{T2}"))
    assert hidden.status_code == 404


def test_a_preview_shows_the_figures_and_stores_nothing(circular_services, seeded, token,  # noqa: F811
                                                        db_engine):
    """The district checks what a circular would say before generating it (issue 14): the
    same figures and names, no row, no number, no event."""
    http, period = circular_services, custom_period(seeded)
    seen = http.post("/circulars/preview", json={"kind": "custom", "period": period},
                     headers=token(*ADMIN, sub="admin-1"))
    assert seen.status_code == 200, seen.text
    preview = seen.json()
    assert (preview["kind"], preview["period"], preview["scope"]) == ("custom", period, ADMIN[1])
    assert preview["content"]["departments"] == [WATER, POLICE, FIRE]
    assert preview["content"]["towns"] == [TOWN1, TOWN2]
    assert preview["content"]["summary"] == SUMMARY
    assert "circular_id" not in preview and "document_number" not in preview
    with db_engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM assessment.circulars")).scalar() == 0
        assert conn.execute(sa.text(
            "SELECT count(*) FROM assessment.outbox WHERE routing_key = :t"),
            {"t": circulars.EVENT_TYPE}).scalar() == 0
    chief = token("town_grid_chief", f"town:{T1}", sub="chief-1")
    other = http.post("/circulars/preview", json={"kind": "custom", "period": period,
                                                  "scope": f"town:{T2}"}, headers=chief)
    assert other.status_code == 403
    officer = token("department_officer", "department:fire")
    assert http.post("/circulars/preview", json={"kind": "custom", "period": period},
                     headers=officer).status_code == 403


def test_stored_circulars_are_immutable(made, db_engine):
    for statement in ("UPDATE assessment.circulars SET version = 9",
                      "DELETE FROM assessment.circulars"):
        with pytest.raises(DBAPIError, match="immutable"), db_engine.begin() as conn:
            conn.execute(sa.text(statement))


FIGURES = {"as_of": "2026-12-01T00:00:00+00:00", "start": "x", "end": "y",
           "departments": [{"code": "fire", "dispatched": 2, "acked_on_time": 2, "closed": 2,
                            "closed_on_time": 2, "overdue_open": 0}],
           "towns": [], "overdue": []}


def test_document_numbers_run_in_sequence_within_a_year(db_engine, seeded):  # noqa: F811
    """文号: the year's next number at each store, per prefix; never shared."""
    kwargs = {"kind": "custom", "period": "2026-11-01..2026-11-15",
              "scope": "district:320505", "origin": "demand", "generated_by": "admin-1",
              "content": circular_rules.build_content(FIGURES, RULES),
              "html_url": "http://x/circulars/{circular_id}.html",
              "now": datetime(2026, 12, 31, 20, 0, tzinfo=TZ)}
    with Session(db_engine, info={"db_schema": "assessment"}) as session:
        first = circulars.store(session, **kwargs)
        second = circulars.store(session, **kwargs, issuer="姑苏区网格化服务管理中心",
                                 number_prefix="姑网格通")
        third = circulars.store(session, **kwargs)
        next_year = circulars.store(session, **{**kwargs,
                                                "now": datetime(2027, 1, 1, 9, tzinfo=TZ)})
        session.commit()
    assert first["document_number"] == circular_rules.document_number("网格通", 2026, 1)
    assert first["issuer"] == circulars.DEFAULT_ISSUER
    assert second["document_number"] == "姑网格通〔2026〕1号"
    assert third["document_number"] == "网格通〔2026〕2号"
    assert next_year["document_number"] == "网格通〔2027〕1号"


def test_a_scheduled_period_is_stored_and_published_once(db_engine, seeded):  # noqa: F811
    """Two replicas' timers racing for the same period: the unique index lets one in,
    and only that one's event is in the outbox."""
    kwargs = {"kind": "monthly", "period": "2026-11", "scope": "district:320505",
              "origin": "schedule", "generated_by": "schedule",
              "content": circular_rules.build_content(FIGURES, RULES),
              "html_url": "http://x/circulars/{circular_id}.html"}
    info = {"db_schema": "assessment"}
    with Session(db_engine, info=info) as first, Session(db_engine, info=info) as second:
        made = circulars.store(first, **kwargs)
        first.commit()
        assert circulars.store(second, **kwargs) is None
        second.commit()
    assert made["version"] == 1 and made["period_start"] == date(2026, 11, 1)
    with db_engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(circulars_table)).scalar() == 1
        events = conn.execute(sa.text(
            "SELECT body FROM assessment.outbox WHERE routing_key = "
            "'assessment.circular.published'")).scalars().all()
    assert len(events) == 1
    body = events[0] if isinstance(events[0], dict) else json.loads(events[0])
    assert body["payload"]["summary"] == {"dispatched": 2, "closed": 2, "overdue_open": 0,
                                          "red_cards": 0, "yellow_cards": 0}


def test_the_schedule_timer_publishes_each_period_once(container_factory, service_config,
                                                       seeded, db_engine):  # noqa: F811
    """Two assessment replicas ticking fast with dispatch up: one weekly and one monthly
    circular of the last complete periods, never more."""
    start_on_free_port(container_factory, service_config, DispatchService, "dispatch",
                       DIGEST_POLL_SECONDS=86400, ESCALATION_POLL_SECONDS=86400)
    for _ in range(2):
        start_on_free_port(container_factory, service_config, AssessmentService, "assessment",
                           CIRCULAR_POLL_SECONDS=0.2, CIRCULAR_SCHEDULE="weekly,monthly")

    def stored():
        with db_engine.connect() as conn:
            rows = conn.execute(sa.select(circulars_table.c.kind, circulars_table.c.period,
                                          circulars_table.c.origin)).all()
        return rows if len(rows) >= 2 else None

    wait_until(stored, 30)
    time.sleep(1.5)  # several more ticks of both replicas
    with db_engine.connect() as conn:
        rows = conn.execute(sa.select(circulars_table.c.kind, circulars_table.c.period)).all()
    today = datetime.now(TZ).date()
    assert sorted(rows) == sorted([("monthly", circular_rules.last_complete("monthly", today)),
                                   ("weekly", circular_rules.last_complete("weekly", today))])

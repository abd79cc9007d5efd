"""The half-year assessment (P5.4.6) end to end on the REAL dispatch (its ``kpis`` RPC) and
assessment services, PostgreSQL and RabbitMQ: scheme validation, a run against the hand
computation below, missing inputs, publishing and the flag messages consumed from the
broker, roles and scopes, immutability.

Scheme of these tests (version 2; the packaged default is version 1):
  areas/staff: closure 0.3 (0.5→1), on-time 0.2 (0→1), accuracy 0.2 (0.5→1),
               patrol 0.1 (0→1), meetings 0.1 (0→1), democratic 0.05, quantified 0.05
               (0→100); departments: on-time handling 0.5, ack on time 0.2 (0→1),
               democratic 0.3; missing → reweight, min coverage 0.6; flag D and E.

Raw figures: tests/assessment/appraisal_cases.py. Points and scores by hand
(score = Σ points × weight / Σ weight of indicators with points):

- w1 (G1): 100, 100, 80 (0.9), 100, n/a, 95, 90 → (30+20+16+10+4.75+4.5)/0.9
  = 85.25/0.9 = 94.72 → A
- w2 (G2): 0 (0.5), 25, 0 (0.5), 0, n/a, 40, 20 → (0+5+0+0+2+1)/0.9 = 8.89 → E, flagged
- chief (C): 50 (0.75), 62.5, 57.14 (0.7857), 50, 50, missing, missing
  → (15+12.5+11.428+5+5)/0.9 = 48.928/0.9 = 54.36 → D, flagged; coverage 0.9
- w3 (C2): closure, on-time, accuracy, democratic, quantified missing; patrol 0, meetings 0
  → coverage 0.2 < 0.6 → incomplete: no score, no grade, not flagged
- C: as chief + patrol pooled 180/360 → 50, meetings 3/6 → 50, democratic 90
  → (48.928 + 4.5)/0.95 = 56.24 → D (areas are not flagged)
- C2: incomplete (coverage 0.2)
- T: 50, 62.5, 57.14, patrol 180/480 = 0.375 → 37.5, meetings 3/12 = 0.25 → 25, 80, 70
  → 15+12.5+11.428+3.75+2.5+4+3.5 = 52.68 → D
- fire: 50×0.5 + 100×0.2 + 70×0.3 = 66 → C
"""

from __future__ import annotations

import csv
import io
import json

import openpyxl
import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

from gridgov_common.contract import envelope
from tests.amqp import bind_queue, drain
from tests.assessment.appraisal_cases import (  # noqa: F401  (fixtures, used by name)
    ADMIN,
    C2,
    G1,
    G2,
    HALF,
    T_OTHER,
    TOWN_CHIEF,
    C,
    T,
    appraisal_services,
    half_year,
)
from tests.unit.appraisal_sample import SCHEME, _ind

INPUTS = [
    {"subject_kind": "town", "subject_code": T, "democratic_appraisal": 80,
     "quantified_points": 70},
    {"subject_kind": "community", "subject_code": C, "democratic_appraisal": 90,
     "quantified_points": None},
    {"subject_kind": "staff", "subject_code": "w1", "democratic_appraisal": 95,
     "quantified_points": 90},
    {"subject_kind": "staff", "subject_code": "w2", "democratic_appraisal": 40,
     "quantified_points": 20},
]
# (kind, code) → (score, grade, flagged, coverage)
EXPECTED = {
    ("town", T): (52.68, "D", False, 1.0),
    ("community", C): (56.24, "D", False, 0.95),
    ("community", C2): (None, None, False, 0.2),
    ("grid_worker", "chief"): (54.36, "D", True, 0.9),
    ("grid_worker", "w1"): (94.72, "A", False, 1.0),
    ("grid_worker", "w2"): (8.89, "E", True, 1.0),
    ("grid_worker", "w3"): (None, None, False, 0.2),
    ("department", "fire"): (66.0, "C", False, 1.0),
}


def _spot_checks(http, token):
    headers = token(*TOWN_CHIEF, sub="town-1")
    for grid, correct, wrong in ((G1, 9, 1), (G2, 2, 2)):
        for n in range(correct + wrong):
            response = http.post("/spot-checks", headers=headers, json={
                "grid_code": grid, "record_kind": "resident", "record_id": f"r-{grid}-{n}",
                "field_class": "basic", "method": "phone", "correct": n < correct,
                "checked_at": "2026-04-01T10:00:00+08:00"})
            assert response.status_code == 201, response.text


@pytest.fixture
def prepared(appraisal_services, token):  # noqa: F811
    http = appraisal_services
    response = http.post("/appraisal-schemes", json={"body": SCHEME, "note": "tests"},
                         headers=token(*ADMIN, sub="admin-1"))
    assert response.status_code == 201, response.text
    assert response.json()["version"] == 2  # the default was seeded as 1
    response = http.put(f"/appraisal-inputs/{HALF}", json={"inputs": INPUTS},
                        headers=token(*TOWN_CHIEF, sub="town-1"))
    assert response.status_code == 200, response.text
    response = http.put(f"/appraisal-inputs/{HALF}", headers=token(*ADMIN), json={"inputs": [
        {"subject_kind": "department", "subject_code": "fire", "democratic_appraisal": 70,
         "quantified_points": 60}]})
    assert response.status_code == 200, response.text
    _spot_checks(http, token)
    return http


@pytest.fixture
def report(prepared, token):
    response = prepared.post("/appraisals", json={"half_year": HALF},
                             headers=token(*TOWN_CHIEF, sub="town-1"))
    assert response.status_code == 201, response.text
    return response.json()


def _csv_lines(content: bytes) -> list[dict]:
    """The subjects table of the CSV (after the block of facts)."""
    text = content.decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text[text.index("subject_kind,"):])))


def _rows(report):
    return {(r["subject_kind"], r["code"]): r for r in report["content"]["rows"]}


def test_scores_and_grades_match_the_hand_computation(report):
    rows = _rows(report)
    assert report["version"] == 1 and report["state"] == "draft"
    assert report["scheme_version"] == 2 and report["scope"] == f"town:{T}"
    assert report["content"]["as_of"] == "2026-06-30"
    assert report["content"]["working_days"] == 120
    assert list(rows) == list(EXPECTED)
    assert {key: (r["score"], r["grade"], r["flagged"], r["coverage"])
            for key, r in rows.items()} == EXPECTED
    chief = {i["key"]: (i["status"], i["raw"], i["points"])
             for i in rows[("grid_worker", "chief")]["indicators"]}
    assert chief == {
        "closure_rate": ("ok", 0.75, 50.0), "on_time_closure_rate": ("ok", 0.625, 62.5),
        "base_data_accuracy": ("ok", 0.7857, 57.14), "patrol_compliance": ("ok", 0.5, 50.0),
        "meeting_compliance": ("ok", 0.5, 50.0),
        "democratic_appraisal": ("missing", None, None),
        "quantified_points": ("missing", None, None)}
    assert report["content"]["flagged"] == ["chief", "w2"]


def test_missing_and_not_applicable_inputs_are_shown_not_zeroed(report):
    rows = _rows(report)
    w1 = {i["key"]: i for i in rows[("grid_worker", "w1")]["indicators"]}
    assert w1["meeting_compliance"]["status"] == "n/a" and w1["meeting_compliance"][
        "points"] is None  # a neighbourhood grid worker has no meeting rule (P5.4.5)
    # contributions add up to the score: points × weight / 0.9
    assert round(sum(i["weighted"] for i in w1.values() if i["weighted"] is not None),
                 1) == 94.7
    w3 = rows[("grid_worker", "w3")]
    assert w3["missing"] == ["closure_rate", "on_time_closure_rate", "base_data_accuracy",
                             "democratic_appraisal", "quantified_points"]
    assert w3["complete"] is False and w3["score"] is None
    assert rows[("grid_worker", "chief")]["missing"] == ["democratic_appraisal",
                                                         "quantified_points"]


def test_publish_freezes_and_flags_reach_the_broker(report, appraisal_services, token,  # noqa: F811
                                                    rabbit_config, db_engine):
    uri = rabbit_config["AMQP_URI"]
    bind_queue(uri, "flags", "gridgov.events", ["assessment.staff.flagged"])
    headers = token(*TOWN_CHIEF, sub="town-1")
    rid = report["report_id"]
    response = appraisal_services.post(f"/appraisals/{rid}/publish", headers=headers)
    assert response.status_code == 200, response.text
    assert response.json()["state"] == "published"

    bodies = sorted((json.loads(b) for _m, _p, b in drain(uri, "flags", expect=2)),
                    key=lambda m: m["payload"]["staff_sub"])
    for body in bodies:
        envelope.parse_envelope(body)  # the contract's schema: raises if invalid
    assert [(b["type"], b["version"], b["producer"]) for b in bodies] == [
        ("assessment.staff.flagged", 1, "assessment")] * 2
    common = {"report_id": rid, "half_year": HALF, "report_version": 1, "town_code": T,
              "flag_grades": ["D", "E"], "clause": "P5.4.1", "proposer": "community",
              "approver": "town"}
    assert [b["payload"] for b in bodies] == [
        {**common, "staff_sub": "chief", "role": "community_grid_chief",
         "scope": f"community:{C}", "score": 54.36, "grade": "D"},
        {**common, "staff_sub": "w2", "role": "neighbourhood_grid_worker",
         "scope": f"grid:{G2}", "score": 8.89, "grade": "E"}]

    again = appraisal_services.post(f"/appraisals/{rid}/publish", headers=headers)
    assert again.status_code == 409
    with pytest.raises(DBAPIError), db_engine.begin() as conn:
        conn.execute(sa.text("UPDATE assessment.appraisal_reports SET content = '{}'::jsonb "
                             "WHERE report_id = :r"), {"r": rid})
    with pytest.raises(DBAPIError), db_engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM assessment.appraisal_reports WHERE report_id = :r"),
                     {"r": rid})


def test_rerun_makes_a_new_version_and_leaves_the_published_one(report, appraisal_services,  # noqa: F811
                                                                 token):
    headers = token(*TOWN_CHIEF, sub="town-1")
    rid = report["report_id"]
    assert appraisal_services.post(f"/appraisals/{rid}/publish",
                                   headers=headers).status_code == 200
    # the town corrects an input; the published report keeps what it was computed from
    response = appraisal_services.put(f"/appraisal-inputs/{HALF}", headers=headers, json={
        "inputs": [{"subject_kind": "staff", "subject_code": "w2", "democratic_appraisal": 100,
                    "quantified_points": 100}]})
    assert response.status_code == 200
    second = appraisal_services.post("/appraisals", json={"half_year": HALF}, headers=headers)
    assert second.status_code == 201 and second.json()["version"] == 2
    # w2: (0+5+0+0+5+5)/0.9 = 16.67 → still E
    assert _rows(second.json())[("grid_worker", "w2")]["score"] == 16.67
    first = appraisal_services.get(f"/appraisals/{rid}", headers=headers).json()
    assert first["state"] == "published" and first["content"] == report["content"]


def test_roles_and_scopes(report, appraisal_services, token):  # noqa: F811
    http, rid = appraisal_services, report["report_id"]
    other_town = token("town_grid_chief", f"town:{T_OTHER}", sub="town-2")
    assert http.post("/appraisals", json={"half_year": HALF, "scope": f"town:{T}"},
                     headers=other_town).status_code == 403
    assert http.post("/appraisals", json={"half_year": HALF},
                     headers=token("community_grid_chief", f"community:{C}",
                                   sub="chief")).status_code == 403
    assert http.get(f"/appraisals/{rid}", headers=other_town).status_code == 404
    assert http.post(f"/appraisals/{rid}/publish", headers=other_town).status_code == 403
    # a town enters its own subjects only; departments are the district's
    assert http.put(f"/appraisal-inputs/{HALF}", headers=other_town, json={"inputs": [
        {"subject_kind": "staff", "subject_code": "w1", "democratic_appraisal": 1,
         "quantified_points": 1}]}).status_code == 403
    assert http.put(f"/appraisal-inputs/{HALF}", headers=token(*TOWN_CHIEF), json={
        "inputs": [{"subject_kind": "department", "subject_code": "fire",
                    "democratic_appraisal": 1, "quantified_points": 1}]}).status_code == 403
    # a grid worker reads nothing of a draft, then only their own row
    w1 = token("neighbourhood_grid_worker", f"grid:{G1}", sub="w1")
    assert http.get(f"/appraisals/{rid}", headers=w1).status_code == 404
    assert http.post(f"/appraisals/{rid}/publish",
                     headers=token(*TOWN_CHIEF)).status_code == 200
    own = http.get(f"/appraisals/{rid}", headers=w1).json()
    assert [(r["subject_kind"], r["code"]) for r in own["content"]["rows"]] == [
        ("grid_worker", "w1")]
    assert [r["subjects"] for r in http.get("/appraisals", headers=w1).json()] == [1]
    lines = _csv_lines(http.get(f"/appraisals/{rid}.csv?layout=long", headers=w1).content)
    assert len(lines) == 7 and {line["code"] for line in lines} == {"w1"}
    # the district reads everything
    assert len(http.get(f"/appraisals/{rid}", headers=token(*ADMIN)).json()["content"][
        "rows"]) == len(EXPECTED)


def test_csv_and_xlsx_carry_every_indicator(report, appraisal_services, token):  # noqa: F811
    headers, rid = token(*ADMIN), report["report_id"]
    # the machine format of the first exports, kept under layout=long (issue 11)
    response = appraisal_services.get(f"/appraisals/{rid}.csv?layout=long", headers=headers)
    assert response.status_code == 200 and "attachment" in response.headers[
        "Content-Disposition"]
    lines = _csv_lines(response.content)
    w2 = [line for line in lines if line["code"] == "w2"]
    assert len(w2) == 7 and {line["score"] for line in w2} == {"8.89"}
    assert {line["grade"] for line in w2} == {"E"} and {line["flagged"] for line in w2} == {
        "yes"}
    assert ("on_time_closure_rate", "ok", "0.25", "25") in {
        (line["indicator"], line["status"], line["raw"], line["points"]) for line in w2}
    book = openpyxl.load_workbook(io.BytesIO(appraisal_services.get(
        f"/appraisals/{rid}.xlsx?layout=long", headers=headers).content))
    sheet = book.worksheets[-1]
    header = [c.value for c in sheet[1]]
    cells = [dict(zip(header, (c.value for c in row), strict=False))
             for row in sheet.iter_rows(min_row=2)]
    assert sum(1 for c in cells if c.get("code") == "w2") == 7


def test_scheme_validation_errors(appraisal_services, token):  # noqa: F811
    bad = json.loads(json.dumps(SCHEME))
    bad["kinds"]["town"][0]["weight"] = 0.2  # town sums to 0.9
    bad["kinds"]["department"].append(_ind("patrol_compliance", 0.0001, 0, 1))
    bad["grades"][1]["min"] = 80  # gap 75–80
    bad["flag_grades"] = ["F"]
    del bad["kinds"]["community"]
    response = appraisal_services.post("/appraisal-schemes", json={"body": bad},
                                       headers=token(*ADMIN))
    assert response.status_code == 422, response.text
    fields = response.json()["error"]["fields"]["body"] if "body" in response.json()[
        "error"]["fields"] else response.json()["error"]["fields"]
    text = json.dumps(fields)
    assert "weights sum to 0.9" in text and "kinds.town" in text
    assert "patrol_compliance: not an indicator of a department" in text
    assert "weights sum to 1.0001" in text
    assert "gap between 75 and 80" in text
    assert "not a grade of this scheme: F" in text
    assert "community: missing" in text
    assert appraisal_services.post("/appraisal-schemes", json={"body": SCHEME},
                                   headers=token(*TOWN_CHIEF)).status_code == 403
    listed = appraisal_services.get("/appraisal-schemes", headers=token(*ADMIN)).json()
    assert [s["version"] for s in listed] == [1]  # nothing stored but the default


def test_run_refuses_a_half_year_not_started(appraisal_services, token):  # noqa: F811
    response = appraisal_services.post("/appraisals", json={"half_year": "2999H2"},
                                       headers=token(*ADMIN))
    assert response.status_code == 422
    assert "half_year" in response.json()["error"]["fields"]


def test_a_worker_is_judged_on_the_grids_the_registry_assigns(prepared, token, db_engine):
    """dispatch knows (from registry.staff.changed) that w1 answers for G1 and G2: w1's case
    KPIs and accuracy are those of both grids — closure 6/8 = 0.75 → 50, on time 5/8 →
    62.5, accuracy 11/14 = 0.7857 → 57.14, patrol 100, meetings n/a, 95, 90 →
    (15+12.5+11.428+10+4.75+4.5)/0.9 = 58.178/0.9 = 64.64 → C. w2 keeps the scope rule."""
    with db_engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO dispatch.grid_workers (staff_id, subject, role, scope_code, active, "
            "registry_at) VALUES (1, 'w1', 'neighbourhood_grid_worker', :g, true, now())"),
            {"g": G1})
        for grid in (G1, G2):
            conn.execute(sa.text("INSERT INTO dispatch.grid_worker_grids (staff_id, grid_code) "
                                 "VALUES (1, :g)"), {"g": grid})
    response = prepared.post("/appraisals", json={"half_year": HALF},
                             headers=token(*TOWN_CHIEF, sub="town-1"))
    assert response.status_code == 201, response.text
    rows = _rows(response.json())
    w1, w2 = rows[("grid_worker", "w1")], rows[("grid_worker", "w2")]
    assert (w1["score"], w1["grade"], w1["case_grids"]) == (64.64, "C", [G1, G2])
    assert {i["key"]: i["raw"] for i in w1["indicators"]}["base_data_accuracy"] == 0.7857
    assert (w2["score"], w2["case_grids"]) == (8.89, [G2])

"""Import of a real district: all or nothing, with every rejected row reported."""

import csv
import io

import sqlalchemy as sa

from tests.registry.conftest import GRID_A, GRID_B, OTHER_COMMUNITY, id_number, square

CSV = "text/csv; charset=utf-8"
HEADER = "grid_code,address,unit,name,id_number,phone,relationship,special_groups\n"


def count(db_engine, table):
    with db_engine.connect() as conn:
        return conn.execute(sa.text(f"SELECT count(*) FROM registry.{table}")).scalar()


def test_residents_csv_is_imported_encrypted(district, web_session, admin, db_engine):
    body = HEADER + (
        f"{GRID_A},锦绣花园3幢,2单元301,周一,{id_number('19600101', '111')},13800000001,head,\n"
        f"{GRID_A},锦绣花园3幢,2单元301,周二,{id_number('19620101', '112')},,spouse,\n"
        f"{GRID_B},锦绣花园9幢,1单元101,吴三,{id_number('19900101', '113')},,head,drug_user\n")
    response = web_session.post("/import/residents", data=body.encode(), headers={
        **admin, "Content-Type": CSV})
    assert response.status_code == 201, response.text
    assert response.json() == {"total": 3, "imported": 3, "rejected_count": 0, "rejected": []}
    assert count(db_engine, "residents") == 3
    assert count(db_engine, "households") == 2  # the existing 2单元301 was reused
    listed = web_session.get("/residents", params={"grid_code": GRID_A}, headers=admin).json()
    assert {r["name"] for r in listed} == {"周一", "周二"}
    assert all("*" in r["id_number"] for r in listed)


def test_a_bad_row_rejects_the_whole_file_with_a_report(district, web_session, admin,
                                                        db_engine):
    good = id_number("19600101", "121")
    bad_check = good[:-1] + ("0" if good[-1] != "0" else "1")
    body = HEADER + (
        f"{GRID_A},锦绣花园3幢,2单元302,甲,{good},,head,\n"
        f"{GRID_A},锦绣花园3幢,2单元302,乙,{bad_check},,member,\n"
        f"999999999999999,某地,1,丙,{id_number('19700101', '122')},,head,\n"
        f"{GRID_A},锦绣花园3幢,2单元303,丁,{good},,head,\n"
        f"{GRID_A},锦绣花园3幢,2单元304,戊,{id_number('19700101', '124')},12345,head,\n")
    response = web_session.post("/import/residents", data=body.encode(), headers={
        **admin, "Content-Type": CSV})
    assert response.status_code == 422
    report = response.json()["error"]["fields"]["report"]
    assert report["imported"] == 0 and report["rejected_count"] == 4
    assert [(r["row"], r["field"]) for r in report["rejected"]] == [
        (3, "id_number"), (4, "grid_code"), (6, "phone"), (5, "id_number")]
    assert count(db_engine, "residents") == 0
    assert count(db_engine, "households") == 1


def test_csv_upload_needs_csv(district, web_session, admin):
    response = web_session.post("/import/residents", json={"a": 1}, headers=admin)
    assert response.status_code == 415


def test_grids_geojson_import(district, web_session, admin, db_engine):
    def feature(name, geom):
        return {"type": "Feature", "geometry": geom,
                "properties": {"community_code": OTHER_COMMUNITY, "name": name}}

    clash = {"type": "FeatureCollection", "features": [
        feature("一", square(121.0, 31.0, 121.01, 31.01)),
        feature("二", square(121.005, 31.0, 121.015, 31.01)),
        feature("三", {"type": "Polygon", "coordinates": [[[0, 0], [1, 1]]]})]}
    rejected = web_session.post("/import/grids", json=clash, headers=admin)
    assert rejected.status_code == 422
    rows = rejected.json()["error"]["fields"]["report"]["rejected"]
    assert [(r["row"], r["field"]) for r in rows] == [(2, "geometry"), (3, "geometry")]
    before = count(db_engine, "grids")
    assert before == 2

    ok = {"type": "FeatureCollection", "features": [
        feature("一", square(121.0, 31.0, 121.01, 31.01)),
        feature("二", square(121.01, 31.0, 121.02, 31.01))]}
    imported = web_session.post("/import/grids", json=ok, headers=admin)
    assert imported.status_code == 201, imported.text
    assert imported.json()["imported"] == 2
    codes = [g["grid_code"] for g in web_session.get(
        "/grids", params={"prefix": OTHER_COMMUNITY}, headers=admin).json()]
    assert codes == [OTHER_COMMUNITY + "001", OTHER_COMMUNITY + "002"]


def test_export_is_masked_scoped_and_audited(district, web_session, admin, token, db_engine):
    person = id_number("19600101", "131")
    body = HEADER + f"{GRID_A},锦绣花园3幢,2单元301,周一,{person},13800000009,head,\n"
    web_session.post("/import/residents", data=body.encode(),
                     headers={**admin, "Content-Type": CSV})
    chief = token("community_grid_chief", "community:320505001001", sub="chief-x")
    export = web_session.get("/export/residents.csv", headers=chief)
    assert export.status_code == 200
    assert export.headers["Content-Type"].startswith("text/csv")
    lines = export.text.strip().splitlines()
    assert lines[0].startswith("id,grid_code")
    assert "138****0009" in lines[1] and person not in export.text
    outside = web_session.get("/export/residents.csv", params={"prefix": "320505001002"},
                              headers=chief)
    assert outside.status_code == 403
    worker = token("neighbourhood_grid_worker", f"grid:{GRID_A}")
    assert web_session.get("/export/residents.csv", headers=worker).status_code == 403
    with db_engine.connect() as conn:
        actions = conn.execute(sa.text("SELECT action, actor_sub FROM registry.audit_log")).all()
    assert ("export_masked", "chief-x") in actions


def test_export_neutralises_formula_looking_names(district, web_session, admin):
    """Issue 10 item 6: a name typed as a spreadsheet formula is exported as text (leading
    apostrophe, kernel/csvsafe.py), never as =HYPERLINK(…)/@SUM(…) Excel would run."""
    names = ['=HYPERLINK("http://x.example/?a","点我")', "@SUM(1+1)*cmd|' /C calc'!A0",
             "+1+2", "-2+3"]
    for n, name in enumerate(names):
        created = web_session.post("/residents", headers=admin, json={
            "grid_code": GRID_A, "name": name,
            "id_number": id_number("19600101", f"15{n}")})
        assert created.status_code == 201, created.text
    export = web_session.get("/export/residents.csv", headers=admin)
    assert export.status_code == 200, export.text
    exported = {row[3] for row in csv.reader(io.StringIO(export.text))}
    assert {"'" + name for name in names} <= exported
    assert not any(value[:1] in "=+-@" for value in exported)


def test_unknown_special_group_in_csv_is_rejected(district, web_session, admin, db_engine):
    body = HEADER + (f"{GRID_A},锦绣花园3幢,2单元305,己,{id_number('19700101', '141')},,head,"
                     "drug_user; astronaut\n")
    response = web_session.post("/import/residents", data=body.encode(),
                                headers={**admin, "Content-Type": CSV})
    assert response.status_code == 422
    [row] = response.json()["error"]["fields"]["report"]["rejected"]
    assert row["field"] == "special_groups" and "astronaut" in row["message"]


def _import(web_session, admin, lines):
    return web_session.post("/import/residents", data=(HEADER + "".join(lines)).encode(),
                            headers={**admin, "Content-Type": CSV})


def _row(unit, name, person, phone=""):
    return f"{GRID_A},锦绣花园5幢,{unit},{name},{person},{phone},head,\n"


def test_people_already_registered_reject_the_file(district, web_session, admin, db_engine):
    # P3.1: one person, one registration; the report is the one a check before any write
    # gives, whichever chunk of the pipeline the unique index refused
    a, b = id_number("19500101", "151"), id_number("19510101", "152")
    c, d = id_number("19520101", "153"), id_number("19530101", "154")
    first = _import(web_session, admin, [_row("1单元101", "甲", a), _row("1单元102", "乙", b)])
    assert first.status_code == 201, first.text
    residents, households = count(db_engine, "residents"), count(db_engine, "households")
    response = _import(web_session, admin, [
        _row("1单元103", "丙", c), _row("1单元101", "甲", a), _row("1单元104", "丁", d),
        _row("1单元105", "丙", c), _row("1单元106", "甲", a, "13800000042")])
    assert response.status_code == 422
    report = response.json()["error"]["fields"]["report"]
    assert report["imported"] == 0 and report["rejected_count"] == 3
    assert [(r["row"], r["field"], r["message"]) for r in report["rejected"]] == [
        (5, "id_number", "same person as line 2"), (6, "id_number", "same person as line 3"),
        (6, "id_number", "already registered")]
    assert count(db_engine, "residents") == residents
    assert count(db_engine, "households") == households


def test_a_registered_person_found_mid_import_rolls_back_the_earlier_chunks(
        district, web_session, admin, db_engine, monkeypatch):
    from services.registry import importer
    monkeypatch.setattr(importer, "CHUNK", 1)  # one INSERT per row: the refusal comes late
    a = id_number("19540101", "161")
    assert _import(web_session, admin, [_row("2单元101", "戊", a)]).status_code == 201
    residents, households = count(db_engine, "residents"), count(db_engine, "households")
    response = _import(web_session, admin, [
        _row("2单元102", "己", id_number("19550101", "162")),
        _row("2单元103", "庚", id_number("19560101", "163")),
        _row("2单元101", "戊", a),
        _row("2单元104", "辛", id_number("19570101", "164"), "12345")])
    assert response.status_code == 422
    report = response.json()["error"]["fields"]["report"]
    assert [(r["row"], r["field"]) for r in report["rejected"]] == [
        (5, "phone"), (4, "id_number")]
    assert count(db_engine, "residents") == residents
    assert count(db_engine, "households") == households
    again = _import(web_session, admin, [
        _row("2单元102", "己", id_number("19550101", "162")),
        _row("2单元103", "庚", id_number("19560101", "163"))])
    assert again.status_code == 201, again.text
    assert count(db_engine, "residents") == residents + 2


def test_the_drivers_errors_come_out_as_sqlalchemy_errors(monkeypatch):
    # the import talks to psycopg directly (pipeline, COPY); a lost database must still be
    # the OperationalError web.py turns into 503, not a 500
    import psycopg
    import pytest

    from services.registry import importer

    def lost(*args):
        raise psycopg.OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(importer, "_import_residents", lost)
    with pytest.raises(sa.exc.OperationalError):
        importer.import_residents(None, None, [])

"""Residents' personal data: encrypted, masked, scoped, unmasked only with a reason and
always audited (P5.4.4)."""

import pytest
import sqlalchemy as sa

from tests.registry.conftest import COMMUNITY, GRID_A, GRID_B, TOWN, id_number

PERSON_ID = id_number("19491231", "002")
PHONE = "13812341234"


@pytest.fixture
def worker_a(token):
    return token("neighbourhood_grid_worker", f"grid:{GRID_A}", sub="worker-a")


@pytest.fixture
def worker_b(token):
    return token("neighbourhood_grid_worker", f"grid:{GRID_B}", sub="worker-b")


@pytest.fixture
def resident(district, web_session, worker_a):
    response = web_session.post("/residents", headers=worker_a, json={
        "household_id": district["household"]["id"], "name": "张三丰",
        "id_number": PERSON_ID.lower(), "phone": "+86 138-1234-1234",
        "relationship": "head"})
    assert response.status_code == 201, response.text
    return response.json()


def audit_rows(db_engine, subject_id):
    with db_engine.connect() as conn:
        return conn.execute(sa.text(
            "SELECT actor_sub, action, fields, reason FROM registry.audit_log "
            "WHERE subject_id = :s ORDER BY id"), {"s": str(subject_id)}).all()


def test_registration_returns_masked_data(resident):
    assert resident["grid_code"] == GRID_A
    assert resident["id_number"] == PERSON_ID[:6] + "********" + PERSON_ID[-4:]
    assert resident["phone"] == "138****1234"
    assert resident["masked"] is True
    assert resident["sex"] == "F"  # sequence 002 is even (GB 11643)
    assert resident["birth_year"] == 1949
    assert "special_groups" not in resident


def test_no_plaintext_personal_data_in_the_database(resident, db_engine):
    with db_engine.connect() as conn:
        dump = conn.execute(sa.text(
            "SELECT string_agg(r::text, '|') FROM registry.residents r")).scalar()
        events = conn.execute(sa.text(
            "SELECT coalesce(string_agg(body::text, '|'), '') FROM registry.outbox")).scalar()
    for secret in (PERSON_ID, PERSON_ID[6:14], PHONE):
        assert secret not in dump
        assert secret not in events


def test_unmask_needs_a_reason_and_is_audited(resident, web_session, worker_a, db_engine):
    path = f"/residents/{resident['id']}"
    no_reason = web_session.get(path, params={"unmask": "id_number"}, headers=worker_a)
    assert no_reason.status_code == 422
    assert audit_rows(db_engine, resident["id"]) == []

    shown = web_session.get(path, params={"unmask": "id_number,phone",
                                          "reason": "回访核实身份"}, headers=worker_a)
    assert shown.status_code == 200
    assert shown.json()["id_number"] == PERSON_ID
    assert shown.json()["phone"] == PHONE
    rows = audit_rows(db_engine, resident["id"])
    assert [(r.actor_sub, r.action, r.fields, r.reason) for r in rows] == [
        ("worker-a", "unmask", ["id_number", "phone"], "回访核实身份")]


def test_grid_worker_cannot_read_another_grids_residents(resident, web_session, worker_b):
    one = web_session.get(f"/residents/{resident['id']}", headers=worker_b)
    assert one.status_code == 403
    listed = web_session.get("/residents", params={"grid_code": GRID_A}, headers=worker_b)
    assert listed.status_code == 403
    own = web_session.get("/residents", headers=worker_b)
    assert own.status_code == 200 and own.json() == []


def test_roles_without_need_see_no_residents(resident, web_session, token):
    for role, scope in [("ops_viewer", "district:320505"), ("department_officer",
                                                             "department:fire")]:
        headers = token(role, scope)
        assert web_session.get(f"/residents/{resident['id']}", headers=headers).status_code == 403


def test_special_groups_only_for_roles_that_need_them(district, web_session, token,
                                                       worker_a, db_engine):
    chief = token("community_grid_chief", f"community:{COMMUNITY}", sub="chief-1")
    body = {"grid_code": GRID_A, "name": "李四", "id_number": id_number("19700101", "011"),
            "special_groups": ["community_corrections"]}
    assert web_session.post("/residents", json=body, headers=worker_a).status_code == 403
    created = web_session.post("/residents", json=body, headers=chief)
    assert created.status_code == 201
    rid = created.json()["id"]
    denied = web_session.get(f"/residents/{rid}", headers=worker_a,
                             params={"unmask": "special_groups", "reason": "例行走访"})
    assert denied.status_code == 403
    seen = web_session.get(f"/residents/{rid}", headers=chief,
                           params={"unmask": "special_groups", "reason": "帮教安排"})
    assert seen.json()["special_groups"] == ["community_corrections"]
    assert [(r.actor_sub, r.action, r.fields) for r in audit_rows(db_engine, rid)] == [
        ("worker-a", "unmask_refused", ["special_groups"]),
        ("chief-1", "unmask", ["special_groups"])]


def test_bad_identity_input(district, web_session, worker_a):
    wrong_check = PERSON_ID[:-1] + ("0" if PERSON_ID[-1] != "0" else "1")
    response = web_session.post("/residents", headers=worker_a, json={
        "grid_code": GRID_A, "name": "王五", "id_number": wrong_check})
    assert response.status_code == 422
    assert "id_number" in response.json()["error"]["fields"]
    future = id_number("20991231", "001")
    assert web_session.post("/residents", headers=worker_a, json={
        "grid_code": GRID_A, "name": "王五", "id_number": future}).status_code == 422
    bad_phone = web_session.post("/residents", headers=worker_a, json={
        "grid_code": GRID_A, "name": "王五", "id_number": id_number(), "phone": "12345"})
    assert bad_phone.status_code == 422
    wrong_type = web_session.post("/residents", headers=worker_a, json={
        "grid_code": GRID_A, "name": ["王五"], "id_number": 42})
    assert wrong_type.status_code == 422
    assert set(wrong_type.json()["error"]["fields"]) == {"name", "id_number"}


def test_one_person_one_registration(resident, web_session, worker_a):
    again = web_session.post("/residents", headers=worker_a, json={
        "grid_code": GRID_A, "name": "张三丰", "id_number": PERSON_ID})
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "duplicate_resident"


def test_one_query_finds_household_grid_and_staff(resident, web_session, token, admin,
                                                  db_engine):
    web_session.post("/staff", headers=admin, json={
        "name": "赵网格", "role": "neighbourhood_grid_worker", "scope": f"grid:{GRID_A}",
        "work_phone": "13900000000"})
    chief = token("town_grid_chief", f"town:{TOWN}", sub="town-chief")
    found = web_session.post("/search", headers=chief,
                            json={"id_number": PERSON_ID, "reason": "信访核查"})
    assert found.status_code == 200, found.text
    [match] = found.json()["residents"]
    assert match["resident"]["id"] == resident["id"]
    assert match["household"]["unit"] == "2单元301"
    assert match["grid"]["grid_code"] == GRID_A
    assert [s["name"] for s in match["responsible_staff"]] == ["赵网格"]
    assert audit_rows(db_engine, str(resident["id"]))[-1].action == "one_query"

    by_address = web_session.post("/search", headers=chief,
                                 json={"address": "锦绣花园", "reason": "走访核查"})
    assert by_address.status_code == 200, by_address.text
    assert by_address.json()["buildings"][0]["grid"]["grid_code"] == GRID_A

    elsewhere = token("town_grid_chief", "town:320505002", sub="other-town")
    hidden = web_session.post("/search", headers=elsewhere,
                             json={"id_number": PERSON_ID, "reason": "信访核查"})
    assert hidden.json()["residents"] == []
    no_reason = web_session.post("/search", headers=chief, json={"id_number": PERSON_ID})
    assert no_reason.status_code == 422


def test_audit_log_is_admin_only_append_only_and_its_reads_audited(
        resident, web_session, worker_a, admin, db_engine):
    web_session.get(f"/residents/{resident['id']}", headers=worker_a,
                    params={"unmask": "phone", "reason": "联系住户"})
    assert web_session.get("/audit", headers=worker_a).status_code == 403
    rows = web_session.get("/audit", headers=admin, params={"subject_type": "resident"}).json()
    assert rows[0]["actor_sub"] == "worker-a"
    with db_engine.connect() as conn:
        reads = conn.execute(sa.text("SELECT count(*) FROM registry.audit_log "
                                     "WHERE action = 'read_audit_log'")).scalar()
    assert reads == 1
    # filtered by what was done (the district workbench's audit page, issue 14)
    unmasked = web_session.get("/audit", headers=admin, params={"action": "unmask"}).json()
    assert unmasked and {r["action"] for r in unmasked} == {"unmask"}
    reviews = web_session.get("/audit", headers=admin, params={"action": "read_audit_log"})
    assert [r["action"] for r in reviews.json()] == ["read_audit_log", "read_audit_log"]
    assert reviews.json()[0]["fields"] == ["action"]  # the reads say what was asked
    with pytest.raises(sa.exc.DBAPIError, match="append-only"):
        with db_engine.begin() as conn:
            conn.execute(sa.text("UPDATE registry.audit_log SET reason = 'x'"))
    for statement in ("DELETE FROM registry.audit_log", "TRUNCATE registry.audit_log"):
        with pytest.raises(sa.exc.DBAPIError, match="append-only"):
            with db_engine.begin() as conn:
                conn.execute(sa.text(statement))


def test_refused_reads_of_personal_data_are_audited(resident, web_session, token, worker_b,
                                                    db_engine):
    """Issue 10 item 6: an unmask the role may not make, and a read or export outside the
    caller's scope, are refused (403) *and* recorded, with the reason given and why."""
    path = f"/residents/{resident['id']}"
    chief = token("town_grid_chief", f"town:{TOWN}", sub="town-chief")
    refused = web_session.get(path, headers=chief,
                              params={"unmask": "id_number", "reason": "想看看号码"})
    assert refused.status_code == 403, refused.text
    elsewhere = web_session.get(path, headers=worker_b,
                                params={"unmask": "phone", "reason": "联系住户"})
    assert elsewhere.status_code == 403, elsewhere.text
    rows = [(r.actor_sub, r.action, r.fields) for r in audit_rows(db_engine, resident["id"])]
    assert rows == [("town-chief", "unmask_refused", ["id_number"]),
                    ("worker-b", "unmask_refused", ["phone"])]
    reasons = [r.reason for r in audit_rows(db_engine, resident["id"])]
    assert reasons[0].startswith("想看看号码 | refused: role town_grid_chief")
    cgc = token("community_grid_chief", f"community:{COMMUNITY}", sub="cgc-x")
    export = web_session.get("/export/residents.csv", headers=cgc,
                             params={"prefix": "320505002"})
    assert export.status_code == 403
    with db_engine.connect() as conn:
        exports = conn.execute(sa.text(
            "SELECT actor_sub, subject_id FROM registry.audit_log "
            "WHERE action = 'export_masked_refused'")).all()
    assert exports == [("cgc-x", "320505002")]


def test_an_id_number_with_spaces_is_normalised_before_its_length_is_checked(
        district, web_session, worker_a):
    """Issue 10 item 6: " 3205…X " or "320505 19491231 002X" from a spreadsheet was 422
    (the schema counted the spaces); the spaces go first, then the length is checked."""
    person = id_number("19700101", "031")
    spaced = f"  {person[:6]} {person[6:14]} {person[14:]}  "
    created = web_session.post("/residents", headers=worker_a, json={
        "grid_code": GRID_A, "name": "钱七", "id_number": spaced})
    assert created.status_code == 201, created.text
    again = web_session.post("/residents", headers=worker_a, json={
        "grid_code": GRID_A, "name": "钱七", "id_number": person})
    assert again.status_code == 409  # the same person: one canonical form
    found = web_session.post("/search", headers=worker_a,
                             json={"id_number": f" {person} ", "reason": "核对身份"})
    assert found.status_code == 200, found.text
    assert [m["resident"]["id"] for m in found.json()["residents"]] == [created.json()["id"]]
    too_long = web_session.post("/residents", headers=worker_a, json={
        "grid_code": GRID_A, "name": "钱七", "id_number": person + "1"})
    assert too_long.status_code == 422


def test_one_query_takes_personal_terms_in_the_body_not_the_url(resident, web_session,
                                                                 worker_a):
    """Issue 10 item 4: an ID number or phone in a query string lands in access logs; the
    one query is a POST with a JSON body, and the old GET with terms in the URL is gone."""
    found = web_session.post("/search", headers=worker_a,
                             json={"phone": PHONE, "reason": "联系住户"})
    assert found.status_code == 200, found.text
    assert [m["resident"]["id"] for m in found.json()["residents"]] == [resident["id"]]
    old = web_session.get("/search", headers=worker_a,
                          params={"phone": PHONE, "reason": "联系住户"})
    assert old.status_code in (404, 405), old.text
    assert PHONE not in old.text

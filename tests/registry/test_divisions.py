"""Division codes as data (issue 11, M1): towns and communities are renamed (same code, a
new name version), retired once nothing valid is left under them, never have their code
reused, are named as on the day asked, and every change is announced as
registry.division.changed (real service, broker and database)."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
import sqlalchemy as sa
from alembic import command
from nameko.standalone.rpc import ServiceRpcProxy

from gridgov_common.contract import load_sample, parse_envelope
from gridgov_common.platform import db_roles, migrate
from tests.amqp import bind_queue, drain
from tests.registry.conftest import (
    COMMUNITY,
    DISTRICT,
    GRID_A,
    GRID_B,
    OTHER_COMMUNITY,
    TOWN,
    square,
)

SINK = "test.divisions"
OLD_TOWN = "320505002"  # a town with a past: founded 2020, renamed 2025-07-01
OLD_COMMUNITY = OLD_TOWN + "001"
RENAMED_ON = "2025-07-01"
LATER = (date.today() + timedelta(days=30)).isoformat()  # a retirement day to come


@pytest.fixture
def announced(rabbit_config):
    """Bound before the registry starts, so every division message is seen."""
    uri = rabbit_config["AMQP_URI"]
    bind_queue(uri, SINK, "gridgov.events", ["registry.division.changed"])

    def take(expect: int) -> list[dict]:
        """The payloads as sent (JSON), each held to the registered schema first."""
        envelopes = [json.loads(body) for _, _, body in drain(uri, SINK, expect=expect)]
        assert len(envelopes) == expect, envelopes
        for envelope in envelopes:
            parse_envelope(envelope)  # raises on anything the schema refuses
        return [envelope["payload"] for envelope in envelopes]
    return take


@pytest.fixture
def places(announced, district):
    """The conftest's district (one town, two communities, two grids), announced."""
    created = announced(4)
    assert [(p["level"], p["code"], p["action"]) for p in created] == [
        ("district", DISTRICT, "created"), ("town", TOWN, "created"),
        ("community", COMMUNITY, "created"), ("community", OTHER_COMMUNITY, "created")]
    return district


def _ok(response, status=200):
    assert response.status_code == status, response.text
    return response.json()


def _error(response, status):
    assert response.status_code == status, response.text
    return response.json()["error"]


def test_created_divisions_are_announced_as_the_sample_says(places, announced, web_session,
                                                           admin):
    """Every created division carries its validity and first name; the message has the
    sample's fields exactly (the sample is held to the registered schema elsewhere)."""
    sample = load_sample("registry.division.changed", 1)
    parse_envelope(sample)  # the committed sample validates against the schema
    town = _ok(web_session.get(f"/towns/{TOWN}/history", headers=admin))
    assert (town["name"], town["valid_from"], town["valid_to"]) == (
        "枫桥街道", date.today().isoformat(), None)
    assert [v["version"] for v in town["versions"]] == [1]
    made = _ok(web_session.post("/towns", headers=admin, json={
        "code": "320505100", "name": "东渚镇", "valid_from": "2024-01-01",
        "district_code": DISTRICT}), 201)
    assert made["valid_from"] == "2024-01-01"
    [created] = announced(1)
    assert set(created) == set(sample["payload"])
    assert created == {"level": "town", "code": "320505100", "name": "东渚镇",
                       "name_version": 1, "action": "created", "valid_from": "2024-01-01",
                       "valid_to": None, "reason": ""}


def test_renaming_keeps_the_code_and_the_old_name_for_past_days(
        places, announced, web_session, admin, rabbit_config):
    _ok(web_session.post("/towns", headers=admin, json={
        "code": OLD_TOWN, "name": "通安镇", "valid_from": "2020-01-01"}), 201)
    _ok(web_session.post("/communities", headers=admin, json={
        "code": OLD_COMMUNITY, "name": "华通村", "valid_from": "2020-01-01",
        "town_code": OLD_TOWN}), 201)
    grid = _ok(web_session.post("/grids", headers=admin, json={
        "community_code": OLD_COMMUNITY, "name": "华通一网格", "valid_from": "2020-01-01",
        "geometry": square(120.10, 31.00, 120.11, 31.01)}), 201)
    announced(2)

    renamed = _ok(web_session.patch(f"/towns/{OLD_TOWN}", headers=admin, json={
        "name": "通安街道", "valid_from": RENAMED_ON, "reason": "撤镇设街道"}))
    assert renamed["code"] == OLD_TOWN and renamed["name"] == "通安街道"
    assert [(v["version"], v["name"], v["valid_from"], v["valid_to"])
            for v in renamed["versions"]] == [
        (1, "通安镇", "2020-01-01", RENAMED_ON), (2, "通安街道", RENAMED_ON, None)]
    assert renamed["versions"][1]["reason"] == "撤镇设街道"
    _ok(web_session.patch(f"/communities/{OLD_COMMUNITY}", headers=admin, json={
        "name": "华通社区", "valid_from": "2026-01-01"}))
    town_msg, community_msg = announced(2)
    assert town_msg == {"level": "town", "code": OLD_TOWN, "name": "通安街道",
                        "name_version": 2, "action": "renamed", "valid_from": RENAMED_ON,
                        "valid_to": None, "reason": "撤镇设街道"}
    assert (community_msg["name"], community_msg["name_version"]) == ("华通社区", 2)

    # the day asked decides the name: history, place_names, the map, a case file page
    before = _ok(web_session.get(f"/towns/{OLD_TOWN}/history", headers=admin,
                                 params={"on": "2025-06-30"}))
    assert before["name"] == "通安镇"
    with ServiceRpcProxy("registry", rabbit_config) as registry:
        assert registry.place_names(OLD_TOWN)["towns"] == {OLD_TOWN: "通安街道"}
        past = registry.place_names(OLD_TOWN, False, "2025-06-30")
        assert past["towns"] == {OLD_TOWN: "通安镇"}
        assert past["communities"] == {OLD_COMMUNITY: "华通村"}
        middle = registry.place_names(DISTRICT, on="2025-12-31")
        assert (middle["towns"][OLD_TOWN], middle["communities"][OLD_COMMUNITY]) == (
            "通安街道", "华通村")
        assert middle["towns"][TOWN] == "枫桥街道"  # founded today: its first known name
        page_then = registry.case_context(grid["grid_code"], None, [], "2025-06-30")
        page_now = registry.case_context(grid["grid_code"])
    assert (page_then["place"]["town_name"], page_then["place"]["community_name"]) == (
        "通安镇", "华通村")
    assert (page_now["place"]["town_name"], page_now["place"]["community_name"]) == (
        "通安街道", "华通社区")
    mapped = _ok(web_session.get("/grids.geojson", headers=admin,
                                 params={"on": "2025-06-30"}))
    [feature] = mapped["features"]  # the conftest's grids begin today
    assert feature["properties"]["town_name"] == "通安镇"

    # history is not rewritten, and a renaming to the same name records nothing
    backwards = _error(web_session.patch(f"/towns/{OLD_TOWN}", headers=admin, json={
        "name": "通安新区", "valid_from": "2025-07-01"}), 422)
    assert (backwards["code"], list(backwards["fields"])) == ("rename_out_of_order",
                                                              ["valid_from"])
    same = _error(web_session.patch(f"/towns/{OLD_TOWN}", headers=admin, json={
        "name": "通安街道", "valid_from": "2027-01-01"}), 422)
    assert same["code"] == "name_unchanged" and "name" in same["fields"]
    assert len(_ok(web_session.get(f"/towns/{OLD_TOWN}/history",
                                   headers=admin))["versions"]) == 2


def test_retiring_is_refused_while_children_are_valid_then_allowed(
        places, announced, web_session, admin):
    refused = _error(web_session.post(f"/towns/{TOWN}/retire", headers=admin, json={
        "valid_to": LATER, "reason": "并入320505003"}), 409)
    assert refused["code"] == "division_has_children"
    assert refused["fields"]["children"] == [COMMUNITY, OTHER_COMMUNITY]
    grids_left = _error(web_session.post(f"/communities/{COMMUNITY}/retire", headers=admin,
                                         json={"valid_to": LATER, "reason": "拆分"}), 409)
    assert grids_left["fields"]["children"] == [GRID_A, GRID_B]

    for grid in (GRID_A, GRID_B):
        _ok(web_session.post(f"/grids/{grid}/retire", headers=admin,
                             json={"valid_to": LATER}))
    for community in (COMMUNITY, OTHER_COMMUNITY):
        gone = _ok(web_session.post(f"/communities/{community}/retire", headers=admin,
                                    json={"valid_to": LATER, "reason": "拆分"}))
        assert (gone["valid_to"], gone["retired_reason"]) == (LATER, "拆分")
    town = _ok(web_session.post(f"/towns/{TOWN}/retire", headers=admin,
                                json={"valid_to": LATER, "reason": "并入320505003"}))
    assert (town["valid_to"], town["retired_reason"]) == (LATER, "并入320505003")
    assert town["versions"][-1]["valid_to"] == LATER and town["name"] == "枫桥街道"
    messages = announced(3)
    assert [(m["code"], m["action"], m["valid_to"]) for m in messages] == [
        (COMMUNITY, "retired", LATER), (OTHER_COMMUNITY, "retired", LATER),
        (TOWN, "retired", LATER)]
    assert messages[-1]["reason"] == "并入320505003"

    again = _error(web_session.post(f"/towns/{TOWN}/retire", headers=admin,
                                    json={"valid_to": LATER, "reason": "again"}), 409)
    assert again["code"] == "division_retired"
    renamed = _error(web_session.patch(f"/towns/{TOWN}", headers=admin, json={
        "name": "枫桥新区", "valid_from": LATER}), 409)
    assert renamed["code"] == "division_retired"
    # nothing new starts under a retired division
    late = _error(web_session.post("/communities", headers=admin, json={
        "code": TOWN + "007", "name": "迟到社区", "valid_from": LATER}), 409)
    assert late["code"] == "parent_retired" and "town_code" in late["fields"]
    grid = _error(web_session.post("/grids", headers=admin, json={
        "community_code": OTHER_COMMUNITY, "name": "迟到网格", "valid_from": LATER,
        "geometry": square(121, 31, 121.01, 31.01)}), 409)
    assert grid["code"] == "parent_retired"


def test_a_retired_code_is_never_reused(places, announced, web_session, admin):
    _ok(web_session.post(f"/communities/{OTHER_COMMUNITY}/retire", headers=admin,
                         json={"valid_to": LATER, "reason": "并入锦绣社区"}))
    announced(1)
    reused = _error(web_session.post("/communities", headers=admin, json={
        "code": OTHER_COMMUNITY, "name": "新和平社区"}), 409)
    assert reused["code"] == "division_code_retired" and "code" in reused["fields"]
    assert "never reused" in reused["message"]
    existing = _error(web_session.post("/towns", headers=admin, json={
        "code": TOWN, "name": "又一个枫桥"}), 409)
    assert existing["code"] == "division_exists"
    names = _ok(web_session.get(f"/communities/{OTHER_COMMUNITY}/history", headers=admin))
    assert [v["name"] for v in names["versions"]] == ["和平社区"]  # untouched
    assert (names["valid_to"], names["retired_reason"]) == (LATER, "并入锦绣社区")


def test_bad_codes_and_bodies_are_refused_with_their_fields(registry, web_session, admin,
                                                           token):
    far = token("district_admin", "district:990505", sub="admin-99")
    province = _error(web_session.post("/districts", headers=far,
                                       json={"code": "990505", "name": "无此省"}), 422)
    assert "province" in province["fields"]["code"][0]
    prefecture = token("district_admin", "district:320500", sub="admin-sz")
    county = _error(web_session.post("/districts", headers=prefecture,
                                     json={"code": "320500", "name": "苏州市"}), 422)
    assert "county part 00" in county["fields"]["code"][0]
    _ok(web_session.post("/districts", headers=admin,
                         json={"code": DISTRICT, "name": "姑苏区"}), 201)
    town_000 = _error(web_session.post("/towns", headers=admin,
                                       json={"code": "320505000", "name": "零"}), 422)
    assert "township part 000" in town_000["fields"]["code"][0]
    astray = _error(web_session.post("/towns", headers=admin, json={
        "code": "320505001", "name": "枫桥街道", "district_code": "320506"}), 422)
    assert list(astray["fields"]) == ["district_code"]
    _ok(web_session.post("/towns", headers=admin,
                         json={"code": TOWN, "name": "枫桥街道", "district_code": DISTRICT}),
        201)
    stray = _error(web_session.post("/communities", headers=admin, json={
        "code": COMMUNITY, "name": "锦绣社区", "town_code": "320505009"}), 422)
    assert list(stray["fields"]) == ["town_code"]
    village_000 = _error(web_session.post("/communities", headers=admin,
                                          json={"code": TOWN + "000", "name": "零"}), 422)
    assert "village part 000" in village_000["fields"]["code"][0]
    no_day = _error(web_session.patch(f"/towns/{TOWN}", headers=admin,
                                      json={"name": "新名"}), 422)
    assert "valid_from" in no_day["fields"]
    no_reason = _error(web_session.post(f"/towns/{TOWN}/retire", headers=admin,
                                        json={"valid_to": LATER}), 422)
    assert "reason" in no_reason["fields"]
    before_start = _error(web_session.post(f"/towns/{TOWN}/retire", headers=admin, json={
        "valid_to": date.today().isoformat(), "reason": "x"}), 422)
    assert list(before_start["fields"]) == ["valid_to"]
    unknown = _error(web_session.patch("/communities/320505001099", headers=admin, json={
        "name": "无", "valid_from": LATER}), 404)
    assert unknown["code"] == "unknown_community_code"
    chief = token("town_grid_chief", f"town:{TOWN}")
    assert web_session.patch(f"/towns/{TOWN}", headers=chief, json={
        "name": "新名", "valid_from": LATER}).status_code == 403
    other = token("district_admin", "district:320506", sub="admin-2")
    assert web_session.post(f"/towns/{TOWN}/retire", headers=other, json={
        "valid_to": LATER, "reason": "x"}).status_code == 403
    assert web_session.get(f"/towns/{TOWN}/history", headers=other).status_code == 403


def test_the_migration_backfills_validity_from_the_created_day(clean_registry, db_url,
                                                               db_engine):
    """0008 on rows made before it: valid_from = the day created (Shanghai), one name
    version each; the database then goes back to head for the other tests."""
    config = migrate.alembic_config("registry", db_url,
                                    db_roles.prepare(db_url, ("registry",), env={}))
    command.downgrade(config, "0007")
    try:
        with db_engine.begin() as conn:
            conn.execute(sa.text(
                "INSERT INTO registry.districts (code, name, created_at) VALUES "
                "('320505', '姑苏区', '2019-03-31 17:00:00+00')"))  # 04-01 in Shanghai
            conn.execute(sa.text(
                "INSERT INTO registry.towns (code, district_code, name, kind, created_at) "
                "VALUES ('320505001', '320505', '枫桥街道', 'street', "
                "'2021-05-06 02:00:00+00')"))
    finally:
        migrate.upgrade(db_url, services=("registry",), env={})
    with db_engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT d.code, d.valid_from, d.valid_to, n.version, n.name, n.valid_from "
            "FROM (SELECT code, valid_from, valid_to FROM registry.districts UNION ALL "
            "SELECT code, valid_from, valid_to FROM registry.towns) d JOIN "
            "registry.division_names n USING (code) ORDER BY d.code")).all()
    assert [tuple(r) for r in rows] == [
        ("320505", date(2019, 4, 1), None, 1, "姑苏区", date(2019, 4, 1)),
        ("320505001", date(2021, 5, 6), None, 1, "枫桥街道", date(2021, 5, 6))]

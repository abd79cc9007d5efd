"""One district cannot see another (issue 10 item 3): the route × role walk again, with a
second district.

District 320505 is filled with real objects (places, a building, a household, a resident,
staff, a staff adjustment, audit rows; an assessment report and typed inputs); then every
route of the service is called with a token of every role of district **110105**, its
path parameters pointing at 320505's objects, its query naming 320505's codes, and every
write's body asking to create or change something under 320505. Nothing may cross:

* no answer may be 5xx;
* a successful answer may not carry anything of 320505 (its codes — which also begin
  every masked ID number —, names, addresses): empty or filtered lists, nulls;
* every write is refused (4xx), and afterwards the database holds exactly what it held.

Department officers are not walked here: a department scope names no district (they
read geography unrestricted, docs/SECURITY.md "Districts"); the route walk and the case
tests cover their scope. The routes come from the running service's /openapi.json, so a
new route is walked without being listed; only write bodies are listed by hand.
"""

from __future__ import annotations

import json
import uuid

import pytest
import sqlalchemy as sa

from gridgov_common.kernel import auth
from services.registry.domain.identity import check_character
from tests.authz import streams
from tests.authz.test_route_walk import routes_of

B_DISTRICT, B_TOWN = "320505", "320505001"
B_COMMUNITY, B_GRID = B_TOWN + "001", B_TOWN + "001001"
# what a 110105 token must never see: 320505's codes (also the start of its masked ID
# numbers) and the names and address typed into it
MARKERS = (B_DISTRICT, "姑苏区", "枫桥街道", "锦绣社区", "锦绣一网格", "锦绣花园", "张三丰",
           "赵网格", "李书记")


def square(lon0, lat0, lon1, lat1):
    return {"type": "Polygon", "coordinates": [[[lon0, lat0], [lon1, lat0], [lon1, lat1],
                                                [lon0, lat1], [lon0, lat0]]]}


def id_number(birth: str, seq: str) -> str:
    body = B_DISTRICT + birth + seq
    return body + check_character(body)


def mint(platform_secrets, role: str, scope: str, sub: str) -> dict[str, str]:
    token = auth.mint(platform_secrets["JWT_SECRET"], sub, role, scope)
    return {"Authorization": f"Bearer {token}"}


def table_counts(db_engine, schema: str) -> dict[str, int]:
    """Rows per table of a service's schema (the audit logs grow with refusals: left out)."""
    with db_engine.connect() as conn:
        names = conn.execute(sa.text(
            "SELECT tablename FROM pg_tables WHERE schemaname = :s AND tablename NOT IN "
            "('audit_log', 'track_audit', 'alembic_version')"), {"s": schema}).scalars()
        return {n: conn.execute(sa.text(f'SELECT count(*) FROM "{schema}"."{n}"')).scalar()
                for n in names}


def walk(web_session, bearer, routes, path_values, queries, bodies, raw_bodies=None,
         markers=MARKERS):
    """Call every non-public route with every 110105 token; the failures, as text."""
    failures: list[str] = []
    raw_bodies = raw_bodies or {}
    for route, (method, concrete_url) in sorted(routes.items()):
        if route in PUBLIC:
            continue
        url = route.partition(" ")[2]
        for name, value in path_values.items():
            url = url.replace("{" + name + "}", str(value))
        if "{" in url:  # a parameter of no 320505 object: the walk's dummy value
            url = concrete_url
        for role, headers in bearer["other_district"].items():
            calls = [dict(params=q) for q in queries.get(route, [{}])]
            if method in ("POST", "PUT", "PATCH"):
                if route in raw_bodies:
                    mimetype, data = raw_bodies[route]
                    calls = [dict(data=data.encode(),
                                  headers={**headers, "Content-Type": mimetype})]
                else:
                    calls = [dict(json=bodies.get(route, {}))]
            for kwargs in calls:
                kwargs.setdefault("headers", headers)
                response = streams.request(web_session, method, url, timeout=30, **kwargs)
                what = f"{route} {role} {kwargs.get('params') or ''}"
                if response.status_code >= 500:
                    failures.append(f"{what}: {response.status_code}")
                elif (response.status_code < 300 and method in ("POST", "PUT", "PATCH")
                      and route not in NOT_UNDER_B):
                    failures.append(f"{what}: a write under 320505 answered "
                                    f"{response.status_code}")
                elif response.status_code < 300:  # a read, or a write of its own
                    leaked = [m for m in markers if m in response.text]
                    if leaked:
                        failures.append(f"{what}: {response.status_code} shows {leaked}")
    return failures


PUBLIC = {"GET /healthz", "GET /readyz", "GET /metrics", "GET /openapi.json",
          "GET /grids/{grid_code}/notice-board", "GET /dashboard",
          "GET /dashboard/static/{name}",
          # issue 12: sign-in by password or refresh cookie, no token to walk with
          "POST /auth/sign-in", "POST /auth/password", "POST /auth/refresh",
          "POST /auth/sign-out",
          # issue 12: the residents' report page, public by design (no account; grid
          # outlines and names are posted on notice boards anyway, P5.4.2)
          "GET /report", "GET /report/status", "GET /report/static/{name}",
          "GET /public/categories", "GET /public/grids", "POST /public/challenge",
          "POST /public/photos", "POST /public/reports", "GET /public/reports/{case_number}"}
# POSTs that read (their answers are checked for 320505's data), and writes whose body
# names nothing of 320505: a 110105 worker starting its own patrol or a 110105 meeting
NOT_UNDER_B = {"POST /search", "POST /lookup/points", "POST /patrols", "POST /meetings"}


@pytest.fixture
def district_b(start_service, web_session, platform_secrets, db_engine):
    """320505 with one of everything the registry keeps, made by 320505's own admin."""
    start_service("registry")
    admin = mint(platform_secrets, "district_admin", f"district:{B_DISTRICT}", "admin-b")

    def post(path, body, method="POST"):
        response = web_session.request(method, path, json=body, headers=admin)
        assert response.status_code in (200, 201), response.text
        return response.json()

    post("/districts", {"code": B_DISTRICT, "name": "姑苏区"})
    post("/towns", {"code": B_TOWN, "name": "枫桥街道"})
    post("/communities", {"code": B_COMMUNITY, "name": "锦绣社区",
                          "boundary": square(120.0, 31.0, 120.02, 31.01)})
    post("/grids", {"community_code": B_COMMUNITY, "name": "锦绣一网格",
                    "geometry": square(120.0, 31.0, 120.01, 31.01)})
    building = post("/buildings", {"grid_code": B_GRID, "address": "锦绣花园3幢",
                                   "lon": 120.005, "lat": 31.005})
    household = post("/households", {"building_id": building["id"], "unit": "2单元301"})
    resident = post("/residents", {"household_id": household["id"], "name": "张三丰",
                                   "id_number": id_number("19491231", "002"),
                                   "phone": "13812341234"})
    worker = post("/staff", {"name": "赵网格", "role": "neighbourhood_grid_worker",
                             "scope": f"grid:{B_GRID}", "subject": "worker-b"})
    post("/staff", {"name": "李书记", "role": "community_grid_worker",
                    "scope": f"community:{B_COMMUNITY}"})
    post(f"/grids/{B_GRID}/party-branch", {"kind": "group", "name": "锦绣一网格党小组",
                                            "secretary_staff_id": worker["id"]}, "PUT")
    shown = web_session.get(f"/residents/{resident['id']}", headers=admin,
                            params={"unmask": "phone", "reason": "回访核实"})
    assert shown.status_code == 200  # an audit row of 320505
    with db_engine.begin() as conn:
        adjustment = conn.execute(sa.text(
            "INSERT INTO registry.staff_adjustments (staff_sub, staff_id, half_year, "
            "report_id, report_version, grade, score, flag_grades, role, scope_code, "
            "town_code, state) VALUES ('worker-b', :staff, '2026H1', :report, 1, 'poor', "
            "41.5, '[\"poor\"]', 'neighbourhood_grid_worker', :grid, :town, 'flagged') "
            "RETURNING id"), {"staff": worker["id"], "report": str(uuid.uuid4()),
                              "grid": B_GRID, "town": B_TOWN}).scalar_one()
    return {"admin": admin, "resident": resident, "staff": worker, "building": building,
            "household": household, "adjustment": adjustment}


def test_registry_nothing_crosses_districts(district_b, web_session, bearer, db_engine):
    routes = routes_of(web_session)
    b = district_b
    # the walk is not vacuous: 320505's own admin sees what 110105 must not
    own = web_session.get("/residents", headers=b["admin"])
    assert "张三丰" in own.text, own.text
    assert B_GRID in web_session.get("/grids", headers=b["admin"]).text
    assert "张三丰" in web_session.get("/export/residents.csv", headers=b["admin"]).text
    assert "回访核实" in web_session.get("/audit", headers=b["admin"]).text
    before = table_counts(db_engine, "registry")

    path_values = {"grid_code": B_GRID, "code": B_COMMUNITY, "resident_id": b["resident"]["id"],
                   "staff_id": b["staff"]["id"], "adjustment_id": b["adjustment"]}
    queries = {
        "GET /grids": [{}, {"prefix": B_DISTRICT}, {"prefix": B_GRID}],
        "GET /residents": [{}, {"grid_code": B_GRID},
                           {"household_id": b["household"]["id"]}],
        "GET /export/residents.csv": [{}, {"prefix": B_DISTRICT}, {"prefix": B_COMMUNITY}],
        "GET /lookup/point": [{"lon": 120.005, "lat": 31.005}],
        "GET /lookup/address": [{"q": "锦绣花园"}, {"q": "3幢"}],
        "GET /staff": [{}, {"prefix": B_DISTRICT}, {"role": "neighbourhood_grid_worker"}],
        "GET /staff-adjustments": [{}, {"half_year": "2026H1"}],
        "GET /audit": [{}, {"actor_sub": "admin-b"}, {"subject_type": "resident"}],
    }
    csv_header = ("grid_code,address,unit,name,id_number,phone,relationship,"
                  "special_groups\n")
    bodies = {
        "POST /districts": {"code": "320597", "name": "冒名区"},
        "POST /towns": {"code": "320505009", "name": "冒名街道"},
        "POST /communities": {"code": "320505001009", "name": "冒名社区"},
        "POST /grids": {"community_code": B_COMMUNITY, "name": "冒名网格",
                        "geometry": square(120.01, 31.0, 120.02, 31.01)},
        "POST /grids/{grid_code}/retire": {"valid_to": "2030-01-01"},
        "PATCH /towns/{code}": {"name": "冒名街道", "valid_from": "2030-01-01"},
        "PATCH /communities/{code}": {"name": "冒名社区", "valid_from": "2030-01-01"},
        "POST /towns/{code}/retire": {"valid_to": "2030-01-01", "reason": "跨区撤销"},
        "POST /communities/{code}/retire": {"valid_to": "2030-01-01", "reason": "跨区撤销"},
        "PUT /grids/{grid_code}/party-branch": {"kind": "branch", "name": "冒名支部",
                                                "secretary_staff_id": b["staff"]["id"]},
        "POST /import/grids": {"type": "FeatureCollection", "features": [{
            "type": "Feature", "geometry": square(120.01, 31.0, 120.02, 31.01),
            "properties": {"community_code": B_COMMUNITY, "name": "冒名网格"}}]},
        "POST /lookup/points": {"points": [[120.005, 31.005]]},
        "POST /neighbourhoods": {"grid_code": B_GRID, "name": "冒名小区"},
        "POST /buildings": {"grid_code": B_GRID, "address": "冒名楼", "lon": 120.005,
                            "lat": 31.005},
        "POST /households": {"building_id": b["building"]["id"], "unit": "9单元909"},
        "POST /residents": {"grid_code": B_GRID, "name": "冒名者",
                            "id_number": id_number("19800101", "551")},
        "POST /search": {"name": "张三丰", "address": "锦绣花园",
                         "id_number": id_number("19491231", "002"), "reason": "跨区查询"},
        "POST /staff": {"name": "冒名", "role": "neighbourhood_grid_worker",
                        "scope": f"grid:{B_GRID}"},
        "POST /staff/{staff_id}/transitions": {"action": "dismiss", "reason": "跨区"},
        "PUT /staff/{staff_id}/subject": {"subject": "hijacked"},
        "PUT /staff/{staff_id}/grids": {"grid_codes": [B_GRID]},
        "POST /staff-adjustments/{adjustment_id}/propose": {"measure": "keep_with_training",
                                                            "reason": "跨区提议"},
        "POST /staff-adjustments/{adjustment_id}/approve": {"reason": "跨区批准"},
        "POST /staff-adjustments/{adjustment_id}/reject": {"reason": "跨区驳回"},
    }
    raw = {"POST /import/residents": ("text/csv; charset=utf-8", csv_header + (
        f"{B_GRID},锦绣花园3幢,2单元302,冒名者,{id_number('19800101', '552')},,head,\n"))}
    # the search by the same ID number, one district over, finds nobody either
    bodies_search_phone = {"phone": "13812341234", "reason": "跨区查询"}

    failures = walk(web_session, bearer, routes, path_values, queries, bodies, raw)
    failures += walk(web_session, bearer, {"POST /search": routes["POST /search"]}, {}, {},
                     {"POST /search": bodies_search_phone})
    assert failures == []
    assert table_counts(db_engine, "registry") == before
    with db_engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM registry.districts "
                                    "WHERE code = '320597'")).scalar() == 0


def test_assessment_reports_stay_in_their_district(start_service, web_session, bearer,
                                                   platform_secrets, db_engine):
    """Appraisal reports and typed inputs of 320505 are not 110105's (list, read, CSV,
    XLSX, inputs, publish); creating a run or inputs under 320505 is refused."""
    start_service("assessment")
    report_id = str(uuid.uuid4())
    row = {"code": "worker-b", "subject_kind": "grid_worker", "role":
           "neighbourhood_grid_worker", "scope_code": B_GRID, "town_code": B_TOWN,
           "name": "赵网格", "score": 41.5, "grade": "poor", "flagged": True,
           "coverage": 1.0, "indicators": []}
    content = {"half_year": "2026H1", "scope": f"district:{B_DISTRICT}",
               "as_of": "2026-06-30", "working_days": 120, "scheme_version": 1,
               "scheme": {"flag_grades": ["poor"]}, "rows": [row], "flagged": ["worker-b"]}
    with db_engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO assessment.appraisal_reports (report_id, half_year, scope, version, "
            "scheme_version, state, period_start, period_end, created_by, content) VALUES "
            "(:r, '2026H1', :scope, 1, 1, 'draft', '2026-01-01', '2026-06-30', 'admin-b', "
            "CAST(:c AS jsonb))"), {"r": report_id, "scope": f"district:{B_DISTRICT}",
                                     "c": json.dumps(content, ensure_ascii=False)})
        conn.execute(sa.text(
            "INSERT INTO assessment.appraisal_inputs (half_year, subject_kind, subject_code, "
            "town_code, democratic_appraisal, quantified_points, entered_by) VALUES "
            "('2026H1', 'town', :code, :town, 88, 5, 'admin-b')"), {"code": B_TOWN,
                                                                    "town": B_TOWN})
    admin_b = mint(platform_secrets, "district_admin", f"district:{B_DISTRICT}", "admin-b")
    assert "赵网格" in web_session.get(f"/appraisals/{report_id}", headers=admin_b).text
    assert B_TOWN in web_session.get("/appraisal-inputs/2026H1", headers=admin_b).text
    before = table_counts(db_engine, "assessment")

    routes = {route: value for route, value in routes_of(web_session).items()
              if "appraisal" in route}
    failures = walk(web_session, bearer, routes,
                    {"report_id": report_id, "half_year": "2026H1"},
                    {"GET /appraisals": [{}, {"half_year": "2026H1"}]},
                    {"POST /appraisals": {"half_year": "2026H1",
                                          "scope": f"district:{B_DISTRICT}"},
                     "PUT /appraisal-inputs/{half_year}": {"inputs": [{
                         "subject_kind": "town", "subject_code": B_TOWN,
                         "democratic_appraisal": 10, "quantified_points": 0}]}})
    assert failures == []
    after = table_counts(db_engine, "assessment")
    # reading the schemes stores the default one the first time: deployment-wide, no district
    assert {**after, "appraisal_schemes": 0} == {**before, "appraisal_schemes": 0}


def test_assessment_field_work_stays_in_its_district(start_service, web_session, bearer,
                                                     platform_secrets, db_engine):
    """Patrols and tracks, the track audit, patrol grids, meetings, work logs and spot
    checks of 320505, walked with every 110105 token (every assessment route)."""
    start_service("assessment")
    worker = mint(platform_secrets, "neighbourhood_grid_worker", f"grid:{B_GRID}", "worker-b")
    chief = mint(platform_secrets, "community_grid_chief", f"community:{B_COMMUNITY}",
                 "chief-b")
    admin = mint(platform_secrets, "district_admin", f"district:{B_DISTRICT}", "admin-b")

    def send(method, path, body, headers):
        response = web_session.request(method, path, json=body, headers=headers)
        assert response.status_code in (200, 201), response.text
        return response.json()

    send("PUT", "/patrol-grids", {"type": "FeatureCollection", "features": [{
        "type": "Feature", "properties": {"grid_code": B_GRID},
        "geometry": square(120.0, 31.0, 120.01, 31.01)}]}, admin)
    patrol = send("POST", "/patrols", {"started_at": "2026-11-28T08:00:00+08:00"}, worker)
    send("POST", f"/patrols/{patrol['patrol_id']}/points", {"points": [
        {"id": "p1", "recorded_at": "2026-11-28T08:05:00+08:00", "lon": 120.005,
         "lat": 31.005}]}, worker)
    assert web_session.get(f"/patrols/{patrol['patrol_id']}/track",
                           headers=admin).status_code == 200  # a track audit row of 320505
    log = send("POST", "/work-logs", {"grid_code": B_GRID, "day": "2026-11-27",
                                      "content": "锦绣花园走访"}, worker)
    send("POST", "/meetings", {"kind": "emergency", "held_on": "2026-11-27",
                               "attendees": ["chief-b"], "minutes": "锦绣社区应急会"}, chief)
    send("POST", "/spot-checks", {"grid_code": B_GRID, "record_kind": "resident",
                                  "record_id": "r-1", "field_class": "basic",
                                  "method": "phone", "correct": True}, chief)
    before = table_counts(db_engine, "assessment")

    day = {"date": "2026-11-28"}
    failures = walk(
        web_session, bearer, routes_of(web_session),
        {"patrol_id": patrol["patrol_id"], "log_id": log.get("log_id", log.get("id", 1)),
         "half_year": "2026H2"},
        {"GET /compliance/patrols": [day, {**day, "scope": B_DISTRICT}],
         "GET /compliance/meetings": [{"period": "2026-11"},
                                      {"period": "2026-11", "scope": B_COMMUNITY}],
         "GET /meetings": [{}, {"since": "2026-11-01"}],
         "GET /work-logs": [{}, {"day": "2026-11-27"}],
         "GET /spot-checks": [{}, {"scope": B_DISTRICT}],
         "GET /spot-checks/accuracy": [{}, {"scope": B_DISTRICT, "by": "grid"}],
         "GET /patrols/audit": [{}, {"limit": 1000}]},
        {"PUT /patrol-grids": {"type": "FeatureCollection", "features": [{
            "type": "Feature", "properties": {"grid_code": B_GRID},
            "geometry": square(121.0, 32.0, 121.01, 32.01)}]},
         "POST /patrols/{patrol_id}/stop": {"stopped_at": "2026-11-28T09:00:00+08:00"},
         "POST /patrols/{patrol_id}/points": {"points": [
             {"id": "x1", "recorded_at": "2026-11-28T08:06:00+08:00", "lon": 120.0,
              "lat": 31.0}]},
         "POST /work-logs": {"grid_code": B_GRID, "day": "2026-11-28", "content": "冒名"},
         "POST /work-logs/{log_id}/review": {"state": "approved", "comment": "跨区"},
         "POST /spot-checks": {"grid_code": B_GRID, "record_kind": "resident",
                               "record_id": "r-2", "field_class": "basic",
                               "method": "phone", "correct": False},
         "POST /circulars": {"kind": "weekly", "period": "2026-W48",
                             "scope": f"district:{B_DISTRICT}"}},
        markers=(*MARKERS, patrol["patrol_id"], "worker-b", "chief-b"))
    assert failures == []
    after = table_counts(db_engine, "assessment")
    # 110105's own patrols, meetings and the staff it "remembers" are its own, not 320505's
    for own in ("patrols", "meetings", "field_staff", "appraisal_schemes"):
        after.pop(own, None)
        before.pop(own, None)
    assert after == before
    with db_engine.connect() as conn:
        assert conn.execute(sa.text(
            "SELECT count(*) FROM assessment.patrols WHERE scope_code LIKE :b "
            "AND staff_sub <> 'worker-b'"), {"b": B_DISTRICT + "%"}).scalar() == 0


def test_notify_stays_in_its_district(start_service, web_session, bearer, platform_secrets,
                                      db_engine):
    """Contact points and deliveries of 320505 (an inbox row too), walked with every
    110105 token; creating a contact point over 320505 is refused."""
    start_service("notify")
    admin = mint(platform_secrets, "district_admin", f"district:{B_DISTRICT}", "admin-b")
    created = web_session.post("/subscriptions", headers=admin, json={
        "role": "community_grid_chief", "scope": f"community:{B_COMMUNITY}",
        "channel": "webhook", "address": "https://hooks.example/320505", "locale": "zh-CN"})
    assert created.status_code == 201, created.text
    subscription = created.json()["subscription_id"]
    notification = str(uuid.uuid4())
    with db_engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO notify.notifications (notification_id, cause_id, kind, template, "
            "locale, params, priority, producer) VALUES (:n, :cause, 'request', 'plain', "
            "'zh-CN', '{}', 5, 'test')"), {"n": notification, "cause": f"case:{B_GRID}"})
        conn.execute(sa.text(
            "INSERT INTO notify.deliveries (notification_id, cause_id, channel, recipient, "
            "subscription_id, priority, state, attempts, last_error) VALUES "
            "(:n, :cause, 'inbox', :inbox, NULL, 5, 'dead', 3, 'gone'), "
            "(:n, :cause, 'webhook', :sub, :sid, 5, 'dead', 3, 'gone')"),
            {"n": notification, "cause": f"case:{B_GRID}",
             "inbox": f"inbox:community_grid_chief@community:{B_COMMUNITY}",
             "sub": f"subscription:{subscription}", "sid": subscription})
        message = conn.execute(sa.text(
            "INSERT INTO notify.inbox (notification_id, kind, role, scope_level, scope_code, "
            "priority, title, body) VALUES (:n, 'request', 'community_grid_chief', "
            "'community', :c, 5, '锦绣社区通知', '锦绣花园') RETURNING message_id"),
            {"n": notification, "c": B_COMMUNITY}).scalar_one()
        dead = conn.execute(sa.text("SELECT min(delivery_id) FROM notify.deliveries")).scalar()
    own = web_session.get("/deliveries", headers=admin)
    assert own.status_code == 200 and B_GRID in own.text, own.text
    before = table_counts(db_engine, "notify")

    failures = walk(
        web_session, bearer, routes_of(web_session),
        {"subscription_id": subscription, "delivery_id": dead, "message_id": message},
        {"GET /deliveries": [{}, {"state": "dead"}, {"cause_id": f"case:{B_GRID}"}],
         "GET /subscriptions": [{}, {"role": "community_grid_chief"}]},
        {"POST /subscriptions": {"role": "community_grid_chief",
                                 "scope": f"community:{B_COMMUNITY}", "channel": "webhook",
                                 "address": "https://evil.example/hook", "locale": "zh-CN"},
         "POST /subscriptions/{subscription_id}/secret": {"overlap_hours": 1}})
    assert failures == []
    after = table_counts(db_engine, "notify")
    after.pop("inbox_reads", None)  # marking a message read is the reader's own row
    before.pop("inbox_reads", None)
    assert after == before
    with db_engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM notify.inbox_reads")).scalar() == 0
        assert conn.execute(sa.text(
            "SELECT active FROM notify.subscriptions WHERE subscription_id = :s"),
            {"s": subscription}).scalar() is True
        assert conn.execute(sa.text("SELECT state FROM notify.deliveries WHERE "
                                    "delivery_id = :d"), {"d": dead}).scalar() == "dead"

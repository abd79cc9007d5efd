"""Staff adjustments (P5.4.1 "those failing assessment are adjusted: community proposes, town
approves"), opened by ``assessment.staff.flagged`` (P5.4.6) published with plain pika to the
real registry, carried through over HTTP with role and scope checks; an approved dismissal
runs the staff lifecycle and ``registry.staff.changed`` leaves through the outbox."""

import json
import uuid

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from gridgov_common.contract import make_envelope
from gridgov_common.kernel.errors import Conflict
from services.registry import staff_identity
from services.registry.models import staff
from tests.amqp import bind_queue, drain, publish, wait_until
from tests.registry.conftest import COMMUNITY, GRID_A, GRID_B, OTHER_COMMUNITY, TOWN

KEY = "assessment.staff.flagged"
DLQ = "registry.staff_flagged.dlq"
REPORT_V1, REPORT_V2 = str(uuid.uuid4()), str(uuid.uuid4())


def flagged(sub="gw-1", version=1, report_id=REPORT_V1, grade="E", score=31.5,
            scope=f"grid:{GRID_A}", role="neighbourhood_grid_worker", half_year="2026H2"):
    return make_envelope(KEY, {
        "report_id": report_id, "half_year": half_year, "report_version": version,
        "staff_sub": sub, "role": role, "scope": scope, "town_code": TOWN, "score": score,
        "grade": grade, "flag_grades": ["E"], "clause": "P5.4.1", "proposer": "community",
        "approver": "town"}, producer="assessment")


@pytest.fixture
def people(district, web_session, token, admin):
    """Town chief, the community's chief and instructor, another community's chief, and a
    neighbourhood grid worker (gw-1) recruited, reviewed, hired and filed (P5.1.5)."""
    heads = {
        "town": token("town_grid_chief", f"town:{TOWN}", sub="town-chief"),
        "other_town": token("town_grid_chief", "town:320505002", sub="other-town-chief"),
        "chief": token("community_grid_chief", f"community:{COMMUNITY}", sub="chief"),
        "instructor": token("grid_instructor", f"community:{COMMUNITY}", sub="instructor"),
        "other_chief": token("community_grid_chief", f"community:{OTHER_COMMUNITY}",
                             sub="other-chief"),
        "admin": admin,
    }
    worker = web_session.post("/staff", headers=heads["chief"], json={
        "name": "钱小红", "role": "neighbourhood_grid_worker", "scope": f"grid:{GRID_A}",
        "subject": "gw-1"}).json()
    for who, action in [("town", "review"), ("town", "hire"), ("admin", "file")]:
        step = web_session.post(f"/staff/{worker['id']}/transitions", headers=heads[who],
                                json={"action": action})
        assert step.status_code == 200, step.text
    assert step.json()["lifecycle_state"] == "filed"
    return {**heads, "worker": worker}


def adjustment_of(db_engine, sub, half_year="2026H2"):
    with db_engine.connect() as conn:
        row = conn.execute(sa.text(
            "SELECT * FROM registry.staff_adjustments WHERE staff_sub = :s AND half_year = :h"),
            {"s": sub, "h": half_year}).mappings().first()
        return dict(row) if row else None


def flag_and_wait(uri, db_engine, envelope, **expect):
    publish(uri, "gridgov.events", KEY, envelope)
    sub = envelope["payload"]["staff_sub"]
    row = wait_until(lambda: (adj := adjustment_of(db_engine, sub)) and all(
        adj[k] == v for k, v in expect.items()) and adj)
    assert row, f"no adjustment for {sub} with {expect}"
    return row


def post(web_session, path, headers, body):
    return web_session.post(path, headers=headers, json=body)


def test_a_flag_opens_one_adjustment_and_a_new_report_version_updates_it(
        people, rabbit_config, db_engine, web_session):
    uri = rabbit_config["AMQP_URI"]
    first = flagged()
    publish(uri, "gridgov.events", KEY, first)  # delivered twice (a redelivery)
    row = flag_and_wait(uri, db_engine, first, state="flagged")
    assert (row["staff_id"], row["report_version"], row["grade"]) == (
        people["worker"]["id"], 1, "E")
    assert row["scope_code"] == GRID_A and row["town_code"] == TOWN
    # a re-published report (version 2) updates the same row; a late version 1 does not
    flag_and_wait(uri, db_engine, flagged(version=2, report_id=REPORT_V2, grade="D",
                                          score=48.0), report_version=2)
    flag_and_wait(uri, db_engine, flagged(sub="barrier"), state="unmatched")
    late = flagged(version=1, report_id=str(uuid.uuid4()), grade="E", score=10.0)
    publish(uri, "gridgov.events", KEY, late)
    flag_and_wait(uri, db_engine, flagged(sub="barrier-2"), state="unmatched")
    with db_engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT report_version, grade, score, report_id::text FROM registry.staff_adjustments "
            "WHERE staff_sub = 'gw-1'")).all()
        claimed = conn.execute(sa.text(
            "SELECT count(*) FROM registry.processed_messages WHERE message_id = :m"),
            {"m": first["message_id"]}).scalar()
    assert [tuple(r) for r in rows] == [(2, "D", 48.0, REPORT_V2)] and claimed == 1
    listed = web_session.get("/staff-adjustments", headers=people["town"],
                             params={"half_year": "2026H2", "state": "flagged"}).json()
    [one] = listed
    detail = web_session.get(f"/staff-adjustments/{one['id']}", headers=people["chief"]).json()
    # the duplicate delivery left no trace; the late version 1 changed nothing
    assert [s["action"] for s in detail["steps"]] == ["flag", "reflag"]
    assert detail["steps"][0]["actor_sub"] == "assessment"
    assert detail["steps"][1]["detail"]["report_version"] == 2


def test_open_from_flag_is_idempotent_per_message(people, db_engine):
    from gridgov_common.contract import parse_envelope
    from services.registry import adjustments
    envelope = parse_envelope(json.dumps(flagged(sub="direct")).encode())
    with Session(db_engine) as session:
        session.info["db_schema"] = "registry"
        assert adjustments.open_from_flag(session, envelope) is True
        assert adjustments.open_from_flag(session, envelope) is False
        session.commit()
    with db_engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM registry.staff_adjustment_steps s "
                                    "JOIN registry.staff_adjustments a ON a.id = "
                                    "s.adjustment_id WHERE a.staff_sub = 'direct'")
                            ).scalar() == 1


def test_an_unknown_subject_is_recorded_unmatched_and_matched_later(
        people, rabbit_config, db_engine, web_session):
    uri = rabbit_config["AMQP_URI"]
    row = flag_and_wait(uri, db_engine, flagged(sub="nobody-yet"), state="unmatched")
    assert row["staff_id"] is None and row["scope_code"] == GRID_A
    seen = web_session.get("/staff-adjustments", headers=people["town"],
                           params={"state": "unmatched"}).json()
    assert [a["staff_sub"] for a in seen] == ["nobody-yet"]
    path = f"/staff-adjustments/{row['id']}/propose"
    refused = post(web_session, path, people["chief"],
                   {"measure": "keep_with_training", "reason": "培训"})
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "unmatched_subject"
    tied = web_session.put(f"/staff/{people['worker']['id']}/subject",
                           headers=people["chief"], json={"subject": "nobody-yet"})
    assert tied.status_code == 200, tied.text
    proposed = post(web_session, path, people["chief"],
                    {"measure": "keep_with_training", "reason": "培训后留用"})
    assert proposed.status_code == 200, proposed.text
    body = proposed.json()
    assert (body["state"], body["staff_id"]) == ("proposed", people["worker"]["id"])
    assert [s["action"] for s in body["steps"]] == ["flag", "match", "propose"]


def test_dismissal_proposed_rejected_proposed_again_and_approved(
        people, rabbit_config, db_engine, web_session):
    uri = rabbit_config["AMQP_URI"]
    bind_queue(uri, "staff-watch", "gridgov.events", ["registry.staff.changed"])
    adj = flag_and_wait(uri, db_engine, flagged(), state="flagged")
    base = f"/staff-adjustments/{adj['id']}"
    dismiss = {"measure": "dismiss", "reason": "半年考核不合格"}
    # the town does not propose (route roles); another community is out of scope
    assert post(web_session, f"{base}/propose", people["town"], dismiss).status_code == 403
    other = post(web_session, f"{base}/propose", people["other_chief"], dismiss)
    assert other.status_code == 403
    # nothing to approve yet: an illegal move is a 409 that says what is possible
    early = post(web_session, f"{base}/approve", people["town"], {})
    assert early.status_code == 409
    assert early.json()["error"]["code"] == "illegal_transition"
    assert "possible: propose" in early.json()["error"]["message"]
    proposed = post(web_session, f"{base}/propose", people["chief"], dismiss)
    assert proposed.status_code == 200, proposed.text
    assert proposed.json()["state"] == "proposed"
    worker = people["worker"]["id"]
    state_of = lambda: web_session.get(f"/staff/{worker}/history",  # noqa: E731
                                       headers=people["admin"]).json()[-1]["to_state"]
    assert state_of() == "adjustment_proposed"  # P5.1.5 lifecycle, proposed by the community
    # the community does not approve; the town rejects only with a reason
    assert post(web_session, f"{base}/approve", people["chief"], {}).status_code == 403
    assert post(web_session, f"{base}/reject", people["town"], {}).status_code == 422
    assert post(web_session, f"{base}/reject", people["town"],
                {"reason": "  "}).status_code == 422
    assert post(web_session, f"{base}/approve", people["other_town"], {}).status_code == 403
    rejected = post(web_session, f"{base}/reject", people["town"],
                    {"reason": "先培训，下半年再看"})
    assert rejected.status_code == 200 and rejected.json()["state"] == "rejected"
    assert state_of() == "filed"
    # a rejected proposal can be proposed again (by the community's instructor, P5.1.2)
    again = post(web_session, f"{base}/propose", people["instructor"], dismiss)
    assert again.status_code == 200 and again.json()["state"] == "proposed", again.text
    approved = post(web_session, f"{base}/approve", people["town"], {"reason": "同意调整"})
    assert approved.status_code == 200, approved.text
    body = approved.json()
    assert body["state"] == "applied" and body["decision_reason"] == "同意调整"
    assert [(s["action"], s["actor_sub"]) for s in body["steps"]] == [
        ("flag", "assessment"), ("propose", "chief"), ("reject", "town-chief"),
        ("propose", "instructor"), ("approve", "town-chief"), ("apply", "town-chief")]
    assert body["steps"][-1]["detail"] == {"lifecycle_state": "dismissed", "active": False}
    record = web_session.get("/staff", headers=people["admin"],
                             params={"prefix": GRID_A}).json()
    assert [(s["lifecycle_state"], s["active"]) for s in record] == [("dismissed", False)]
    assert post(web_session, f"{base}/approve", people["town"], {}).status_code == 409
    # the change went out on the bus through the outbox, like any staff change
    seen = [json.loads(b)["payload"] for _, _, b in drain(uri, "staff-watch", expect=20,
                                                          timeout=3.0)]
    dismissed = [p for p in seen if p["lifecycle_state"] == "dismissed"]
    assert dismissed and dismissed[-1]["staff_id"] == worker
    assert dismissed[-1]["action"] == "status_changed" and dismissed[-1]["active"] is False


def test_reassign_and_keep_with_training(people, rabbit_config, db_engine, web_session,
                                         admin, token):
    uri = rabbit_config["AMQP_URI"]
    lead = web_session.post("/staff", headers=admin, json={
        "name": "丁", "role": "community_grid_worker", "scope": f"community:{COMMUNITY}",
        "subject": "cw-1"}).json()
    web_session.put(f"/staff/{lead['id']}/grids", headers=admin, json={"grid_codes": [GRID_A]})
    adj = flag_and_wait(uri, db_engine, flagged(sub="cw-1", role="community_grid_worker",
                                                scope=f"community:{COMMUNITY}"),
                        state="flagged")
    base = f"/staff-adjustments/{adj['id']}"
    missing = post(web_session, f"{base}/propose", people["chief"],
                   {"measure": "reassign", "reason": "换网格"})
    assert missing.status_code == 422
    outside = post(web_session, f"{base}/propose", people["chief"],
                   {"measure": "reassign", "reason": "换网格",
                    "grid_codes": ["320505001002001"]})
    assert outside.status_code == 422
    # an appointed person has no recruitment lifecycle to dismiss through (domain/staff.py)
    no_lifecycle = post(web_session, f"{base}/propose", people["chief"],
                        {"measure": "dismiss", "reason": "x"})
    assert no_lifecycle.status_code == 409
    ok = post(web_session, f"{base}/propose", people["chief"],
              {"measure": "reassign", "reason": "换网格", "grid_codes": [GRID_B]})
    assert ok.status_code == 200, ok.text
    applied = post(web_session, f"{base}/approve", people["town"], {})
    assert applied.status_code == 200 and applied.json()["state"] == "applied"
    assert applied.json()["steps"][-1]["detail"] == {"grid_codes": [GRID_B]}
    me = web_session.get("/staff/me", headers=token("community_grid_worker",
                                                    f"community:{COMMUNITY}", sub="cw-1"))
    assert me.json()["grid_codes"] == [GRID_B]
    # keep with training: applied, the worker's record untouched
    worker_adj = flag_and_wait(uri, db_engine, flagged(), state="flagged")
    wbase = f"/staff-adjustments/{worker_adj['id']}"
    assert post(web_session, f"{wbase}/propose", people["chief"],
                {"measure": "keep_with_training", "reason": "培训"}).status_code == 200
    kept = post(web_session, f"{wbase}/approve", people["town"], {"reason": "同意"})
    assert kept.json()["state"] == "applied" and kept.json()["measure"] == "keep_with_training"
    worker = web_session.get("/staff", headers=admin, params={"prefix": GRID_A}).json()
    assert [(s["lifecycle_state"], s["active"]) for s in worker] == [("filed", True)]


def test_lists_are_scoped(people, rabbit_config, db_engine, web_session):
    uri = rabbit_config["AMQP_URI"]
    flag_and_wait(uri, db_engine, flagged(), state="flagged")
    flag_and_wait(uri, db_engine, flagged(sub="elsewhere", scope="grid:320505001002001"),
                  state="unmatched")

    def subs(who, **params):
        response = web_session.get("/staff-adjustments", headers=people[who], params=params)
        assert response.status_code == 200, response.text
        return sorted(a["staff_sub"] for a in response.json())

    assert subs("admin") == subs("town") == ["elsewhere", "gw-1"]
    assert subs("chief") == subs("instructor") == ["gw-1"]
    assert subs("other_chief") == ["elsewhere"]
    assert subs("other_town") == []
    assert subs("admin", state="applied") == []
    assert web_session.get("/staff-adjustments", headers=people["admin"],
                           params={"state": "nope"}).status_code == 422
    [mine] = web_session.get("/staff-adjustments", headers=people["chief"]).json()
    assert web_session.get(f"/staff-adjustments/{mine['id']}",
                           headers=people["other_chief"]).status_code == 403


def test_malformed_and_inconsistent_flags_are_dead_lettered(people, rabbit_config,
                                                            db_engine):
    uri = rabbit_config["AMQP_URI"]
    publish(uri, "gridgov.events", KEY, b"{not json")
    wrong_town = flagged(sub="wrong-town", scope="grid:320505002001001")
    publish(uri, "gridgov.events", KEY, wrong_town)
    bad = flagged()
    bad["payload"]["grade"] = "excellent"
    publish(uri, "gridgov.events", KEY, bad)
    got = drain(uri, DLQ, expect=3)
    codes = sorted(props.headers["x-gridgov-error-code"] for _, props, _ in got)
    assert codes == ["invalid_json", "invalid_payload", "scope_mismatch"]
    assert b"{not json" in [body for _, _, body in got]
    # the consumer keeps running: a good flag after the bad ones opens its adjustment
    flag_and_wait(uri, db_engine, flagged(), state="flagged")
    assert adjustment_of(db_engine, "wrong-town") is None


def test_a_subject_claimed_twice_at_once_is_a_conflict_not_a_500(people, db_engine):
    """The race of two requests that both passed ``require_free_subject``: the second
    write hits the unique index and must answer 409 (found by the identity helper)."""
    with Session(db_engine) as session:
        with pytest.raises(Conflict) as caught:
            staff_identity.guarded_subject_write(session, staff.insert().values(
                name="乙", role="community_grid_worker", scope_code=COMMUNITY,
                lifecycle_state="active", subject="gw-1"))
        assert caught.value.code == "subject_taken"
        # the savepoint keeps the transaction usable after the refusal
        assert session.execute(sa.select(sa.func.count()).select_from(staff)).scalar() == 1
        session.rollback()

"""registry_sync on the real database: staff states applied once, newest wins, a subject
moved to another record deactivates the old row, people without a subject are left out;
a grid change replaces rings with what the registry answers (P5.4.3, P5.4.5)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from gridgov_common.contract import make_envelope, parse_envelope
from services.assessment import registry_sync
from tests.assessment.conftest import COMMUNITY, GRID_A, GRID_B, square


def staff(staff_id, subject, at, grids=(GRID_A,), active=True, role="community_grid_worker"):
    envelope = make_envelope("registry.staff.changed", {
        "staff_id": staff_id, "subject": subject, "action": "grids_changed", "role": role,
        "scope": f"community:{COMMUNITY}", "town_code": COMMUNITY[:9],
        "community_code": COMMUNITY, "grid_codes": list(grids),
        "lifecycle_state": "active", "active": active, "valid_from": "2026-11-01"}, "registry")
    envelope["occurred_at"] = at
    return parse_envelope(envelope)


def rows(session) -> dict:
    return {r.staff_sub: (r.staff_id, r.active, r.grid_codes) for r in session.execute(
        sa.text("SELECT staff_sub, staff_id, active, grid_codes FROM assessment.field_staff"))}


def test_staff_states_newest_wins_and_subjects_move(db_engine, clean_db):
    with Session(db_engine, info={"db_schema": "assessment"}) as session:
        first = staff(7, "cw-1", "2026-11-02T00:00:00.000Z")
        assert registry_sync.apply_staff_changed(session, first) == "applied"
        assert registry_sync.apply_staff_changed(session, first) == "duplicate"
        late = staff(7, "cw-1", "2026-11-01T00:00:00.000Z", grids=(GRID_B,))
        assert registry_sync.apply_staff_changed(session, late) == "stale"
        assert rows(session) == {"cw-1": (7, True, [GRID_A])}
        moved = staff(7, "cw-new", "2026-11-03T00:00:00.000Z", grids=(GRID_A, GRID_B))
        assert registry_sync.apply_staff_changed(session, moved) == "applied"
        assert rows(session) == {"cw-1": (7, False, [GRID_A]),
                                 "cw-new": (7, True, [GRID_A, GRID_B])}
        untied = staff(7, None, "2026-11-04T00:00:00.000Z")
        assert registry_sync.apply_staff_changed(session, untied) == "skipped"
        assert {k: v[1] for k, v in rows(session).items()} == {"cw-1": False, "cw-new": False}
        officer = staff(8, "ops", "2026-11-04T00:00:00.000Z", grids=(), role="ops_viewer")
        assert registry_sync.apply_staff_changed(session, officer) == "skipped"


def test_grid_change_takes_the_registrys_outline(db_engine, clean_db):
    asked = []

    def registry(codes):
        asked.append(codes)
        return [{"type": "Feature", "geometry": square(120.0, 31.0, 120.01, 31.01),
                 "properties": {"grid_code": GRID_A, "valid_from": "2026-01-01",
                                "valid_to": "2026-12-01"}}]

    def changed(code):
        return parse_envelope(make_envelope("registry.grid.changed", {
            "grid_code": code, "community_code": COMMUNITY, "action": "updated",
            "valid_from": "2026-01-01", "valid_to": None}, "registry"))

    with Session(db_engine, info={"db_schema": "assessment"}) as session:
        assert registry_sync.apply_grid_changed(session, changed(GRID_A), registry) == 1
        found = session.execute(sa.text(
            "SELECT grid_code, ring, valid_from::text, valid_to::text "
            "FROM assessment.grid_rings")).all()
        assert [tuple(r) for r in found] == [(GRID_A, 0, "2026-01-01", "2026-12-01")]
        # unknown to the registry (it answers with A only): B's rings go
        session.execute(sa.text("INSERT INTO assessment.grid_rings (grid_code, part, ring, area)"
                                " VALUES (:g, 0, 0, '((0,0),(1,0),(1,1))'::polygon)"),
                        {"g": GRID_B})
        assert registry_sync.apply_grid_changed(session, changed(GRID_B), registry) == 0
        assert session.execute(sa.text("SELECT count(*) FROM assessment.grid_rings "
                                       "WHERE grid_code = :g"), {"g": GRID_B}).scalar() == 0
    assert asked == [[GRID_A], [GRID_B]]
